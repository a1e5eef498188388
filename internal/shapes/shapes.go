// Package shapes writes synthetic regions files of the table shapes whose
// memory the record budget must model, for bench/memory.sh (through
// bench/memgen) and the budget's own tests:
//
//	ipv4-24   each region a gateway and one to three IPv4 /24 subnets (1, 2,
//	          3, 1, 2, 3, ...): the record-heavy shape, every /24 listed
//	          address by address under the allow names, all and their shards
//	gateways  each region 16 gateways (IPv4 and IPv6 in turn) and 4
//	          decommissioning addresses (2 of each family), no subnets
//	ipv6-64   each region 100 IPv6 /64 subnets and no gateway (like Azure
//	          SQL's ranges-only table): wide prefixes, served in TXT and APL
//	          and the region's TXT, not address by address
//	redirect  Azure SQL with both policies: each region its four gateway
//	          ranges (two /27, a /28, a /29) and a Redirect set of 57
//	          prefixes shaped like a Sql.<Region> service tag (46 IPv4 from
//	          /24 to /32, 11 IPv6 from /120 to /123, in the proportions of
//	          testdata/fetch's recorded tags); 60 regions are the whole
//	          weekly Sql tag's 3,400 prefixes
//
// Every address is in space that nothing connects to: subnets in
// 198.18.0.0/15 (benchmarking), then 10.0.0.0/8 and 172.16.0.0/12; IPv4
// gateways and decommissioning addresses in 100.64.0.0/10 (shared address
// space); IPv6 ones in 2001:db8::/32 (documentation); /64s in fd00::/8
// (unique local) and, one in ten, 2001:db8::/32. Variant 1 of a shape has
// none of variant 0's addresses or prefixes, so that a reload from one to
// the other rebuilds everything.
package shapes

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
)

// shapes are the shapes, in the order bench/memory.sh measures them, and
// the writer of one region of each.
var shapes = []struct {
	name  string
	write func(*gen, *bufio.Writer, int) (addrs, prefixes int)
}{
	{"ipv4-24", ipv4Region},
	{"gateways", gatewaysRegion},
	{"ipv6-64", ipv6Region},
	{"redirect", redirectRegion},
}

// Names are the shapes' names, in the order bench/memory.sh measures them.
var Names = func() []string {
	names := make([]string, len(shapes))
	for i, s := range shapes {
		names[i] = s.name
	}
	return names
}()

// Write writes a table of shape with n regions, of variant 0 or 1, to w,
// and returns how many gateway and decommissioning addresses and how many
// prefixes (subnets and Redirect prefixes) it holds.
func Write(w io.Writer, shape string, n, variant int) (addrs, prefixes int, err error) {
	i := slices.Index(Names, shape)
	if i < 0 {
		return 0, 0, fmt.Errorf("unknown shape %q (%s)", shape, strings.Join(Names, ", "))
	}
	write := shapes[i].write
	if variant != 0 && variant != 1 {
		return 0, 0, fmt.Errorf("variant %d: 0 or 1", variant)
	}
	g := &gen{variant: variant}
	bw := bufio.NewWriterSize(w, 1<<20)
	fmt.Fprintf(bw, "$SERIAL %d\n$SOURCE bench/memgen, a synthetic table\n", 1+variant)
	for i := range n {
		a, p := write(g, bw, i)
		addrs, prefixes = addrs+a, prefixes+p
	}
	if g.err != nil {
		return 0, 0, g.err
	}
	return addrs, prefixes, bw.Flush()
}

// gen numbers the addresses and prefixes it hands out, so that no two
// regions share one.
type gen struct {
	variant int
	slot    int // the next /24 or /64 of this variant
	err     error
}

// v4 is address n+1 of a 2^20-address block of 100.64.0.0/10: block 0
// holds the variant's gateways, block 1 its decommissioning addresses.
func (g *gen) v4(block, n int) netip.Addr {
	n++
	if n >= 1<<20 {
		g.fail("out of 100.64.0.0/10 addresses: too many regions")
	}
	u := 100<<24 | 64<<16 | (2*block+g.variant)<<20 | n
	return netip.AddrFrom4([4]byte{byte(u >> 24), byte(u >> 16), byte(u >> 8), byte(u)})
}

// v6 is address n+1 of 2001:db8:V:block::/64, V the variant.
func (g *gen) v6(block, n int) netip.Addr {
	n++
	b := [16]byte{0x20, 0x01, 0x0d, 0xb8, 0, byte(g.variant), 0, byte(block)}
	for i := 15; i >= 8; i-- {
		b[i] = byte(n)
		n >>= 8
	}
	return netip.AddrFrom16(b)
}

// net24 is the variant's next /24: even slots of the pool for variant 0,
// odd ones for variant 1.
func (g *gen) net24() netip.Prefix {
	j := 2*g.slot + g.variant
	g.slot++
	var base [4]byte
	switch {
	case j < 512: // 198.18.0.0/15
		base = [4]byte{198, 18 + byte(j>>8), byte(j), 0}
	case j < 512+65536: // 10.0.0.0/8
		j -= 512
		base = [4]byte{10, byte(j >> 8), byte(j), 0}
	case j < 512+65536+4096: // 172.16.0.0/12
		j -= 512 + 65536
		base = [4]byte{172, 16 + byte(j>>8), byte(j), 0}
	default:
		g.fail("out of private /24s: too many regions")
	}
	return netip.PrefixFrom(netip.AddrFrom4(base), 24)
}

// net64 is the variant's next /64: one in ten in 2001:db8::/32, the rest in
// fd00::/8 (fd00: to fd7f: for variant 0, fd80: to fdff: for variant 1),
// numbered so that their text stays short (fdXX:N::/64).
func (g *gen) net64() netip.Prefix {
	s := g.slot
	g.slot++
	var b [16]byte
	if s%10 == 0 {
		t := s / 10
		b = [16]byte{0x20, 0x01, 0x0d, 0xb8, byte(t >> 24), byte(t>>16) | byte(g.variant)<<7, byte(t >> 8), byte(t)}
		if t >= 1<<23 {
			g.fail("out of 2001:db8::/32 /64s: too many regions")
		}
	} else {
		t := s - s/10 - 1
		b[0], b[1] = 0xfd, byte(t%128)|byte(g.variant)<<7
		b[2], b[3] = byte(t/128>>8), byte(t/128)
		if t/128 >= 1<<16 {
			g.fail("out of fd00::/8 /64s: too many regions")
		}
	}
	return netip.PrefixFrom(netip.AddrFrom16(b), 64)
}

func (g *gen) fail(msg string) {
	if g.err == nil {
		g.err = errors.New(msg)
	}
}

func name(i int) string { return fmt.Sprintf("region%d", i+1) }

// ipv4Region: a gateway and 1 to 3 /24s.
func ipv4Region(g *gen, w *bufio.Writer, i int) (addrs, prefixes int) {
	fmt.Fprintf(w, "%s %s subnets", name(i), g.v4(0, i))
	n := 1 + i%3
	for range n {
		fmt.Fprintf(w, " %s", g.net24())
	}
	w.WriteByte('\n')
	return 1, n
}

// gatewaysRegion: 16 gateways, IPv4 and IPv6 in turn, and 2 + 2
// decommissioning addresses.
func gatewaysRegion(g *gen, w *bufio.Writer, i int) (addrs, prefixes int) {
	fmt.Fprint(w, name(i))
	for k := range 16 {
		if k%2 == 0 {
			fmt.Fprintf(w, " %s", g.v4(0, 8*i+k/2))
		} else {
			fmt.Fprintf(w, " %s", g.v6(0, 8*i+k/2))
		}
	}
	fmt.Fprintf(w, " decommissioning %s %s %s %s\n", g.v4(1, 2*i), g.v6(1, 2*i), g.v4(1, 2*i+1), g.v6(1, 2*i+1))
	return 20, 0
}

// ipv6Region: 100 /64s, no gateway.
func ipv6Region(g *gen, w *bufio.Writer, i int) (addrs, prefixes int) {
	fmt.Fprintf(w, "%s subnets", name(i))
	for range 100 {
		fmt.Fprintf(w, " %s", g.net64())
	}
	w.WriteByte('\n')
	return 0, 100
}

// sqlTag is a Sql.<Region> tag's prefix lengths and how many of each: IPv4,
// then IPv6 (bits above 32).
var sqlTag = []struct{ bits, n int }{
	{26, 12}, {32, 10}, {27, 9}, {25, 7}, {29, 4}, {31, 1}, {28, 1}, {24, 1}, {30, 1},
	{123, 8}, {121, 2}, {120, 1},
}

// redirectRegion: four gateway ranges and a Redirect set shaped like a
// Sql.<Region> tag, each prefix in a /24 or /64 of its own.
func redirectRegion(g *gen, w *bufio.Writer, i int) (addrs, prefixes int) {
	gw := g.net24().Addr().As4()
	fmt.Fprintf(w, "%s subnets", name(i))
	for _, r := range []struct{ off, bits int }{{0, 27}, {32, 27}, {64, 28}, {80, 29}} {
		a := gw
		a[3] = byte(r.off)
		fmt.Fprintf(w, " %s", netip.PrefixFrom(netip.AddrFrom4(a), r.bits))
	}
	w.WriteString(" redirect")
	for _, t := range sqlTag {
		for range t.n {
			if t.bits <= 32 {
				fmt.Fprintf(w, " %s", netip.PrefixFrom(g.net24().Addr(), t.bits))
			} else {
				fmt.Fprintf(w, " %s", netip.PrefixFrom(g.net64().Addr(), t.bits))
			}
			prefixes++
		}
	}
	w.WriteByte('\n')
	return 0, prefixes + 4
}

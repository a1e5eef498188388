package fetch

import (
	"cmp"
	"fmt"
	"math/big"
	"net/netip"
	"slices"
	"strings"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
)

// shrink is what a new table would take away from an old one: the regions
// it drops, and per family how many of the old table's addresses it no
// longer covers.
type shrink struct {
	regions []string
	v4, v6  loss
}

// loss counts addresses an old table covered and a new one does not.
type loss struct {
	lost, had *big.Int
}

// percent is the share of had that is lost.
func (l loss) percent() float64 {
	if l.had.Sign() == 0 {
		return 0
	}
	r, _ := new(big.Rat).SetFrac(new(big.Int).Mul(l.lost, big.NewInt(100)), l.had).Float64()
	return r
}

// measure compares what old and new cover. An address that moves between
// regions, roles or kinds, or prefixes merged into a wider one, take
// nothing away.
func measure(old, new gwtable.Table) shrink {
	var s shrink
	names := make(map[string]bool, len(new.Regions))
	for _, r := range new.Regions {
		names[r.Name] = true
	}
	for _, r := range old.Regions {
		if !names[r.Name] {
			s.regions = append(s.regions, r.Name)
		}
	}
	oldV4, oldV6 := ranges(old)
	newV4, newV6 := ranges(new)
	s.v4 = loss{size(subtract(oldV4, newV4)), size(oldV4)}
	s.v6 = loss{size(subtract(oldV6, newV6)), size(oldV6)}
	return s
}

// refuse reports why s is more than an unattended run may take away, or "".
func (s shrink) refuse(maxDrop float64, removed gwtable.Delta) string {
	var why []string
	if len(s.regions) > 0 {
		why = append(why, fmt.Sprintf("it would remove %d region(s): %s", len(s.regions), list(s.regions)))
	}
	for _, f := range []struct {
		name string
		l    loss
	}{{"IPv4", s.v4}, {"IPv6", s.v6}} {
		if p := f.l.percent(); p > maxDrop {
			why = append(why, fmt.Sprintf("it would stop covering %s of %s %s addresses (%.1f%%, more than -max-drop %g%%)", f.l.lost, f.l.had, f.name, p, maxDrop))
		}
	}
	if len(why) == 0 {
		return ""
	}
	var gone []string
	for _, a := range removed.Addresses {
		gone = append(gone, a.String())
	}
	for _, p := range removed.Prefixes {
		gone = append(gone, p.String())
	}
	if len(gone) > 0 {
		why = append(why, "addresses and prefixes no longer listed: "+list(gone))
	}
	return strings.Join(why, "; ")
}

// list joins items, at most 20 of them, saying how many more there are.
func list(items []string) string {
	const most = 20
	if len(items) <= most {
		return strings.Join(items, " ")
	}
	return strings.Join(items[:most], " ") + fmt.Sprintf(" and %d more", len(items)-most)
}

// span is an inclusive range of addresses of one family, as numbers.
type span struct{ lo, hi *big.Int }

// ranges returns the addresses t covers (gateways, decommissioning
// addresses, subnets) as sorted, merged spans, IPv4 and IPv6 apart.
func ranges(t gwtable.Table) (v4, v6 []span) {
	var prefixes []netip.Prefix
	for _, r := range t.Regions {
		for _, a := range append(append([]netip.Addr(nil), r.Addrs...), r.Decommissioning...) {
			prefixes = append(prefixes, netip.PrefixFrom(a, a.BitLen()))
		}
		prefixes = append(prefixes, r.Subnets...)
	}
	for _, p := range prefixes {
		s := span{number(p.Addr()), number(lastAddr(p))}
		if p.Addr().Is4() {
			v4 = append(v4, s)
		} else {
			v6 = append(v6, s)
		}
	}
	return merge(v4), merge(v6)
}

func number(a netip.Addr) *big.Int { return new(big.Int).SetBytes(a.AsSlice()) }

// lastAddr is the highest address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// merge sorts spans and joins those that overlap or touch.
func merge(spans []span) []span {
	slices.SortFunc(spans, func(a, b span) int { return cmp.Or(a.lo.Cmp(b.lo), a.hi.Cmp(b.hi)) })
	var out []span
	one := big.NewInt(1)
	for _, s := range spans {
		if n := len(out); n > 0 && s.lo.Cmp(new(big.Int).Add(out[n-1].hi, one)) <= 0 {
			if s.hi.Cmp(out[n-1].hi) > 0 {
				out[n-1].hi = s.hi
			}
			continue
		}
		out = append(out, span{s.lo, s.hi})
	}
	return out
}

// subtract returns the parts of a (merged spans) that b (merged spans) does
// not cover.
func subtract(a, b []span) []span {
	var out []span
	one := big.NewInt(1)
	j := 0
	for _, s := range a {
		lo := s.lo
		for ; j < len(b) && b[j].hi.Cmp(lo) < 0; j++ {
		}
		k := j
		for ; k < len(b) && b[k].lo.Cmp(s.hi) <= 0 && lo.Cmp(s.hi) <= 0; k++ {
			if b[k].lo.Cmp(lo) > 0 {
				out = append(out, span{lo, new(big.Int).Sub(b[k].lo, one)})
			}
			if next := new(big.Int).Add(b[k].hi, one); next.Cmp(lo) > 0 {
				lo = next
			}
		}
		if lo.Cmp(s.hi) <= 0 {
			out = append(out, span{lo, s.hi})
		}
	}
	return out
}

// size counts the addresses of spans.
func size(spans []span) *big.Int {
	n := new(big.Int)
	for _, s := range spans {
		n.Add(n, new(big.Int).Sub(s.hi, s.lo))
		n.Add(n, big.NewInt(1))
	}
	return n
}

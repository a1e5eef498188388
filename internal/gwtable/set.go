package gwtable

import (
	"math"
	"net/netip"
	"slices"
	"sort"
)

// The prefix arithmetic of the table: sets of addresses a firewall allows,
// aggregated once per table version and read by the DNS answers, the HTTP
// lists and fetch's guard alike.

// ListBits4 and ListBits6 are the widest prefixes whose addresses are
// listed one by one (a /24 is 256 addresses): DNS answers A and AAAA for
// them. Wider prefixes are served whole only (TXT, APL, the HTTP lists).
const (
	ListBits4 = 24
	ListBits6 = 120
)

// Set is a set of addresses to allow: some regions' gateway and
// decommissioning addresses and subnets (Region.Allow), or their Redirect
// prefixes (Region.RedirectSet).
type Set struct {
	// Prefixes is every address of the set as the fewest prefixes
	// (Aggregate).
	Prefixes []netip.Prefix
	// Listed is the part served address by address: the single addresses
	// and the prefixes up to ListBits4 or ListBits6 bits wide, aggregated.
	Listed []netip.Prefix
	// Wide are the prefixes wider than that, aggregated: in Prefixes only.
	Wide []netip.Prefix

	first6         int   // where Listed's IPv6 prefixes begin (IPv4 comes first)
	starts         []int // by Listed: the number of its first address among its family's
	count4, count6 int   // the addresses of Listed, by family
}

// NewSet is the set of addrs and prefixes.
func NewSet(addrs []netip.Addr, prefixes []netip.Prefix) *Set {
	listed := make([]netip.Prefix, 0, len(addrs)+len(prefixes))
	var wide []netip.Prefix
	for _, a := range addrs {
		listed = append(listed, netip.PrefixFrom(a, a.BitLen()))
	}
	for _, p := range prefixes {
		if Listable(p) {
			listed = append(listed, p)
		} else {
			wide = append(wide, p)
		}
	}
	return newSet(listed, wide)
}

// Union is the set of every address of sets.
func Union(sets []*Set) *Set {
	var listed, wide []netip.Prefix
	for _, s := range sets {
		listed = append(listed, s.Listed...)
		wide = append(wide, s.Wide...)
	}
	return newSet(listed, wide)
}

// newSet makes a set of listed and wide, slices it owns.
func newSet(listed, wide []netip.Prefix) *Set {
	s := &Set{Listed: aggregate(listed), Wide: aggregate(wide)}
	s.Prefixes = s.Listed // shared: read only
	if len(s.Wide) > 0 {
		s.Prefixes = aggregate(append(slices.Clone(s.Listed), s.Wide...))
	}
	s.starts = make([]int, len(s.Listed))
	for i, p := range s.Listed {
		n := 1 << (p.Addr().BitLen() - p.Bits())
		if p.Addr().Is4() {
			s.starts[i], s.count4 = s.count4, s.count4+n
			s.first6 = i + 1
		} else {
			s.starts[i], s.count6 = s.count6, s.count6+n
		}
	}
	return s
}

// Allow is region r's set: its gateway and decommissioning addresses and
// its subnets.
func (r Region) Allow() *Set { return NewSet(r.addresses(), r.Subnets) }

// RedirectSet is region r's Redirect set, as a set.
func (r Region) RedirectSet() *Set { return NewSet(nil, r.Redirect) }

// HasAllow reports whether r has anything to allow under the Proxy policy:
// a gateway, a decommissioning address or a subnet. A region of a Redirect
// set alone has no allow names or lists.
func (r Region) HasAllow() bool {
	return len(r.Addrs)+len(r.Decommissioning)+len(r.Subnets) > 0
}

// Families is Prefixes split by family, IPv4 then IPv6: the order they are
// in.
func (s *Set) Families() (v4, v6 []netip.Prefix) {
	i := sort.Search(len(s.Prefixes), func(i int) bool { return s.Prefixes[i].Addr().Is6() })
	return s.Prefixes[:i], s.Prefixes[i:]
}

// HasRedirect reports whether r has a Redirect set.
func (r Region) HasRedirect() bool { return len(r.Redirect) > 0 }

// Listable reports whether p is narrow enough to list address by address.
func Listable(p netip.Prefix) bool {
	if p.Addr().Is4() {
		return p.Bits() >= ListBits4
	}
	return p.Bits() >= ListBits6
}

// Count is how many addresses the set lists, by family.
func (s *Set) Count() (v4, v6 int) { return s.count4, s.count6 }

// AppendAddrs appends the listed addresses of one family (IPv6 when v6)
// numbered from to to-1, in order, to dst.
func (s *Set) AppendAddrs(dst []netip.Addr, v6 bool, from, to int) []netip.Addr {
	lo, hi := 0, s.first6
	if v6 {
		lo, hi = s.first6, len(s.Listed)
	}
	// The last prefix of the family that starts at or before from.
	i := lo + sort.Search(hi-lo, func(k int) bool { return s.starts[lo+k] > from }) - 1
	for n := from; n < to && i >= lo && i < hi; i++ {
		p := s.Listed[i]
		size := 1 << (p.Addr().BitLen() - p.Bits())
		a := addN(p.Addr(), n-s.starts[i])
		for off := n - s.starts[i]; off < size && n < to; off, n = off+1, n+1 {
			dst = append(dst, a)
			a = a.Next()
		}
	}
	return dst
}

// addN is the address n after a, within a prefix of a's family.
func addN(a netip.Addr, n int) netip.Addr {
	b := a.As16()
	for i := 15; i >= 0 && n > 0; i-- {
		sum := int(b[i]) + n&0xff
		b[i] = byte(sum)
		n = n>>8 + sum>>8
	}
	if a.Is4() {
		return netip.AddrFrom4([4]byte(b[12:]))
	}
	return netip.AddrFrom16(b)
}

// Aggregate returns the fewest prefixes covering exactly the addresses of
// prefixes: sorted by address, IPv4 first; duplicates and prefixes inside
// another dropped; each pair of halves of a larger prefix joined into it, as
// often as they can be. prefixes is not modified.
func Aggregate(prefixes []netip.Prefix) []netip.Prefix {
	return aggregate(slices.Clone(prefixes))
}

// aggregate is Aggregate in place, on prefixes the caller gives up.
func aggregate(sorted []netip.Prefix) []netip.Prefix {
	slices.SortFunc(sorted, comparePrefixes)
	out := sorted[:0]
	for _, p := range sorted {
		// Sorted by address then length, a prefix holding p is the last one
		// kept: everything between them lies inside it too.
		if n := len(out); n > 0 && out[n-1].Overlaps(p) {
			continue
		}
		out = append(out, p)
		for len(out) >= 2 {
			a, b := out[len(out)-2], out[len(out)-1]
			if a.Bits() != b.Bits() || a.Bits() == 0 || a.Addr().Is4() != b.Addr().Is4() {
				break
			}
			parent, _ := a.Addr().Prefix(a.Bits() - 1)
			if parent.Addr() != a.Addr() || !parent.Contains(b.Addr()) {
				break
			}
			out = append(out[:len(out)-2], parent)
		}
	}
	return slices.Clip(out)
}

// comparePrefixes orders prefixes by address, IPv4 first, then the wider
// first.
func comparePrefixes(p, q netip.Prefix) int {
	if c := p.Addr().Compare(q.Addr()); c != 0 {
		return c
	}
	return p.Bits() - q.Bits()
}

// Size counts the addresses of aggregated prefixes, by family. The counts
// are float64: exact up to 2^53 and within a part in 10^15 beyond, far
// finer than any percentage they are compared by.
func Size(prefixes []netip.Prefix) (v4, v6 float64) {
	for _, p := range prefixes {
		n := math.Ldexp(1, p.Addr().BitLen()-p.Bits())
		if p.Addr().Is4() {
			v4 += n
		} else {
			v6 += n
		}
	}
	return v4, v6
}

// Overlap counts the addresses two aggregated lists share, by family. Two
// prefixes are nested or apart, so walking both in order, each pair that
// overlaps shares the narrower one.
func Overlap(a, b []netip.Prefix) (v4, v6 float64) {
	var shared []netip.Prefix
	for i, j := 0, 0; i < len(a) && j < len(b); {
		p, q := a[i], b[j]
		switch {
		case p.Overlaps(q) && p.Bits() >= q.Bits():
			shared = append(shared, p)
			i++
			if p.Bits() == q.Bits() {
				j++
			}
		case p.Overlaps(q):
			shared = append(shared, q)
			j++
		case p.Addr().Less(q.Addr()):
			i++
		default:
			j++
		}
	}
	return Size(shared)
}

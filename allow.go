package mysqlgw

import (
	"cmp"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"

	"github.com/miekg/dns"
)

// Allowlists: allow.<region>.Z and all.Z name every address a firewall must
// allow (gateways, decommissioning addresses, every address of the subnets),
// and 1.allow.<region>.Z, 2.… split them into shards that a firewall takes
// whole: at most 32 addresses, and an answer that fits in 512 bytes over UDP
// without EDNS, as PAN-OS, Google Cloud NGFW and OCI keep no more.

const (
	allowLabel  = "allow"
	shardsLabel = "shards" // shards.allow.<region>.Z TXT: how many shards there are
	maxShard    = 32       // the most addresses a firewall keeps from one name

	// Prefixes wider than these are not enumerated: a /24 is 256 addresses.
	maxEnumBits4 = 24
	maxEnumBits6 = 120

	udpLimit = 512 // a DNS message over UDP without EDNS (RFC 1035)
	// An A record with a compressed owner name: pointer 2, type, class,
	// TTL and length 10, address 4; an AAAA record 16 for the address.
	sizeA, sizeAAAA = 2 + 10 + 4, 2 + 10 + 16
)

// allowSet is what a firewall must allow for some regions.
type allowSet struct {
	addrs    []netip.Addr   // every address once: region by region, gateways, decommissioning, then subnets
	prefixes []netip.Prefix // the same, prefixes kept whole (cover drops repeats): the TXT and APL forms
	wide     []netip.Prefix // prefixes too wide to enumerate: in prefixes only
	seen     map[netip.Addr]bool
}

// add appends region r's addresses and prefixes to s.
func (s *allowSet) add(r gwtable.Region) {
	if s.seen == nil {
		s.seen = make(map[netip.Addr]bool)
	}
	for _, a := range append(append([]netip.Addr(nil), r.Addrs...), r.Decommissioning...) {
		s.addAddr(a)
		s.prefixes = append(s.prefixes, netip.PrefixFrom(a, a.BitLen()))
	}
	for _, p := range r.Subnets {
		s.prefixes = append(s.prefixes, p)
		if !enumerable(p) {
			s.wide = append(s.wide, p)
			continue
		}
		for a := p.Addr(); p.Contains(a); a = a.Next() {
			s.addAddr(a)
			if !a.Next().IsValid() {
				break
			}
		}
	}
}

func (s *allowSet) addAddr(a netip.Addr) {
	if !s.seen[a] {
		s.seen[a] = true
		s.addrs = append(s.addrs, a)
	}
}

// enumerable reports whether p is narrow enough to serve address by address.
func enumerable(p netip.Prefix) bool {
	if p.Addr().Is4() {
		return p.Bits() >= maxEnumBits4
	}
	return p.Bits() >= maxEnumBits6
}

// cover returns the set's prefixes with duplicates and prefixes inside
// another one left out, in table order. Sorted by address, then length, a
// prefix that holds another comes before it with no uncovered prefix in
// between, so one pass over the sorted list finds them all.
func (s *allowSet) cover() []netip.Prefix {
	order := make([]int, len(s.prefixes))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(i, j int) int {
		p, q := s.prefixes[i], s.prefixes[j]
		if c := p.Addr().Compare(q.Addr()); c != 0 {
			return c
		}
		return cmp.Compare(p.Bits(), q.Bits())
	})
	covered := make([]bool, len(s.prefixes))
	var last netip.Prefix
	for _, i := range order {
		p := s.prefixes[i]
		if last.IsValid() && last.Bits() <= p.Bits() && last.Contains(p.Addr()) {
			covered[i] = true
			continue
		}
		last = p
	}
	var out []netip.Prefix
	for i, p := range s.prefixes {
		if !covered[i] {
			out = append(out, p)
		}
	}
	return out
}

// spfTerms renders prefixes as SPF mechanisms: ip4:52.167.105.38,
// ip4:104.208.150.192/29, ip6:….
func spfTerms(prefixes []netip.Prefix) []string {
	terms := make([]string, len(prefixes))
	for i, p := range prefixes {
		mech, s := "ip4:", p.String()
		if p.Addr().Is6() {
			mech = "ip6:"
		}
		if p.IsSingleIP() {
			s = p.Addr().String()
		}
		terms[i] = mech + s
	}
	return terms
}

// apl is the prefixes as one APL record (RFC 3123).
func apl(name string, ttl uint32, prefixes []netip.Prefix) *dns.APL {
	rr := &dns.APL{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeAPL, Class: dns.ClassINET, Ttl: ttl}}
	for _, p := range prefixes {
		rr.Prefixes = append(rr.Prefixes, dns.APLPrefix{Network: net.IPNet{
			IP:   net.IP(p.Addr().AsSlice()),
			Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen()),
		}})
	}
	return rr
}

// shardSizes are the most A and AAAA records a shard of a zone holds.
type shardSizes struct{ a, aaaa int }

// fitShards returns how many A and AAAA records fit in a 512-byte answer to
// the longest shard name, qname, at most maxShard; a Corefile size (n > 0)
// is taken for both, and is an error if it does not fit.
func fitShards(qname string, n int) (shardSizes, error) {
	room := udpLimit - 12 - (len(qname) + 1 + 4) // header, question
	fit := shardSizes{a: min(maxShard, room/sizeA), aaaa: min(maxShard, room/sizeAAAA)}
	if n == 0 {
		return fit, nil
	}
	if n > fit.a {
		return shardSizes{}, fmt.Errorf("shard %d does not fit in %d bytes for %s: at most %d", n, udpLimit, qname, fit.a)
	}
	return shardSizes{a: n, aaaa: min(n, fit.aaaa)}, nil
}

// families counts the IPv4 and the IPv6 addresses of addrs.
func families(addrs []netip.Addr) (v4, v6 int) {
	for _, a := range addrs {
		if a.Is4() {
			v4++
		} else {
			v6++
		}
	}
	return v4, v6
}

// count is how many shards addrs take.
func (sz shardSizes) count(addrs []netip.Addr) int {
	v4, v6 := families(addrs)
	return max((v4+sz.a-1)/sz.a, (v6+sz.aaaa-1)/sz.aaaa)
}

// zoneShards sizes the shards of zone z: the longest shard name of the zone
// decides, its shard number as long as the largest count needs. sets are
// the allow sets to be sharded, labels the region names and aliases.
func zoneShards(z string, labels []string, sets []allowSet, n int) (shardSizes, error) {
	longest := "all." + z
	for _, label := range labels {
		if name := allowLabel + "." + label + "." + z; len(name) > len(longest) {
			longest = name
		}
	}
	digits := 1
	for {
		sz, err := fitShards(strings.Repeat("9", digits)+"."+longest, n)
		if err != nil {
			return shardSizes{}, err
		}
		most := 0
		for _, s := range sets {
			most = max(most, sz.count(s.addrs))
		}
		if len(strconv.Itoa(most)) <= digits {
			return sz, nil
		}
		digits++
	}
}

// allowSets returns the allow set of every region, the union of them all
// (for all.Z, last), and every label the regions answer to.
func allowSets(regions []gwtable.Region) (sets []allowSet, labels []string) {
	var all allowSet
	for _, r := range regions {
		var s allowSet
		s.add(r)
		all.add(r)
		sets = append(sets, s)
		labels = append(append(labels, r.Name), r.Aliases...)
	}
	return append(sets, all), labels
}

// addAllowName adds name (all.Z or allow.<region>.Z) with its shards: A and
// AAAA for every address, TXT in SPF form and APL with the prefixes whole,
// k.name for each shard, and shards.name TXT with their count.
func (n *answers) addAllowName(z, name string, set allowSet, sz shardSizes, ttl uint32) {
	n.addAddrs(z, name, set.addrs, ttl)
	cover := set.cover()
	spf := append(append([]string{"v=spf1"}, spfTerms(cover)...), "-all")
	n.add(z, name, rrset{qtype: dns.TypeTXT, answer: []dns.RR{txt(name, ttl, splitTXT(spf)...)}})
	n.add(z, name, rrset{qtype: dns.TypeAPL, answer: []dns.RR{apl(name, ttl, cover)}})

	var v4, v6 []netip.Addr
	for _, a := range set.addrs {
		if a.Is4() {
			v4 = append(v4, a)
		} else {
			v6 = append(v6, a)
		}
	}
	count := sz.count(set.addrs)
	for k := range count {
		shard := strconv.Itoa(k+1) + "." + name
		a := v4[min(k*sz.a, len(v4)):min((k+1)*sz.a, len(v4))]
		aaaa := v6[min(k*sz.aaaa, len(v6)):min((k+1)*sz.aaaa, len(v6))]
		n.addAddrs(z, shard, append(append([]netip.Addr(nil), a...), aaaa...), ttl)
	}
	n.add(z, shardsLabel+"."+name, rrset{qtype: dns.TypeTXT, answer: []dns.RR{txt(shardsLabel+"."+name, ttl, strconv.Itoa(count))}})
}

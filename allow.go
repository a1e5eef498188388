package mysqlgw

import (
	"fmt"
	"net/netip"
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
// redirect.<region>.Z and its shards name a region's Redirect set the same
// way: what clients under Azure SQL's Redirect policy reach besides the
// gateways.

const (
	allowLabel    = "allow"
	redirectLabel = "redirect"
	shardsLabel   = "shards" // shards.allow.<region>.Z TXT: how many shards there are
	maxShard      = 32       // the most addresses a firewall keeps from one name

	udpLimit = 512 // a DNS message over UDP without EDNS (RFC 1035)
)

// tableSets are a table's sets, made once per swap for the DNS answers and
// the HTTP lists alike: each region's allow set, every region's together,
// and each region's Redirect set and every region's together.
type tableSets struct {
	regions     []*gwtable.Set // by region, in table order; nil for a region with nothing to allow
	all         *gwtable.Set
	redirect    []*gwtable.Set // by region; nil for a region without a Redirect set
	redirectAll *gwtable.Set
}

func newTableSets(regions []gwtable.Region) tableSets {
	s := tableSets{regions: make([]*gwtable.Set, len(regions)), redirect: make([]*gwtable.Set, len(regions))}
	var allow, redirect []*gwtable.Set
	for i, r := range regions {
		if r.HasAllow() {
			s.regions[i] = r.Allow()
			allow = append(allow, s.regions[i])
		}
		if r.HasRedirect() {
			s.redirect[i] = r.RedirectSet()
			redirect = append(redirect, s.redirect[i])
		}
	}
	s.all, s.redirectAll = gwtable.Union(allow), gwtable.Union(redirect)
	return s
}

// setName: name's addresses (allow.<region>, all, redirect.<region>), A and
// AAAA; the prefixes whole as one SPF TXT record and one APL record (RFC
// 3123); its shards, k.name; and shards.name TXT with their count.
func (w *walker) setName(z, name string, set *gwtable.Set, sz shardSizes) {
	ttl := w.opt.ttl
	at := place{zone: z, name: name, choice: static}
	w.addrs(at, ttl, addrList{set: set, to4: -1, to6: -1})
	w.spf(at, ttl, set.Prefixes)
	w.apl(at, ttl, set.Prefixes)
	v4, v6 := set.Count()
	count := sz.count(v4, v6)
	for k := range count {
		shard := addrList{set: set, from4: min(k*sz.a, v4), to4: min((k+1)*sz.a, v4), from6: min(k*sz.aaaa, v6), to6: min((k+1)*sz.aaaa, v6)}
		w.addrs(place{zone: z, name: name, choice: static, shard: k + 1}, ttl, shard)
	}
	w.texts(place{zone: z, name: shardsLabel + "." + name, choice: static}, ttl, []string{strconv.Itoa(count)})
}

// spf is the prefixes whole as one SPF TXT record. A set whose text could
// not fit in a message (all.Z of a large table) is left out before its
// strings are made: a reload of such a table would otherwise make them
// twice (the budget's count, the answers) only to drop them.
func (w *walker) spf(at place, ttl uint32, prefixes []netip.Prefix) {
	var buf [64]byte
	joined := len("v=spf1 -all")
	for _, p := range prefixes {
		if p.IsSingleIP() {
			joined += len(" ip4:") + len(p.Addr().AppendTo(buf[:0]))
		} else {
			joined += len(" ip4:") + len(p.AppendTo(buf[:0]))
		}
	}
	// Each 255 bytes of text take a length byte at least.
	if !w.fits(at.name, dns.TypeTXT, 1, joined+joined/maxTXTString) {
		return
	}
	w.txt(at, ttl, splitTXT(append(append([]string{"v=spf1"}, spfTerms(prefixes)...), "-all")))
}

// shardSizes are the most A and AAAA records a shard of a zone holds.
type shardSizes struct{ a, aaaa int }

// fitShards returns how many A and AAAA records fit in a 512-byte answer to
// the longest shard name, qname, at most maxShard; a Corefile size (n > 0)
// is taken for both, and is an error if it does not fit.
func fitShards(qname string, n int) (shardSizes, error) {
	room := udpLimit - messageSize(qname, 0, 0)
	fit := shardSizes{a: min(maxShard, room/sizeA), aaaa: min(maxShard, room/sizeAAAA)}
	if n == 0 {
		return fit, nil
	}
	if n > fit.a {
		return shardSizes{}, fmt.Errorf("shard %d does not fit in %d bytes for %s: at most %d", n, udpLimit, qname, fit.a)
	}
	return shardSizes{a: n, aaaa: min(n, fit.aaaa)}, nil
}

// count is how many shards v4 IPv4 and v6 IPv6 addresses take.
func (sz shardSizes) count(v4, v6 int) int {
	return max((v4+sz.a-1)/sz.a, (v6+sz.aaaa-1)/sz.aaaa)
}

// zoneShards sizes the shards of zone z: the longest shard name of the zone,
// of either set, decides, its shard number as long as the largest count
// needs.
func (w *walker) zoneShards(z string) (shardSizes, error) {
	longest := "all." + z
	for i, r := range w.regions {
		label := allowLabel
		if w.sets.redirect[i] != nil {
			label = redirectLabel // the longer of the two
		}
		for _, name := range r.Names() {
			if n := label + "." + name + "." + z; len(n) > len(longest) {
				longest = n
			}
		}
	}
	for digits := 1; ; digits++ {
		sz, err := fitShards(strings.Repeat("9", digits)+"."+longest, w.opt.shard)
		if err != nil {
			return shardSizes{}, fmt.Errorf("%s: %w", w.opt.shardWhere, err)
		}
		most := sz.count(w.sets.all.Count())
		for _, sets := range [][]*gwtable.Set{w.sets.regions, w.sets.redirect} {
			for _, s := range sets {
				if s != nil {
					most = max(most, sz.count(s.Count()))
				}
			}
		}
		if len(strconv.Itoa(most)) <= digits {
			return sz, nil
		}
	}
}

package mysqlgw

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
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

	udpLimit = 512 // a DNS message over UDP without EDNS (RFC 1035)
)

// tableSets are a table's allow sets, made once per swap for the DNS
// answers and the HTTP lists alike: each region's, and every region's
// together.
type tableSets struct {
	regions []*gwtable.Set // by region, in table order
	all     *gwtable.Set
}

func newTableSets(regions []gwtable.Region) tableSets {
	s := tableSets{regions: make([]*gwtable.Set, len(regions))}
	for i, r := range regions {
		s.regions[i] = r.Allow()
	}
	s.all = gwtable.Union(s.regions)
	return s
}

// allowName: name's addresses, A and AAAA; the prefixes whole as one SPF TXT
// record and one APL record (RFC 3123); its shards, k.name; and shards.name
// TXT with their count.
func (w *walker) allowName(z, name string, set *gwtable.Set, sz shardSizes) {
	ttl := w.opt.ttl
	at := place{zone: z, name: name, choice: static}
	w.addrs(at, ttl, addrList{set: set, to4: -1, to6: -1})
	spf := append(append([]string{"v=spf1"}, spfTerms(set.Prefixes)...), "-all")
	w.txt(at, ttl, splitTXT(spf))
	w.apl(at, ttl, set.Prefixes)
	v4, v6 := set.Count()
	count := sz.count(v4, v6)
	for k := range count {
		shard := addrList{set: set, from4: min(k*sz.a, v4), to4: min((k+1)*sz.a, v4), from6: min(k*sz.aaaa, v6), to6: min((k+1)*sz.aaaa, v6)}
		w.addrs(place{zone: z, name: name, choice: static, shard: k + 1}, ttl, shard)
	}
	w.texts(place{zone: z, name: shardsLabel + "." + name, choice: static}, ttl, []string{strconv.Itoa(count)})
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

// zoneShards sizes the shards of zone z: the longest shard name of the zone
// decides, its shard number as long as the largest count needs.
func (w *walker) zoneShards(z string) (shardSizes, error) {
	longest := "all." + z
	label := ""
	for _, r := range w.regions {
		for i := -1; i < len(r.Aliases); i++ { // the name, then each alias
			l := r.Name
			if i >= 0 {
				l = r.Aliases[i]
			}
			if len(allowLabel)+1+len(l)+1+len(z) > len(longest) && len(l) > len(label) {
				label = l
			}
		}
	}
	if label != "" {
		longest = allowLabel + "." + label + "." + z
	}
	for digits := 1; ; digits++ {
		sz, err := fitShards(strings.Repeat("9", digits)+"."+longest, w.opt.shard)
		if err != nil {
			return shardSizes{}, fmt.Errorf("%s: %w", w.opt.shardWhere, err)
		}
		most := sz.count(w.sets.all.Count())
		for _, s := range w.sets.regions {
			most = max(most, sz.count(s.Count()))
		}
		if len(strconv.Itoa(most)) <= digits {
			return sz, nil
		}
	}
}

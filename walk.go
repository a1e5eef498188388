package mysqlgw

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"

	"github.com/miekg/dns"
)

// The walk is the one model of what a table's answers hold: every name and
// every RRset, and the rules that decide them (which zone a name belongs to,
// which sets are too large for a message). It hands each RRset to a sink:
// the budget's counting sink tallies them without making a record
// (budget.go), and the answers sink makes them (answers.go). A load walks
// twice: checkBudget counts, then, within max_records, buildAnswers builds.

// sink takes what the walk makes, RRset by RRset.
type sink interface {
	// name makes name exist without records of its own.
	name(z, name string)
	// nsHost makes ns.dns.Z exist, answering A and AAAA with the address
	// a query arrived on.
	nsHost(z, name string)
	// active makes name answer by health: with the choice (addrs and
	// texts at place.choice) of the first healthy role of gateways.
	active(z, name string, gateways []netip.Addr)
	// zone starts zone z with its SOA and NS.
	zone(z string, soa *dns.SOA, ns *dns.NS)
	addrs(at place, ttl uint32, list addrList)
	texts(at place, ttl uint32, texts []string) // a TXT record for each text
	txt(at place, ttl uint32, strs []string)    // one TXT record of strs
	apl(at place, ttl uint32, prefixes []netip.Prefix)
	srv(at place, ttl uint32, port uint16, targets []srvTarget, addrTTL uint32)
	ptr(z, name string, ttl uint32, targets []string)
	// leftOut notes an RRset left out, "name TYPE": too large for one
	// message, it is never made.
	leftOut(what string)
}

// place is where an RRset goes: a name of a zone, and for an active name
// which of its answers (a role, or noneHealthy). A shard's name is made
// only by a sink that needs it: a table's shards are many, and the counting
// sink makes no name.
type place struct {
	zone, name string
	choice     int
	shard      int // > 0: the place is shard number shard of name, "<shard>.<name>"
}

// owner is the place's name.
func (at place) owner() string {
	if at.shard == 0 {
		return at.name
	}
	return strconv.Itoa(at.shard) + "." + at.name
}

// static is the choice of every name but the active ones.
const static = -1

// walker walks one table under one set of options. Its addrs, texts, txt,
// apl and srv check that a set is the zone's own and fits a message before
// handing it to the sink; the sink's own methods take it as it is.
type walker struct {
	sink    sink
	regions []gwtable.Region
	sets    tableSets
	opt     options
	zones   []string // every zone, forward and reverse
}

// walk hands every RRset of regions' answers under opt to s. Its only
// error, before anything is handed over, is a Corefile shard size that does
// not fit a zone.
func walk(s sink, regions []gwtable.Region, sets tableSets, opt options) error {
	w := &walker{sink: s, regions: regions, sets: sets, opt: opt}
	w.zones = append(slices.Clone(opt.zones), opt.reverse...)
	sizes := make([]shardSizes, len(opt.zones))
	for i, z := range opt.zones {
		sz, err := w.zoneShards(z)
		if err != nil {
			return err
		}
		sizes[i] = sz
	}
	for _, z := range w.zones {
		w.apex(z)
	}
	for i, z := range opt.zones {
		w.forward(z, sizes[i])
	}
	for _, z := range opt.reverse {
		w.reverse(z)
	}
	return nil
}

// owns reports whether name is zone z's, not a more specific zone's
// served here: nested zones do not shadow each other.
func (w *walker) owns(z, name string) bool { return zoneOf(w.zones, name) == z }

// ownsPlace is owns for a place: a shard is its name's zone's unless a zone
// served here is the shard's name itself, which is checked without making
// the name.
func (w *walker) ownsPlace(at place) bool {
	if !w.owns(at.zone, at.name) {
		return false
	}
	if at.shard == 0 {
		return true
	}
	var buf [20]byte
	label := strconv.AppendInt(buf[:0], int64(at.shard), 10)
	for _, z := range w.zones {
		if len(z) == len(label)+1+len(at.name) && strings.HasSuffix(z, at.name) && z[len(label)] == '.' && z[:len(label)] == string(label) {
			return false
		}
	}
	return true
}

// zoneOf is the most specific of zones that holds name, "" when none: what
// plugin.Zones.Matches returns, for lower-case names without escapes, and
// without allocating (Matches splits both names into labels), since the
// counting walk asks it of every name.
func zoneOf(zones []string, name string) string {
	best := ""
	for _, z := range zones {
		if len(z) > len(best) && (z == "." || strings.HasSuffix(name, z) && (len(name) == len(z) || name[len(name)-len(z)-1] == '.')) {
			best = z
		}
	}
	return best
}

// decommissioningLabel names a region's decommissioning addresses, as in
// decommissioning.eastus2.Z.
const decommissioningLabel = "decommissioning"

// nsLabel is where the zone's name server lives: ns.dns.Z. The "dns" label is
// reserved so no region can shadow it.
const nsLabel = "ns.dns."

// ptrZone is the forward zone PTR records and reverse zones' SOA name:
// the first one, or none.
func (w *walker) ptrZone() string {
	if len(w.opt.zones) > 0 {
		return w.opt.zones[0]
	}
	return ""
}

// nsHost is the name server of zone z: forward zones name their own
// ns.dns, reverse zones the first forward zone's.
func nsHost(z, ptrZone string) string {
	if isReverseZone(z) && ptrZone != "" {
		return nsLabel + ptrZone
	}
	return nsLabel + z
}

// apex: the SOA and NS, the table's facts in TXT (forward zones), and
// ns.dns.Z.
func (w *walker) apex(z string) {
	opt := w.opt
	host := nsHost(z, w.ptrZone())
	soa := &dns.SOA{
		Hdr:     hdr(z, dns.TypeSOA, opt.ttl),
		Ns:      host,
		Mbox:    "hostmaster." + strings.TrimPrefix(host, "ns."),
		Serial:  opt.serial,
		Refresh: opt.soa.refresh,
		Retry:   opt.soa.retry,
		Expire:  opt.soa.expire,
		Minttl:  opt.soa.minimum,
	}
	w.sink.zone(z, soa, &dns.NS{Hdr: hdr(z, dns.TypeNS, opt.ttl), Ns: host})
	if isReverseZone(z) {
		return
	}
	w.texts(place{zone: z, name: z, choice: static}, opt.ttl, opt.facts.texts())
	if len(opt.nsAddrs) > 0 {
		w.addrs(place{zone: z, name: nsLabel + z, choice: static}, opt.ttl, addrList{addrs: opt.nsAddrs})
	} else if w.owns(z, nsLabel+z) {
		w.sink.nsHost(z, nsLabel+z)
	}
}

// forward: all.Z, then each region under each label it answers to, with its
// allow and Redirect names when it has those sets.
func (w *walker) forward(z string, sz shardSizes) {
	w.setName(z, "all."+z, w.sets.all, sz)
	for i, r := range w.regions {
		for _, label := range r.Names() {
			w.region(z, label+"."+z, r)
			if s := w.sets.regions[i]; s != nil {
				w.setName(z, allowLabel+"."+label+"."+z, s, sz)
			}
			if s := w.sets.redirect[i]; s != nil {
				w.setName(z, redirectLabel+"."+label+"."+z, s, sz)
			}
		}
	}
}

// region: one label's names for r: the region, its decommissioning
// addresses, and, when it has gateways, its roles, SRV and active names.
func (w *walker) region(z, base string, r gwtable.Region) {
	ttl := w.opt.ttl
	w.addrs(place{zone: z, name: base, choice: static}, ttl, addrList{addrs: r.Addrs})
	texts := make([]string, 0, len(r.Addrs)+len(r.Subnets)+len(r.Decommissioning)+1)
	for i, a := range r.Addrs {
		texts = append(texts, gwtable.Role(i).String()+"="+a.String())
	}
	for _, p := range r.Subnets {
		texts = append(texts, "subnet="+p.String())
	}
	for _, a := range r.Decommissioning {
		texts = append(texts, decommissioningLabel+"="+a.String())
	}
	texts = append(texts, "region="+r.DisplayName())
	w.texts(place{zone: z, name: base, choice: static}, ttl, texts)

	if len(r.Decommissioning) > 0 {
		at := place{zone: z, name: decommissioningLabel + "." + base, choice: static}
		w.addrs(at, ttl, addrList{addrs: r.Decommissioning})
		w.texts(at, ttl, texts[len(r.Addrs)+len(r.Subnets):len(texts)-1])
	}
	if len(r.Addrs) == 0 {
		return // nothing to connect to: no roles, SRV or active
	}
	targets := make([]srvTarget, len(r.Addrs))
	for i, a := range r.Addrs {
		role := gwtable.Role(i).String()
		at := place{zone: z, name: role + "." + base, choice: static}
		targets[i] = srvTarget{priority: srvPriority(i), target: at.name, addr: a}
		w.addrs(at, ttl, addrList{addrs: r.Addrs[i : i+1]})
		w.texts(at, ttl, texts[i:i+1])
	}
	w.srv(place{zone: z, name: "_mysql._tcp." + base, choice: static}, ttl, targets)
	w.active(z, base, r, texts[:len(r.Addrs)], targets)
}

// reverse: a PTR for every table address inside reverse zone z, naming
// each role of each region that uses it, and decommissioning.REGION for
// decommissioning addresses, in the first forward zone.
func (w *walker) reverse(z string) {
	ptrZone := w.ptrZone()
	if ptrZone == "" {
		return
	}
	var owners []string
	targets := map[string][]string{}
	add := func(a netip.Addr, target string) {
		rev, err := dns.ReverseAddr(a.String())
		if err != nil || !dns.IsSubDomain(z, rev) || !w.owns(z, rev) {
			return
		}
		if _, ok := targets[rev]; !ok {
			owners = append(owners, rev)
		}
		targets[rev] = append(targets[rev], target)
	}
	for _, r := range w.regions {
		for i, a := range r.Addrs {
			add(a, gwtable.Role(i).String()+"."+r.Name+"."+ptrZone)
		}
		for _, a := range r.Decommissioning {
			add(a, decommissioningLabel+"."+r.Name+"."+ptrZone)
		}
	}
	for _, rev := range owners {
		rdata := 0
		for _, t := range targets[rev] {
			rdata += len(t) + 1
		}
		if w.fits(rev, dns.TypePTR, len(targets[rev]), rdata) {
			w.sink.ptr(z, rev, w.opt.ttl, targets[rev])
		}
	}
}

// The walk's RRsets pass through these, which apply the rules every sink
// shares: a name another zone holds is left to it, and a set too large for
// a message is left out.

func (w *walker) addrs(at place, ttl uint32, list addrList) {
	if !w.ownsPlace(at) {
		return
	}
	if at.choice == static && at.shard == 0 { // a shard's set always fits
		list = w.fit(at.name, list)
	}
	if v4, v6 := list.count(); v4+v6 == 0 {
		w.sink.name(at.zone, at.owner())
		return
	}
	w.sink.addrs(at, ttl, list)
}

func (w *walker) texts(at place, ttl uint32, texts []string) {
	rdata := 0
	for _, t := range texts {
		rdata += 1 + len(t)
	}
	if w.owns(at.zone, at.name) && w.fits(at.name, dns.TypeTXT, len(texts), rdata) {
		w.sink.texts(at, ttl, texts)
	}
}

func (w *walker) txt(at place, ttl uint32, strs []string) {
	rdata := 0
	for _, s := range strs {
		rdata += 1 + len(s)
	}
	if w.owns(at.zone, at.name) && w.fits(at.name, dns.TypeTXT, 1, rdata) {
		w.sink.txt(at, ttl, strs)
	}
}

func (w *walker) apl(at place, ttl uint32, prefixes []netip.Prefix) {
	rdata := 0
	for _, p := range prefixes {
		rdata += aplPrefixSize(p)
	}
	if w.owns(at.zone, at.name) && w.fits(at.name, dns.TypeAPL, 1, rdata) {
		w.sink.apl(at, ttl, prefixes)
	}
}

// srv: SRV sets hold one record per role (at most gwtable.MaxRoles) and
// always fit.
func (w *walker) srv(at place, ttl uint32, targets []srvTarget) {
	if w.owns(at.zone, at.name) {
		w.sink.srv(at, ttl, w.opt.port, targets, w.opt.ttl)
	}
}

func isReverseZone(z string) bool {
	return dns.IsSubDomain("in-addr.arpa.", z) || dns.IsSubDomain("ip6.arpa.", z)
}

// addrList is the addresses of a name's A and AAAA sets, without making
// them: addrs, or a window of a set's listed addresses (IPv4 numbered from4
// to to4-1, IPv6 from6 to to6-1; -1 for the end).
type addrList struct {
	addrs                  []netip.Addr
	set                    *gwtable.Set
	from4, to4, from6, to6 int
}

// count is how many addresses the list holds, by family.
func (l addrList) count() (v4, v6 int) {
	if l.set == nil {
		for _, a := range l.addrs {
			if a.Is4() {
				v4++
			} else {
				v6++
			}
		}
		return v4, v6
	}
	n4, n6 := l.set.Count()
	if l.to4 >= 0 {
		n4 = l.to4
	}
	if l.to6 >= 0 {
		n6 = l.to6
	}
	return n4 - l.from4, n6 - l.from6
}

// family makes the addresses of one family (IPv6 when v6), in order.
func (l addrList) family(v6 bool) []netip.Addr {
	if l.set == nil {
		var out []netip.Addr
		for _, a := range l.addrs {
			if a.Is6() == v6 {
				out = append(out, a)
			}
		}
		return out
	}
	v4, n6 := l.count()
	if v6 {
		return l.set.AppendAddrs(make([]netip.Addr, 0, n6), true, l.from6, l.from6+n6)
	}
	return l.set.AppendAddrs(make([]netip.Addr, 0, v4), false, l.from4, l.from4+v4)
}

// without is the list with the IPv4 (v4) or IPv6 (v6) addresses left out.
func (l addrList) without(v4, v6 bool) addrList {
	if l.set == nil {
		var kept []netip.Addr
		for _, a := range l.addrs {
			if a.Is4() && !v4 || a.Is6() && !v6 {
				kept = append(kept, a)
			}
		}
		return addrList{addrs: kept}
	}
	n4, n6 := l.count()
	if v4 {
		n4 = 0
	}
	if v6 {
		n6 = 0
	}
	return addrList{set: l.set, from4: l.from4, to4: l.from4 + n4, from6: l.from6, to6: l.from6 + n6}
}

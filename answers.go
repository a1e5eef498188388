package mysqlgw

import (
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"

	"github.com/coredns/coredns/plugin"

	"github.com/miekg/dns"
)

// answers is everything mysqlgw answers, built once per table load so that a
// query costs one map lookup. A reload builds new answers and swaps them in whole.
type answers struct {
	nodes   map[string]*node // lower-case FQDN -> what exists there
	zones   plugin.Zones     // every zone, for NXDOMAIN outside the table
	apex    map[string]*zoneInfo
	regions []gwtable.Region // the table these answers were built from
	addrs   int              // distinct gateway addresses served
	wide    []netip.Prefix   // subnets too wide to serve address by address

	// gateways is the health state of every address an active name reads,
	// for the checker to probe once these answers are served; nil without
	// health checking.
	gateways map[netip.Addr]*addrHealth
	// oversize are the RRsets left out, too large for one message: "name TYPE".
	oversize []string

	// http is what the HTTP listener serves (lists.go), built with the
	// rest; nil without http.
	http *httpBodies
}

// zoneInfo is a zone's SOA, handed out in every negative answer (RFC 2308).
type zoneInfo struct {
	name string
	soa  *dns.SOA // as built, with the table's serial
	cur  atomic.Pointer[apexState]

	// actives are the zone's active names, in the order they were built,
	// for transfer_health to follow.
	actives []*activeName

	listOnce sync.Once
	list     [][]dns.RR // every record but the SOA, for zone transfers, in slices of xfrBatch
}

// apexState is what the zone's apex answers with the serial it serves now:
// the SOA, the authority section of negative answers, and the apex's sets.
// Only transfer_health changes the serial after the build; it swaps the
// state whole, so a query reads one serial throughout.
type apexState struct {
	soa  *dns.SOA
	ns   []dns.RR
	sets []rrset
}

// current is the zone's SOA and apex as served now.
func (z *zoneInfo) current() *apexState { return z.cur.Load() }

// serve makes the zone answer with serial from the next query on; apex is
// the apex node's sets as built.
func (z *zoneInfo) serve(serial uint32, apex []rrset) {
	soa := dns.Copy(z.soa).(*dns.SOA)
	soa.Serial = serial
	sets := slices.Clone(apex)
	for i := range sets {
		if sets[i].qtype == dns.TypeSOA {
			sets[i].answer = []dns.RR{soa}
		}
	}
	z.cur.Store(&apexState{soa: soa, ns: []dns.RR{soa}, sets: sets})
}

// node is one name that exists: its record sets by type, or none for an empty
// non-terminal. active names decide their records per query instead.
type node struct {
	zone   *zoneInfo
	rrsets []rrset
	active *activeName
	isApex bool // the zone's apex: answered from zone.current(), whose SOA may move
	isNS   bool // ns.dns.Z: answered with the address the query arrived on
}

// rrset is the answer to one (name, type): the records and any
// additional-section records, handed out as they are.
type rrset struct {
	qtype  uint16
	answer []dns.RR
	extra  []dns.RR
}

// zoneOf returns the most specific zone served here that holds name, or nil.
// It walks name's suffixes, longest first, without allocating.
func (n *answers) zoneOf(name string) *zoneInfo {
	for off, end := 0, false; !end; off, end = dns.NextLabel(name, off) {
		if z, ok := n.apex[name[off:]]; ok {
			return z
		}
	}
	return nil
}

// sets returns what the name holds now: its own sets, or for an active
// name the sets of the address chosen by health.
func (n *node) sets() []rrset {
	switch {
	case n.active != nil:
		return n.active.rrsets()
	case n.isApex:
		return n.zone.current().sets
	}
	return n.rrsets
}

// findSet returns the set for qtype among a name's sets, or nil.
func findSet(sets []rrset, qtype uint16) *rrset {
	for i := range sets {
		if sets[i].qtype == qtype {
			return &sets[i]
		}
	}
	return nil
}

// decommissioningLabel names a region's decommissioning addresses, as in
// decommissioning.eastus2.Z.
const decommissioningLabel = "decommissioning"

// nsLabel is where the zone's name server lives: ns.dns.Z. The "dns" label is
// reserved so no region can shadow it.
const nsLabel = "ns.dns."

// buildAnswers turns a table into answers for every zone. It has no side
// effects: health is only read (see healthOf), and every check runs before
// anything is built. Its only error is a Corefile shard size that does not
// fit a zone.
func buildAnswers(regions []gwtable.Region, opt options, health *healthChecker) (*answers, error) {
	sets, labels := allowSets(regions)
	sizes := make([]shardSizes, len(opt.zones))
	for i, z := range opt.zones {
		sz, err := zoneShards(z, labels, sets, opt.shard)
		if err != nil {
			return nil, err
		}
		sizes[i] = sz
	}
	n := &answers{
		nodes:   make(map[string]*node, len(opt.zones)*len(regions)*12),
		apex:    make(map[string]*zoneInfo),
		regions: regions,
	}
	n.zones = append(append(plugin.Zones{}, opt.zones...), opt.reverse...)
	ptrZone := ""
	if len(opt.zones) > 0 {
		ptrZone = opt.zones[0]
	}
	for _, z := range n.zones {
		n.addApex(z, opt, ptrZone)
	}
	n.addrs = len(gwtable.Addresses(regions))
	n.wide = sets[len(sets)-1].wide
	for i, z := range opt.zones {
		n.addForward(z, sets, sizes[i], opt, health)
	}
	for _, z := range opt.reverse {
		n.addReverse(z, opt, ptrZone)
	}
	n.dropOversize()
	for z, info := range n.apex {
		apex := n.nodes[z]
		apex.isApex = true
		info.serve(info.soa.Serial, apex.rrsets)
	}
	return n, nil
}

// nsHost is the name server of zone z: forward zones name their own
// ns.dns, reverse zones the first forward zone's.
func nsHost(z, ptrZone string) string {
	if isReverseZone(z) && ptrZone != "" {
		return nsLabel + ptrZone
	}
	return nsLabel + z
}

func (n *answers) addApex(z string, opt options, ptrZone string) {
	host := nsHost(z, ptrZone)
	soa := &dns.SOA{
		Hdr:     dns.RR_Header{Name: z, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: opt.ttl},
		Ns:      host,
		Mbox:    "hostmaster." + strings.TrimPrefix(host, "ns."),
		Serial:  opt.serial,
		Refresh: opt.soa.refresh,
		Retry:   opt.soa.retry,
		Expire:  opt.soa.expire,
		Minttl:  opt.soa.minimum,
	}
	info := &zoneInfo{name: z, soa: soa}
	n.apex[z] = info
	ns := &dns.NS{Hdr: dns.RR_Header{Name: z, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: opt.ttl}, Ns: host}
	n.add(z, z, rrset{qtype: dns.TypeSOA, answer: []dns.RR{soa}})
	n.add(z, z, rrset{qtype: dns.TypeNS, answer: []dns.RR{ns}})
	if !isReverseZone(z) {
		n.add(z, z, opt.facts.txt(z, opt.ttl))
	}
	switch {
	case isReverseZone(z):
	case len(opt.nsAddrs) > 0:
		n.addAddrs(z, nsLabel+z, opt.nsAddrs, opt.ttl)
	default:
		n.node(z, nsLabel+z).isNS = true
	}
}

// addForward adds the names of one forward zone: all (the last of sets, every
// region's allow set, once) and each region's names.
func (n *answers) addForward(z string, sets []allowSet, sz shardSizes, opt options, health *healthChecker) {
	n.addAllowName(z, "all."+z, sets[len(sets)-1], sz, opt.ttl)
	for i, r := range n.regions {
		for _, label := range append([]string{r.Name}, r.Aliases...) {
			n.addRegion(z, label+"."+z, r, opt, health)
			n.addAllowName(z, allowLabel+"."+label+"."+z, sets[i], sz, opt.ttl)
		}
	}
}

// addRegion adds one label's names for region r: the region, its roles, its
// decommissioning addresses, and, when it has gateways, active and the SRV
// names.
func (n *answers) addRegion(z, base string, r gwtable.Region, opt options, health *healthChecker) {
	n.addAddrs(z, base, r.Addrs, opt.ttl)
	texts := make([]dns.RR, 0, len(r.Addrs)+len(r.Subnets)+len(r.Decommissioning)+1)
	for i, a := range r.Addrs {
		texts = append(texts, txt(base, opt.ttl, gwtable.Role(i).String()+"="+a.String()))
	}
	for _, p := range r.Subnets {
		texts = append(texts, txt(base, opt.ttl, "subnet="+p.String()))
	}
	for _, a := range r.Decommissioning {
		texts = append(texts, txt(base, opt.ttl, decommissioningLabel+"="+a.String()))
	}
	texts = append(texts, txt(base, opt.ttl, "region="+r.DisplayName()))
	n.add(z, base, rrset{qtype: dns.TypeTXT, answer: texts})

	if len(r.Decommissioning) > 0 {
		name := decommissioningLabel + "." + base
		n.addAddrs(z, name, r.Decommissioning, opt.ttl)
		texts := make([]dns.RR, len(r.Decommissioning))
		for i, a := range r.Decommissioning {
			texts[i] = txt(name, opt.ttl, decommissioningLabel+"="+a.String())
		}
		n.add(z, name, rrset{qtype: dns.TypeTXT, answer: texts})
	}
	if len(r.Addrs) == 0 {
		return // nothing to connect to: no roles, SRV or active
	}
	targets := make([]string, len(r.Addrs))
	for i, a := range r.Addrs {
		role := gwtable.Role(i).String()
		targets[i] = role + "." + base
		n.addAddrs(z, targets[i], r.Addrs[i:i+1], opt.ttl)
		n.add(z, targets[i], rrset{qtype: dns.TypeTXT, answer: []dns.RR{txt(targets[i], opt.ttl, role+"="+a.String())}})
	}
	srvName := "_mysql._tcp." + base
	n.add(z, srvName, srvSet(srvName, r.Addrs, targets, opt, opt.ttl, allRoles(len(r.Addrs))))
	n.addActive(z, base, r, targets, opt, health)
}

// addAddrs adds the A and AAAA sets of name; a family with no address is
// simply absent, so the name answers NODATA for it.
func (n *answers) addAddrs(z, name string, addrs []netip.Addr, ttl uint32) {
	a, aaaa := addressRecords(name, n.fitAddrs(name, addrs), ttl)
	if len(a) > 0 {
		n.add(z, name, rrset{qtype: dns.TypeA, answer: a})
	}
	if len(aaaa) > 0 {
		n.add(z, name, rrset{qtype: dns.TypeAAAA, answer: aaaa})
	}
	if len(a) == 0 && len(aaaa) == 0 {
		n.node(z, name)
	}
}

// addReverse adds a PTR for every table address inside reverse zone z, naming
// each role of each region that uses it, and decommissioning.<region> for
// decommissioning addresses, in the first forward zone.
func (n *answers) addReverse(z string, opt options, ptrZone string) {
	if ptrZone == "" {
		return
	}
	for _, r := range n.regions {
		for i, a := range r.Addrs {
			n.addPTR(z, a, gwtable.Role(i).String()+"."+r.Name+"."+ptrZone, opt.ttl)
		}
		for _, a := range r.Decommissioning {
			n.addPTR(z, a, decommissioningLabel+"."+r.Name+"."+ptrZone, opt.ttl)
		}
	}
}

func (n *answers) addPTR(z string, a netip.Addr, target string, ttl uint32) {
	rev, err := dns.ReverseAddr(a.String())
	if err != nil || !dns.IsSubDomain(z, rev) {
		return
	}
	ptr := &dns.PTR{Hdr: dns.RR_Header{Name: rev, Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: ttl}, Ptr: target}
	nd := n.node(z, rev)
	if nd == nil {
		return // a more specific reverse zone served here holds it
	}
	if set := findSet(nd.rrsets, dns.TypePTR); set != nil {
		set.answer = append(set.answer, ptr)
		return
	}
	nd.rrsets = append(nd.rrsets, rrset{qtype: dns.TypePTR, answer: []dns.RR{ptr}})
}

// add puts set at name in zone z.
func (n *answers) add(z, name string, set rrset) {
	nd := n.node(z, name)
	if nd == nil {
		return
	}
	nd.rrsets = append(nd.rrsets, set)
}

// node returns the node for name, creating it and every empty non-terminal
// between it and the apex of z. Names that belong to a more specific zone
// served here are left to that zone, so nested zones do not shadow each other.
func (n *answers) node(z, name string) *node {
	if n.zones.Matches(name) != z {
		return nil
	}
	if nd, ok := n.nodes[name]; ok {
		return nd
	}
	nd := &node{zone: n.apex[z]}
	n.nodes[name] = nd
	for parent := name; parent != z; {
		i, end := dns.NextLabel(parent, 0)
		if end {
			break
		}
		parent = parent[i:]
		if _, ok := n.nodes[parent]; ok || n.zones.Matches(parent) != z {
			break
		}
		n.nodes[parent] = &node{zone: n.apex[z]}
	}
	return nd
}

func isReverseZone(z string) bool {
	return dns.IsSubDomain("in-addr.arpa.", z) || dns.IsSubDomain("ip6.arpa.", z)
}

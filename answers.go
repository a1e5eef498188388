package mysqlgw

import (
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"

	"github.com/miekg/dns"
)

// answers is everything mysqlgw answers, built once per table load so that a
// query costs one map lookup. A reload builds new answers and swaps them in
// whole. It is the walk's answers sink: walk.go decides what it holds.
type answers struct {
	nodes    map[string]*node // lower-case FQDN -> what exists there
	apex     map[string]*zoneInfo
	regions  []gwtable.Region // the table these answers were built from
	oversize []string         // the RRsets left out, too large for one message: "name TYPE", sorted

	// checker is the health checker active names read, nil without health
	// checking; gateways is the state of every address they read, for
	// the checker to probe once these answers are served.
	checker  *healthChecker
	gateways map[netip.Addr]*addrHealth
}

// zoneInfo is a zone's SOA, handed out in every negative answer (RFC 2308).
type zoneInfo struct {
	name string
	soa  *dns.SOA // as built, with the table's serial
	cur  atomic.Pointer[apexState]

	// actives are the zone's active names, in the order they were built,
	// for transfer_health to follow.
	actives []*activeName

	mu      sync.Mutex
	listing listing // the zone's records as its last transfer listed them
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

// buildAnswers makes the answers for regions under opt: the walk with the
// answers sink. It has no side effects: health is only read (healthOf). Its
// only error is a Corefile shard size that does not fit a zone.
func buildAnswers(regions []gwtable.Region, sets tableSets, opt options, health *healthChecker) (*answers, error) {
	n := &answers{
		nodes:   make(map[string]*node, len(opt.zones)*len(regions)*12),
		apex:    make(map[string]*zoneInfo),
		regions: regions,
		checker: health,
	}
	if err := walk(n, regions, sets, opt); err != nil {
		return nil, err
	}
	slices.Sort(n.oversize)
	for z, info := range n.apex {
		apex := n.nodes[z]
		apex.isApex = true
		info.serve(info.soa.Serial, apex.rrsets)
	}
	return n, nil
}

// The answers sink: each RRset the walk hands over, made and stored.

func (n *answers) name(z, name string) { n.node(z, name) }

func (n *answers) nsHost(z, name string) { n.node(z, name).isNS = true }

func (n *answers) zone(z string, soa *dns.SOA, ns *dns.NS) {
	n.apex[z] = &zoneInfo{name: z, soa: soa}
	n.add(place{zone: z, name: z, choice: static}, rrset{qtype: dns.TypeSOA, answer: []dns.RR{soa}})
	n.add(place{zone: z, name: z, choice: static}, rrset{qtype: dns.TypeNS, answer: []dns.RR{ns}})
}

func (n *answers) active(z, name string, gateways []netip.Addr) {
	a := &activeName{}
	if n.checker != nil {
		a.checker = n.checker
		for _, addr := range gateways {
			a.health = append(a.health, n.healthOf(addr))
		}
	}
	n.node(z, name).active = a
	info := n.apex[z]
	info.actives = append(info.actives, a)
}

func (n *answers) addrs(at place, ttl uint32, list addrList) {
	name := at.owner()
	a, _ := addressRecords(name, list.family(false), ttl)
	_, aaaa := addressRecords(name, list.family(true), ttl)
	if len(a) > 0 {
		n.add(at, rrset{qtype: dns.TypeA, answer: a})
	}
	if len(aaaa) > 0 {
		n.add(at, rrset{qtype: dns.TypeAAAA, answer: aaaa})
	}
}

func (n *answers) texts(at place, ttl uint32, texts []string) {
	records := make([]dns.RR, len(texts))
	for i, t := range texts {
		records[i] = txt(at.name, ttl, t)
	}
	n.add(at, rrset{qtype: dns.TypeTXT, answer: records})
}

func (n *answers) txt(at place, ttl uint32, strs []string) {
	n.add(at, rrset{qtype: dns.TypeTXT, answer: []dns.RR{txt(at.name, ttl, strs...)}})
}

func (n *answers) apl(at place, ttl uint32, prefixes []netip.Prefix) {
	n.add(at, rrset{qtype: dns.TypeAPL, answer: []dns.RR{apl(at.name, ttl, prefixes)}})
}

func (n *answers) srv(at place, ttl uint32, port uint16, targets []srvTarget, addrTTL uint32) {
	n.add(at, srvSet(at.name, ttl, port, targets, addrTTL))
}

func (n *answers) ptr(z, name string, ttl uint32, targets []string) {
	records := make([]dns.RR, len(targets))
	for i, t := range targets {
		records[i] = &dns.PTR{Hdr: hdr(name, dns.TypePTR, ttl), Ptr: t}
	}
	n.add(place{zone: z, name: name, choice: static}, rrset{qtype: dns.TypePTR, answer: records})
}

func (n *answers) leftOut(what string) { n.oversize = append(n.oversize, what) }

// add puts set at its place: among the name's sets, or an active name's
// answer for a choice.
func (n *answers) add(at place, set rrset) {
	nd := n.node(at.zone, at.owner())
	if at.choice == static {
		nd.rrsets = append(nd.rrsets, set)
		return
	}
	nd.active.choices[at.choice] = append(nd.active.choices[at.choice], set)
}

// node returns the node for name, creating it and every empty non-terminal
// between it and the apex of z. The walk hands over only names that are z's
// own, so no name between one and z belongs to a more specific zone.
func (n *answers) node(z, name string) *node {
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
		if _, ok := n.nodes[parent]; ok {
			break
		}
		n.nodes[parent] = &node{zone: n.apex[z]}
	}
	return nd
}

// healthOf is the state that active names read for gateway address a: one
// for each address across the build, the checker's own where it tracks a
// already. The build only reads the checker; sync adopts the states after
// the swap.
func (n *answers) healthOf(a netip.Addr) *addrHealth {
	if h, ok := n.gateways[a]; ok {
		return h
	}
	if n.gateways == nil {
		n.gateways = make(map[netip.Addr]*addrHealth)
	}
	h := n.checker.stateOf(a)
	n.gateways[a] = h
	return h
}

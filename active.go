package mysqlgw

import (
	"net/netip"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"

	"github.com/miekg/dns"
)

// activeName serves active.<region>.Z and its SRV twin: the address clients
// should connect to now. Every possible answer is built at load time, one per
// role plus one for "no address is healthy"; a query only picks one.
type activeName struct {
	health  []*addrHealth // by role; nil when health checking is off
	checker *healthChecker
	choices [gwtable.MaxRoles + 1][]rrset // by chosen role; [maxRoles] when none is healthy
}

// noneHealthy indexes the answer given when no address passes its checks.
const noneHealthy = gwtable.MaxRoles

// choice is the role whose address answers now: the first healthy one in role
// order, the primary while health is unknown, noneHealthy when all are down.
func (a *activeName) choice() int {
	if a.checker == nil || !a.checker.settled() {
		return int(gwtable.Primary)
	}
	for role, h := range a.health {
		if h.up() {
			return role
		}
	}
	return noneHealthy
}

func (a *activeName) rrsets() []rrset { return a.choices[a.choice()] }

// addActive adds active.<base> (A, AAAA, TXT) and _mysql._tcp.active.<base> (SRV).
func (n *answers) addActive(z, base string, r gwtable.Region, targets []string, opt options, health *healthChecker) {
	name := "active." + base
	srvName := "_mysql._tcp." + name
	addrNode, srvNode := n.node(z, name), n.node(z, srvName)
	if addrNode == nil || srvNode == nil {
		return
	}
	onAddr := &activeName{}
	onSRV := &activeName{}
	if health != nil {
		onAddr.checker, onSRV.checker = health, health
		for _, a := range r.Addrs {
			onAddr.health = append(onAddr.health, n.healthOf(a, health))
		}
		onSRV.health = onAddr.health
	}
	short := opt
	short.ttl = opt.activeTTL
	for role := range r.Addrs {
		onAddr.choices[role] = activeSets(name, r.Addrs, []int{role}, short)
		onSRV.choices[role] = []rrset{srvSet(srvName, r.Addrs, targets, opt, opt.activeTTL, []int{role})}
	}
	if opt.failOpen {
		all := allRoles(len(r.Addrs))
		onAddr.choices[noneHealthy] = activeSets(name, r.Addrs, all, short)
		onSRV.choices[noneHealthy] = []rrset{srvSet(srvName, r.Addrs, targets, opt, opt.activeTTL, all)}
	}
	addrNode.active, srvNode.active = onAddr, onSRV
	info := n.apex[z]
	info.actives = append(info.actives, onAddr, onSRV)
}

// healthOf is the state that active names read for gateway address a: one
// for each address across the build, the checker's own where it tracks a
// already. The build only reads the checker; sync adopts the states after the
// swap.
func (n *answers) healthOf(a netip.Addr, health *healthChecker) *addrHealth {
	if h, ok := n.gateways[a]; ok {
		return h
	}
	if n.gateways == nil {
		n.gateways = make(map[netip.Addr]*addrHealth)
	}
	h := health.stateOf(a)
	n.gateways[a] = h
	return h
}

// activeSets is the A, AAAA and TXT answer of an active name for roles; opt
// carries the short active TTL so that clients follow a failover quickly.
func activeSets(name string, addrs []netip.Addr, roles []int, opt options) []rrset {
	var chosen []netip.Addr
	var texts []string
	for _, role := range roles {
		chosen = append(chosen, addrs[role])
		texts = append(texts, gwtable.Role(role).String()+"="+addrs[role].String())
	}
	var sets []rrset
	a, aaaa := addressRecords(name, chosen, opt.ttl)
	if len(a) > 0 {
		sets = append(sets, rrset{qtype: dns.TypeA, answer: a})
	}
	if len(aaaa) > 0 {
		sets = append(sets, rrset{qtype: dns.TypeAAAA, answer: aaaa})
	}
	records := make([]dns.RR, len(texts))
	for i, t := range texts {
		records[i] = txt(name, opt.ttl, t)
	}
	return append(sets, rrset{qtype: dns.TypeTXT, answer: records})
}

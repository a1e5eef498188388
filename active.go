package mysqlgw

import (
	"net/netip"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
)

// activeName serves active.<region>.Z and its SRV twin: the address clients
// should connect to now. Every possible answer is built at load time, one per
// role plus one for "no address is healthy"; a query only picks one.
type activeName struct {
	health  []*addrHealth // by role; nil when health checking is off
	checker *healthChecker
	choices [gwtable.MaxRoles + 1][]rrset // by chosen role; [noneHealthy] when none is healthy
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

// active: active.<base> (A, AAAA, TXT) and _mysql._tcp.active.<base> (SRV),
// each with an answer for every role and, with failover open, one of every
// role at once for when none is healthy; texts and targets are the roles'
// TXT strings and SRV targets. The short active TTL lets clients follow a
// failover quickly.
func (w *walker) active(z, base string, r gwtable.Region, texts []string, targets []srvTarget) {
	name := "active." + base
	srvName := "_mysql._tcp." + name
	if !w.owns(z, name) || !w.owns(z, srvName) {
		return
	}
	w.sink.active(z, name, r.Addrs)
	w.sink.active(z, srvName, r.Addrs)
	answer := func(choice int, roles []int) {
		var addrs []netip.Addr
		var chosenTexts []string
		var chosenTargets []srvTarget
		for _, role := range roles {
			addrs = append(addrs, r.Addrs[role])
			chosenTexts = append(chosenTexts, texts[role])
			chosenTargets = append(chosenTargets, targets[role])
		}
		ttl := w.opt.activeTTL
		w.sink.addrs(place{zone: z, name: name, choice: choice}, ttl, addrList{addrs: addrs})
		w.sink.texts(place{zone: z, name: name, choice: choice}, ttl, chosenTexts)
		w.sink.srv(place{zone: z, name: srvName, choice: choice}, ttl, w.opt.port, chosenTargets, w.opt.ttl)
	}
	for role := range r.Addrs {
		answer(role, []int{role})
	}
	if w.opt.failOpen {
		all := make([]int, len(r.Addrs))
		for i := range all {
			all[i] = i
		}
		answer(noneHealthy, all)
	}
}

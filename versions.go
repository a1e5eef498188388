package mysqlgw

import (
	"crypto/sha256"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
	"github.com/mysqlgw/mysqlgw/internal/handover"

	"github.com/coredns/coredns/core/dnsserver"

	"github.com/miekg/dns"
)

// What a server block's mysqlgw keeps across Corefile reloads, and, with
// transfer_health, its zones' versions: every change of an active answer is
// a new version of the zone with a serial of its own, and IXFR from one of
// the last maxVersions serials gets only the records that changed (RFC
// 1995).

// blockKey is what makes a server block unique, as CoreDNS tells them apart:
// transport, zone, listen addresses, port and view.
type blockKey struct {
	transport, zone, hosts, port, view string
}

func keyOf(cfg *dnsserver.Config) blockKey {
	// NUL joins the hosts: no host name holds one.
	return blockKey{transport: cfg.Transport, zone: cfg.Zone, hosts: strings.Join(cfg.ListenHosts, "\x00"), port: cfg.Port, view: cfg.ViewName}
}

// serverLabels are the values of CoreDNS's server label for a block's
// servers, one per listen address, as CoreDNS writes them
// (dnsserver's groupConfigsByListenAddr): "dns://127.0.0.1:1053".
func serverLabels(cfg *dnsserver.Config) []string {
	var labels []string
	for _, h := range cfg.ListenHosts {
		hostPort := net.JoinHostPort(h, cfg.Port)
		if addr, err := net.ResolveTCPAddr("tcp", hostPort); err == nil {
			hostPort = addr.String()
		}
		labels = append(labels, cfg.Transport+"://"+hostPort)
	}
	return labels
}

// blocks is each server block's state, handed from the instance serving the
// block to the next on a Corefile reload, and dropped when an instance
// stops with no successor.
var blocks handover.Registry[blockKey, *blockState]

// blockState is what a server block keeps across Corefile reloads.
type blockState struct {
	mu    sync.Mutex
	owner *MysqlGW // the instance serving the block now

	// served is the table the block served last, for the log line and the
	// HTTP lists' history of changes: a Corefile reload that serves the
	// same table changes nothing.
	served gwtable.Table
	hash   [32]byte // served's content; zero before any

	// zones are the versions of each zone, with transfer_health.
	zones map[string]*zoneVersions
	// serials are the zones whose serial gauge this block set.
	serials map[string]bool
}

func newBlockState() *blockState { return &blockState{} }

// maxVersions is how many earlier serials IXFR answers with differences;
// from an older one a secondary gets the whole zone.
const maxVersions = 64

// serialEpoch starts the clock in the serial. With transfer_health a zone
// starts at the table's $SERIAL plus the seconds since serialEpoch (the
// clock's serial); a health change takes one more than the serial before, or
// the clock's less one if that is higher, and waits until the clock has
// passed it (untilNextSerial). So health never runs the serial ahead of the
// clock, and a restarted mysqlgw, which remembers no serial, starts above
// the one it served before, however its gateways flapped.
var serialEpoch = time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC)

// clockSerial is table plus the whole seconds from serialEpoch to now; RFC
// 1982's arithmetic takes the wrap past 2^32 in its stride.
func clockSerial(table uint32, now time.Time) uint32 {
	return table + uint32(max(now.Sub(serialEpoch), 0)/time.Second)
}

// zoneVersions is what one zone has offered its secondaries: the serial,
// the active answers chosen at that serial, and the differences from the
// serials before.
type zoneVersions struct {
	mu          sync.Mutex
	owner       *answers  // the answers the versions describe
	info        *zoneInfo // the zone in owner
	opt         options   // owner's settings, for listing the zone
	fingerprint [32]byte  // of everything but the serial and the health choices
	choices     []int     // by info.actives: the choice each transferred at serial
	deltas      []delta   // oldest first
}

// delta is one step between versions: RFC 1995's old SOA, records removed,
// new SOA, records added.
type delta struct {
	from, to       *dns.SOA
	removed, added []dns.RR
}

// take makes g the block's instance, when it starts or takes the block back
// after a failed Corefile reload: the table it serves becomes the block's,
// and with transfer_health its answers become the zones' versions; zones it
// does not serve, and every version without transfer_health, are let go.
func (g *MysqlGW) take(now time.Time) {
	st := blocks.Take(g.key, g, newBlockState)
	ans := g.answers.Load()
	st.mu.Lock()
	defer st.mu.Unlock()
	g.state.Store(st)
	st.owner = g
	st.served, st.hash = g.table, g.hash
	if !g.opt.transferHealth {
		st.zones = nil
	} else {
		for z := range st.zones {
			if _, ok := ans.apex[z]; !ok {
				delete(st.zones, z)
			}
		}
		st.adopt(ans, g.opt, now)
	}
	g.publishSerials(st, ans)
}

// release drops the block's state and metric series if g still holds it:
// g stopped and no successor took the block. With a successor, it drops
// the series of the addresses the successor does not probe.
func (g *MysqlGW) release() {
	st := g.state.Load()
	if st == nil {
		return
	}
	st.mu.Lock()
	if st.owner == g {
		for z := range st.serials {
			for _, server := range g.servers {
				servedSerial.DeleteLabelValues(server, z)
			}
		}
		st.serials = nil
		if g.health != nil {
			g.health.forget(nil)
		}
	} else if g.health != nil {
		g.health.forget(st.owner.health) // the series its successor does not set
	}
	st.mu.Unlock()
	blocks.Drop(g.key, g)
}

// publishSerials sets the served-serial gauge of every zone of ans and
// deletes those of zones the block no longer serves. Called with st.mu held.
func (g *MysqlGW) publishSerials(st *blockState, ans *answers) {
	serials := make(map[string]bool, len(ans.apex))
	for z, info := range ans.apex {
		serials[z] = true
		for _, server := range g.servers {
			servedSerial.WithLabelValues(server, z).Set(float64(info.current().soa.Serial))
		}
	}
	for z := range st.serials {
		if !serials[z] {
			for _, server := range g.servers {
				servedSerial.DeleteLabelValues(server, z)
			}
		}
	}
	st.serials = serials
}

// adopt makes built's zones the versions' content, called as built goes
// live. A zone new to the block starts at clockSerial; one whose content
// is unchanged keeps its serial; one whose health choices alone changed gets
// the next serial and a delta; any other change gets the next serial and
// starts the history again: older serials get the whole zone. The served
// serial only goes up. Called with st.mu held.
func (st *blockState) adopt(built *answers, opt options, now time.Time) {
	if st.zones == nil {
		st.zones = make(map[string]*zoneVersions)
	}
	for z, info := range built.apex {
		v, ok := st.zones[z]
		if !ok {
			v = &zoneVersions{}
			st.zones[z] = v
		}
		v.adopt(built, info, opt, now)
	}
}

func (v *zoneVersions) adopt(built *answers, info *zoneInfo, opt options, now time.Time) {
	fp := fingerprint(built, info, opt)
	v.mu.Lock()
	defer v.mu.Unlock()
	choices := liveChoices(info)
	apex := built.nodes[info.name].rrsets
	if v.owner == nil {
		v.owner, v.info, v.opt, v.fingerprint, v.choices = built, info, opt, fp, choices
		info.serve(clockSerial(info.soa.Serial, now), apex)
		return
	}
	old := v.info
	serial := old.current().soa.Serial
	switch {
	case fp == v.fingerprint:
		if !settled(info) {
			// A new instance's checker has not finished its first round:
			// keep what was transferred rather than send the primary out
			// and back.
			choices = slices.Clone(v.choices)
		}
		if d, changed := choiceDelta(old, v.choices, info, choices); changed {
			serial = v.step(d, info, now)
		}
	default:
		serial = max32(serial+1, clockSerial(info.soa.Serial, now))
		v.deltas = nil
	}
	v.owner, v.info, v.opt, v.fingerprint, v.choices = built, info, opt, fp, choices
	info.serve(serial, apex)
}

// followWindow is how long transfer_health waits after a change of health
// before it publishes: changes within it share one serial and one NOTIFY.
// Short against the 1 s a secondary may lag mysqlgw, long enough to gather
// the changes one gateway's failure makes in every region and alias it
// serves.
const followWindow = 100 * time.Millisecond

// healthChanged is the health checker's onChange with transfer_health: it
// publishes the active answers once followWindow has passed and the clock
// has reached the next serial (untilNextSerial), once for every change that
// came meanwhile.
func (g *MysqlGW) healthChanged() {
	g.followMu.Lock()
	defer g.followMu.Unlock()
	if g.followTimer != nil || !g.started.Load() {
		return
	}
	g.followTimer = time.AfterFunc(max(followWindow, g.untilNextSerial(time.Now())), func() {
		g.followMu.Lock()
		g.followTimer = nil // a change from here on is published next time
		g.followMu.Unlock()
		if g.started.Load() {
			g.follow(time.Now())
		}
	})
}

// stopFollowing drops a pending publication: the instance is stopping, and
// the timer would hold it until it fired.
func (g *MysqlGW) stopFollowing() {
	g.followMu.Lock()
	defer g.followMu.Unlock()
	if g.followTimer != nil {
		g.followTimer.Stop()
		g.followTimer = nil
	}
}

// untilNextSerial is how long from now until the clock is a second past
// the serial after each of the block's zones' current one: health changes
// wait for it, so a gateway that flaps makes at most one serial a second,
// and the serials of health changes stay below the clock's (step), where a
// restarted mysqlgw starts.
func (g *MysqlGW) untilNextSerial(now time.Time) time.Duration {
	st := g.state.Load()
	if st == nil {
		return 0
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	var wait time.Duration
	for _, v := range st.zones {
		v.mu.Lock()
		if v.info != nil {
			ahead := v.info.current().soa.Serial + 2 - clockSerial(v.info.soa.Serial, now)
			if int32(ahead) > 0 {
				// the next whole second, plus the rest of this one
				next := now.Truncate(time.Second).Add(time.Duration(ahead) * time.Second)
				wait = max(wait, next.Sub(now))
			}
		}
		v.mu.Unlock()
	}
	return wait
}

// follow publishes the health choices of the zones that changed since their
// last version: each such zone gets the next serial and a delta, and
// NOTIFY. Nothing happens once another instance serves the block.
func (g *MysqlGW) follow(now time.Time) {
	st := g.state.Load()
	ans := g.answers.Load()
	st.mu.Lock()
	if st.owner != g {
		st.mu.Unlock()
		return
	}
	var moved []string
	for z, info := range ans.apex {
		v, ok := st.zones[z]
		if !ok || len(info.actives) == 0 {
			continue
		}
		v.mu.Lock()
		if v.owner == ans {
			choices := liveChoices(info)
			if d, changed := choiceDelta(info, v.choices, info, choices); changed {
				serial := v.step(d, info, now)
				v.choices = choices
				info.serve(serial, ans.nodes[z].rrsets)
				moved = append(moved, z)
			}
		}
		v.mu.Unlock()
	}
	g.publishSerials(st, ans)
	st.mu.Unlock()
	slices.Sort(moved)
	g.notify("", moved)
}

// snapshot is a zone as one transfer sends it.
type snapshot struct {
	soa    *dns.SOA
	deltas []delta
	list   [][]dns.RR
}

// versionsOf returns the zone's versions while g serves the block, or nil.
func (g *MysqlGW) versionsOf(zone string) *zoneVersions {
	st := g.state.Load()
	if st == nil {
		return nil
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.zones[zone]
}

// snapshot returns the zone at its current serial, listed at the choices
// transferred at that serial.
func (v *zoneVersions) snapshot() snapshot {
	v.mu.Lock()
	defer v.mu.Unlock()
	return snapshot{soa: v.info.current().soa, deltas: slices.Clip(v.deltas), list: v.info.records(v.owner, v.opt, v.choices)}
}

// since returns the deltas from serial to the current one, or false when
// serial is not one of the kept versions.
func (s snapshot) since(serial uint32) ([]delta, bool) {
	for i, d := range s.deltas {
		if d.from.Serial == serial {
			return s.deltas[i:], true
		}
	}
	return nil, false
}

// liveChoices is what each active name of info answers now.
func liveChoices(info *zoneInfo) []int {
	choices := make([]int, len(info.actives))
	for i, a := range info.actives {
		choices[i] = a.choice()
	}
	return choices
}

// settled reports whether info's health choices are known: no checker, or
// one that has finished its first round.
func settled(info *zoneInfo) bool {
	for _, a := range info.actives {
		if c := a.checker; c != nil && !c.settled() {
			return false
		}
	}
	return true
}

// choiceDelta is the difference between the active answers of from at
// fromChoices and those of to at toChoices; to's actives are from's, or the
// same names in the same order (equal fingerprints). Records in both are
// left out: a change between failover open and one address removes and adds
// only what differs.
func choiceDelta(from *zoneInfo, fromChoices []int, to *zoneInfo, toChoices []int) (delta, bool) {
	d := delta{from: from.current().soa}
	for i := range to.actives {
		if fromChoices[i] == toChoices[i] {
			continue
		}
		was := recordsOf(from.actives[i].choices[fromChoices[i]])
		now := recordsOf(to.actives[i].choices[toChoices[i]])
		d.removed = append(d.removed, minus(was, now)...)
		d.added = append(d.added, minus(now, was)...)
	}
	return d, len(d.removed)+len(d.added) > 0
}

func recordsOf(sets []rrset) []dns.RR {
	var rrs []dns.RR
	for _, s := range sets {
		rrs = append(rrs, s.answer...)
	}
	return rrs
}

// minus is the records of a not in b.
func minus(a, b []dns.RR) []dns.RR {
	var out []dns.RR
	for _, x := range a {
		if !slices.ContainsFunc(b, func(y dns.RR) bool { return dns.IsDuplicate(x, y) }) {
			out = append(out, x)
		}
	}
	return out
}

// step records d, from the current serial, as a step to the next serial of
// info's table at now, keeping the newest maxVersions steps, and returns
// the new serial: one more than the last, or the clock's less one if that
// is higher. Less one, so that a restart within the second, starting at the
// clock's, is still above it. Called with v.mu held.
func (v *zoneVersions) step(d delta, info *zoneInfo, now time.Time) uint32 {
	serial := max32(d.from.Serial+1, clockSerial(info.soa.Serial, now)-1)
	d.to = dns.Copy(info.soa).(*dns.SOA)
	d.to.Serial = serial
	v.deltas = append(v.deltas, d)
	if over := len(v.deltas) - maxVersions; over > 0 {
		v.deltas = slices.Clone(v.deltas[over:]) // let the oldest go
	}
	return serial
}

// max32 is the later of two serials in RFC 1982's order.
func max32(a, b uint32) uint32 {
	if gwtable.SerialAfter(a, b) {
		return a
	}
	return b
}

// fingerprint hashes everything the zone can transfer but the serial and the
// health choices: the SOA's other fields and every record, each active
// name's with every answer it may choose.
func fingerprint(n *answers, info *zoneInfo, opt options) [32]byte {
	h := sha256.New()
	buf := make([]byte, dns.MaxMsgSize)
	write := func(rr dns.RR) {
		// The wire form, uncompressed: a record that does not pack
		// cannot be served either, and hashes as its text.
		if end, err := dns.PackRR(rr, buf, 0, nil, false); err == nil {
			h.Write(buf[:end])
		} else {
			h.Write([]byte(rr.String()))
		}
	}
	soa := *info.soa
	soa.Serial = 0
	write(&soa)
	for _, rr := range n.zoneRecords(info, opt, nil) {
		write(rr)
	}
	for _, a := range info.actives {
		for _, sets := range a.choices {
			h.Write([]byte{0})
			for _, rr := range recordsOf(sets) {
				write(rr)
			}
		}
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

// allZones are the instance's zones, forward and reverse.
func (g *MysqlGW) allZones() []string {
	return append(append([]string(nil), g.opt.zones...), g.opt.reverse...)
}

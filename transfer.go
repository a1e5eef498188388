package mysqlgw

import (
	"cmp"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
	"github.com/mysqlgw/mysqlgw/internal/ratelimit"

	"github.com/coredns/coredns/plugin/transfer"

	"github.com/miekg/dns"
)

// Zone transfers: mysqlgw is a transfer.Transferer, so CoreDNS's transfer
// plugin in front of it answers AXFR and IXFR for its zones, and sends NOTIFY
// when the served table changes.

// xfrBatch is how many records go into each slice mysqlgw hands the
// transfer plugin's channel. It is not a message size: the plugin re-packs
// records into messages of up to 63 KB (the built-in forward zone's AXFR,
// 765 records with its two SOAs, goes in one). Each slice is an array of its own, so a transfer stuck
// in the plugin holds the records of the slice it is on, not the zone's.
const xfrBatch = 500

// xfrStall is how long a transfer may go without the transfer plugin taking
// a slice before mysqlgw abandons it. miekg/dns sets no write deadline, so a
// client that stops reading blocks the plugin for as long as it keeps the
// connection open; mysqlgw's part must not keep a whole old table alive
// meanwhile. The plugin takes the next slice once it has written most of
// the last (tens of KB): a secondary that is still reading takes one in far
// less than 30 s.
const xfrStall = 30 * time.Second

// Transfer implements transfer.Transferer: the SOA, every record of zone, the
// SOA again. A secondary whose serial is current gets the SOA alone. Without
// transfer_health, active names are transferred with their static answer,
// the primary, and IXFR from an older serial gets the whole zone; with it,
// they carry the answer chosen at the serial, and IXFR from one of the last
// maxVersions serials gets the differences (versions.go). The records are
// the table's own, listed once per version.
func (g *MysqlGW) Transfer(zone string, serial uint32) (<-chan []dns.RR, error) {
	return g.transfer(zone, serial, xfrStall)
}

// transfer is Transfer with the bound on a stall. A transfer that makes no
// progress for stall is abandoned: mysqlgw logs it once, closes the channel
// (the client gets no final SOA, so a secondary discards the copy) and drops
// its references to the answers.
func (g *MysqlGW) transfer(zone string, serial uint32, stall time.Duration) (<-chan []dns.RR, error) {
	ans := g.answers.Load()
	if ans == nil {
		return nil, transfer.ErrNotAuthoritative
	}
	info, ok := ans.apex[zone]
	if !ok {
		return nil, transfer.ErrNotAuthoritative
	}
	var snap snapshot
	if v := g.versionsOf(zone); v != nil {
		snap = v.snapshot()
	} else { // without transfer_health, or before the instance has started
		snap = snapshot{soa: info.current().soa, list: info.records(ans, g.opt, nil)}
	}
	ch := make(chan []dns.RR)
	go func() {
		defer close(ch)
		timer := time.NewTimer(stall)
		defer timer.Stop()
		send := func(rrs []dns.RR) bool {
			timer.Reset(stall) // since Go 1.23, Reset leaves no stale tick in timer.C
			select {
			case ch <- rrs:
				return true
			case <-timer.C:
				if ok, held := g.stalls.Allow(time.Now()); ok {
					log.Warningf("Abandoned a transfer of %s: no progress for %s, the client is not reading%s", zone, stall, ratelimit.Note(held, "line"))
				}
				return false
			}
		}
		soa := []dns.RR{snap.soa}
		if !send(soa) {
			return
		}
		if serial != 0 && !gwtable.SerialAfter(snap.soa.Serial, serial) {
			return // the secondary is current
		}
		if deltas, ok := snap.since(serial); ok && serial != 0 {
			// RFC 1995 4: each step's old SOA, removed records, new
			// SOA, added records; the current SOA closes.
			for _, d := range deltas {
				step := append(append(append([]dns.RR{d.from}, d.removed...), d.to), d.added...)
				for _, rrs := range batches(step) {
					if !send(rrs) {
						return
					}
				}
			}
			send(soa)
			return
		}
		for _, rrs := range snap.list {
			if !send(rrs) {
				return
			}
		}
		send(soa)
	}()
	return ch, nil
}

// listing is a zone's records listed for transfers, and the choice of each
// active name they were listed with.
type listing struct {
	choices []int // by zoneInfo.actives; nil: the primary's
	batches [][]dns.RR
}

// records returns every record of the zone but the SOA, with each active
// name's answer at choices (by info.actives; nil: the primary's), names in
// DNSSEC's canonical order (RFC 4034 6.1, so a zone file reads as a tree),
// in slices of xfrBatch. It lists them the first time a transfer asks for
// those choices, and keeps the last listing.
func (info *zoneInfo) records(n *answers, opt options, choices []int) [][]dns.RR {
	info.mu.Lock()
	defer info.mu.Unlock()
	if info.listing.batches != nil && slices.Equal(info.listing.choices, choices) {
		return info.listing.batches
	}
	var pick func(*activeName) int
	if choices != nil {
		picked := make(map[*activeName]int, len(choices))
		for i, a := range info.actives {
			picked[a] = choices[i]
		}
		pick = func(a *activeName) int { return picked[a] }
	}
	info.listing = listing{choices: slices.Clone(choices), batches: batches(n.zoneRecords(info, opt, pick))}
	return info.listing.batches
}

// batches cuts rrs into slices of xfrBatch, each an array of its own (see
// xfrBatch), clipped so that no receiver's append can write past it.
func batches(rrs []dns.RR) [][]dns.RR {
	var out [][]dns.RR
	for len(rrs) > 0 {
		k := min(xfrBatch, len(rrs))
		out = append(out, slices.Clip(slices.Clone(rrs[:k])))
		rrs = rrs[k:]
	}
	return out
}

// zoneRecords lists the zone's records: the table's own, not copies. pick
// says which answer each active name carries; nil: the primary's.
func (n *answers) zoneRecords(info *zoneInfo, opt options, pick func(*activeName) int) []dns.RR {
	var owners []string
	for name, nd := range n.nodes {
		if nd.zone == info {
			owners = append(owners, name)
		}
	}
	slices.SortFunc(owners, compareCanonical)
	var rrs []dns.RR
	for _, name := range owners {
		nd := n.nodes[name]
		sets := nd.rrsets
		if nd.active != nil {
			choice := int(gwtable.Primary)
			if pick != nil {
				choice = pick(nd.active)
			}
			sets = nd.active.choices[choice]
		}
		for _, set := range sets {
			if set.qtype != dns.TypeSOA {
				rrs = append(rrs, set.answer...)
			}
		}
		if nd.isNS {
			// ns.dns.Z answers queries with the address they arrived
			// on, which a transfer does not know: it carries the
			// addresses the server binds to, or, listening on every
			// address, the host's.
			addrs := opt.bindAddrs
			if len(addrs) == 0 {
				addrs = hostAddrs()
			}
			a, aaaa := addressRecords(name, addrs, opt.ttl)
			rrs = append(append(rrs, a...), aaaa...)
		}
	}
	return rrs
}

// compareCanonical orders lower-case names label by label from the right,
// without allocating.
func compareCanonical(a, b string) int {
	i, j := len(a)-1, len(b)-1 // each name's final dot
	for i > 0 && j > 0 {
		ai, bj := strings.LastIndexByte(a[:i], '.'), strings.LastIndexByte(b[:j], '.')
		if c := strings.Compare(a[ai+1:i], b[bj+1:j]); c != 0 {
			return c
		}
		i, j = ai, bj
	}
	return cmp.Compare(i, j) // the name with labels left comes after its ancestor
}

// hostAddrs are the addresses a server listening on every address answers
// on: the host's global ones, or, with none (a network namespace of
// loopback only), its loopback ones.
func hostAddrs() []netip.Addr {
	ifaddrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var global, loop []netip.Addr
	for _, ifa := range ifaddrs {
		p, err := netip.ParsePrefix(ifa.String())
		if err != nil {
			continue
		}
		switch a := p.Addr().Unmap(); {
		case a.IsLoopback():
			loop = append(loop, a)
		case a.IsGlobalUnicast():
			global = append(global, a)
		}
	}
	if len(global) > 0 {
		return global
	}
	return loop
}

// notifier sends NOTIFY for every zone through CoreDNS's transfer plugin,
// when the server starts and whenever the served table changes.
type notifier interface{ Notify(zone string) error }

// notifyQueue holds the zones waiting for NOTIFY. One goroutine at a time
// sends them, each zone once however often it changed meanwhile, so a
// secondary that is down (the transfer plugin tries it three times, seconds
// each) holds one goroutine, not one per change. Its failures are logged
// within the log line limit; the metric counts every one.
type notifyQueue struct {
	mu      sync.Mutex
	pending []string
	running bool
	logs    *ratelimit.Lines // its failure lines; nil until the first
}

// notify tells the secondaries of zones that they changed. It runs in the
// background: an absent secondary must not hold up a reload. At start-up
// (self set) it first waits, up to 10 s, for this server to listen: caddy
// runs start-up functions before the server listens, and a secondary asks
// for the SOA as soon as the NOTIFY arrives.
func (g *MysqlGW) notify(self string, zones []string) {
	if g.xfr == nil {
		return
	}
	q := &g.notifies
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, z := range zones {
		if !slices.Contains(q.pending, z) {
			q.pending = append(q.pending, z)
		}
	}
	if q.running {
		return
	}
	q.running = true
	if q.logs == nil {
		q.logs = ratelimit.LogLines()
	}
	go func() {
		if self != "" {
			waitListening(self, 10*time.Second)
		}
		for {
			q.mu.Lock()
			if len(q.pending) == 0 {
				q.running = false
				q.mu.Unlock()
				return
			}
			z := q.pending[0]
			q.pending = q.pending[1:]
			q.mu.Unlock()
			result := "ok"
			if err := g.xfr.Notify(z); err != nil {
				result = "failed"
				if ok, held := q.logs.Allow(time.Now()); ok {
					log.Warningf("NOTIFY for %s: %v%s", z, err, ratelimit.Note(held, "failure"))
				}
			}
			notifyCount.WithLabelValues(z, result).Inc()
		}
	}()
}

// waitListening polls addr with TCP connects (no query, so no log line and
// no count) until this server accepts one or within passes.
func waitListening(addr string, within time.Duration) {
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			conn.Close()
			return
		}
	}
}

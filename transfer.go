package mysqlgw

import (
	"slices"

	"github.com/coredns/coredns/plugin/transfer"

	"github.com/miekg/dns"
)

// Zone transfers: mysqlgw is a transfer.Transferer, so CoreDNS's transfer
// plugin in front of it answers AXFR and IXFR for its zones, and sends NOTIFY
// when the served table changes.

// xfrBatch is how many records go into one message of a transfer.
const xfrBatch = 500

// Transfer implements transfer.Transferer: the SOA, every record of zone, the
// SOA again. A secondary whose serial is current gets the SOA alone; IXFR
// from an older serial gets the whole zone. active names are transferred
// with their static answer, the primary: only mysqlgw itself follows health.
func (g *MysqlGW) Transfer(zone string, serial uint32) (<-chan []dns.RR, error) {
	ans := g.answers.Load()
	if ans == nil {
		return nil, transfer.ErrNotAuthoritative
	}
	info, ok := ans.apex[zone]
	if !ok {
		return nil, transfer.ErrNotAuthoritative
	}
	ch := make(chan []dns.RR)
	if serial != 0 && !serialAfter(info.soa.Serial, serial) {
		go func() {
			ch <- []dns.RR{info.soa}
			close(ch)
		}()
		return ch, nil
	}
	go func() {
		defer close(ch)
		ch <- []dns.RR{info.soa}
		batch := make([]dns.RR, 0, xfrBatch)
		for _, rr := range ans.zoneRecords(info, g.opt) {
			if batch = append(batch, rr); len(batch) == xfrBatch {
				ch <- batch
				batch = make([]dns.RR, 0, xfrBatch)
			}
		}
		if len(batch) > 0 {
			ch <- batch
		}
		ch <- []dns.RR{info.soa}
	}()
	return ch, nil
}

// zoneRecords returns every record of the zone but the SOA, name by name in
// canonical order: the records the table holds, not copies.
func (n *answers) zoneRecords(info *zoneInfo, opt options) []dns.RR {
	var owners []string
	for name, nd := range n.nodes {
		if nd.zone == info {
			owners = append(owners, name)
		}
	}
	slices.SortFunc(owners, func(a, b string) int {
		switch {
		case isBefore(a, b):
			return -1
		case isBefore(b, a):
			return 1
		}
		return 0
	})
	var rrs []dns.RR
	for _, name := range owners {
		nd := n.nodes[name]
		sets := nd.rrsets
		if nd.active != nil {
			sets = nd.active.choices[int(Primary)]
		}
		for _, set := range sets {
			if set.qtype != dns.TypeSOA {
				rrs = append(rrs, set.answer...)
			}
		}
		if nd.isNS {
			// ns.dns.Z answers queries with the address they arrived on;
			// a secondary gets the addresses the server binds to.
			a, aaaa := addressRecords(name, opt.bindAddrs, opt.ttl)
			rrs = append(append(rrs, a...), aaaa...)
		}
	}
	return rrs
}

// isBefore orders names as DNSSEC's canonical order does (RFC 4034 6.1):
// label by label from the right, so a zone file reads as a tree.
func isBefore(a, b string) bool {
	la, lb := dns.SplitDomainName(a), dns.SplitDomainName(b)
	for i, j := len(la)-1, len(lb)-1; i >= 0 && j >= 0; i, j = i-1, j-1 {
		if la[i] != lb[j] {
			return la[i] < lb[j]
		}
	}
	return len(la) < len(lb)
}

// notifier sends NOTIFY for every zone through CoreDNS's transfer plugin,
// when the server starts and whenever the served table changes.
type notifier interface{ Notify(zone string) error }

// notify tells the secondaries of every zone that the table changed. It
// runs in the background: an absent secondary must not hold up a reload.
func (g *MysqlGW) notify() {
	if g.xfr == nil {
		return
	}
	zones := append(append([]string(nil), g.opt.zones...), g.opt.reverse...)
	go func() {
		for _, z := range zones {
			if err := g.xfr.Notify(z); err != nil {
				log.Warningf("NOTIFY for %s: %v", z, err)
			}
		}
	}()
}

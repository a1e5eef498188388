package mysqlgw

import (
	"fmt"
	"net/netip"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"

	"github.com/miekg/dns"
)

// Two bounds keep a valid but huge table from hurting the server: a record
// budget, checked by walking the table with a sink that counts, so that a
// refused giant never makes its records (a reload builds beside the live
// table, and running out of memory there would kill the server instead of
// keeping the last good table); and a size bound on each RRset, so that no
// name answers a part of its records or a record no message can carry.

// defaultMaxRecords admits Azure SQL's whole table (19,319 records for
// its 71 regions and 284 subnets, with in-addr.arpa) and a full Sql service
// tags import (testdata/import/servicetags.json's three regions build
// 21,229 records for 92 prefixes; Sql's 3,400 prefixes at that rate, about
// 780,000) with room to spare. docs/operations.md has what a table at the
// budget takes in memory.
const defaultMaxRecords = 2_000_000

// maxMaxRecords bounds the Corefile's max_records.
const maxMaxRecords = 100_000_000

// maxRRsetSize bounds the DNS message that answers one RRset: header,
// question, the records and their additional section, compressed as the
// server sends it. The rest of the 65,535 bytes a message can hold is left
// for what plugins after mysqlgw add: OPT, DNSSEC signatures, TSIG.
const maxRRsetSize = 60_000

// An A record in a reply, its owner name compressed to a pointer: pointer 2,
// type, class, TTL and length 10, address 4; an AAAA record 16 for the
// address.
const sizeA, sizeAAAA = 2 + 10 + 4, 2 + 10 + 16

// messageSize is the size of a reply to a question for name holding n
// records whose data take rdata bytes: header, question, and each record
// with its owner name compressed to a pointer, as the server sends it.
func messageSize(name string, n, rdata int) int {
	return 12 + len(name) + 1 + 4 + n*(2+10) + rdata
}

// aplPrefixSize is one prefix's size in APL data (RFC 3123 4.1): family,
// prefix length, then the prefix's bytes without trailing zeros.
func aplPrefixSize(p netip.Prefix) int {
	b := p.Masked().Addr().AsSlice()[:(p.Bits()+7)/8]
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return 4 + len(b)
}

// fits reports whether a set of n records at name whose data take rdata
// bytes fits in a message, noting it as left out when not.
func (w *walker) fits(name string, qtype uint16, n, rdata int) bool {
	if messageSize(name, n, rdata) <= maxRRsetSize {
		return true
	}
	w.leftOut(name + " " + dns.TypeToString[qtype])
	return false
}

// fit returns list without the family whose set at name would not fit in
// a message, noting it as left out: such a set is never made, so a table's
// all.Z and large allow names cost nothing for their A and AAAA sets. The
// shards carry those addresses.
func (w *walker) fit(name string, list addrList) addrList {
	v4, v6 := list.count()
	drop4, drop6 := v4 > 0 && !w.fits(name, dns.TypeA, v4, 4*v4), v6 > 0 && !w.fits(name, dns.TypeAAAA, v6, 16*v6)
	if drop4 || drop6 {
		return list.without(drop4, drop6)
	}
	return list
}

// counter is the counting sink: it tallies the records a walk would make,
// the additional section and every answer of an active name included,
// without making one.
type counter struct{ records int }

func (c *counter) name(string, string)                     {}
func (c *counter) nsHost(string, string)                   {}
func (c *counter) active(string, string, []netip.Addr)     {}
func (c *counter) zone(string, *dns.SOA, *dns.NS)          { c.records += 2 }
func (c *counter) texts(_ place, _ uint32, texts []string) { c.records += len(texts) }
func (c *counter) txt(place, uint32, []string)             { c.records++ }
func (c *counter) apl(place, uint32, []netip.Prefix)       { c.records++ }
func (c *counter) leftOut(string)                          {}

func (c *counter) addrs(_ place, _ uint32, list addrList) {
	v4, v6 := list.count()
	c.records += v4 + v6
}

func (c *counter) srv(_ place, _ uint32, _ uint16, targets []srvTarget, _ uint32) {
	c.records += 2 * len(targets) // each SRV and its target's address
}

func (c *counter) ptr(_, _ string, _ uint32, targets []string) { c.records += len(targets) }

// checkBudget refuses a table whose answers would hold more records than
// opt.maxRecords (0: defaultMaxRecords); where names the table (its file)
// for the error. A transfer lists these same records, not copies, plus
// ns.dns.Z's addresses when the Corefile names none.
func checkBudget(regions []gwtable.Region, sets tableSets, opt options, where string) error {
	var c counter
	if err := walk(&c, regions, sets, opt); err != nil {
		return err
	}
	budget := opt.maxRecords
	if budget == 0 {
		budget = defaultMaxRecords
	}
	if c.records > budget {
		if where == "" {
			where = "the built-in table"
		}
		return fmt.Errorf("%s: the table would build %d records, above max_records %d", where, c.records, budget)
	}
	return nil
}

package mysqlgw

import (
	"fmt"
	"net/netip"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"

	"github.com/miekg/dns"
)

// Two bounds keep a valid but huge table from hurting the server: a budget
// of records and of the memory they take, checked by walking the table with
// a sink that counts, so that a refused giant never makes its records (a
// reload builds beside the live table, and running out of memory there
// would kill the server instead of keeping the last good table); and a size
// bound on each RRset, so that no name answers a part of its records or a
// record no message can carry.

// defaultMaxRecords admits Azure SQL's whole table (11,848 records and, with
// the HTTP lists, the memory of 13,819 for its 71 regions and 249 subnets)
// and a full Sql service tags import (testdata/import/servicetags.json's
// three regions count 21,244 for 92 prefixes; Sql's 3,400 prefixes at that
// rate, about 780,000) with room to spare. docs/operations.md has what a
// table at the budget takes in memory.
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
	w.sink.leftOut(name + " " + dns.TypeToString[qtype])
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
// without making one, and what they take in memory (the costs below).
type counter struct {
	records int
	bytes   int    // the answers' live heap, estimated
	last    string // the name of the last RRset, to count each name once
}

func (c *counter) name(z, name string)   { c.named(name) }
func (c *counter) nsHost(z, name string) { c.named(name) }
func (c *counter) leftOut(string)        {}

func (c *counter) active(z, name string, _ []netip.Addr) {
	c.named(name)
	c.bytes += activeNameBytes
}

func (c *counter) zone(z string, _ *dns.SOA, _ *dns.NS) {
	c.named(z)
	c.records += 2
	c.bytes += 2*rrsetBytes + soaBytes + 2*len(z)
}

func (c *counter) addrs(at place, _ uint32, list addrList) {
	c.placed(at)
	v4, v6 := list.count()
	c.records += v4 + v6
	c.bytes += v4*aBytes + v6*aaaaBytes
	if v4 > 0 && v6 > 0 {
		c.bytes += rrsetBytes // A and AAAA are two sets
	}
}

func (c *counter) texts(at place, _ uint32, texts []string) {
	c.placed(at)
	c.records += len(texts)
	for _, t := range texts {
		c.bytes += txtBytes + stringBytes(t)
	}
}

func (c *counter) txt(at place, _ uint32, strs []string) {
	c.placed(at)
	c.records++
	c.bytes += txtBytes - stringSlotBytes
	for _, s := range strs {
		c.bytes += stringBytes(s)
	}
}

func (c *counter) apl(at place, _ uint32, prefixes []netip.Prefix) {
	c.placed(at)
	c.records++
	c.bytes += aplBytes
	for _, p := range prefixes {
		c.bytes += aplPrefixBytes
		if p.Addr().Is6() {
			c.bytes += aplPrefixBytes6
		}
	}
}

func (c *counter) srv(at place, _ uint32, _ uint16, targets []srvTarget, _ uint32) {
	c.placed(at)
	c.records += 2 * len(targets) // each SRV and its target's address
	c.bytes += len(targets) * srvBytes
}

func (c *counter) ptr(z, name string, _ uint32, targets []string) {
	c.placed(place{zone: z, name: name, choice: static})
	c.records += len(targets)
	for _, t := range targets {
		c.bytes += ptrBytes + len(t)
	}
}

// placed counts an RRset at its place, and its name the first time.
func (c *counter) placed(at place) {
	c.bytes += rrsetBytes
	if at.shard > 0 {
		c.bytes += nameBytes + len(at.name) + 4 // each shard is a name of its own
		return
	}
	c.named(at.name)
}

// named counts a name the walk has not just handed over: its node, its
// entry in the names map and its text. The walk hands a name's sets over
// together, so comparing with the last name counts almost every name once.
func (c *counter) named(name string) {
	if name != c.last {
		c.last = name
		c.bytes += nameBytes + len(name)
	}
}

// What a table costs in live heap, in bytes, as Go lays it out on a 64-bit
// machine: each record's struct, its slot in its RRset and its data; an
// RRset; a name's node and its entry in the names map; and, outside the
// answers, each prefix or address in the parsed table and its sets, and
// each byte of the HTTP lists' bodies. BenchmarkBudgetBytes compares these
// with the heap a build really keeps, for tables of every shape.
const (
	aBytes          = 88  // *dns.A, its 4-byte IP, its slot in []dns.RR
	aaaaBytes       = 100 // *dns.AAAA
	txtBytes        = 96  // *dns.TXT, its slot, and one string's header (stringSlotBytes)
	stringSlotBytes = 16
	aplBytes        = 80  // *dns.APL and its slot
	aplPrefixBytes  = 64  // one dns.APLPrefix with an IPv4 address and mask
	aplPrefixBytes6 = 24  // more for IPv6
	srvBytes        = 125 // *dns.SRV, its slot, and its target's address in the additional section (a slot: the record is the name's own)
	ptrBytes        = 64  // *dns.PTR and its slot
	soaBytes        = 160 // *dns.SOA and *dns.NS
	rrsetBytes      = 80  // an rrset in its name's slice
	nameBytes       = 104 // a node and its entry in the names map
	activeNameBytes = 480 // an activeName: every possible answer's slice headers
	regionBytes     = 200 // a gwtable.Region, parsed, and its share of the sets
	addrBytes       = 90  // a gateway or decommissioning address in the parsed table and its sets
	prefixBytes     = 330 // a subnet or Redirect prefix: 220 in the parsed table, its region's and all's sets (listed and wide), and its share of a reload's diff
	bodyNameBytes   = 240 // a name of the HTTP lists: its three bodies' ETags and map entry
	jsonAddrBytes   = 56  // an address in /regions.json, with its role
	jsonPrefixBytes = 26  // a prefix in /regions.json
)

// recordBytes is what max_records counts as one record: about what an
// address record of an allow set costs, the commonest record of a table.
// A record with a long text, or a table rich in prefixes or HTTP lists,
// counts as the records its bytes would make.
const recordBytes = 100

// stringBytes is what a string of a record costs: its header in the
// record's slice and its text, rounded up as the allocator does.
func stringBytes(s string) int { return stringSlotBytes + (len(s)+7)&^7 }

// tableBytes is what a table costs outside its answers: the parsed regions,
// their sets and, with the HTTP lists, the lists' bodies and
// /regions.json.
func tableBytes(regions []gwtable.Region, sets tableSets, lists bool) int {
	n := 0
	for i, r := range regions {
		addrs, prefixes := len(r.Addrs)+len(r.Decommissioning), len(r.Subnets)+len(r.Redirect)
		n += regionBytes + addrs*addrBytes + prefixes*prefixBytes
		if !lists {
			continue
		}
		names := 1 + len(r.Aliases)
		n += 2*names*bodyNameBytes + addrs*jsonAddrBytes + prefixes*jsonPrefixBytes // /regions.json
		for _, s := range []*gwtable.Set{sets.regions[i], sets.redirect[i]} {
			if s != nil {
				n += bodyBytes(s.Prefixes)
			}
		}
	}
	if lists {
		n += bodyBytes(sets.all.Prefixes) + bodyBytes(sets.redirectAll.Prefixes)
	}
	return n
}

// bodyBytes is the length of a set's lists, one prefix a line: its
// family's list, and with both families the list of both.
func bodyBytes(prefixes []netip.Prefix) int {
	n, v4, v6 := 0, false, false
	for _, p := range prefixes {
		if p.Addr().Is4() {
			n += 17 // 255.255.255.255/32 at most, 13 on average
			v4 = true
		} else {
			n += 24
			v6 = true
		}
	}
	if v4 && v6 {
		return 2 * n
	}
	return n
}

// checkBudget refuses a table that would cost more than opt.maxRecords
// (0: defaultMaxRecords) records of recordBytes each: its records, or the
// bytes of its answers and, outside them, of its parsed sets and (with
// lists, the HTTP lists on) their bodies, whichever is more. where names the
// table for the error (MysqlGW.label). A transfer lists these same records, not
// copies, plus ns.dns.Z's addresses when the Corefile names none.
func checkBudget(regions []gwtable.Region, sets tableSets, opt options, where string, lists bool) error {
	var c counter
	if err := walk(&c, regions, sets, opt); err != nil {
		return err
	}
	budget := opt.maxRecords
	if budget == 0 {
		budget = defaultMaxRecords
	}
	units := max(c.records, (c.bytes+tableBytes(regions, sets, lists))/recordBytes)
	if units <= budget {
		return nil
	}
	if units == c.records {
		return fmt.Errorf("%s: the table would build %d records, above max_records %d", where, c.records, budget)
	}
	return fmt.Errorf("%s: the table would build %d records and take the memory of %d (at %d bytes a record), above max_records %d", where, c.records, units, recordBytes, budget)
}

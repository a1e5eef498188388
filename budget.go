package mysqlgw

import (
	"fmt"
	"slices"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"

	"github.com/miekg/dns"
)

// Two bounds keep a valid but huge table from hurting the server: a record
// budget, checked before a table is built, so that a refused giant never
// allocates its records (a reload builds beside the live table, and running
// out of memory there would kill the server instead of keeping the last good
// table); and a size bound on each RRset, so that no name answers a part of
// its records or a record no message can carry.

// defaultMaxRecords admits Azure SQL's whole table (about 4,600 records in
// one zone) and a full Sql service tags import (about 212,000) with room to
// spare, while a table at the budget costs about 300 MB, two of them during a
// reload about 600 MB (docs/operations.md has the measurements).
const defaultMaxRecords = 1_000_000

// maxRRsetSize bounds the DNS message that answers one RRset: header,
// question, the records and their additional section, compressed as the
// server sends it. The rest of the 65,535 bytes a message can hold is left
// for what plugins after mysqlgw add: OPT, DNSSEC signatures, TSIG.
const maxRRsetSize = 60_000

// countRecords is an upper bound on the records buildAnswers makes for
// regions under opt, computed from the table's sizes without enumerating a
// subnet. It counts every record a load allocates, additional-section copies
// and each active name's answers included. It is exact but for three
// cases, where it counts more than are built: an address a region's allow
// set already holds (a gateway inside one of its subnets, a subnet inside
// another), an address all.Z already holds from another region, and names
// or PTRs a more specific zone served here takes over. A transfer lists
// these same records, not copies, plus ns.dns.Z's addresses when the
// Corefile names none.
func countRecords(regions []gwtable.Region, opt options) int {
	var perZone, ptrs, allAddrs int
	for _, r := range regions {
		g, d, s := len(r.Addrs), len(r.Decommissioning), len(r.Subnets)
		addrs := g + d // the allow set's addresses: gateways, decommissioning, subnets
		for _, p := range r.Subnets {
			if enumerable(p) {
				addrs += 1 << (p.Addr().BitLen() - p.Bits())
			}
		}
		allAddrs += addrs
		ptrs += g + d

		label := g + (g + s + d + 1) // <region>: A/AAAA, TXT
		if d > 0 {
			label += 2 * d // decommissioning.<region>: A/AAAA, TXT
		}
		label += 2 * g // <role>.<region>: A/AAAA, TXT
		label += 2 * g // _mysql._tcp.<region>: SRV and its additional A/AAAA
		label += 4 * g // active and its SRV, one answer per role: A/AAAA, TXT, SRV, additional
		if opt.failOpen && g > 0 {
			label += 4 * g // the same for every role at once, when none is healthy
		}
		label += 2*addrs + 3 // allow.<region>: A/AAAA and the shards' copies, TXT, APL, shards TXT
		perZone += (1 + len(r.Aliases)) * label
	}
	perZone += 2 + len(opt.nsAddrs) // SOA, NS, ns.dns.Z
	perZone += 2*allAddrs + 3       // all.Z, as allow.<region>
	return len(opt.zones)*perZone + len(opt.reverse)*(2+ptrs)
}

// checkBudget refuses a table whose records would exceed opt.maxRecords;
// where names the table (its file) for the error.
func checkBudget(regions []gwtable.Region, opt options, where string) error {
	if where == "" {
		where = "the built-in table"
	}
	if n := countRecords(regions, opt); n > opt.maxRecords {
		return fmt.Errorf("%s: the table would build %d records, above max_records %d", where, n, opt.maxRecords)
	}
	return nil
}

// rrsetSize is the size of the message that answers set at name: what the
// server sends, compressed, without OPT. The uncompressed length, cheap to
// sum, is an upper bound, so compression is only worked out for a set that
// is large without it.
func rrsetSize(name string, set rrset) int {
	m := new(dns.Msg)
	m.SetQuestion(name, set.qtype)
	m.Answer, m.Extra = set.answer, set.extra
	if size := m.Len(); size <= maxRRsetSize {
		return size
	}
	m.Compress = true
	return m.Len()
}

// dropOversize leaves out of the answers, and so out of transfers, every
// RRset whose answer would exceed maxRRsetSize; its name stays, so a query
// for it gets NODATA. It returns what it left out, "name TYPE" each, sorted,
// for the one warning of a load. active names are not looked at: their
// answers hold at most MaxRoles records.
func (n *answers) dropOversize() []string {
	var dropped []string
	for name, nd := range n.nodes {
		kept := nd.rrsets[:0]
		for _, set := range nd.rrsets {
			if rrsetSize(name, set) > maxRRsetSize {
				dropped = append(dropped, name+" "+dns.TypeToString[set.qtype])
				continue
			}
			kept = append(kept, set)
		}
		nd.rrsets = kept
	}
	slices.Sort(dropped)
	return dropped
}

package mysqlgw

import (
	"fmt"
	"net/netip"
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

// defaultMaxRecords admits Azure SQL's whole table (19,319 records for
// its 71 regions and 284 subnets, with in-addr.arpa) and a full Sql service
// tags import (testdata/import/servicetags.json's three regions build
// 21,229 records for 92 prefixes; Sql's 3,400 prefixes at that rate, about
// 780,000) with room to spare. A table at the budget takes about 390 MB of
// resident memory, 720 MB at the peak of a reload; a refused table is never
// built (docs/operations.md has the measurements).
const defaultMaxRecords = 2_000_000

// maxMaxRecords bounds the Corefile's max_records.
const maxMaxRecords = 100_000_000

// maxRRsetSize bounds the DNS message that answers one RRset: header,
// question, the records and their additional section, compressed as the
// server sends it. The rest of the 65,535 bytes a message can hold is left
// for what plugins after mysqlgw add: OPT, DNSSEC signatures, TSIG.
const maxRRsetSize = 60_000

// countRecords is an upper bound on the records buildAnswers makes for
// regions under opt, computed from the table's sizes without enumerating a
// subnet. It counts every record a load allocates, additional-section copies
// and each active name's answers included, and leaves out the address sets
// too large for a message, which are never built (fitAddrs). It is exact but
// for four cases, where it counts more than are served: a TXT or APL set
// built and then left out as too large (dropOversize), an address a
// region's allow set already holds (a gateway inside one of its subnets, a
// subnet inside another), an address all.Z already holds from another
// region, and names or PTRs that a more specific zone served here takes
// over or that fall outside a reverse zone. A transfer lists these same
// records, not copies, plus ns.dns.Z's addresses when the Corefile names
// none.
func countRecords(regions []gwtable.Region, opt options) int {
	var ptrs, all4, all6 int
	allow4, allow6 := make([]int, len(regions)), make([]int, len(regions))
	perZone := 0 // the records whose count does not depend on the zone's name
	for i, r := range regions {
		g, d, s := len(r.Addrs), len(r.Decommissioning), len(r.Subnets)
		for _, a := range append(append([]netip.Addr(nil), r.Addrs...), r.Decommissioning...) {
			if a.Is4() {
				allow4[i]++
			} else {
				allow6[i]++
			}
		}
		for _, p := range r.Subnets {
			if !enumerable(p) {
				continue
			}
			if size := 1 << (p.Addr().BitLen() - p.Bits()); p.Addr().Is4() {
				allow4[i] += size
			} else {
				allow6[i] += size
			}
		}
		all4, all6 = all4+allow4[i], all6+allow6[i]
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
		label += allow4[i] + allow6[i] + 3 // allow.<region>: the shards' A/AAAA, TXT, APL, shards TXT
		perZone += (1 + len(r.Aliases)) * label
	}
	perZone += 2 + len(opt.nsAddrs)   // SOA, NS, ns.dns.Z
	perZone += len(opt.facts.texts()) // the apex TXT
	perZone += all4 + all6 + 3        // all.Z, as allow.<region>
	total := len(opt.zones)*perZone + len(opt.reverse)*(2+ptrs)
	for _, z := range opt.zones {
		// allow.<region>.Z and all.Z A and AAAA, where they fit.
		total += fitCount("all."+z, all4, sizeA) + fitCount("all."+z, all6, sizeAAAA)
		for i, r := range regions {
			for _, label := range append([]string{r.Name}, r.Aliases...) {
				name := allowLabel + "." + label + "." + z
				total += fitCount(name, allow4[i], sizeA) + fitCount(name, allow6[i], sizeAAAA)
			}
		}
	}
	return total
}

// fitCount is n if n address records of size each (compressed) fit in a
// message answering name, else 0.
func fitCount(name string, n, size int) int {
	if 12+len(name)+1+4+n*size > maxRRsetSize {
		return 0
	}
	return n
}

// fitAddrs returns addrs without the family whose address set at name would
// not fit in a message, noting it in n.oversize: a set left out anyway is
// never built, so a table's all.Z and large allow names cost nothing for
// their A and AAAA sets. The shards carry those addresses.
func (n *answers) fitAddrs(name string, addrs []netip.Addr) []netip.Addr {
	v4, v6 := families(addrs)
	keep4, keep6 := fitCount(name, v4, sizeA) == v4, fitCount(name, v6, sizeAAAA) == v6
	if keep4 && keep6 {
		return addrs
	}
	if !keep4 {
		n.oversize = append(n.oversize, name+" A")
	}
	if !keep6 {
		n.oversize = append(n.oversize, name+" AAAA")
	}
	var kept []netip.Addr
	for _, a := range addrs {
		if a.Is4() && keep4 || a.Is6() && keep6 {
			kept = append(kept, a)
		}
	}
	return kept
}

// checkBudget refuses a table whose records would exceed opt.maxRecords
// (0: defaultMaxRecords); where names the table (its file) for the error.
func checkBudget(regions []gwtable.Region, opt options, where string) error {
	if where == "" {
		where = "the built-in table"
	}
	budget := opt.maxRecords
	if budget == 0 {
		budget = defaultMaxRecords
	}
	if n := countRecords(regions, opt); n > budget {
		return fmt.Errorf("%s: the table would build %d records, above max_records %d", where, n, budget)
	}
	return nil
}

// rrsetSize is the size of the message that answers set at name, without
// OPT, compressed as the server sends it when it matters: a set whose
// uncompressed length, cheap to sum and never smaller, is within
// maxRRsetSize gets that length instead.
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
// for it gets NODATA. It adds what it left out to n.oversize, "name TYPE"
// each, sorted, for the one warning of a load. active names are not looked
// at: their answers hold at most MaxRoles records.
func (n *answers) dropOversize() {
	dropped := n.oversize
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
	n.oversize = dropped
}

// Package benchdata renders the records of one transfer of a mysqlgw zone in
// the forms its peers load: an RFC 1035 zone file (CoreDNS's file plugin,
// Knot DNS), hosts(5) lines (CoreDNS's hosts plugin), template directives,
// and the query files of bench/run.sh. bench/gen gets the records by AXFR
// from a running server; bench_test.go from the plugin's Transfer, in
// process. Either way the records are the zone as transfers give it: active
// names with their static answer, ns.dns with the addresses the server binds.
package benchdata

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/miekg/dns"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
)

// Table is the records of one transfer of a zone.
type Table struct {
	Zone    string
	soa     dns.RR
	records []dns.RR            // all but the SOA, in transfer order
	sets    map[string][]dns.RR // "name type" -> records
	names   []string            // region and role names with an A record: the query mix's
}

// FromTransfer reads the records of a transfer of zone: the SOA, the zone's
// records, the SOA again.
func FromTransfer(zone string, rrs []dns.RR) (*Table, error) {
	t := &Table{Zone: dns.Fqdn(strings.ToLower(zone)), sets: map[string][]dns.RR{}}
	if len(rrs) < 2 || rrs[0].Header().Rrtype != dns.TypeSOA || rrs[len(rrs)-1].Header().Rrtype != dns.TypeSOA {
		return nil, fmt.Errorf("%s: a transfer of %d records that does not begin and end with the SOA", t.Zone, len(rrs))
	}
	t.soa = rrs[0]
	for _, rr := range rrs[1 : len(rrs)-1] {
		h := rr.Header()
		if !dns.IsSubDomain(t.Zone, h.Name) {
			return nil, fmt.Errorf("%s: the transfer has %s, outside the zone", t.Zone, h.Name)
		}
		key := h.Name + " " + dns.TypeToString[h.Rrtype]
		if h.Rrtype == dns.TypeA && t.sets[key] == nil && queried(strings.TrimSuffix(h.Name, "."+t.Zone)) {
			t.names = append(t.names, h.Name)
		}
		t.sets[key] = append(t.sets[key], rr)
		t.records = append(t.records, rr)
	}
	if len(t.names) == 0 {
		return nil, fmt.Errorf("%s: the transfer has no region names", t.Zone)
	}
	return t, nil
}

// queried reports whether a name relative to the zone is a region's
// (REGION, an alias included) or a role's (ROLE.REGION): the names the query
// mix asks for. all, active.REGION, allow.REGION and ns.dns are not.
func queried(relative string) bool {
	labels := strings.Split(relative, ".")
	switch len(labels) {
	case 1:
		return labels[0] != "all"
	case 2:
		for role := range gwtable.Role(gwtable.MaxRoles) {
			if labels[0] == role.String() {
				return true
			}
		}
	}
	return false
}

// String sums up the table.
func (t *Table) String() string {
	return fmt.Sprintf("%d records, %d region and role names", len(t.records)+1, len(t.names))
}

// ZoneFile is an RFC 1035 zone file: the SOA, then every record in
// transfer order.
func (t *Table) ZoneFile() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "; %s as mysqlgw transfers it, written by internal/benchdata\n$ORIGIN %s\n", t.Zone, t.Zone)
	sb.WriteString(t.soa.String() + "\n")
	for _, rr := range t.records {
		sb.WriteString(rr.String() + "\n")
	}
	return sb.String()
}

// HostsFile is one hosts(5) line per address and name.
func (t *Table) HostsFile() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "# A and AAAA records of %s as mysqlgw transfers them, written by internal/benchdata\n", t.Zone)
	for _, rr := range t.records {
		switch rr := rr.(type) {
		case *dns.A:
			fmt.Fprintf(&sb, "%s %s\n", rr.A, rr.Hdr.Name)
		case *dns.AAAA:
			fmt.Fprintf(&sb, "%s %s\n", rr.AAAA, rr.Hdr.Name)
		}
	}
	return sb.String()
}

// Templates is one template directive per name and type of the query mix
// (A over region and role names, TXT), A first, and a last one that answers
// NXDOMAIN with the SOA for every other name. The template plugin tries its
// templates in order, and each passes what it does not match on to the next
// (fallthrough), so a longer list costs every query more; the other names of
// the zone are left out.
func (t *Table) Templates() string {
	var sb strings.Builder
	write := func(name, qtype string) {
		fmt.Fprintf(&sb, "template IN %s %s {\n\tmatch \"^%s$\"\n", qtype, t.Zone, regexp.QuoteMeta(name))
		for _, rr := range t.sets[name+" "+qtype] {
			fmt.Fprintf(&sb, "\tanswer %q\n", oneLine(rr))
		}
		sb.WriteString("\tfallthrough\n}\n")
	}
	for _, name := range t.names {
		write(name, "A")
	}
	for _, name := range t.names {
		write(name, "TXT")
	}
	fmt.Fprintf(&sb, "template ANY ANY %s {\n\trcode NXDOMAIN\n\tauthority %q\n}\n", t.Zone, oneLine(t.soa))
	return sb.String()
}

// oneLine is a record in presentation format with blanks for tabs, as a
// Corefile token keeps a backslash sequence as it is.
func oneLine(rr dns.RR) string { return strings.ReplaceAll(rr.String(), "\t", " ") }

// Queries is the dnsperf input: in every ten lines seven A queries over the
// region and role names, two TXT and one for a name that does not exist.
func (t *Table) Queries(lines int) string {
	var sb strings.Builder
	a, txt, nx := 0, 0, 0
	for i := range lines {
		switch i % 10 {
		case 7, 8:
			fmt.Fprintf(&sb, "%s TXT\n", t.names[txt%len(t.names)])
			txt++
		case 9:
			fmt.Fprintf(&sb, "nx%d.%s A\n", nx, t.Zone)
			nx++
		default:
			fmt.Fprintf(&sb, "%s A\n", t.names[a%len(t.names)])
			a++
		}
	}
	return sb.String()
}

// Checks lists what bench/run.sh compares between mysqlgw and each peer.
func (t *Table) Checks() string {
	var sb strings.Builder
	pick := func(list []string) []string {
		if len(list) <= 3 {
			return list
		}
		return []string{list[0], list[len(list)/2], list[len(list)-1]}
	}
	for _, n := range pick(t.names) {
		fmt.Fprintf(&sb, "%s A\n", n)
	}
	for _, n := range pick(t.names) {
		fmt.Fprintf(&sb, "%s TXT\n", n)
	}
	fmt.Fprintf(&sb, "nx0.%s A\n", t.Zone)
	return sb.String()
}

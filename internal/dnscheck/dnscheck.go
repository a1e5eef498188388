// Package dnscheck is the one model of mysqlgw's answers that the
// reload-under-load checkers share (test/robustness_test.go in process,
// robust/reloadcheck against the binary): two regions tables A and B, the
// questions asked, what each table answers to each question computed from
// the table alone, and a reply reduced to the same form.
package dnscheck

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// Zone is the forward zone the checkers ask in.
const Zone = "gateway.mysql.local."

// Table is one valid version of the regions file: each region's addresses
// in role order (primary, secondary).
type Table struct {
	Name    string
	Regions map[string][]netip.Addr
}

// Tables returns two tables with the same n regions r01, r02, ... and one of
// their own each (onlya, onlyb), but no address in common, so that any mix
// of the two shows. A gives every region two IPv4 addresses, B an IPv4
// primary and an IPv6 secondary, all in documentation ranges.
func Tables(n int) (a, b Table) {
	a = Table{Name: "A", Regions: map[string][]netip.Addr{}}
	b = Table{Name: "B", Regions: map[string][]netip.Addr{}}
	addr := func(format string, i int) netip.Addr { return netip.MustParseAddr(fmt.Sprintf(format, i)) }
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("r%02d", i)
		a.Regions[name] = []netip.Addr{addr("192.0.2.%d", i), addr("198.51.100.%d", i)}
		b.Regions[name] = []netip.Addr{addr("203.0.113.%d", i), addr("2001:db8::%x", i)}
	}
	a.Regions["onlya"] = []netip.Addr{addr("192.0.2.%d", 200)}
	b.Regions["onlyb"] = []netip.Addr{addr("203.0.113.%d", 200)}
	return a, b
}

// Text is the table as a regions file, regions in name order.
func (t Table) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# table %s\n", t.Name)
	for _, name := range slices.Sorted(maps.Keys(t.Regions)) {
		b.WriteString(name)
		for _, a := range t.Regions[name] {
			b.WriteString(" " + a.String())
		}
		b.WriteString("\n")
	}
	return b.String()
}

// Invalid returns versions of the file derived from t that the parser must
// refuse as a whole. t needs regions r01 and r02.
func (t Table) Invalid() []string {
	text := t.Text()
	first := "r01 " + t.Regions["r01"][0].String()
	cut := strings.Index(text, first) + len(first) - 2
	return []string{
		"",                             // emptied
		text[:cut],                     // truncated mid-address
		text + "r02 192.0.2.99\n",      // a region twice
		text + "r99 192.0.2.1 bogus\n", // a bad address
		"\x00\xff\xfe binary junk\n",   // not text at all
		text + "all 192.0.2.250\n",     // a reserved name
		strings.Replace(text, "r02 ", "r02 203.0.113.0/24 ", 1), // a prefix where an address belongs
	}
}

// Question is one name and type the checkers ask.
type Question struct {
	Name  string
	Qtype uint16
}

func (q Question) String() string { return q.Name + " " + dns.TypeToString[q.Qtype] }

// Questions are what the checkers (and dnsperf) ask of tables with n
// regions: every region's addresses, roles, active name and SRV; all; and
// the name each table has alone.
func Questions(n int) []Question {
	var qs []Question
	for i := 1; i <= n; i++ {
		r := fmt.Sprintf("r%02d.", i)
		qs = append(qs,
			Question{r + Zone, dns.TypeA},
			Question{r + Zone, dns.TypeAAAA},
			Question{r + Zone, dns.TypeTXT},
			Question{"primary." + r + Zone, dns.TypeA},
			Question{"secondary." + r + Zone, dns.TypeA},
			Question{"secondary." + r + Zone, dns.TypeAAAA},
			Question{"active." + r + Zone, dns.TypeA},
			Question{"_mysql._tcp." + r + Zone, dns.TypeSRV},
		)
	}
	return append(qs,
		Question{"all." + Zone, dns.TypeA},
		Question{"all." + Zone, dns.TypeAAAA},
		Question{"all." + Zone, dns.TypeTXT},
		Question{"onlya." + Zone, dns.TypeA},
		Question{"onlyb." + Zone, dns.TypeA},
	)
}

// Outcome is an answer reduced to its rcode and every address it carries.
type Outcome struct {
	Rcode int
	Addrs string // sorted, each once, joined by spaces
}

func (o Outcome) String() string {
	return fmt.Sprintf("%s [%s]", dns.RcodeToString[o.Rcode], o.Addrs)
}

// Expect computes what table t answers to q, from the table alone. Health
// checks are off, so active is the primary.
func (t Table) Expect(q Question) Outcome {
	labels := dns.SplitDomainName(strings.TrimSuffix(q.Name, Zone))
	found := func(addrs []netip.Addr) Outcome {
		var s []string
		for _, a := range addrs {
			if q.Qtype == dns.TypeTXT || q.Qtype == dns.TypeSRV ||
				(q.Qtype == dns.TypeA && a.Is4()) || (q.Qtype == dns.TypeAAAA && a.Is6()) {
				s = append(s, a.String())
			}
		}
		slices.Sort(s)
		return Outcome{dns.RcodeSuccess, strings.Join(slices.Compact(s), " ")}
	}
	if labels[0] == "all" {
		var all []netip.Addr
		for _, addrs := range t.Regions {
			all = append(all, addrs...)
		}
		return found(all)
	}
	if labels[0] == "_mysql" {
		labels = labels[2:]
	}
	addrs, ok := t.Regions[labels[len(labels)-1]]
	if !ok {
		return Outcome{Rcode: dns.RcodeNameError}
	}
	if len(labels) == 1 {
		return found(addrs)
	}
	role := map[string]int{"primary": 0, "active": 0, "secondary": 1}[labels[0]]
	if role >= len(addrs) {
		return Outcome{Rcode: dns.RcodeNameError}
	}
	return found(addrs[role : role+1])
}

// Reduce reduces a reply to its rcode and its addresses.
func Reduce(r *dns.Msg) Outcome { return Outcome{r.Rcode, addresses(r)} }

// addresses returns every address a reply carries: A and AAAA records,
// role=ADDR texts and SPF ip4:/ip6: terms in TXT (an address, or every
// address of an aggregated prefix), and SRV targets' glue in the additional
// section; sorted, each once, joined by spaces.
func addresses(r *dns.Msg) string {
	var addrs []string
	add := func(s string) {
		if a, err := netip.ParseAddr(s); err == nil {
			addrs = append(addrs, a.String())
		} else if p, err := netip.ParsePrefix(s); err == nil && p.Addr().BitLen()-p.Bits() <= 12 {
			for a := p.Addr(); p.Contains(a); a = a.Next() {
				addrs = append(addrs, a.String())
			}
		}
	}
	for _, rr := range append(slices.Clone(r.Answer), r.Extra...) {
		switch rr := rr.(type) {
		case *dns.A:
			add(rr.A.String())
		case *dns.AAAA:
			add(rr.AAAA.String())
		case *dns.TXT:
			for _, term := range strings.Fields(strings.Join(rr.Txt, "")) {
				if _, v, ok := strings.Cut(term, "="); ok {
					add(v)
				} else if _, v, ok := strings.Cut(term, ":"); ok {
					add(v)
				}
			}
		}
	}
	slices.Sort(addrs)
	return strings.Join(slices.Compact(addrs), " ")
}

// Which tells which table a reply comes from: "A", "B", "AB" when both give
// the same answer (a name the reload does not change), or "" when neither
// does. It returns the reduced reply too.
func Which(a, b Table, q Question, r *dns.Msg) (string, Outcome) {
	got := Reduce(r)
	which := ""
	if got == a.Expect(q) {
		which += "A"
	}
	if got == b.Expect(q) {
		which += "B"
	}
	return which, got
}

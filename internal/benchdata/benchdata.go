// Package benchdata reads mysqlgw's table back through its answers and
// renders the same records in the forms its peers load: an RFC 1035 zone
// file (CoreDNS's file plugin, Knot DNS), hosts(5) lines (CoreDNS's hosts
// plugin), template directives, and the query files of bench/run.sh.
// bench/gen asks a running server over UDP; bench_test.go asks the plugin
// in process, through ServeDNS.
//
// Regions are found through the PTR records of the addresses of all.ZONE,
// so the table can be the built-in one or a regions file; aliases, which no
// PTR names, are left out, and so are not in the query mix either.
package benchdata

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/miekg/dns"
)

// Exchange sends one query to mysqlgw and returns its reply.
type Exchange func(*dns.Msg) (*dns.Msg, error)

// Table is what Crawl found: every record set mysqlgw answered with.
type Table struct {
	Zone     string
	Regions  []string // sorted
	soa      dns.RR
	exchange Exchange
	records  map[string][]dns.RR // "name type" -> answer records
	order    []string            // keys of records, in the order first seen
	names    []string            // region and role names, asked for A and TXT in the query mix
}

// Crawl asks mysqlgw, through exchange, for everything it serves in zone.
func Crawl(zone string, exchange Exchange) (*Table, error) {
	c := &Table{Zone: dns.Fqdn(strings.ToLower(zone)), exchange: exchange, records: map[string][]dns.RR{}}
	zone = c.Zone
	soa, err := c.ask(zone, dns.TypeSOA)
	if err != nil {
		return nil, err
	}
	if len(soa) != 1 {
		return nil, fmt.Errorf("%s SOA: %d records, want 1", zone, len(soa))
	}
	c.soa = soa[0]
	if _, err := c.ask(zone, dns.TypeNS); err != nil {
		return nil, err
	}
	if _, err := c.ask("ns.dns."+zone, dns.TypeA); err != nil {
		return nil, err
	}

	// The regions, through the PTR of every address of all.ZONE: each names
	// role.region.ZONE for every region that uses the address.
	all := "all." + zone
	var addrs []string
	for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
		rrs, err := c.ask(all, t)
		if err != nil {
			return nil, err
		}
		for _, rr := range rrs {
			switch rr := rr.(type) {
			case *dns.A:
				addrs = append(addrs, rr.A.String())
			case *dns.AAAA:
				addrs = append(addrs, rr.AAAA.String())
			}
		}
	}
	if _, err := c.ask(all, dns.TypeTXT); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, a := range addrs {
		rev, err := dns.ReverseAddr(a)
		if err != nil {
			return nil, err
		}
		ptrs, err := c.query(rev, dns.TypePTR)
		if err != nil {
			return nil, err
		}
		for _, rr := range ptrs {
			ptr, ok := rr.(*dns.PTR)
			if !ok || !dns.IsSubDomain(zone, ptr.Ptr) {
				continue
			}
			labels := dns.SplitDomainName(strings.TrimSuffix(ptr.Ptr, zone))
			if len(labels) != 2 {
				continue
			}
			if region := labels[1]; !seen[region] {
				seen[region] = true
				c.Regions = append(c.Regions, region)
			}
		}
	}
	if len(c.Regions) == 0 {
		return nil, fmt.Errorf("no regions found through the PTR records of %s", all)
	}
	sort.Strings(c.Regions)

	for _, region := range c.Regions {
		base := region + "." + zone
		if err := c.askAll(base, dns.TypeA, dns.TypeAAAA, dns.TypeTXT); err != nil {
			return nil, err
		}
		c.names = append(c.names, base)
		for _, role := range []string{"primary", "secondary", "tertiary"} {
			name := role + "." + base
			rrs, err := c.ask(name, dns.TypeA)
			if err != nil {
				return nil, err
			}
			if rrs == nil && !c.exists(name) {
				break
			}
			if err := c.askAll(name, dns.TypeAAAA, dns.TypeTXT); err != nil {
				return nil, err
			}
			c.names = append(c.names, name)
		}
		if err := c.askAll("active."+base, dns.TypeA, dns.TypeAAAA, dns.TypeTXT); err != nil {
			return nil, err
		}
		if err := c.askAll("_mysql._tcp."+base, dns.TypeSRV); err != nil {
			return nil, err
		}
		if err := c.askAll("_mysql._tcp.active."+base, dns.TypeSRV); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// String sums up what Crawl found.
func (c *Table) String() string {
	return fmt.Sprintf("%d regions, %d A names, %d record sets", len(c.Regions), len(c.names), len(c.order))
}

// query sends one question and returns the answer section; NXDOMAIN and
// NODATA return nil.
func (c *Table) query(name string, qtype uint16) ([]dns.RR, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.SetEdns0(4096, false)
	r, err := c.exchange(m)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", name, dns.TypeToString[qtype], err)
	}
	switch {
	case r.Truncated:
		return nil, fmt.Errorf("%s %s: truncated answer", name, dns.TypeToString[qtype])
	case r.Rcode == dns.RcodeNameError:
		return nil, nil
	case r.Rcode != dns.RcodeSuccess:
		return nil, fmt.Errorf("%s %s: rcode %s", name, dns.TypeToString[qtype], dns.RcodeToString[r.Rcode])
	}
	return r.Answer, nil
}

// ask queries and keeps the answer as the records of (name, type).
func (c *Table) ask(name string, qtype uint16) ([]dns.RR, error) {
	rrs, err := c.query(name, qtype)
	if err != nil || len(rrs) == 0 {
		return nil, err
	}
	key := name + " " + dns.TypeToString[qtype]
	if _, ok := c.records[key]; !ok {
		c.order = append(c.order, key)
	}
	c.records[key] = rrs
	return rrs, nil
}

func (c *Table) askAll(name string, qtypes ...uint16) error {
	for _, t := range qtypes {
		if _, err := c.ask(name, t); err != nil {
			return err
		}
	}
	return nil
}

// exists reports whether name has any of the records asked so far.
func (c *Table) exists(name string) bool {
	for _, key := range c.order {
		if strings.HasPrefix(key, name+" ") {
			return true
		}
	}
	return false
}

// ZoneFile is an RFC 1035 zone file: SOA first, then every record set in
// the order it was found.
func (c *Table) ZoneFile() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "; %s as served by mysqlgw, read back by internal/benchdata\n$ORIGIN %s\n", c.Zone, c.Zone)
	sb.WriteString(c.soa.String() + "\n")
	for _, key := range c.order {
		for _, rr := range c.records[key] {
			if rr.Header().Rrtype == dns.TypeSOA {
				continue
			}
			sb.WriteString(rr.String() + "\n")
		}
	}
	return sb.String()
}

// HostsFile is one hosts(5) line per address and name.
func (c *Table) HostsFile() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "# A and AAAA records of %s as served by mysqlgw, read back by internal/benchdata\n", c.Zone)
	for _, key := range c.order {
		for _, rr := range c.records[key] {
			switch rr := rr.(type) {
			case *dns.A:
				fmt.Fprintf(&sb, "%s %s\n", rr.A, rr.Hdr.Name)
			case *dns.AAAA:
				fmt.Fprintf(&sb, "%s %s\n", rr.AAAA, rr.Hdr.Name)
			}
		}
	}
	return sb.String()
}

// Templates is one template directive per name and type of the query mix
// (A over region and role names, TXT), A first, and a last one that answers
// NXDOMAIN with the SOA for every other name. The template plugin tries its
// templates in order, and each passes what it does not match on to the next
// (fallthrough), so a longer list costs every query more; the other names of
// the table are left out.
func (c *Table) Templates() string {
	var sb strings.Builder
	write := func(name, qtype string) {
		fmt.Fprintf(&sb, "template IN %s %s {\n\tmatch \"^%s$\"\n", qtype, c.Zone, regexp.QuoteMeta(name))
		for _, rr := range c.records[name+" "+qtype] {
			fmt.Fprintf(&sb, "\tanswer %q\n", oneLine(rr))
		}
		sb.WriteString("\tfallthrough\n}\n")
	}
	for _, name := range c.names {
		write(name, "A")
	}
	for _, name := range c.names {
		write(name, "TXT")
	}
	fmt.Fprintf(&sb, "template ANY ANY %s {\n\trcode NXDOMAIN\n\tauthority %q\n}\n", c.Zone, oneLine(c.soa))
	return sb.String()
}

// oneLine is a record in presentation format with blanks for tabs, as a
// Corefile token keeps a backslash sequence as it is.
func oneLine(rr dns.RR) string { return strings.ReplaceAll(rr.String(), "\t", " ") }

// Queries is the dnsperf input: in every ten lines seven A queries over the
// region and role names, two TXT and one for a name that does not exist.
func (c *Table) Queries(lines int) string {
	var sb strings.Builder
	a, t, nx := 0, 0, 0
	for i := range lines {
		switch i % 10 {
		case 7, 8:
			fmt.Fprintf(&sb, "%s TXT\n", c.names[t%len(c.names)])
			t++
		case 9:
			fmt.Fprintf(&sb, "nx%d.%s A\n", nx, c.Zone)
			nx++
		default:
			fmt.Fprintf(&sb, "%s A\n", c.names[a%len(c.names)])
			a++
		}
	}
	return sb.String()
}

// Checks lists what bench/run.sh compares between mysqlgw and each peer.
func (c *Table) Checks() string {
	var sb strings.Builder
	pick := func(list []string) []string {
		if len(list) <= 3 {
			return list
		}
		return []string{list[0], list[len(list)/2], list[len(list)-1]}
	}
	for _, n := range pick(c.names) {
		fmt.Fprintf(&sb, "%s A\n", n)
	}
	for _, n := range pick(c.names) {
		fmt.Fprintf(&sb, "%s TXT\n", n)
	}
	fmt.Fprintf(&sb, "nx0.%s A\n", c.Zone)
	return sb.String()
}

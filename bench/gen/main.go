// Command gen reads the gateway table back from a running mysqlgw and writes
// the same records in the forms its peers load, plus the dnsperf query file:
//
//	db.zone      RFC 1035 zone file, for CoreDNS's file plugin and Knot DNS
//	hosts        hosts(5) lines, for CoreDNS's hosts plugin
//	template     template directives, one per name and type of the query mix, for CoreDNS's template plugin
//	queries.txt  dnsperf input: 70% A over region and role names, 20% TXT, 10% NXDOMAIN
//	checks.txt   name and type pairs that bench/run.sh asks every server before measuring
//
// It asks only the server it is given, which must be on 127.0.0.0/8. Regions
// are found through the PTR records of the addresses of all.ZONE, so the
// table can be the built-in one or a regions file; aliases, which no PTR
// names, are left out, and so are not in the query mix either.
package main

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/miekg/dns"
)

func main() {
	server := flag.String("server", "127.0.0.1:1053", "mysqlgw to read the table from (loopback only)")
	zone := flag.String("zone", "gateway.mysql.local.", "forward zone mysqlgw serves")
	out := flag.String("out", ".", "folder to write the files into")
	lines := flag.Int("lines", 1000, "lines of the query file; a multiple of 10 keeps the mix exact")
	flag.Parse()

	if err := run(*server, dns.Fqdn(strings.ToLower(*zone)), *out, *lines); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

// crawler asks one server and keeps every record it answers with.
type crawler struct {
	client  *dns.Client
	server  string
	zone    string
	records map[string][]dns.RR // "name type" -> answer records
	order   []string            // keys of records, in the order first seen
}

func run(server, zone, out string, lines int) error {
	ap, err := netip.ParseAddrPort(server)
	if err != nil || !ap.Addr().IsLoopback() || !ap.Addr().Is4() {
		return fmt.Errorf("-server %q: want a 127.0.0.0/8 address and port", server)
	}
	c := &crawler{
		client:  &dns.Client{Timeout: 2 * time.Second},
		server:  server,
		zone:    zone,
		records: map[string][]dns.RR{},
	}
	soa, err := c.ask(zone, dns.TypeSOA)
	if err != nil {
		return err
	}
	if len(soa) != 1 {
		return fmt.Errorf("%s SOA: %d records, want 1", zone, len(soa))
	}
	if _, err := c.ask(zone, dns.TypeNS); err != nil {
		return err
	}
	if _, err := c.ask("ns.dns."+zone, dns.TypeA); err != nil {
		return err
	}

	// The regions, through the PTR of every address of all.ZONE: each names
	// role.region.ZONE for every region that uses the address.
	all := "all." + zone
	var addrs []string
	for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
		rrs, err := c.ask(all, t)
		if err != nil {
			return err
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
		return err
	}
	seen := map[string]bool{}
	var regions []string
	for _, a := range addrs {
		rev, err := dns.ReverseAddr(a)
		if err != nil {
			return err
		}
		ptrs, err := c.query(rev, dns.TypePTR)
		if err != nil {
			return err
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
				regions = append(regions, region)
			}
		}
	}
	if len(regions) == 0 {
		return fmt.Errorf("no regions found through the PTR records of %s", all)
	}
	sort.Strings(regions)

	var aNames, txtNames []string
	for _, region := range regions {
		base := region + "." + zone
		if err := c.askAll(base, dns.TypeA, dns.TypeAAAA, dns.TypeTXT); err != nil {
			return err
		}
		aNames, txtNames = append(aNames, base), append(txtNames, base)
		for _, role := range []string{"primary", "secondary", "tertiary"} {
			name := role + "." + base
			rrs, err := c.ask(name, dns.TypeA)
			if err != nil {
				return err
			}
			if rrs == nil && !c.exists(name) {
				break
			}
			if err := c.askAll(name, dns.TypeAAAA, dns.TypeTXT); err != nil {
				return err
			}
			aNames, txtNames = append(aNames, name), append(txtNames, name)
		}
		if err := c.askAll("active."+base, dns.TypeA, dns.TypeAAAA, dns.TypeTXT); err != nil {
			return err
		}
		if err := c.askAll("_mysql._tcp."+base, dns.TypeSRV); err != nil {
			return err
		}
		if err := c.askAll("_mysql._tcp.active."+base, dns.TypeSRV); err != nil {
			return err
		}
	}

	files := map[string]string{
		"db.zone":     c.zoneFile(soa[0]),
		"hosts":       c.hostsFile(),
		"template":    c.templates(soa[0], aNames, txtNames),
		"queries.txt": queryFile(aNames, txtNames, zone, lines),
		"checks.txt":  checks(aNames, txtNames, zone),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(out, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("gen: %d regions, %d A names, %d record sets from %s\n", len(regions), len(aNames), len(c.order), server)
	return nil
}

// query sends one question and returns the answer section; NXDOMAIN and
// NODATA return nil.
func (c *crawler) query(name string, qtype uint16) ([]dns.RR, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.SetEdns0(4096, false)
	r, _, err := c.client.Exchange(m, c.server)
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
func (c *crawler) ask(name string, qtype uint16) ([]dns.RR, error) {
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

func (c *crawler) askAll(name string, qtypes ...uint16) error {
	for _, t := range qtypes {
		if _, err := c.ask(name, t); err != nil {
			return err
		}
	}
	return nil
}

// exists reports whether name has any of the records asked so far.
func (c *crawler) exists(name string) bool {
	for _, key := range c.order {
		if strings.HasPrefix(key, name+" ") {
			return true
		}
	}
	return false
}

// zoneFile writes SOA first, then every record set in the order it was found.
func (c *crawler) zoneFile(soa dns.RR) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "; %s as served by mysqlgw, generated by bench/gen\n$ORIGIN %s\n", c.zone, c.zone)
	sb.WriteString(soa.String() + "\n")
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

// hostsFile writes one line per address and name.
func (c *crawler) hostsFile() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "# A and AAAA records of %s as served by mysqlgw, generated by bench/gen\n", c.zone)
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

// templates writes one template directive per name and type of the query
// mix (A over region and role names, TXT), A first, and a last one that
// answers NXDOMAIN with the SOA for every other name. The template plugin
// tries its templates in order, and each passes what it does not match on to
// the next (fallthrough), so a longer list costs every query more; the other
// names of the table are left out.
func (c *crawler) templates(soa dns.RR, aNames, txtNames []string) string {
	var sb strings.Builder
	write := func(name, qtype string) {
		fmt.Fprintf(&sb, "template IN %s %s {\n\tmatch \"^%s$\"\n", qtype, c.zone, regexp.QuoteMeta(name))
		for _, rr := range c.records[name+" "+qtype] {
			fmt.Fprintf(&sb, "\tanswer %q\n", oneLine(rr))
		}
		sb.WriteString("\tfallthrough\n}\n")
	}
	for _, name := range aNames {
		write(name, "A")
	}
	for _, name := range txtNames {
		write(name, "TXT")
	}
	fmt.Fprintf(&sb, "template ANY ANY %s {\n\trcode NXDOMAIN\n\tauthority %q\n}\n", c.zone, oneLine(soa))
	return sb.String()
}

// oneLine is a record in presentation format with blanks for tabs, as a
// Corefile token keeps a backslash sequence as it is.
func oneLine(rr dns.RR) string { return strings.ReplaceAll(rr.String(), "\t", " ") }

// queryFile is the dnsperf input: in every ten lines seven A queries over the
// region and role names, two TXT and one for a name that does not exist.
func queryFile(aNames, txtNames []string, zone string, lines int) string {
	var sb strings.Builder
	a, t, nx := 0, 0, 0
	for i := range lines {
		switch i % 10 {
		case 7, 8:
			fmt.Fprintf(&sb, "%s TXT\n", txtNames[t%len(txtNames)])
			t++
		case 9:
			fmt.Fprintf(&sb, "nx%d.%s A\n", nx, zone)
			nx++
		default:
			fmt.Fprintf(&sb, "%s A\n", aNames[a%len(aNames)])
			a++
		}
	}
	return sb.String()
}

// checks lists what run.sh compares between mysqlgw and each peer.
func checks(aNames, txtNames []string, zone string) string {
	var sb strings.Builder
	pick := func(list []string) []string {
		if len(list) <= 3 {
			return list
		}
		return []string{list[0], list[len(list)/2], list[len(list)-1]}
	}
	for _, n := range pick(aNames) {
		fmt.Fprintf(&sb, "%s A\n", n)
	}
	for _, n := range pick(txtNames) {
		fmt.Fprintf(&sb, "%s TXT\n", n)
	}
	fmt.Fprintf(&sb, "nx0.%s A\n", zone)
	return sb.String()
}

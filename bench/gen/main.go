// Command gen transfers a zone from a running mysqlgw and writes its records
// in the forms its peers load, plus the dnsperf query file (internal/benchdata,
// which bench_test.go shares, does the writing):
//
//	db.zone      RFC 1035 zone file, for CoreDNS's file plugin and Knot DNS
//	hosts        hosts(5) lines, for CoreDNS's hosts plugin
//	template     template directives, one per name and type of the query mix, for CoreDNS's template plugin
//	queries.txt  dnsperf input: 70% A over region and role names, 20% TXT, 10% NXDOMAIN
//	checks.txt   name and type pairs that bench/run.sh asks every server before measuring
//
// The server must allow the transfer (CoreDNS's transfer plugin, `to *`) and
// be on 127.0.0.0/8.
package main

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/miekg/dns"

	"github.com/mysqlgw/mysqlgw/internal/benchdata"
)

func main() {
	server := flag.String("server", "127.0.0.1:1053", "mysqlgw to transfer the zone from (loopback only)")
	zone := flag.String("zone", "gateway.mysql.local.", "forward zone mysqlgw serves")
	out := flag.String("out", ".", "folder to write the files into")
	lines := flag.Int("lines", 1000, "lines of the query file; a multiple of 10 keeps the mix exact")
	flag.Parse()

	if err := run(*server, *zone, *out, *lines); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(server, zone, out string, lines int) error {
	ap, err := netip.ParseAddrPort(server)
	if err != nil || !ap.Addr().IsLoopback() || !ap.Addr().Is4() {
		return fmt.Errorf("-server %q: want a 127.0.0.0/8 address and port", server)
	}
	m := new(dns.Msg)
	m.SetAxfr(dns.Fqdn(zone))
	xfr := &dns.Transfer{DialTimeout: 2 * time.Second, ReadTimeout: 10 * time.Second}
	envelopes, err := xfr.In(m, server)
	if err != nil {
		return fmt.Errorf("AXFR %s from %s: %w", zone, server, err)
	}
	var rrs []dns.RR
	for e := range envelopes {
		if e.Error != nil {
			return fmt.Errorf("AXFR %s from %s: %w", zone, server, e.Error)
		}
		rrs = append(rrs, e.RR...)
	}
	table, err := benchdata.FromTransfer(zone, rrs)
	if err != nil {
		return err
	}
	files := map[string]string{
		"db.zone":     table.ZoneFile(),
		"hosts":       table.HostsFile(),
		"template":    table.Templates(),
		"queries.txt": table.Queries(lines),
		"checks.txt":  table.Checks(),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(out, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("gen: %s from %s\n", table, server)
	return nil
}

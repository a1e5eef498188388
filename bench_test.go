//go:build unix

package mysqlgw

// In-process benchmarks of ServeDNS: every kind of answer mysqlgw gives, and
// the same A query through CoreDNS's own hosts and file plugins loaded with
// the same records, so that one `go test -bench` run yields the ratios
// bench/README.md holds against its targets (mysqlgw ÷ hosts, ÷ file). See
// bench/README.md for how to compare two commits with benchstat.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/plugin"
	_ "github.com/coredns/coredns/plugin/file"
	_ "github.com/coredns/coredns/plugin/hosts"
	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"

	"github.com/miekg/dns"

	"github.com/mysqlgw/mysqlgw/internal/benchdata"
)

// benchZone is the zone every benchmark serves.
const benchZone = "gateway.mysql.local."

// benchA is the query the peer comparison uses: a region with three addresses.
const benchA = "eastus2." + benchZone

// benchPlugin loads mysqlgw with the built-in table, as the shipped Corefile
// does (forward zone plus in-addr.arpa).
func benchPlugin(b *testing.B) *MysqlGW {
	b.Helper()
	return newTestPlugin(b, "mysqlgw "+benchZone+" in-addr.arpa.")
}

// serveBench runs one query through h b.N times, after checking the answer
// once: rcode and number of answer and authority records (ns < 0: any, as
// file adds the zone's NS to positive answers).
func serveBench(b *testing.B, h plugin.Handler, qname string, qtype uint16, rcode, answers, ns int) {
	b.Helper()
	ctx := context.Background()
	r := new(dns.Msg)
	r.SetQuestion(qname, qtype)
	w := dnstest.NewRecorder(&test.ResponseWriter{})

	code, err := h.ServeDNS(ctx, w, r)
	if err != nil {
		b.Fatal(err)
	}
	if w.Msg == nil { // passed on to the next plugin, which writes nothing
		if code != rcode {
			b.Fatalf("%s %s: rcode %d from the chain, want %d", qname, dns.TypeToString[qtype], code, rcode)
		}
	} else {
		m := w.Msg
		if m.Rcode != rcode || len(m.Answer) != answers || (ns >= 0 && len(m.Ns) != ns) {
			b.Fatalf("%s %s: rcode %d, %d answers, %d authority; want %d, %d, %d\n%s",
				qname, dns.TypeToString[qtype], m.Rcode, len(m.Answer), len(m.Ns), rcode, answers, ns, m)
		}
	}

	b.ReportAllocs()
	cpu := startCPU()
	for b.Loop() {
		h.ServeDNS(ctx, w, r)
	}
	cpu.report(b)
}

// cpuClock reports the process's CPU time per operation beside the wall
// time: on a shared machine the wall time also counts the time the benchmark
// waited for a core, the CPU time only what it (and its garbage collection)
// spent. Both are in the output; compare like with like.
type cpuClock struct{ start time.Duration }

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU() cpuClock { return cpuClock{processCPU()} }

func (c cpuClock) report(b *testing.B) {
	if b.N > 0 {
		b.ReportMetric(float64(processCPU()-c.start)/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkServeDNS measures every kind of answer.
func BenchmarkServeDNS(b *testing.B) {
	g := benchPlugin(b)
	nRegions := len(g.answers.Load().regions)
	all := len(findSet(g.answers.Load().nodes["all."+benchZone].rrsets, dns.TypeA).answer)
	cases := []struct {
		name    string
		qname   string
		qtype   uint16
		rcode   int
		answers int
		ns      int
	}{
		{"kind=regionA", benchA, dns.TypeA, dns.RcodeSuccess, 3, 0},
		{"kind=regionA-mixedcase", "EastUS2.Gateway.MySQL.Local.", dns.TypeA, dns.RcodeSuccess, 3, 0},
		{"kind=roleA", "primary." + benchA, dns.TypeA, dns.RcodeSuccess, 1, 0},
		{"kind=activeA", "active." + benchA, dns.TypeA, dns.RcodeSuccess, 1, 0},
		{"kind=TXT", benchA, dns.TypeTXT, dns.RcodeSuccess, 4, 0},
		{"kind=SRV", "_mysql._tcp." + benchA, dns.TypeSRV, dns.RcodeSuccess, 3, 0},
		{"kind=allA", "all." + benchZone, dns.TypeA, dns.RcodeSuccess, all, 0},
		{"kind=allowA", "allow." + benchA, dns.TypeA, dns.RcodeSuccess, 3, 0},
		{"kind=shardA", "1.all." + benchZone, dns.TypeA, dns.RcodeSuccess, 28, 0},
		{"kind=NXDOMAIN", "nosuchregion." + benchZone, dns.TypeA, dns.RcodeNameError, 0, 1},
		{"kind=NODATA", benchA, dns.TypeMX, dns.RcodeSuccess, 0, 1},
		{"kind=next", "example.org.", dns.TypeA, dnsRcodeNextMarker, 0, 0},
	}
	if nRegions < 31 {
		b.Fatalf("built-in table has %d regions", nRegions)
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			serveBench(b, g, tc.qname, tc.qtype, tc.rcode, tc.answers, tc.ns)
		})
	}
}

// BenchmarkPeers sends the same A query (eastus2, three addresses) to
// mysqlgw and to CoreDNS's hosts and file plugins, each loaded with the same
// records through its own setup, so the ns/op ratio comes out of one run.
func BenchmarkPeers(b *testing.B) {
	g := benchPlugin(b)
	_, file, hosts := benchPeers(b, g)

	// writer writes a ready-made copy of the same reply: the cost of the
	// recorder alone, which every other entry includes.
	reply := new(dns.Msg)
	reply.SetQuestion(benchA, dns.TypeA)
	reply.Response, reply.Authoritative = true, true
	reply.Answer = findSet(g.answers.Load().nodes[benchA].rrsets, dns.TypeA).answer
	writer := test.HandlerFunc(func(_ context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
		w.WriteMsg(reply)
		return dns.RcodeSuccess, nil
	})

	for _, peer := range []struct {
		name string
		h    plugin.Handler
	}{{"mysqlgw", g}, {"hosts", hosts}, {"file", file}, {"writer-only", writer}} {
		b.Run("plugin="+peer.name, func(b *testing.B) {
			serveBench(b, peer.h, benchA, dns.TypeA, dns.RcodeSuccess, 3, -1)
		})
	}
}

// benchPeers takes g's zone from a transfer, with the code that writes
// bench/gen's files for bench/run.sh, and loads it into CoreDNS's file and
// hosts plugins.
func benchPeers(tb testing.TB, g *MysqlGW) (table *benchdata.Table, file, hosts plugin.Handler) {
	tb.Helper()
	ch, err := g.Transfer(benchZone, 0)
	if err != nil {
		tb.Fatal(err)
	}
	var rrs []dns.RR
	for batch := range ch {
		rrs = append(rrs, batch...)
	}
	if table, err = benchdata.FromTransfer(benchZone, rrs); err != nil {
		tb.Fatal(err)
	}
	dir := tb.TempDir()
	zoneFile := filepath.Join(dir, "db."+strings.TrimSuffix(benchZone, "."))
	if err := os.WriteFile(zoneFile, []byte(table.ZoneFile()), 0o644); err != nil {
		tb.Fatal(err)
	}
	file = peerPlugin(tb, "file", fmt.Sprintf("file %s %s", zoneFile, benchZone))

	// hosts takes its entries inline: the test controller never runs the
	// start-up hook that would read a hosts file, and inline entries go
	// through the same lookup.
	hostsFile := filepath.Join(dir, "hosts")
	if err := os.WriteFile(hostsFile, nil, 0o644); err != nil {
		tb.Fatal(err)
	}
	hosts = peerPlugin(tb, "hosts", fmt.Sprintf("hosts %s %s {\n%s\treload 0\n\tno_reverse\n}",
		hostsFile, benchZone, table.HostsFile()))
	return table, file, hosts
}

// The peers answer what mysqlgw answers, as bench/run.sh checks end to end:
// file every question of the checks, hosts the A questions for names that
// exist.
func TestBenchPeersAnswerAlike(t *testing.T) {
	g := newTestPlugin(t, "mysqlgw "+benchZone+" in-addr.arpa.")
	table, file, hosts := benchPeers(t, g)
	ask := func(h plugin.Handler, name string, qtype uint16) (int, []string) {
		r := new(dns.Msg)
		r.SetQuestion(name, qtype)
		w := dnstest.NewRecorder(&test.ResponseWriter{})
		if _, err := h.ServeDNS(context.Background(), w, r); err != nil || w.Msg == nil {
			t.Fatalf("%s %s: no reply (%v)", name, dns.TypeToString[qtype], err)
		}
		var rdata []string
		for _, rr := range w.Msg.Answer {
			rdata = append(rdata, strings.TrimPrefix(rr.String(), rr.Header().String()))
		}
		slices.Sort(rdata)
		return w.Msg.Rcode, rdata
	}
	checks := strings.Fields(table.Checks())
	if len(checks) < 10 {
		t.Fatalf("checks: %q", checks)
	}
	for i := 0; i < len(checks); i += 2 {
		name, qtype := checks[i], dns.StringToType[checks[i+1]]
		rcode, want := ask(g, name, qtype)
		peers := map[string]plugin.Handler{"file": file}
		if qtype == dns.TypeA && rcode == dns.RcodeSuccess {
			peers["hosts"] = hosts
		}
		for peer, h := range peers {
			if gotRcode, got := ask(h, name, qtype); gotRcode != rcode || !slices.Equal(got, want) {
				t.Errorf("%s %s: %s answers %s %q, mysqlgw %s %q", name, checks[i+1], peer,
					dns.RcodeToString[gotRcode], got, dns.RcodeToString[rcode], want)
			}
		}
	}
}

// peerPlugin builds another plugin through its registered setup function,
// as CoreDNS would from a Corefile.
func peerPlugin(tb testing.TB, name, corefile string) plugin.Handler {
	tb.Helper()
	setup, err := caddy.DirectiveAction("dns", name)
	if err != nil {
		tb.Fatal(err)
	}
	c := caddy.NewTestController("dns", corefile)
	if err := setup(c); err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	stack := dnsserver.GetConfig(c).Plugin
	if len(stack) != 1 {
		tb.Fatalf("%s: %d plugins set up, want 1", name, len(stack))
	}
	return stack[0](test.NextHandler(dns.RcodeRefused, nil))
}

package mysqlgw

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coredns/coredns/plugin/transfer"
	"github.com/mysqlgw/mysqlgw/internal/ratelimit"
	"github.com/mysqlgw/mysqlgw/internal/testutil"

	"github.com/miekg/dns"
)

// axfr collects what Transfer sends for zone from serial.
func axfr(t *testing.T, g *MysqlGW, zone string, serial uint32) []dns.RR {
	t.Helper()
	ch, err := g.Transfer(zone, serial)
	if err != nil {
		t.Fatalf("Transfer(%s, %d): %v", zone, serial, err)
	}
	var rrs []dns.RR
	for batch := range ch {
		rrs = append(rrs, batch...)
	}
	return rrs
}

// TestTransfer: AXFR sends the SOA, every name of the zone with its static
// answer, and the SOA again; IXFR from the current serial sends the SOA alone.
func TestTransfer(t *testing.T) {
	g := newTestPlugin(t, "mysqlgw gateway.mysql.local 191.in-addr.arpa {\n ns 192.0.2.53 2001:db8::53\n}")
	rrs := axfr(t, g, "gateway.mysql.local.", 0)
	first, last := rrs[0].(*dns.SOA), rrs[len(rrs)-1].(*dns.SOA)
	if first.Serial != builtinSerial || last != first {
		t.Fatalf("AXFR starts with %v and ends with %v, want the SOA (serial 2019052201) at both ends", rrs[0], rrs[len(rrs)-1])
	}
	var lines []string
	for _, rr := range rrs[1 : len(rrs)-1] {
		if rr.Header().Rrtype == dns.TypeSOA {
			t.Errorf("a second SOA inside the transfer: %v", rr)
		}
		lines = append(lines, strings.Join(strings.Fields(rr.String()), " "))
	}
	for _, want := range []string{
		"gateway.mysql.local. 300 IN NS ns.dns.gateway.mysql.local.",
		"ns.dns.gateway.mysql.local. 300 IN A 192.0.2.53",
		"ns.dns.gateway.mysql.local. 300 IN AAAA 2001:db8::53",
		"eastus2.gateway.mysql.local. 300 IN A 52.167.104.0",
		`eastus2.gateway.mysql.local. 300 IN TXT "region=East US 2"`,
		"tertiary.eastus2.gateway.mysql.local. 300 IN A 52.167.104.0",
		"_mysql._tcp.eastus2.gateway.mysql.local. 300 IN SRV 30 0 3306 tertiary.eastus2.gateway.mysql.local.",
		"active.eastus2.gateway.mysql.local. 5 IN A 191.239.224.107",
		"_mysql._tcp.active.eastus2.gateway.mysql.local. 5 IN SRV 10 0 3306 primary.eastus2.gateway.mysql.local.",
		"allow.eastus2.gateway.mysql.local. 300 IN A 40.79.84.180",
		"1.all.gateway.mysql.local. 300 IN A 13.75.149.87",
		`shards.all.gateway.mysql.local. 300 IN TXT "2"`,
		"eastus1.gateway.mysql.local. 300 IN A 191.238.6.43",
	} {
		if !slices.Contains(lines, want) {
			t.Errorf("AXFR lacks %q", want)
		}
	}
	// Every record a query answers is in the transfer, and nothing twice.
	seen := map[string]bool{}
	for _, l := range lines {
		if seen[l] {
			t.Errorf("%q transferred twice", l)
		}
		seen[l] = true
	}
	if n := len(lines); n < 700 {
		t.Errorf("only %d records transferred", n)
	}

	if rrs := axfr(t, g, "gateway.mysql.local.", builtinSerial); len(rrs) != 1 || rrs[0].Header().Rrtype != dns.TypeSOA {
		t.Errorf("IXFR from the current serial: %v, want the SOA alone", rrs)
	}
	if rrs := axfr(t, g, "gateway.mysql.local.", builtinSerial-1); len(rrs) != len(lines)+2 {
		t.Errorf("IXFR from an older serial: %d records, want the whole zone's %d", len(rrs), len(lines)+2)
	}
	rev := axfr(t, g, "191.in-addr.arpa.", 0)
	var ptrs int
	for _, rr := range rev {
		if rr.Header().Rrtype == dns.TypePTR {
			ptrs++
		}
	}
	if ptrs == 0 || rev[0].Header().Rrtype != dns.TypeSOA {
		t.Errorf("reverse zone: %d PTR records", ptrs)
	}
	if _, err := g.Transfer("example.org.", 0); err != transfer.ErrNotAuthoritative {
		t.Errorf("a zone mysqlgw does not serve: %v, want ErrNotAuthoritative", err)
	}
}

// TestTransferNameServer: without ns or bind, a transfer names the host's
// addresses; queries get the address they arrived on; with ns, both get ns.
func TestTransferNameServer(t *testing.T) {
	g := newTestPlugin(t, "mysqlgw")
	g.opt.bindAddrs = nil
	var got []string
	for _, rr := range axfr(t, g, "gateway.mysql.local.", 0) {
		switch rr := rr.(type) {
		case *dns.A:
			if rr.Hdr.Name == "ns.dns.gateway.mysql.local." {
				got = append(got, rr.A.String())
			}
		case *dns.AAAA:
			if rr.Hdr.Name == "ns.dns.gateway.mysql.local." {
				got = append(got, rr.AAAA.String())
			}
		}
	}
	var want []string
	for _, a := range hostAddrs() {
		want = append(want, a.String())
	}
	if len(got) == 0 || !slices.Equal(got, want) {
		t.Errorf("listening on every address, a transfer gives ns.dns %v, want the host's addresses %v", got, want)
	}
	m := new(dns.Msg)
	m.SetQuestion("ns.dns.gateway.mysql.local.", dns.TypeA)
	if resp, _ := serve(t, g, m); len(resp.Answer) != 1 || resp.Answer[0].(*dns.A).A.String() != "127.0.0.1" {
		t.Errorf("ns.dns A without ns: %v, want the address the query arrived on", resp.Answer)
	}
	g = newTestPlugin(t, "mysqlgw {\n ns 192.0.2.53\n}")
	if resp, _ := serve(t, g, m); len(resp.Answer) != 1 || resp.Answer[0].(*dns.A).A.String() != "192.0.2.53" {
		t.Errorf("ns.dns A with ns 192.0.2.53: %v", resp.Answer)
	}
}

// TestSOATimers: the defaults suit secondaries; soa sets them, checked as
// RFC 1912 suggests.
func TestSOATimers(t *testing.T) {
	soaOf := func(g *MysqlGW) *dns.SOA {
		m := new(dns.Msg)
		m.SetQuestion("gateway.mysql.local.", dns.TypeSOA)
		resp, _ := serve(t, g, m)
		return resp.Answer[0].(*dns.SOA)
	}
	if s := soaOf(newTestPlugin(t, "mysqlgw")); s.Refresh != 14400 || s.Retry != 3600 || s.Expire != 1209600 || s.Minttl != 300 || s.Serial != 2019052201 {
		t.Errorf("default SOA %v", s)
	}
	if s := soaOf(newTestPlugin(t, "mysqlgw {\n ttl 60\n}")); s.Minttl != 60 {
		t.Errorf("SOA minimum %d with ttl 60, want 60", s.Minttl)
	}
	if s := soaOf(newTestPlugin(t, "mysqlgw {\n soa 43200 7200 2419200 3600\n}")); s.Refresh != 43200 || s.Retry != 7200 || s.Expire != 2419200 || s.Minttl != 3600 {
		t.Errorf("soa 43200 7200 2419200 3600: %v", s)
	}
}

func TestCompareCanonical(t *testing.T) {
	names := []string{"b.example.", "a.b.example.", "example.", "z.a.example.", "a.example.", "yljkjljk.a.example.", "*.z.example.", "zabc.a.example.", "z.example."}
	slices.SortFunc(names, compareCanonical)
	want := []string{"example.", "a.example.", "yljkjljk.a.example.", "z.a.example.", "zabc.a.example.", "b.example.", "a.b.example.", "z.example.", "*.z.example."}
	if !slices.Equal(names, want) {
		t.Errorf("canonical order %v, want %v (RFC 4034 6.1's example)", names, want)
	}
}

// blockingNotifier fails every NOTIFY, the first only once release is closed,
// and counts the NOTIFYs and how many ran at once.
type blockingNotifier struct {
	release        chan struct{}
	mu             sync.Mutex
	calls          map[string]int
	active, widest int
}

func (b *blockingNotifier) Notify(zone string) error {
	b.mu.Lock()
	b.calls[zone]++
	b.active++
	b.widest = max(b.widest, b.active)
	b.mu.Unlock()
	<-b.release
	b.mu.Lock()
	b.active--
	b.mu.Unlock()
	return errors.New("not accepted")
}

// TestNotifyQueue: while a NOTIFY hangs on a secondary that is down, a
// hundred more changes wait as one per zone, sent by the one goroutine
// after it; their failures log a few lines and count in the metric.
func TestNotifyQueue(t *testing.T) {
	log := captureLog(t)
	b := &blockingNotifier{release: make(chan struct{}), calls: map[string]int{}}
	g := &MysqlGW{xfr: b}
	failed := counterValue(notifyCount.WithLabelValues("q.test.", "failed"))
	g.notify("", []string{"q.test."})
	testutil.Until(t, 10*time.Second, "the first NOTIFY under way", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.active == 1
	})
	for range 100 {
		g.notify("", []string{"q.test.", "r.test."})
	}
	close(b.release)
	testutil.Until(t, 10*time.Second, "the queue drained", func() bool {
		g.notifies.mu.Lock()
		defer g.notifies.mu.Unlock()
		return !g.notifies.running
	})
	if b.calls["q.test."] != 2 || b.calls["r.test."] != 1 || b.widest != 1 {
		t.Errorf("NOTIFYs %v, %d at once; want q.test. twice, r.test. once, one at a time", b.calls, b.widest)
	}
	if got := counterValue(notifyCount.WithLabelValues("q.test.", "failed")) - failed; got != 2 {
		t.Errorf("failed NOTIFYs counted for q.test.: %v, want 2", got)
	}
	if n := strings.Count(log.String(), "NOTIFY for "); n != 3 {
		t.Errorf("%d NOTIFY lines, want 3 (within the limit of %d):\n%s", n, ratelimit.LogBurst, log.String())
	}
	// Ten more failures: the line limit lets out only the rest of its burst.
	for i := range 10 {
		g.notify("", []string{fmt.Sprintf("z%d.test.", i)})
	}
	testutil.Until(t, 10*time.Second, "ten more NOTIFYs", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.calls["z9.test."] == 1
	})
	if n := strings.Count(log.String(), "NOTIFY for "); n != ratelimit.LogBurst {
		t.Errorf("%d NOTIFY lines after 13 failures, want the limit's %d:\n%s", n, ratelimit.LogBurst, log.String())
	}
}

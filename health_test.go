package mysqlgw

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/mysqlgw/mysqlgw/internal/fakegw"
	"github.com/mysqlgw/mysqlgw/internal/testutil"
)

// The stand-in gateways live on these loopback addresses; the built-in
// table's public addresses are never probed by a test.
const (
	gwPrimary   = "127.0.0.11"
	gwSecondary = "127.0.0.12"
	gwTertiary  = "127.0.0.13"
)

func listenGateway(t testing.TB, addr string, port int, silent bool) *fakegw.Gateway {
	t.Helper()
	return listenGatewayWith(t, addr, port, fakegw.Options{Silent: silent})
}

func listenGatewayWith(t testing.TB, addr string, port int, opt fakegw.Options) *fakegw.Gateway {
	t.Helper()
	gw, err := fakegw.Listen(fmt.Sprintf("%s:%d", addr, port), opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Close() })
	return gw
}

// loopbackTable writes a regions file of stand-in addresses. Health checks
// probe every address of the table, so a test's table must never include
// the built-in one: a Corefile `region` line would add to it.
func loopbackTable(t *testing.T, lines ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "regions")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// startHealth starts g's background work after checking that it will only
// ever probe loopback addresses.
func startHealth(t *testing.T, g *MysqlGW) {
	t.Helper()
	g.health.mu.Lock()
	for a := range g.health.targets {
		if !a.IsLoopback() {
			g.health.mu.Unlock()
			t.Fatalf("refusing to probe %s: tests probe loopback listeners only", a)
		}
	}
	g.health.mu.Unlock()
	if err := g.start(); err != nil {
		t.Fatal(err)
	}
}

// healthPlugin is a plugin whose one region "lab" has the three stand-in
// addresses, probed every 100ms.
func healthPlugin(t *testing.T, port int, extra string) *MysqlGW {
	t.Helper()
	g := newTestPlugin(t, fmt.Sprintf(`mysqlgw {
		regions %s
		reload 0
		port %d
		healthcheck 100ms 80ms
		rise 2
		fall 2
		%s
	}`, loopbackTable(t, "lab "+gwPrimary+" "+gwSecondary+" "+gwTertiary), port, extra))
	t.Cleanup(func() { g.stop() })
	return g
}

// activeAddrs answers active.lab.Z A through g.
func activeAddrs(t *testing.T, g *MysqlGW) string {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion("active.lab.gateway.mysql.local.", dns.TypeA)
	resp, _ := serve(t, g, m)
	var addrs []string
	for _, rr := range resp.Answer {
		addrs = append(addrs, rr.(*dns.A).A.String())
	}
	return strings.Join(addrs, " ")
}

// waitActive polls until active.lab.Z answers want; the probes run on their
// own clock, so the test waits for the state rather than for a time.
func waitActive(t *testing.T, g *MysqlGW, want string) {
	t.Helper()
	if err := testutil.Poll(15*time.Second, nil, func() error {
		if got := activeAddrs(t, g); got != want {
			return fmt.Errorf("active.lab answers %q, want %q", got, want)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// gaugeValue reads gateway_up for one series, or -1 when mysqlgw has not
// published it: asking the vector for the series would create it at 0.
// testServer is the server label of a plugin newTestPlugin makes: a test
// controller's config has no transport or port. Checkers the tests make
// themselves have it too.
const testServer = "://:0"

var testServers = []string{testServer}

func gaugeValue(region, role, addr string) float64 {
	series := make(chan prometheus.Metric, 1024)
	go func() { gatewayUp.Collect(series); close(series) }()
	value := -1.0
	for m := range series {
		var d dto.Metric
		m.Write(&d)
		labels := map[string]string{}
		for _, l := range d.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["region"] == region && labels["role"] == role && labels["address"] == addr {
			value = d.GetGauge().GetValue()
		}
	}
	return value
}

func TestHealthFailoverAndFailback(t *testing.T) {
	port := testutil.GatewayPort(t, gwPrimary, gwSecondary, gwTertiary)
	primary := listenGateway(t, gwPrimary, port, false)
	listenGateway(t, gwSecondary, port, false)
	g := healthPlugin(t, port, "")
	startHealth(t, g)
	waitReady(t, g)
	waitActive(t, g, gwPrimary)
	waitUntil(t, func() bool {
		return gaugeValue("lab", "primary", gwPrimary) == 1 && gaugeValue("lab", "tertiary", gwTertiary) == 0
	})

	primary.Close()
	waitActive(t, g, gwSecondary)
	waitUntil(t, func() bool { return gaugeValue("lab", "primary", gwPrimary) == 0 })
	m := new(dns.Msg)
	m.SetQuestion("_mysql._tcp.active.lab.gateway.mysql.local.", dns.TypeSRV)
	resp, _ := serve(t, g, m)
	if len(resp.Answer) != 1 || resp.Answer[0].(*dns.SRV).Target != "secondary.lab.gateway.mysql.local." || resp.Answer[0].Header().Ttl != 5 {
		t.Errorf("active SRV after failover: %v", resp.Answer)
	}
	m.SetQuestion("active.lab.gateway.mysql.local.", dns.TypeTXT)
	if resp, _ := serve(t, g, m); len(resp.Answer) != 1 || resp.Answer[0].(*dns.TXT).Txt[0] != "secondary="+gwSecondary {
		t.Errorf("active TXT after failover: %v", resp.Answer)
	}
	// The region's own names never depend on health.
	m.SetQuestion("lab.gateway.mysql.local.", dns.TypeA)
	if resp, _ := serve(t, g, m); len(resp.Answer) != 3 {
		t.Errorf("lab A after failover: %d addresses, want all 3", len(resp.Answer))
	}

	listenGateway(t, gwPrimary, port, false)
	waitActive(t, g, gwPrimary)
}

func waitReady(t *testing.T, g *MysqlGW) {
	t.Helper()
	testutil.Until(t, 15*time.Second, "readiness after the first probe round", g.Ready)
}

func TestHealthNoneHealthy(t *testing.T) {
	port := testutil.GatewayPort(t, gwPrimary, gwSecondary, gwTertiary) // nothing listens: every connect is refused
	open := healthPlugin(t, port, "failover open")
	startHealth(t, open)
	waitReady(t, open)
	if got := activeAddrs(t, open); got != gwPrimary+" "+gwSecondary+" "+gwTertiary {
		t.Errorf("none healthy, failover open: active %q, want every address", got)
	}

	closed := healthPlugin(t, port, "failover closed")
	startHealth(t, closed)
	waitReady(t, closed)
	for _, q := range []struct {
		name  string
		qtype uint16
	}{{"active.lab.gateway.mysql.local.", dns.TypeA}, {"_mysql._tcp.active.lab.gateway.mysql.local.", dns.TypeSRV}} {
		m := new(dns.Msg)
		m.SetQuestion(q.name, q.qtype)
		resp, _ := serve(t, closed, m)
		if resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 0 || len(resp.Ns) != 1 {
			t.Errorf("none healthy, failover closed: %s answers %v, want NODATA", q.name, resp)
		}
	}
}

// TestHealthSilentGateway checks a probe that gets no answer is bounded by
// the timeout and fails: a gateway that accepts but never greets is down,
// unless only the connect is checked.
func TestHealthSilentGateway(t *testing.T) {
	port := testutil.GatewayPort(t, gwPrimary, gwSecondary, gwTertiary)
	listenGateway(t, gwPrimary, port, true)
	listenGateway(t, gwSecondary, port, false)
	g := healthPlugin(t, port, "")
	startHealth(t, g)
	waitReady(t, g)
	waitActive(t, g, gwSecondary)

	connect := healthPlugin(t, port, "probe connect")
	startHealth(t, connect)
	waitReady(t, connect)
	waitActive(t, connect, gwPrimary)
}

// TestHealthNotReadyBeforeFirstRound: until the first probes are back,
// active answers the primary and Ready is false.
func TestHealthNotReadyBeforeFirstRound(t *testing.T) {
	port := testutil.GatewayPort(t, gwPrimary, gwSecondary, gwTertiary)
	listenGateway(t, gwPrimary, port, true) // holds the first probe for its whole timeout
	g := newTestPlugin(t, fmt.Sprintf("mysqlgw {\n regions %s\n port %d\n healthcheck 20s 10s\n}", loopbackTable(t, "lab "+gwPrimary+" "+gwSecondary), port))
	if g.Ready() {
		t.Error("ready before health checking started")
	}
	startHealth(t, g)
	defer g.stop()
	if g.Ready() {
		t.Error("ready before the first probe round finished")
	}
	if got := activeAddrs(t, g); got != gwPrimary {
		t.Errorf("before the first round: active %q, want the primary", got)
	}
}

// TestHealthHysteresis drives probes by hand: after the first result, a
// state changes only after rise passes or fall failures in a row.
func TestHealthHysteresis(t *testing.T) {
	port := testutil.GatewayPort(t, gwPrimary, gwSecondary, gwTertiary)
	c := newHealthChecker(healthConfig{interval: time.Hour, probe: prober{mode: probeLogin, user: defaultProbeUser, port: uint16(port), timeout: time.Second}, rise: 2, fall: 3}, testServers)
	h := c.stateOf(netip.MustParseAddr(gwPrimary))
	ctx := context.Background()

	c.probeOnce(ctx, h) // nothing listens: the first result counts at once
	if h.up() {
		t.Fatal("first failed probe did not mark the address down")
	}
	gw := listenGateway(t, gwPrimary, port, false)
	c.probeOnce(ctx, h)
	if h.up() {
		t.Fatal("up after one pass with rise 2")
	}
	c.probeOnce(ctx, h)
	if !h.up() {
		t.Fatal("still down after two passes with rise 2")
	}
	gw.Close()
	for i := 1; i <= 2; i++ {
		c.probeOnce(ctx, h)
		if !h.up() {
			t.Fatalf("down after %d failure(s) with fall 3", i)
		}
	}
	c.probeOnce(ctx, h)
	if h.up() {
		t.Fatal("still up after three failures with fall 3")
	}
}

// TestHealthReloadWhileProbing swaps the table under running probes: the
// old address stops being probed and the new one is.
func TestHealthReloadWhileProbing(t *testing.T) {
	port := testutil.GatewayPort(t, gwPrimary, gwSecondary, gwTertiary)
	listenGateway(t, gwPrimary, port, false)
	listenGateway(t, gwSecondary, port, false)
	base := runtime.NumGoroutine()
	g := newTestPlugin(t, fmt.Sprintf("mysqlgw {\n regions %s\n port %d\n healthcheck 100ms 80ms\n}", loopbackTable(t, "lab "+gwPrimary), port))
	startHealth(t, g)
	waitReady(t, g)
	waitActive(t, g, gwPrimary)

	table, err := gwtable.Parse([]byte("lab "+gwSecondary+"\n"), "regions")
	if err != nil {
		t.Fatal(err)
	}
	if err := g.swap(table); err != nil {
		t.Fatal(err)
	}
	waitActive(t, g, gwSecondary)
	old := probesOf(t, gwPrimary)
	fresh := probesOf(t, gwSecondary)
	g.health.mu.Lock()
	_, stillTracked := g.health.targets[netip.MustParseAddr(gwPrimary)]
	g.health.mu.Unlock()
	if stillTracked {
		t.Error("the address the new table dropped is still tracked")
	}
	testutil.Until(t, 10*time.Second, "three probes of the new address", func() bool { return probesOf(t, gwSecondary) >= fresh+3 })
	if probesOf(t, gwPrimary) != old {
		t.Error("the dropped address is still being probed")
	}

	g.stop()
	waitGoroutines(t, base)
}

// probesOf is the number of probes of addr that finished: the sum of
// health_probe_results_total over its results and codes.
func probesOf(t *testing.T, addr string) float64 {
	t.Helper()
	series := make(chan prometheus.Metric)
	go func() {
		probeResultCount.Collect(series)
		close(series)
	}()
	sum := 0.0
	for s := range series {
		var m dto.Metric
		if err := s.Write(&m); err != nil {
			t.Error(err)
			continue
		}
		for _, l := range m.GetLabel() {
			if l.GetName() == "address" && l.GetValue() == addr {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

// waitGoroutines waits for the goroutine count to fall back to base: every
// prober has ended.
func waitGoroutines(t *testing.T, base int) {
	t.Helper()
	if err := testutil.Poll(10*time.Second, nil, func() error {
		if n := runtime.NumGoroutine(); n > base {
			return fmt.Errorf("%d goroutines after stop, %d before start", n, base)
		}
		return nil
	}); err != nil {
		buf := make([]byte, 1<<16)
		t.Errorf("%v:\n%s", err, buf[:runtime.Stack(buf, true)])
	}
}

// TestHealthErrorGreetingIsDown: a server that greets the prober with an
// error (1129, its address is blocked) refuses everyone behind that address,
// so it counts as down until the block is lifted.
func TestHealthErrorGreetingIsDown(t *testing.T) {
	port := testutil.GatewayPort(t, gwPrimary, gwSecondary, gwTertiary)
	primary := listenGatewayWith(t, gwPrimary, port, fakegw.Options{MaxConnectErrors: 1})
	listenGateway(t, gwSecondary, port, false)
	// One interrupted handshake from this host blocks it at the primary.
	conn, err := net.Dial("tcp", primary.Addr())
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	waitUntil(t, func() bool { return primary.HandshakeErrors("127.0.0.1") == 1 })
	before := counterValue(probeResultCount.WithLabelValues(testServer, gwPrimary, resultErrorGreeting, "1129"))

	g := healthPlugin(t, port, "")
	startHealth(t, g)
	waitReady(t, g)
	waitActive(t, g, gwSecondary)
	if counterValue(probeResultCount.WithLabelValues(testServer, gwPrimary, resultErrorGreeting, "1129")) <= before {
		t.Error("health_probe_results_total has no error_greeting 1129 for the blocked primary")
	}
	primary.FlushHosts()
	waitActive(t, g, gwPrimary)
	if n := primary.HandshakeErrors("127.0.0.1"); n != 0 {
		t.Errorf("%d handshake errors after the probes came back, want 0", n)
	}
}

package mysqlgw

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
	"github.com/mysqlgw/mysqlgw/internal/ratelimit"
	"github.com/mysqlgw/mysqlgw/internal/testutil"
)

// linesWith returns the lines logged so far that contain s.
func linesWith(l *faultLog, s string) []string {
	var out []string
	for _, line := range strings.SplitAfter(l.String(), "\n") {
		if strings.Contains(line, s) {
			out = append(out, line)
		}
	}
	return out
}

// errorGreeting is an ERR packet in place of a greeting, code 1129, with a
// message of a gateway's choosing: a forged log line, terminal escapes and
// 64 KB in all, the most one packet the probe reads may hold.
func errorGreeting(port int) []byte {
	msg := fmt.Sprintf("Host blocked\n[INFO] plugin/mysqlgw: Gateway %s port %d is up\x1b[2J\x1b]0;owned\x07", gwPrimary, port)
	msg += strings.Repeat("A", maxPacket-3-len(msg))
	return packet(0, append([]byte{0xff, 0x69, 0x04}, msg...))
}

// TestHealthLogQuotesGateway: what a gateway says in an error greeting is
// logged quoted, its control bytes escaped and cut: one line per change,
// of bounded length, that no message can forge.
func TestHealthLogQuotesGateway(t *testing.T) {
	logged := captureLog(t)
	port := testutil.GatewayPort(t, gwPrimary, gwSecondary, gwTertiary)
	scriptedServer(t, net.JoinHostPort(gwPrimary, fmt.Sprint(port)), func(c net.Conn) { c.Write(errorGreeting(port)) })
	c := newHealthChecker(healthConfig{interval: time.Hour, probe: testProber(port, probeLogin), rise: 1, fall: 1}, testServers)
	c.probeOnce(context.Background(), c.stateOf(netip.MustParseAddr(gwPrimary)))

	lines := linesWith(logged, gwPrimary)
	want := fmt.Sprintf(`[WARNING] plugin/mysqlgw: Gateway %s port %d is down: error greeting 1129: "Host blocked\n[INFO] plugin/mysqlgw: Gateway %s port %d is up\x1b[2J\x1b]0;owned\aAAA`, gwPrimary, port, gwPrimary, port)
	if len(lines) != 1 || !strings.Contains(lines[0], want) || !strings.HasSuffix(lines[0], `"… (65533 bytes)`+"\n") ||
		len(lines[0]) > 400 || strings.ContainsAny(lines[0], "\x1b\x07") {
		t.Errorf("logged %d lines (%d bytes):\n%.1000q\nwant one line with\n%s…\"… (65533 bytes)", len(lines), len(strings.Join(lines, "")), strings.Join(lines, ""), want)
	}
}

// TestHealthLogFlapping: a gateway that changes state at every probe logs
// five lines, then one a minute telling how many changes it did not log;
// once it settles, one line tells the state it settled in. The gauge
// follows every change whatever the log says.
func TestHealthLogFlapping(t *testing.T) {
	logged := captureLog(t)
	port := testutil.GatewayPort(t, gwPrimary, gwSecondary, gwTertiary)
	good := greetingFor(t)
	bad := errorGreeting(port)
	const (
		flapping = iota
		stayUp
	)
	var mode, served atomic.Int32
	scriptedServer(t, net.JoinHostPort(gwPrimary, fmt.Sprint(port)), func(c net.Conn) {
		if mode.Load() == stayUp || served.Add(1)%2 == 1 {
			c.Write(good)
		} else {
			c.Write(bad)
		}
	})
	addr := netip.MustParseAddr(gwPrimary)
	c := newHealthChecker(healthConfig{interval: time.Hour, probe: testProber(port, probeGreeting), rise: 1, fall: 1}, testServers)
	h := c.stateOf(addr)
	c.sync([]gwtable.Region{{Name: "flap", Addrs: []netip.Addr{addr}}}, map[netip.Addr]*addrHealth{addr: h})
	t.Cleanup(func() { c.sync(nil, nil) })
	now := time.Now()
	probe := func() {
		t.Helper()
		c.record(h, c.probe.check(context.Background(), h.addr), now)
		want := 0.0
		if h.up() {
			want = 1
		}
		if got := gaugeValue("flap", "primary", gwPrimary); got != want {
			t.Fatalf("gateway_up %v, want %v: the gauge must follow every change", got, want)
		}
	}

	const changes = 200
	for range changes {
		probe()
	}
	lines := linesWith(logged, gwPrimary)
	if len(lines) != ratelimit.LogBurst || len(strings.Join(lines, "")) > ratelimit.LogBurst*400 {
		t.Fatalf("%d changes logged %d lines, %d bytes; want %d lines of under 400 bytes:\n%s", changes, len(lines), len(strings.Join(lines, "")), ratelimit.LogBurst, strings.Join(lines, ""))
	}

	// A minute later, the next change is logged with the count of the others.
	now = now.Add(ratelimit.LogEvery)
	probe() // up: the 201st change
	lines = linesWith(logged, gwPrimary)
	if want := fmt.Sprintf("is up (%d changes not logged)\n", changes-ratelimit.LogBurst); len(lines) != ratelimit.LogBurst+1 || !strings.HasSuffix(lines[ratelimit.LogBurst], want) {
		t.Fatalf("after a minute: lines\n%s\nwant the last to end %q", strings.Join(lines, ""), want)
	}
	probe() // down, not logged
	probe() // up, not logged
	mode.Store(stayUp)
	probe() // no change: the limit still holds
	if n := len(linesWith(logged, gwPrimary)); n != ratelimit.LogBurst+1 {
		t.Fatalf("%d lines before the next minute, want %d", n, ratelimit.LogBurst+1)
	}
	// Once the limit lets a line out, the next probe tells the state, even
	// with no change of its own.
	now = now.Add(ratelimit.LogEvery)
	probe()
	lines = linesWith(logged, gwPrimary)
	if want := "is up (2 changes not logged)\n"; len(lines) != ratelimit.LogBurst+2 || !strings.HasSuffix(lines[ratelimit.LogBurst+1], want) {
		t.Fatalf("after settling: lines\n%s\nwant the last to end %q", strings.Join(lines, ""), want)
	}
	probe()
	if n := len(linesWith(logged, gwPrimary)); n != ratelimit.LogBurst+2 {
		t.Errorf("%d lines once settled and told, want %d", n, ratelimit.LogBurst+2)
	}
}

// TestHealthLogFlappingLive runs the checker on its own clock against a
// gateway that flaps at every probe, each down with a 64 KB message: after
// 30 changes the log holds the burst's five lines, a few hundred bytes each.
func TestHealthLogFlappingLive(t *testing.T) {
	logged := captureLog(t)
	port := testutil.GatewayPort(t, gwPrimary, gwSecondary, gwTertiary)
	good, bad := greetingFor(t), errorGreeting(port)
	var served atomic.Int32
	scriptedServer(t, net.JoinHostPort(gwPrimary, fmt.Sprint(port)), func(c net.Conn) {
		if served.Add(1)%2 == 1 {
			c.Write(good)
		} else {
			c.Write(bad)
		}
	})
	g := newTestPlugin(t, fmt.Sprintf("mysqlgw {\n regions %s\n port %d\n healthcheck 100ms 80ms\n probe greeting\n rise 1\n fall 1\n}",
		loopbackTable(t, "lab "+gwPrimary), port))
	t.Cleanup(func() { g.stop() })
	startHealth(t, g)
	waitUntil(t, func() bool { return served.Load() >= 20 })
	g.stop()
	lines := linesWith(logged, gwPrimary)
	if n := len(strings.Join(lines, "")); len(lines) != ratelimit.LogBurst || n > ratelimit.LogBurst*400 {
		t.Errorf("%d probes logged %d lines, %d bytes; want %d lines of under 400 bytes:\n%.3000s", served.Load(), len(lines), n, ratelimit.LogBurst, strings.Join(lines, ""))
	}
}

package test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"

	"github.com/miekg/dns"

	"github.com/mysqlgw/mysqlgw/internal/testutil"
)

// TestCorefileReloadLeavesNoProbers restarts an in-process server with
// health checking several times, as the reload plugin or SIGUSR1 does: each
// new instance probes, each old one stops, and the goroutine count comes back
// to where it was.
func TestCorefileReloadLeavesNoProbers(t *testing.T) {
	const primary, secondary = "127.0.0.31", "127.0.0.32"
	port := testutil.GatewayPort(t, primary, secondary)
	standIn(t, primary, port)
	standIn(t, secondary, port)
	// Only a regions file keeps the built-in table's public addresses out of
	// the probes; a Corefile region line would add to them.
	regions := filepath.Join(t.TempDir(), "regions")
	if err := os.WriteFile(regions, []byte("lab "+primary+" "+secondary+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	corefile := func(ttl int) caddy.Input {
		return caddy.CaddyfileInput{ServerTypeName: "dns", Filepath: "Corefile", Contents: []byte(fmt.Sprintf(`gateway.mysql.local:0 {
			bind 127.0.0.1
			mysqlgw {
				regions %s
				reload 0
				port %d
				healthcheck 100ms 80ms
				ttl %d
			}
		}`, regions, port, ttl))}
	}
	startMu.Lock()
	caddy.Quiet, dnsserver.Quiet = true, true
	base := runtime.NumGoroutine()
	instance, err := caddy.Start(corefile(100))
	startMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	ttlOf := func(i *caddy.Instance) uint32 {
		m := new(dns.Msg)
		m.SetQuestion("active.lab.gateway.mysql.local.", dns.TypeTXT)
		r, err := dns.Exchange(m, i.Servers()[0].LocalAddr().String())
		if err != nil || len(r.Answer) == 0 {
			t.Fatalf("active.lab: %v %v", r, err)
		}
		m.SetQuestion("lab.gateway.mysql.local.", dns.TypeA)
		// Over TCP as well: miekg/dns's Shutdown of a server that has not
		// started serving yet returns an error and leaves its listener
		// open, so that Stop would never end. A TCP answer shows the TCP
		// server serving (under load, a UDP one alone did not).
		r, _, err = (&dns.Client{Net: "tcp"}).Exchange(m, i.Servers()[0].Addr().String())
		if err != nil || len(r.Answer) == 0 {
			t.Fatalf("lab over TCP: %v %v", r, err)
		}
		return r.Answer[0].Header().Ttl
	}
	ttlOf(instance)
	for i := 1; i <= 5; i++ {
		instance, err = instance.Restart(corefile(100 + i))
		if err != nil {
			t.Fatal(err)
		}
		if got := ttlOf(instance); got != uint32(100+i) {
			t.Fatalf("after reload %d: TTL %d, want the new Corefile's %d", i, got, 100+i)
		}
	}
	instance.ShutdownCallbacks()
	instance.Stop()
	instance.Wait()

	// A little slack for the runtime's and the test client's own goroutines.
	err = testutil.Poll(10*time.Second, nil, func() error {
		if n := runtime.NumGoroutine(); n > base+2 {
			return fmt.Errorf("%d goroutines after five reloads and a stop, %d before", n, base)
		}
		return nil
	})
	if err != nil {
		buf := make([]byte, 1<<20)
		t.Fatalf("%v:\n%s", err, buf[:runtime.Stack(buf, true)])
	}
}

// TestReloadReleasesDroppedState: a Corefile reload that drops
// transfer_health and a large table leaves nothing of them behind. The
// zone's versions belong to the server block, and the new instance, taking
// the block over without transfer_health, lets them go: after forced
// collections the live heap is within 6 MB or 10% (the larger) of a server
// that never had them.
func TestReloadReleasesDroppedState(t *testing.T) {
	const primary, secondary = "127.0.0.33", "127.0.0.34"
	port := testutil.GatewayPort(t, primary, secondary)
	standIn(t, primary, port)
	standIn(t, secondary, port)
	dir := t.TempDir()
	small, big := filepath.Join(dir, "small"), filepath.Join(dir, "big")
	lab := fmt.Sprintf("lab %s %s\n", primary, secondary)
	var sb strings.Builder
	sb.WriteString(lab)
	for i := range 500 { // a /24 each: about 500,000 records
		fmt.Fprintf(&sb, "r%d subnets 198.%d.%d.0/24\n", i, 18+i/256, i%256)
	}
	for path, content := range map[string]string{small: lab, big: sb.String()} {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A port of its own, not 0: the start-up NOTIFY waits for the server to
	// listen on it, holding its instance meanwhile.
	dnsPort := freePort(t)
	corefile := func(regions, extra string) caddy.Input {
		return caddy.CaddyfileInput{ServerTypeName: "dns", Filepath: "Corefile", Contents: []byte(fmt.Sprintf(`gateway.mysql.local:%d {
			bind 127.0.0.1
			transfer {
				to *
			}
			mysqlgw {
				regions %s
				reload 0
				port %d
				healthcheck 100ms 80ms
				%s
			}
		}`, dnsPort, regions, port, extra))}
	}
	start := func(in caddy.Input) *caddy.Instance {
		t.Helper()
		startMu.Lock()
		defer startMu.Unlock()
		caddy.Quiet, dnsserver.Quiet = true, true
		i, err := caddy.Start(in)
		if err != nil {
			t.Fatal(err)
		}
		return i
	}
	stop := func(i *caddy.Instance) {
		i.ShutdownCallbacks()
		i.Stop()
		i.Wait()
	}
	// serving waits until i answers lab over UDP and TCP (see
	// startInProcess), and transfers the zone, so that the versions list it.
	serving := func(i *caddy.Instance) {
		t.Helper()
		srv := i.Servers()[0]
		for _, a := range []struct{ net, addr string }{{"udp", srv.LocalAddr().String()}, {"tcp", srv.Addr().String()}} {
			c := &dns.Client{Net: a.net, Timeout: time.Second}
			m := new(dns.Msg)
			m.SetQuestion("active.lab.gateway.mysql.local.", dns.TypeA)
			if err := testutil.Poll(30*time.Second, nil, func() error { _, _, err := c.Exchange(m, a.addr); return err }); err != nil {
				t.Fatal(err)
			}
		}
		transferWith(t, srv.Addr().String(), xfrZone, 0, "")
	}
	heap := func() float64 {
		var m runtime.MemStats
		for range 3 {
			runtime.GC()
		}
		runtime.ReadMemStats(&m)
		return float64(m.HeapAlloc) / (1 << 20)
	}

	never := start(corefile(small, ""))
	serving(never)
	base := heap()
	stop(never)

	instance := start(corefile(big, "transfer_health"))
	serving(instance)
	withBig := heap()
	instance, err := instance.Restart(corefile(small, ""))
	if err != nil {
		t.Fatal(err)
	}
	defer stop(instance)
	serving(instance)
	after := heap()
	t.Logf("live heap: %.1f MB for a server that never had transfer_health, %.1f MB with it and the large table, %.1f MB after the reload that drops both", base, withBig, after)
	if withBig-base < 30 {
		t.Fatalf("the large table took %.1f MB: too small to show a leak", withBig-base)
	}
	if slack := max(6, base/10); after-base > slack {
		t.Errorf("after the reload the heap is %.1f MB above a server that never had the table (allowed %.1f MB)", after-base, slack)
	}
}

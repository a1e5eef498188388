package test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"

	"github.com/miekg/dns"

	"github.com/mysqlgw/mysqlgw/internal/fakegw"
	"github.com/mysqlgw/mysqlgw/internal/testutil"
)

// TestCorefileReloadLeavesNoProbers restarts an in-process server with
// health checking several times, as the reload plugin or SIGUSR1 does: each
// new instance probes, each old one stops, and the goroutine count comes back
// to where it was.
func TestCorefileReloadLeavesNoProbers(t *testing.T) {
	const primary, secondary = "127.0.0.31", "127.0.0.32"
	port := testutil.GatewayPort(t, primary, secondary)
	for _, a := range []string{primary, secondary} {
		gw, err := fakegw.Listen(fmt.Sprintf("%s:%d", a, port), fakegw.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer gw.Close()
	}
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

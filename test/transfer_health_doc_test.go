package test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mysqlgw/mysqlgw/internal/testutil"
)

// xfrHealthCorefile is docs/zone-transfer.md's hidden primary: the
// walk-through's Corefile with a refresh for a lost NOTIFY and health checks
// whose answers travel in the transfers (TestReadmeZoneTransfer checks the
// page shows it word for word).
var xfrHealthCorefile = strings.Replace(xfrCorefile, "        soa 14400 3600 1209600 300\n",
	"        soa 300 60 1209600 300\n        healthcheck 5s\n        transfer_health\n", 1)

// xfrHealthCorefileFor is xfrHealthCorefile for the harness: bound to
// 127.0.0.1 on the server's port, NOTIFY to the given ports, the regions
// file beside it, health lines in place of its healthcheck line and server
// lines after errors.
func xfrHealthCorefileFor(t *testing.T, notify1, notify2 int, health, server string) string {
	t.Helper()
	c := serverKey.ReplaceAllString(xfrHealthCorefile, "$1:{PORT} {\n    bind 127.0.0.1")
	c = strings.NewReplacer(
		"127.0.0.1:5301", fmt.Sprintf("127.0.0.1:%d", notify1),
		"127.0.0.1:5302", fmt.Sprintf("127.0.0.1:%d", notify2),
		"/etc/coredns/regions", "regions",
		"        healthcheck 5s\n", health,
		"    errors\n", "    errors\n"+server,
	).Replace(c)
	if !strings.Contains(c, health) || !strings.Contains(c, "regions regions") {
		t.Fatalf("xfrHealthCorefile no longer has the lines this test rewrites:\n%s", xfrHealthCorefile)
	}
	return c
}

// TestTransferHealthDoc runs the page's hidden primary as shown, with the
// walk-through's BIND and Knot secondaries, over stand-in gateways on
// loopback (the test puts a port line before healthcheck, for them): when
// the primary gateway stops answering, both secondaries answer
// active.eastus2 with the secondary gateway, and after it is back, with the
// primary again.
func TestTransferHealthDoc(t *testing.T) {
	t.Parallel()
	if !inOwnNamespace(t, "ip", "named", "knotd") {
		return
	}
	run(t, "ip", "link", "set", "lo", "up")
	const primary, secondary = "127.0.0.61", "127.0.0.62"
	gwPort, bindPort, knotPort, mysqlPort := freePort(t), freePort(t), freePort(t), freePort(t)
	primaryGW := standIn(t, primary, mysqlPort)
	standIn(t, secondary, mysqlPort)

	corefile := xfrHealthCorefileFor(t, bindPort, knotPort, fmt.Sprintf("        port %d\n        healthcheck 5s\n", mysqlPort), "")
	const serial = 2026120401
	regions := fmt.Sprintf("$SERIAL %d\neastus2 %s %s\n", serial, primary, secondary)
	gw := startServerOn(t, gwPort, map[string]string{"Corefile": corefile, "regions": regions})
	// The first round of probes finds both up: the serial stays the file's.
	bind := startBindSecondary(t, bindPort, gwPort, serial)
	knot := startKnotSecondary(t, knotPort, gwPort, serial)

	active := func(addr string) string {
		m := new(dns.Msg)
		m.SetQuestion("active.eastus2."+xfrZone, dns.TypeA)
		c := &dns.Client{Timeout: time.Second}
		r, _, err := c.Exchange(m, addr)
		if err != nil {
			return err.Error()
		}
		var got []string
		for _, rr := range r.Answer {
			got = append(got, rr.(*dns.A).A.String())
		}
		return strings.Join(got, " ")
	}
	follow := func(want string, wantSerial uint32) {
		t.Helper()
		for _, s := range []struct {
			name, addr string
			proc       *testutil.Process
		}{{"mysqlgw", gw.addr, gw.proc}, {"BIND", fmt.Sprintf("127.0.0.1:%d", bindPort), bind}, {"Knot", fmt.Sprintf("127.0.0.1:%d", knotPort), knot}} {
			// healthcheck 5s, fall 3: mysqlgw sees a change within
			// 20 s; the secondaries follow by NOTIFY and IXFR.
			err := testutil.Poll(40*time.Second, s.proc.Exited, func() error {
				if got := active(s.addr); got != want {
					return fmt.Errorf("active.eastus2 answers %q, want %q", got, want)
				}
				if got, err := soaSerial(s.addr, xfrZone); err != nil || got != wantSerial {
					return fmt.Errorf("serial %d (%v), want %d", got, err, wantSerial)
				}
				return nil
			})
			if err != nil {
				t.Fatalf("%s: %v\n%s", s.name, err, s.proc.Out.String())
			}
		}
	}
	follow(primary, serial)
	primaryGW.Close()
	follow(secondary, serial+1)
	standIn(t, primary, mysqlPort)
	follow(primary, serial+2)
	if !strings.Contains(knot.Out.String(), "IXFR, incoming") {
		t.Errorf("Knot took no IXFR:\n%s", knot.Out.String())
	}
}

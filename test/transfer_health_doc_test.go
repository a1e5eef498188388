package test

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mysqlgw/mysqlgw/internal/fakegw"
	"github.com/mysqlgw/mysqlgw/internal/gwtable"
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
	// The first round of probes finds both up: the serial stays the one
	// mysqlgw started with.
	s0, err := soaSerial(gw.addr, xfrZone)
	if err != nil {
		t.Fatal(err)
	}
	bind := startBindSecondary(t, bindPort, gwPort, s0)
	knot := startKnotSecondary(t, knotPort, gwPort, s0)

	active := func(addr string) string { return activeAddrs(addr, "active.eastus2."+xfrZone) }
	// follow waits until mysqlgw answers want at a serial after prev (or at
	// prev, given 0) and both secondaries answer the same at that serial,
	// and returns it.
	follow := func(want string, prev uint32) uint32 {
		t.Helper()
		var serial uint32
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
				got, err := soaSerial(s.addr, xfrZone)
				switch {
				case err != nil:
					return err
				case serial == 0 && (got == prev || gwtable.SerialAfter(got, prev)):
					serial = got // mysqlgw's, the first asked
				case got != serial:
					return fmt.Errorf("serial %d, want mysqlgw's %d", got, serial)
				}
				return nil
			})
			if err != nil {
				t.Fatalf("%s: %v\n%s", s.name, err, s.proc.Out.String())
			}
		}
		return serial
	}
	s1 := follow(primary, s0)
	primaryGW.Close()
	s2 := follow(secondary, s1+1)
	standIn(t, primary, mysqlPort)
	follow(primary, s2+1)
	if !strings.Contains(knot.Out.String(), "IXFR, incoming") {
		t.Errorf("Knot took no IXFR:\n%s", knot.Out.String())
	}
}

// TestTransferHealthRestart: mysqlgw keeps no serial on disk, yet a
// restarted one starts above the serial it served before (the seconds since
// the epoch are in it), so a Knot secondary that took a failover before the
// restart takes the failback after it.
func TestTransferHealthRestart(t *testing.T) {
	t.Parallel()
	if !inOwnNamespace(t, "ip", "named", "knotd") {
		return
	}
	run(t, "ip", "link", "set", "lo", "up")
	const primary, secondary = "127.0.0.91", "127.0.0.92"
	const serial = 2026120401
	gwPort, knotPort, mysqlPort := freePort(t), freePort(t), freePort(t)
	primaryGW := standIn(t, primary, mysqlPort)
	standIn(t, secondary, mysqlPort)
	files := map[string]string{
		"Corefile": xfrHealthCorefileFor(t, freePort(t), knotPort, fmt.Sprintf("        port %d\n        healthcheck 100ms\n        rise 1\n        fall 1\n", mysqlPort), ""),
		"regions":  fmt.Sprintf("$SERIAL %d\neastus2 %s %s\n", serial, primary, secondary),
	}
	gw := startServerOn(t, gwPort, files)
	s0, err := soaSerial(gw.addr, xfrZone)
	if err != nil {
		t.Fatal(err)
	}
	knotAddr := fmt.Sprintf("127.0.0.1:%d", knotPort)
	knot := startKnotSecondary(t, knotPort, gwPort, s0)
	waitKnot := func(want string) { waitKnotActive(t, knot, knotAddr, want) }

	primaryGW.Close()
	waitKnot(secondary)
	s1, err := soaSerial(knotAddr, xfrZone)
	if err != nil {
		t.Fatal(err)
	}
	// The restart: the serial the new process starts at is the clock's,
	// so wait until the clock has passed s1 (a change runs at most a
	// second or two ahead of it here).
	gw.proc.Cmd.Process.Signal(syscall.SIGTERM)
	<-gw.proc.Exited
	testutil.Until(t, 10*time.Second, "the clock past the serial served", func() bool { return serial+secondsSinceEpoch() > s1 })
	gw = startServerOn(t, gwPort, files)
	if s, err := soaSerial(gw.addr, xfrZone); err != nil || !gwtable.SerialAfter(s, s1) {
		t.Fatalf("the restarted mysqlgw serves serial %d (%v), not after the %d it served before", s, err, s1)
	}
	standIn(t, primary, mysqlPort)
	waitKnot(primary)
}

// TestTransferHealthFlappingRestart: a minute of a gateway flapping under
// probes every 100 ms makes at most about one serial a second and leaves
// the serial below the clock's, so mysqlgw restarted at once (no wait for
// the clock) starts above the serial it served last, and a Knot secondary
// follows the next failover.
func TestTransferHealthFlappingRestart(t *testing.T) {
	t.Parallel()
	if !inOwnNamespace(t, "ip", "knotd") {
		return
	}
	run(t, "ip", "link", "set", "lo", "up")
	const primary, secondary = "127.0.0.93", "127.0.0.94"
	gwPort, knotPort, mysqlPort := freePort(t), freePort(t), freePort(t)
	standIn(t, secondary, mysqlPort)
	files := map[string]string{
		"Corefile": xfrHealthCorefileFor(t, freePort(t), knotPort, fmt.Sprintf("        port %d\n        healthcheck 100ms\n        rise 1\n        fall 1\n", mysqlPort), ""),
		"regions":  fmt.Sprintf("$SERIAL 2026120701\neastus2 %s %s\n", primary, secondary),
	}
	gw := startServerOn(t, gwPort, files)
	s0, err := soaSerial(gw.addr, xfrZone)
	if err != nil {
		t.Fatal(err)
	}
	knotAddr := fmt.Sprintf("127.0.0.1:%d", knotPort)
	knot := startKnotSecondary(t, knotPort, gwPort, s0)

	// The primary's stand-in comes and goes every 150 ms for a minute.
	flapping := 60 * time.Second
	if testing.Short() {
		flapping = 10 * time.Second
	}
	began := time.Now()
	var primaryGW *fakegw.Gateway
	for time.Since(began) < flapping {
		primaryGW = standIn(t, primary, mysqlPort)
		time.Sleep(150 * time.Millisecond)
		primaryGW.Close()
		time.Sleep(150 * time.Millisecond)
	}
	last, err := soaSerial(gw.addr, xfrZone)
	if err != nil {
		t.Fatal(err)
	}
	steps := last - s0
	t.Logf("%s of flapping: serial %d to %d, %d serials (%.1f a second)", flapping, s0, last, steps, float64(steps)/flapping.Seconds())
	if float64(steps) > flapping.Seconds()+3 {
		t.Errorf("%d serials in %s: more than one a second", steps, flapping)
	}
	// Every change still raises the serial, at most one a second: a
	// flapping that raised none would pass the bounds below.
	if float64(steps) < flapping.Seconds()/2 {
		t.Errorf("%d serials in %s of flapping: the changes did not raise the serial", steps, flapping)
	}
	if clock := uint32(2026120701) + secondsSinceEpoch(); gwtable.SerialAfter(last, clock) {
		t.Errorf("after the flapping the serial %d is ahead of the clock's %d", last, clock)
	}

	// Restarted at once: above the serial served last.
	gw.proc.Cmd.Process.Signal(syscall.SIGTERM)
	<-gw.proc.Exited
	final, err := soaSerial(knotAddr, xfrZone)
	if err != nil {
		t.Fatal(err)
	}
	gw = startServerOn(t, gwPort, files)
	restarted, err := soaSerial(gw.addr, xfrZone)
	if err != nil || !gwtable.SerialAfter(restarted, final) || !gwtable.SerialAfter(restarted, last) {
		t.Fatalf("restarted at serial %d (%v); it served %d last, Knot holds %d", restarted, err, last, final)
	}
	t.Logf("restarted at serial %d, above the %d served last", restarted, last)

	// The next failover reaches Knot: the primary stays down now.
	waitKnotActive(t, knot, knotAddr, secondary)
}

// waitKnotActive waits until the Knot secondary at addr answers
// active.eastus2 with want.
func waitKnotActive(t *testing.T, knot *testutil.Process, addr, want string) {
	t.Helper()
	err := testutil.Poll(30*time.Second, knot.Exited, func() error {
		if got := activeAddrs(addr, "active.eastus2."+xfrZone); got != want {
			return fmt.Errorf("Knot answers active.eastus2 %q, want %q", got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, knot.Out.String())
	}
}

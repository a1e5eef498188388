package mysqlgw

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
	"github.com/mysqlgw/mysqlgw/internal/testutil"

	"github.com/miekg/dns"
)

// transfer_health in-process: the health states are set by the test (no
// probe runs), and the zone's versions are read through Transfer, as the
// transfer plugin reads them. The clock is the time the test hands take and
// follow; a test at the epoch sees the table's own serial.

// followPlugin serves table in zone with transfer_health, started at the
// epoch; health checking is configured but no prober runs: the test sets
// each address's state.
func followPlugin(t *testing.T, zone, table string) (*MysqlGW, string) {
	t.Helper()
	path := loopbackTable(t, table)
	g := newTestPlugin(t, fmt.Sprintf(`mysqlgw %s {
		regions %s
		reload 1h
		healthcheck 1s
		transfer_health
	}`, zone, path))
	startFollowing(t, g, serialEpoch)
	return g, path
}

// startFollowing does what start does for transfer_health at now, and marks
// the first probe round done, without probing; the block is let go when the
// test ends.
func startFollowing(t *testing.T, g *MysqlGW, now time.Time) {
	g.take(now)
	g.started.Store(true)
	g.health.ready.Store(true)
	t.Cleanup(func() { g.started.Store(false); g.release() })
}

// setDown marks addr down (or up) as a probe would, and tells the checker's
// listener.
func setDown(t *testing.T, g *MysqlGW, addr string, down bool) {
	t.Helper()
	setState(t, g, addr, down)
	g.healthChanged()
}

// flip marks addr down (or up) and publishes at the epoch, as the follow
// timer would once its wait is over.
func flip(t *testing.T, g *MysqlGW, addr string, down bool) {
	t.Helper()
	setState(t, g, addr, down)
	g.follow(serialEpoch)
}

// setState marks addr down (or up) and tells no one.
func setState(t *testing.T, g *MysqlGW, addr string, down bool) {
	t.Helper()
	for a, h := range g.answers.Load().gateways {
		if a.String() == addr {
			h.isUp.Store(!down)
			h.known.Store(true)
			return
		}
	}
	t.Fatalf("no health state for %s", addr)
}

func servedSOA(t *testing.T, g *MysqlGW, zone string) uint32 {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(zone, dns.TypeSOA)
	resp, _ := serve(t, g, m)
	if len(resp.Answer) != 1 {
		t.Fatalf("SOA of %s: %v", zone, resp.Answer)
	}
	return resp.Answer[0].(*dns.SOA).Serial
}

// lines renders records one a line, TTLs and all, for comparing.
func lines(rrs []dns.RR) string {
	var b strings.Builder
	for _, rr := range rrs {
		b.WriteString(rr.String() + "\n")
	}
	return b.String()
}

// recordsAt are the records of the transferred zone at owner.
func recordsAt(rrs []dns.RR, owner string) string {
	var at []dns.RR
	for _, rr := range rrs[1 : len(rrs)-1] {
		if rr.Header().Name == owner {
			at = append(at, rr)
		}
	}
	return lines(at)
}

// TestTransferHealthFollowsFailover: a failover raises the serial, AXFR
// carries the new active answers, IXFR from the serial before gets exactly
// the records that changed (RFC 1995), from the current serial the SOA
// alone, from an unknown serial the whole zone; a failback is a second step.
func TestTransferHealthFollowsFailover(t *testing.T) {
	const zone = "follow.test."
	g, _ := followPlugin(t, zone, "$SERIAL 100\nlab 127.0.0.11 127.0.0.12")
	before := axfr(t, g, zone, 0)
	if s := servedSOA(t, g, zone); s != 100 {
		t.Fatalf("served serial %d before any change, want the table's 100", s)
	}

	flip(t, g, "127.0.0.11", true)
	if s := servedSOA(t, g, zone); s != 101 {
		t.Fatalf("serial %d after the failover, want 101", s)
	}
	after := axfr(t, g, zone, 0)
	owner := "active.lab." + zone
	srv := "_mysql._tcp.active.lab." + zone
	want := fmt.Sprintf("%s\t5\tIN\tA\t127.0.0.12\n%s\t5\tIN\tTXT\t\"secondary=127.0.0.12\"\n", owner, owner)
	if got := recordsAt(after, owner); got != want {
		t.Errorf("AXFR after the failover, %s:\n%s\nwant\n%s", owner, got, want)
	}
	if got := recordsAt(after, srv); !strings.Contains(got, "secondary.lab."+zone) || strings.Contains(got, "primary.lab.") {
		t.Errorf("AXFR after the failover, %s:\n%s", srv, got)
	}
	if len(after) != len(before) {
		t.Errorf("AXFR has %d records after the failover, %d before", len(after), len(before))
	}

	// IXFR from 100: SOA 101, SOA 100, what went, SOA 101, what came, SOA 101.
	ixfr := axfr(t, g, zone, 100)
	removed := recordsAt(before, owner) + recordsAt(before, srv)
	added := recordsAt(after, owner) + recordsAt(after, srv)
	soa100, soa101 := before[0], after[0]
	wantIXFR := lines([]dns.RR{soa101, soa100}) + removed + lines([]dns.RR{soa101}) + added + lines([]dns.RR{soa101})
	if got := lines(ixfr); got != wantIXFR {
		t.Errorf("IXFR from 100:\n%s\nwant\n%s", got, wantIXFR)
	}
	if got := axfr(t, g, zone, 101); len(got) != 1 || got[0].(*dns.SOA).Serial != 101 {
		t.Errorf("IXFR from the current serial: %v, want the SOA alone", got)
	}
	if got := axfr(t, g, zone, 99); lines(got) != lines(after) {
		t.Errorf("IXFR from an unknown serial is not the whole zone:\n%s", lines(got))
	}

	flip(t, g, "127.0.0.11", false)
	if got := recordsAt(axfr(t, g, zone, 0), owner); got != recordsAt(before, owner) {
		t.Errorf("after the failback, %s:\n%s", owner, got)
	}
	two := axfr(t, g, zone, 100)
	var soas []uint32
	for _, rr := range two {
		if soa, ok := rr.(*dns.SOA); ok {
			soas = append(soas, soa.Serial)
		}
	}
	if fmt.Sprint(soas) != "[102 100 101 101 102 102]" {
		t.Errorf("IXFR from 100 after two changes has SOAs %v, want [102 100 101 101 102 102]", soas)
	}
}

// TestTransferHealthWindow, on the clock: changes within followWindow share
// one serial; failover closed (no address up) transfers no active records,
// and failover open every address; the serial is the clock's.
func TestTransferHealthWindow(t *testing.T) {
	const zone = "window.test."
	g, _ := followPlugin(t, zone, "$SERIAL 7\nlab1 127.0.0.11 127.0.0.12\nlab2 127.0.0.13 127.0.0.14")
	setDown(t, g, "127.0.0.11", true)
	setDown(t, g, "127.0.0.13", true) // within the window of the first
	testutil.Until(t, 10*time.Second, "a new serial", func() bool { return servedSOA(t, g, zone) != 7 })
	one := servedSOA(t, g, zone)
	if now := clockSerial(7, time.Now()); gwtable.SerialAfter(one, now) || now-one > 10 {
		t.Errorf("serial %d after a change, the clock's %d", one, now)
	}
	time.Sleep(3 * followWindow) // nothing further may come of the two
	if s := servedSOA(t, g, zone); s != one {
		t.Fatalf("two changes in one window: serial %d, then %d", one, s)
	}
	ixfr := lines(axfr(t, g, zone, 7))
	for _, want := range []string{"active.lab1." + zone + "\t5\tIN\tA\t127.0.0.12", "active.lab2." + zone + "\t5\tIN\tA\t127.0.0.14"} {
		if !strings.Contains(ixfr, want) {
			t.Errorf("IXFR from 7 lacks %q:\n%s", want, ixfr)
		}
	}

	// Both of lab1's down: failover open (the default) answers both.
	setDown(t, g, "127.0.0.12", true)
	testutil.Until(t, 10*time.Second, "the next serial", func() bool { return servedSOA(t, g, zone) != one })
	two := servedSOA(t, g, zone)
	open := recordsAt(axfr(t, g, zone, 0), "active.lab1."+zone)
	if !strings.Contains(open, "A\t127.0.0.11") || !strings.Contains(open, "A\t127.0.0.12") {
		t.Errorf("failover open transfers:\n%s", open)
	}
	// From one address to both: nothing removed; the primary's A, TXT and
	// SRV added.
	delta := axfr(t, g, zone, one)
	if len(delta) != 7 || delta[1].(*dns.SOA).Serial != one || delta[2].(*dns.SOA).Serial != two {
		t.Fatalf("IXFR from %d, want SOA %d, SOA %d, SOA %d, three added, SOA %d:\n%s", one, two, one, two, two, lines(delta))
	}
	for _, rr := range delta[3:6] {
		if rr.Header().Name != "active.lab1."+zone && rr.Header().Name != "_mysql._tcp.active.lab1."+zone || !strings.Contains(rr.String(), "primary") && !strings.Contains(rr.String(), "127.0.0.11") {
			t.Errorf("added in the step to failover open: %s", rr)
		}
	}
}

// TestTransferHealthClosed: with failover closed and no address up, the
// transferred active names hold no records.
func TestTransferHealthClosed(t *testing.T) {
	const zone = "closed.test."
	g := newTestPlugin(t, fmt.Sprintf(`mysqlgw %s {
		regions %s
		reload 1h
		healthcheck 1s
		failover closed
		transfer_health
	}`, zone, loopbackTable(t, "$SERIAL 1\nlab 127.0.0.11 127.0.0.12")))
	startFollowing(t, g, serialEpoch)
	setState(t, g, "127.0.0.11", true)
	flip(t, g, "127.0.0.12", true)
	if s := servedSOA(t, g, zone); s != 2 {
		t.Errorf("serial %d, want 2", s)
	}
	if got := recordsAt(axfr(t, g, zone, 0), "active.lab."+zone); got != "" {
		t.Errorf("failover closed, none up: active.lab transfers\n%s", got)
	}
}

// TestTransferHealthSerialOnlyRises: a reload whose $SERIAL is not above
// the served one continues from the served one; a higher $SERIAL is taken
// (plus the clock's seconds); a reload that changes nothing keeps the serial.
func TestTransferHealthSerialOnlyRises(t *testing.T) {
	const zone = "rises.test."
	g, path := followPlugin(t, zone, "$SERIAL 500\nlab 127.0.0.11 127.0.0.12")
	flip(t, g, "127.0.0.11", true)
	served := servedSOA(t, g, zone)

	reload := func(table string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(table+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		g.watcher.check()
		g.watcher.check()
	}
	reload("$SERIAL 3\nlab 127.0.0.11 127.0.0.12\nnew 127.0.0.15")
	if s := servedSOA(t, g, zone); !gwtable.SerialAfter(s, served) {
		t.Errorf("after a reload with $SERIAL 3: serial %d, want one after %d", s, served)
	}
	served = servedSOA(t, g, zone)
	// The health state carries over: active.lab still answers the secondary.
	if got := recordsAt(axfr(t, g, zone, 0), "active.lab."+zone); !strings.Contains(got, "127.0.0.12") || strings.Contains(got, "127.0.0.11") {
		t.Errorf("after the reload, active.lab transfers\n%s", got)
	}
	// History started again: IXFR from 501 is the whole zone.
	if got := axfr(t, g, zone, 501); len(got) < 10 {
		t.Errorf("IXFR from before the table changed: %d records, want the whole zone", len(got))
	}
	high := served + 1_000_000_000 // well ahead, within RFC 1982's half of the circle
	reload(fmt.Sprintf("$SERIAL %d\nlab 127.0.0.11 127.0.0.12\nnew 127.0.0.15", high))
	if s := servedSOA(t, g, zone); s < high || s > clockSerial(high, time.Now()) || !gwtable.SerialAfter(s, served) {
		t.Errorf("after a reload with $SERIAL %d: serial %d", high, s)
	}
	// A rebuild of the same table (as a Corefile reload makes) keeps it.
	served = servedSOA(t, g, zone)
	g.take(time.Now())
	if s := servedSOA(t, g, zone); s != served {
		t.Errorf("taking the block over with the same content moved the serial from %d to %d", served, s)
	}
}

// TestTransferHealthKeepsLastVersions: IXFR answers with differences from
// the last maxVersions serials, and with the whole zone from one before.
func TestTransferHealthKeepsLastVersions(t *testing.T) {
	const zone = "history.test."
	g, _ := followPlugin(t, zone, "$SERIAL 1000\nlab 127.0.0.11 127.0.0.12")
	for i := range maxVersions + 2 {
		flip(t, g, "127.0.0.11", i%2 == 0)
	}
	current := uint32(1000 + maxVersions + 2)
	if s := servedSOA(t, g, zone); s != current {
		t.Fatalf("serial %d after %d changes", s, maxVersions+2)
	}
	whole := len(axfr(t, g, zone, 0))
	oldest := current - maxVersions
	if got := axfr(t, g, zone, oldest); len(got) != 1+maxVersions*(2+3+3)+1 {
		// every step: two SOAs, three records out (A, TXT, SRV), three in
		t.Errorf("IXFR from %d (the oldest kept): %d records", oldest, len(got))
	}
	if got := axfr(t, g, zone, oldest-1); len(got) != whole {
		t.Errorf("IXFR from %d (no longer kept): %d records, want the whole zone's %d", oldest-1, len(got), whole)
	}
}

// TestTransferHealthBeforeStart: a transfer before the instance has started
// (its zone has no versions yet) gets the zone as built, the primary's.
func TestTransferHealthBeforeStart(t *testing.T) {
	const zone = "early.test."
	g := newTestPlugin(t, fmt.Sprintf("mysqlgw %s {\n regions %s\n reload 0\n healthcheck 1s\n transfer_health\n}",
		zone, loopbackTable(t, "$SERIAL 3\nlab 127.0.0.11 127.0.0.12")))
	rrs := axfr(t, g, zone, 0)
	if rrs[0].(*dns.SOA).Serial != 3 || !strings.Contains(recordsAt(rrs, "active.lab."+zone), "A\t127.0.0.11") {
		t.Errorf("before start:\n%s", lines(rrs))
	}
}

// TestTransferHealthRestart: the serial carries the seconds since the epoch;
// a health change takes the clock's less one, changes in one second one more
// each, and the follow timer waits until the clock has passed the next
// serial, so health changes keep the serial below the clock's; a restarted
// mysqlgw, which remembers nothing, starts from the clock, above the serial
// it served before.
func TestTransferHealthRestart(t *testing.T) {
	const zone = "restart.test."
	const table = "$SERIAL 100\nlab 127.0.0.11 127.0.0.12"
	g, _ := followPlugin(t, zone, table)
	at := func(d time.Duration) time.Time { return serialEpoch.Add(d) }
	change := func(now time.Time, down bool, want uint32) {
		t.Helper()
		setState(t, g, "127.0.0.11", down)
		g.follow(now)
		if s := servedSOA(t, g, zone); s != want {
			t.Fatalf("a change at epoch+%s: serial %d, want %d", now.Sub(serialEpoch), s, want)
		}
	}
	change(at(10*time.Second), true, 109) // the clock's, less one
	if wait := g.untilNextSerial(at(10*time.Second + 300*time.Millisecond)); wait != 700*time.Millisecond {
		t.Errorf("at epoch+10.3s with serial 109, the next change waits %s, want 700ms", wait)
	}
	change(at(10*time.Second), false, 110) // the same second: one more
	if wait := g.untilNextSerial(at(10 * time.Second)); wait != 2*time.Second {
		t.Errorf("at epoch+10s with serial 110, the next change waits %s, want 2s", wait)
	}
	if wait := g.untilNextSerial(at(20 * time.Second)); wait != 0 {
		t.Errorf("at epoch+20s with serial 110, the next change waits %s, want none", wait)
	}
	change(at(20*time.Second), true, 119) // the clock's less one again

	// A new process within the same second: no state; it starts from the
	// clock, above 119.
	g.started.Store(false)
	g.release()
	g2 := newTestPlugin(t, fmt.Sprintf("mysqlgw %s {\n regions %s\n reload 0\n healthcheck 1s\n transfer_health\n}", zone, loopbackTable(t, table)))
	startFollowing(t, g2, at(20*time.Second+900*time.Millisecond))
	if s := servedSOA(t, g2, zone); s != 120 {
		t.Errorf("after a restart at epoch+20.9s: serial %d, want 120", s)
	}
	// Before the epoch (a clock set wrong) the clock adds nothing.
	if s := clockSerial(7, at(-time.Hour)); s != 7 {
		t.Errorf("before the epoch: %d, want 7", s)
	}
}

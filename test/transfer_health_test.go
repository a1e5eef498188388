package test

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
	"github.com/mysqlgw/mysqlgw/internal/testutil"
)

// xfrHealthSerial is the regions file's first $SERIAL in
// TestTransferHealthSecondaries.
const xfrHealthSerial = 2026120501

// TestTransferHealthSecondaries: BIND and Knot DNS, secondaries of a mysqlgw
// with transfer_health, follow a gateway failure and its return through
// NOTIFY and IXFR. The test measures each secondary's delay behind mysqlgw
// and logs it (the 1 s target is bench/secondary.sh's to check: no timed
// assertions here). IXFR, asked with dig, carries only the records that
// changed (RFC 1995's sequence), from each kept serial; an unknown serial
// gets the whole zone. A regions file reloaded with a lower $SERIAL does
// not lower the served serial, and the secondaries take it. The serial
// gauge follows the SOA, and every change is a NOTIFY counted as ok.
func TestTransferHealthSecondaries(t *testing.T) {
	t.Parallel()
	if !inOwnNamespace(t, "ip", "named", "knotd", "dig") {
		return
	}
	run(t, "ip", "link", "set", "lo", "up")
	const primary, secondary = "127.0.0.81", "127.0.0.82"
	gwPort, bindPort, knotPort, metricsPort := freePort(t), freePort(t), freePort(t), freePort(t)
	mysqlPort := testutil.GatewayPort(t, primary, secondary)
	primaryGW := standIn(t, primary, mysqlPort)
	standIn(t, secondary, mysqlPort)
	// The walk-through's hidden primary, following its gateways closely
	// (probes every 100 ms, one failure or success changes the answer),
	// reading its regions file every 100 ms, with metrics.
	corefile := xfrHealthCorefileFor(t, bindPort, knotPort,
		fmt.Sprintf("        reload 100ms\n        port %d\n        healthcheck 100ms\n        rise 1\n        fall 1\n", mysqlPort),
		fmt.Sprintf("    prometheus 127.0.0.1:%d\n", metricsPort))
	early := secondsSinceEpoch()
	gw := &gateway{server: startServerOn(t, gwPort, map[string]string{
		"Corefile": corefile,
		"regions":  fmt.Sprintf("$SERIAL %d\nlab %s %s\n", xfrHealthSerial, primary, secondary),
	}), metricsPort: metricsPort}
	// The serial starts at $SERIAL plus the seconds since the epoch of
	// versions.go, and the first round of probes, finding both gateways
	// up, leaves it there.
	s0, err := soaSerial(gw.addr, xfrZone)
	if late := secondsSinceEpoch(); err != nil || s0 < xfrHealthSerial+early || s0 > xfrHealthSerial+late {
		t.Fatalf("mysqlgw starts at serial %d (%v), want $SERIAL %d plus %d to %d seconds", s0, err, xfrHealthSerial, early, late)
	}
	bind := startBindSecondary(t, bindPort, gwPort, s0)
	knot := startKnotSecondary(t, knotPort, gwPort, s0)
	secondaries := []followed{
		{"BIND", fmt.Sprintf("127.0.0.1:%d", bindPort), bind},
		{"Knot", fmt.Sprintf("127.0.0.1:%d", knotPort), knot},
	}
	checkServedSerial(t, gw, s0)

	// change runs act and waits until mysqlgw and both secondaries answer
	// active.lab with want at mysqlgw's next serial after prev; it logs how
	// long each secondary trailed mysqlgw, and returns the active records
	// mysqlgw answers and the serial. (That one change makes one serial,
	// the IXFR steps below show.)
	change := func(what string, act func(), want string, prev uint32) ([]string, uint32) {
		t.Helper()
		notified := gw.metric(notifiesOK)
		for _, d := range followDelays(t, gw, secondaries, act, want, 15*time.Second) {
			t.Logf("%s: %s answered active.lab %s %s after mysqlgw", what, d.name, want, d.delay.Round(100*time.Microsecond))
		}
		serial, err := soaSerial(gw.addr, xfrZone)
		if err != nil || !gwtable.SerialAfter(serial, prev) {
			t.Fatalf("%s: mysqlgw serves serial %d (%v), want one after %d", what, serial, err, prev)
		}
		for _, s := range secondaries {
			if _, err := waitSerial(s.addr, xfrZone, serial, 15*time.Second, s.proc.Exited); err != nil {
				t.Fatalf("%s: %s: %v", what, s.name, err)
			}
		}
		checkServedSerial(t, gw, serial)
		testutil.Until(t, 15*time.Second, "NOTIFY counted as ok after "+what, func() bool { return gw.metric(notifiesOK) > notified })
		return activeRecords(t, gw.addr), serial
	}

	atPrimary := activeRecords(t, gw.addr)
	atSecondary, s1 := change("failover", func() { primaryGW.Close() }, secondary, s0)
	back, s2 := change("failback", func() { standIn(t, primary, mysqlPort) }, primary, s1)
	if !slices.Equal(back, atPrimary) {
		t.Errorf("after failback mysqlgw answers\n  %s\nwant what it answered first\n  %s", strings.Join(back, "\n  "), strings.Join(atPrimary, "\n  "))
	}

	// IXFR from each kept serial: RFC 1995's steps, only what changed.
	failover := ixfrStep{s0, s1, minusLines(atPrimary, atSecondary), minusLines(atSecondary, atPrimary)}
	failback := ixfrStep{s1, s2, failover.added, failover.removed}
	if len(failover.removed) == 0 || len(failover.added) == 0 {
		t.Fatalf("the failover changed no active record: %v", atSecondary)
	}
	for _, tc := range []struct {
		from uint32
		want []ixfrStep
	}{
		{s1, []ixfrStep{failback}},
		{s0, []ixfrStep{failover, failback}},
	} {
		rrs := digTransfer(t, gw.server, fmt.Sprintf("IXFR=%d", tc.from))
		steps, err := ixfrSteps(rrs, s2)
		if err != nil {
			t.Errorf("dig IXFR=%d: %v\n%s", tc.from, err, strings.Join(rrLinesInOrder(rrs), "\n"))
			continue
		}
		if !slices.EqualFunc(steps, tc.want, ixfrStep.equal) {
			t.Errorf("dig IXFR=%d: steps\n%v\nwant\n%v", tc.from, steps, tc.want)
		}
	}
	if rrs := digTransfer(t, gw.server, fmt.Sprintf("IXFR=%d", s2)); len(rrs) != 1 || rrs[0].Header().Rrtype != dns.TypeSOA {
		t.Errorf("dig IXFR from the current serial: %v, want the SOA alone", rrLinesInOrder(rrs))
	}
	axfr := digTransfer(t, gw.server, "AXFR")
	if got := digTransfer(t, gw.server, fmt.Sprintf("IXFR=%d", s0-1)); !slices.Equal(rrLines(got), rrLines(axfr)) {
		t.Errorf("dig IXFR from an unknown serial: %d records, want the AXFR's %d\n%s", len(got), len(axfr), strings.Join(rrLinesInOrder(got), "\n"))
	}

	// Both secondaries took each health change by IXFR, the differences
	// alone. BIND's log does not name the kind of transfer, but its count
	// of records does: a step's 4 SOAs and the records that changed, where
	// the zone has more.
	for _, to := range []uint32{s1, s2} {
		want := 4 + len(failover.removed) + len(failover.added)
		done := regexp.MustCompile(`transfer of 'gateway\.mysql\.local/IN' from 127\.0\.0\.1#\d+: Transfer completed: \d+ messages, (\d+) records, .*\(serial ` + fmt.Sprint(to) + `\)`)
		if m := done.FindStringSubmatch(bind.Out.String()); m == nil || m[1] != fmt.Sprint(want) {
			t.Errorf("BIND's log has no transfer of %d records (an IXFR) to serial %d: %v", want, to, m)
		}
	}
	// Knot's says IXFR, and when an IXFR brings the whole zone.
	knotLog := knot.Out.String()
	if n := strings.Count(knotLog, "[gateway.mysql.local.] IXFR, incoming, remote 127.0.0.1@"+fmt.Sprint(gwPort)+", finished"); n != 2 {
		t.Errorf("Knot's log has %d IXFRs, want 2 (the failover, the failback)", n)
	}
	for _, whole := range []string{"AXFR-style IXFR", "fallback to AXFR"} {
		if strings.Contains(knotLog, whole) {
			t.Errorf("Knot's log has %q: a health change brought the whole zone", whole)
		}
	}

	// A new table whose $SERIAL is below the served one: the serial
	// continues, and the secondaries take the new table.
	gw.writeFile("regions", fmt.Sprintf("$SERIAL %d\nlab %s %s subnets 192.0.2.0/29\n", xfrHealthSerial-100, primary, secondary))
	gw.waitLog("the zones' serials continue from the ones served (transfer_health)", 15*time.Second)
	s3, err := soaSerial(gw.addr, xfrZone)
	if err != nil || !gwtable.SerialAfter(s3, s2) {
		t.Fatalf("after a table with a lower $SERIAL mysqlgw serves serial %d (%v), want one after %d", s3, err, s2)
	}
	checkServedSerial(t, gw, s3)
	allow := xfrQuestion{"allow.lab." + xfrZone, dns.TypeA}
	want, err := askTCP(gw.addr, allow)
	if err != nil || !slices.ContainsFunc(want.Answer, func(rr dns.RR) bool { return strings.Contains(rr.String(), "192.0.2.0") }) {
		t.Fatalf("mysqlgw, %s after the new table: %v %v", allow, want, err)
	}
	for _, s := range secondaries {
		if _, err := waitSerial(s.addr, xfrZone, s3, 15*time.Second, s.proc.Exited); err != nil {
			t.Fatalf("%s after the table with a lower $SERIAL: %v", s.name, err)
		}
		got, err := askTCP(s.addr, allow)
		if err != nil {
			t.Fatalf("%s, %s: %v", s.name, allow, err)
		}
		if d := answerDiff(want, got); d != "" {
			t.Errorf("%s, %s: %s", s.name, allow, d)
		}
	}
}

// notifiesOK is the series of NOTIFY rounds for the forward zone that every
// secondary accepted.
const notifiesOK = `coredns_mysqlgw_notifies_total{result="ok",zone="gateway.mysql.local."}`

// checkServedSerial checks that mysqlgw's SOA and its serial gauge say serial.
func checkServedSerial(t *testing.T, gw *gateway, serial uint32) {
	t.Helper()
	if got, err := soaSerial(gw.addr, xfrZone); err != nil || got != serial {
		t.Fatalf("mysqlgw's SOA: serial %d (%v), want %d", got, err, serial)
	}
	series := `coredns_mysqlgw_serial{server="` + gw.serverLabel() + `",zone="gateway.mysql.local."}`
	if got := gw.metric(series); got != float64(serial) {
		t.Errorf("%s %v, want the SOA's serial %d", series, got, serial)
	}
}

// followed is a server whose active answer a test follows.
type followed struct {
	name string
	addr string
	proc *testutil.Process
}

// delay is how long a secondary's answer trailed mysqlgw's.
type delay struct {
	name  string
	delay time.Duration
}

// followDelays asks mysqlgw and each secondary for active.lab A every 5 ms,
// runs act, and returns, for each secondary, the time from mysqlgw's first
// answer of want to the secondary's. Each must answer want within.
func followDelays(t *testing.T, gw *gateway, secondaries []followed, act func(), want string, within time.Duration) []delay {
	t.Helper()
	servers := append([]followed{{"mysqlgw", gw.addr, gw.proc}}, secondaries...)
	name := "active.lab." + xfrZone
	for _, s := range servers {
		if got := activeAddrs(s.addr, name); got == want {
			t.Fatalf("%s answers %s %q before the change", s.name, name, got)
		}
	}
	seen := make([]time.Time, len(servers))
	errs := make([]error, len(servers))
	var wg sync.WaitGroup
	for i, s := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			deadline := time.Now().Add(within)
			for ; time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
				if activeAddrs(s.addr, name) == want {
					seen[i] = time.Now()
					return
				}
				select {
				case <-s.proc.Exited:
					errs[i] = fmt.Errorf("%s exited", s.name)
					return
				default:
				}
			}
			errs[i] = fmt.Errorf("%s does not answer %s %q within %s", s.name, name, want, within)
		}()
	}
	act()
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("%v\n%s", err, servers[i].proc.Out.String())
		}
	}
	var delays []delay
	for i, s := range secondaries {
		delays = append(delays, delay{s.name, seen[i+1].Sub(seen[0])})
	}
	return delays
}

// activeAddrs asks addr for name's A records over UDP and returns their
// addresses, space-separated, or the error.
func activeAddrs(addr, name string) string {
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	c := &dns.Client{Timeout: time.Second}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		return err.Error()
	}
	var got []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			got = append(got, a.A.String())
		}
	}
	return strings.Join(got, " ")
}

// activeRecords returns the sorted lines of every record mysqlgw answers for
// the active names of lab: the ones transfer_health carries.
func activeRecords(t *testing.T, addr string) []string {
	t.Helper()
	var rrs []dns.RR
	for _, q := range []xfrQuestion{
		{"active.lab." + xfrZone, dns.TypeA},
		{"active.lab." + xfrZone, dns.TypeAAAA},
		{"active.lab." + xfrZone, dns.TypeTXT},
		{"_mysql._tcp.active.lab." + xfrZone, dns.TypeSRV},
	} {
		r, err := askTCP(addr, q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		rrs = append(rrs, r.Answer...)
	}
	return rrLines(rrs)
}

// minusLines is the lines of a not in b.
func minusLines(a, b []string) []string {
	var out []string
	for _, line := range a {
		if !slices.Contains(b, line) {
			out = append(out, line)
		}
	}
	return out
}

// digTransfer runs dig for an AXFR or IXFR=N of the forward zone over TCP
// with the TSIG key and returns the records it printed, in order, TSIG
// records left out.
func digTransfer(t *testing.T, s *server, kind string) []dns.RR {
	t.Helper()
	out := s.dig("-y", "hmac-sha256:"+xfrKeyName+":"+xfrSecret, "+tcp", "+noall", "+answer", xfrZone, kind)
	var rrs []dns.RR
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 0 || strings.HasPrefix(f[0], ";") || (len(f) > 3 && f[3] == "TSIG") {
			if strings.Contains(line, "Transfer failed") {
				t.Fatalf("dig %s: %s", kind, line)
			}
			continue
		}
		rr, err := dns.NewRR(line)
		if err != nil {
			t.Fatalf("dig %s: %q: %v", kind, line, err)
		}
		rrs = append(rrs, rr)
	}
	if len(rrs) == 0 {
		t.Fatalf("dig %s printed no records:\n%s", kind, out)
	}
	return rrs
}

// rrLinesInOrder is rrLines without sorting, for messages.
func rrLinesInOrder(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		out = append(out, rrLine(rr))
	}
	return out
}

// ixfrStep is one step of an incremental transfer: the serials, and the
// sorted lines of the records removed and added.
type ixfrStep struct {
	from, to       uint32
	removed, added []string
}

func (s ixfrStep) equal(o ixfrStep) bool {
	return s.from == o.from && s.to == o.to && slices.Equal(s.removed, o.removed) && slices.Equal(s.added, o.added)
}

func (s ixfrStep) String() string {
	return fmt.Sprintf("%d -> %d: removed %q, added %q", s.from, s.to, s.removed, s.added)
}

// ixfrSteps reads an incremental transfer (RFC 1995 4): the SOA at serial;
// for each step the old SOA, the records removed, the new SOA, the records
// added; the SOA at serial again. A whole zone is an error.
func ixfrSteps(rrs []dns.RR, serial uint32) ([]ixfrStep, error) {
	soaAt := func(i int) (uint32, bool) {
		if i >= len(rrs) {
			return 0, false
		}
		soa, ok := rrs[i].(*dns.SOA)
		if !ok {
			return 0, false
		}
		return soa.Serial, true
	}
	if first, ok := soaAt(0); !ok || first != serial {
		return nil, fmt.Errorf("does not start with the SOA at serial %d", serial)
	}
	if last, ok := soaAt(len(rrs) - 1); !ok || last != serial || len(rrs) < 2 {
		return nil, fmt.Errorf("does not end with the SOA at serial %d", serial)
	}
	if _, ok := soaAt(1); !ok {
		return nil, fmt.Errorf("the second record is no SOA: a whole zone, not differences")
	}
	var steps []ixfrStep
	i := 1
	for i < len(rrs)-1 {
		var step ixfrStep
		step.from, _ = soaAt(i)
		i++
		for ; i < len(rrs)-1; i++ {
			if _, ok := soaAt(i); ok {
				break
			}
			step.removed = append(step.removed, rrLine(rrs[i]))
		}
		to, ok := soaAt(i)
		if !ok || i == len(rrs)-1 {
			return nil, fmt.Errorf("the step from serial %d has no new SOA", step.from)
		}
		step.to = to
		i++
		for ; i < len(rrs)-1; i++ {
			if _, ok := soaAt(i); ok {
				break
			}
			step.added = append(step.added, rrLine(rrs[i]))
		}
		slices.Sort(step.removed)
		slices.Sort(step.added)
		steps = append(steps, step)
	}
	return steps, nil
}

// TestTransferHealthNeedsTransfer: transfer_health without CoreDNS's transfer
// plugin in its own server block stops the binary at start-up, with an error
// naming the Corefile line; a transfer plugin in another server block does
// not count.
func TestTransferHealthNeedsTransfer(t *testing.T) {
	t.Parallel()
	mysqlgw := `gateway.mysql.local:{PORT} {
    bind 127.0.0.1
    mysqlgw {
        regions regions
        port 13306
        healthcheck 100ms
        transfer_health
    }
}
`
	other := `other.test:{PORT} {
    bind 127.0.0.1
    transfer {
        to *
    }
    whoami
}
`
	for _, tc := range []struct {
		name, corefile, want string
	}{
		{"alone", mysqlgw, "Corefile:7: transfer_health needs CoreDNS's transfer plugin in this server block"},
		{"transfer in another block", other + mysqlgw, "Corefile:14: transfer_health needs CoreDNS's transfer plugin in this server block"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			writeConfig(t, dir, "Corefile", strings.ReplaceAll(tc.corefile, "{PORT}", fmt.Sprint(freePort(t))))
			writeConfig(t, dir, "regions", "lab 127.0.0.81 127.0.0.82\n")
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, binary, "-conf", "Corefile")
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			if err == nil || ctx.Err() != nil {
				t.Errorf("the server did not stop at start-up: %v", err)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Errorf("output lacks %q:\n%s", tc.want, out)
			}
		})
	}
}

// secondsSinceEpoch is what versions.go's clock adds to $SERIAL now.
func secondsSinceEpoch() uint32 {
	return uint32(time.Since(time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC)) / time.Second)
}

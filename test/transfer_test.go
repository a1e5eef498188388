package test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mysqlgw/mysqlgw/internal/testutil"
)

// Zone transfer with real secondaries: BIND and Knot DNS pull the zones from
// mysqlgw with TSIG and follow its NOTIFY; transfers without the key, with a
// bad one, over UDP or from an address not in `to` are refused; the
// transferred zones pass named-checkzone and kzonecheck; replicas agree; a
// failed reload sends no NOTIFY and a vanished secondary slows no query.
//
// The configurations below are docs/zone-transfer.md's, word for word
// (TestReadmeZoneTransfer checks it). That page is a walk-through on one
// machine: mysqlgw on 127.0.0.1 port 5300, BIND on 5301, Knot on 5302; the
// tests put free ports and temporary folders in their place, and nothing
// else. The tests that run BIND and Knot do so in a network namespace of their
// own, with loopback only, so that nothing they might send (BIND primes its
// resolver at start-up) leaves the machine.

// xfrKeyName and xfrSecret are the TSIG key the page makes with tsig-keygen.
const (
	xfrKeyName = "xfr.gateway.mysql.local."
	xfrSecret  = "myBXGAbrtiribF91D922IEOwIAHvwVC9Fch6fJx38Q0="
)

// xfrCorefile serves the table with PTR, answers AXFR and IXFR only with the
// key, and sends NOTIFY to the two secondaries.
const xfrCorefile = `.:5300 {
    tsig {
        secret xfr.gateway.mysql.local. myBXGAbrtiribF91D922IEOwIAHvwVC9Fch6fJx38Q0=
        require AXFR IXFR
    }
    transfer {
        to 127.0.0.1:5301 127.0.0.1:5302
    }
    mysqlgw gateway.mysql.local in-addr.arpa {
        regions /etc/coredns/regions
        ns 127.0.0.1
        soa 14400 3600 1209600 300
    }
    errors
}
`

// xfrRegions is the table the secondaries transfer first; xfrRegionsNext,
// with a higher serial, adds a region whose 2,048 subnet addresses make its
// transfer span several TCP messages, each signed.
const (
	xfrSerial  = 2026112601
	xfrRegions = `$SERIAL 2026112601
# NAME     GATEWAYS (primary first)              [subnets PREFIX...]  [decommissioning ADDRESS...]
eastus2    52.167.105.38 40.70.144.38 52.167.104.0 subnets 104.208.150.192/29 decommissioning 52.177.185.181
westus2    13.66.226.202
lab        2001:db8::10 192.0.2.10
sqlonly    subnets 20.62.58.128/27
`
	xfrSerialNext  = 2026112602
	xfrRegionsNext = `$SERIAL 2026112602
# NAME     GATEWAYS (primary first)              [subnets PREFIX...]  [decommissioning ADDRESS...]
eastus2    52.167.105.38 40.70.144.38 52.167.104.0 subnets 104.208.150.192/29 decommissioning 52.177.185.181
westus2    13.66.226.202
lab        2001:db8::10 192.0.2.10
sqlonly    subnets 20.62.58.128/27
japaneast  13.78.61.196 40.79.184.8 subnets 13.78.104.0/24 13.78.105.0/24 13.78.106.0/24 13.78.107.0/24 13.78.108.0/24 13.78.109.0/24 13.78.110.0/24 13.78.111.0/24
`
)

// xfrKeygen is the key as tsig-keygen prints it: BIND's configuration takes it
// as it is, CoreDNS's and Knot's take its secret.
const xfrKeygen = "key \"xfr.gateway.mysql.local.\" {\n\talgorithm hmac-sha256;\n\tsecret \"" + xfrSecret + "\";\n};\n"

// bindSecondary goes into named.conf (Debian: named.conf.local).
const bindSecondary = xfrKeygen + `zone "gateway.mysql.local" {
    type secondary;
    primaries { 127.0.0.1 port 5300 key "xfr.gateway.mysql.local."; };
    file "/var/cache/bind/gateway.mysql.local.db";
    notify no;
    max-records-per-type 0;
};
zone "in-addr.arpa" {
    type secondary;
    primaries { 127.0.0.1 port 5300 key "xfr.gateway.mysql.local."; };
    file "/var/cache/bind/in-addr.arpa.db";
    notify no;
    max-records-per-type 0;
};
`

// knotSecondary goes into knot.conf, beside its server section.
const knotSecondary = `key:
  - id: xfr.gateway.mysql.local.
    algorithm: hmac-sha256
    secret: myBXGAbrtiribF91D922IEOwIAHvwVC9Fch6fJx38Q0=

remote:
  - id: mysqlgw
    address: 127.0.0.1@5300
    key: xfr.gateway.mysql.local.

acl:
  - id: notify-from-mysqlgw
    address: 127.0.0.1
    action: notify

zone:
  - domain: gateway.mysql.local
    master: mysqlgw
    acl: notify-from-mysqlgw
  - domain: in-addr.arpa
    master: mysqlgw
    acl: notify-from-mysqlgw
`

// The zones transferred.
const (
	xfrZone    = "gateway.mysql.local."
	xfrReverse = "in-addr.arpa."
)

// xfrCorefileFor is xfrCorefile for the harness: bound to 127.0.0.1 on the
// server's port, NOTIFY to the given ports, the regions file beside it.
func xfrCorefileFor(t *testing.T, notify1, notify2 int) string {
	t.Helper()
	c := serverKey.ReplaceAllString(xfrCorefile, "$1:{PORT} {\n    bind 127.0.0.1")
	c = strings.NewReplacer(
		"127.0.0.1:5301", fmt.Sprintf("127.0.0.1:%d", notify1),
		"127.0.0.1:5302", fmt.Sprintf("127.0.0.1:%d", notify2),
		"/etc/coredns/regions", "regions",
	).Replace(c)
	if !strings.Contains(c, ":{PORT} {") || !strings.Contains(c, fmt.Sprintf(":%d ", notify1)) || !strings.Contains(c, "regions regions") {
		t.Fatalf("xfrCorefile no longer has the lines this test rewrites:\n%s", xfrCorefile)
	}
	return c
}

// startXFRServer runs xfrCorefile with regions, NOTIFY going to the ports.
func startXFRServer(t *testing.T, port int, regions string, notify1, notify2 int) *server {
	t.Helper()
	return startServerOn(t, port, map[string]string{"Corefile": xfrCorefileFor(t, notify1, notify2), "regions": regions})
}

// bindServer is named.conf's options for a secondary in dir listening on
// 127.0.0.1 port: recursion no, an authoritative server only;
// dnssec-validation no, no trust anchor to maintain, so no queries to the
// root.
func bindServer(dir string, port int) string {
	return fmt.Sprintf(`options {
    directory "%[1]s";
    pid-file "%[1]s/named.pid";
    session-keyfile "%[1]s/session.key";
    managed-keys-directory "%[1]s";
    listen-on port %[2]d { 127.0.0.1; };
    listen-on-v6 { none; };
    recursion no;
    dnssec-validation no;
};
controls { };
`, dir, port)
}

// knotServer is knot.conf's server, log, database and template sections for
// a secondary in dir listening on 127.0.0.1 port, logging to stderr.
func knotServer(dir string, port int) string {
	return fmt.Sprintf(`server:
    rundir: "%[1]s"
    listen: 127.0.0.1@%[2]d

log:
  - target: stderr
    any: info

database:
    storage: "%[1]s"

template:
  - id: default
    storage: "%[1]s"

`, dir, port)
}

// startBindSecondary runs named with bindSecondary, pulling from mysqlgw on
// gwPort, and returns once it serves both zones at serial.
func startBindSecondary(t *testing.T, port, gwPort int, serial uint32) *testutil.Process {
	t.Helper()
	bin := requireTool(t, "named")
	dir := t.TempDir()
	config := bindServer(dir, port) + strings.NewReplacer("port 5300", fmt.Sprintf("port %d", gwPort), "/var/cache/bind/", dir+"/").Replace(bindSecondary)
	writeConfig(t, dir, "named.conf", config)
	cmd := exec.Command(bin, "-g", "-4", "-c", filepath.Join(dir, "named.conf"))
	cmd.Dir = dir
	proc := testutil.Start(t, cmd, 10*time.Second)
	waitSecondary(t, "named", fmt.Sprintf("127.0.0.1:%d", port), proc, serial)
	return proc
}

// startKnotSecondary runs knotd with knotSecondary, pulling from mysqlgw on
// gwPort, and returns once it serves both zones at serial.
func startKnotSecondary(t *testing.T, port, gwPort int, serial uint32) *testutil.Process {
	t.Helper()
	bin := requireTool(t, "knotd")
	dir := t.TempDir()
	config := knotServer(dir, port) + strings.ReplaceAll(knotSecondary, "127.0.0.1@5300", fmt.Sprintf("127.0.0.1@%d", gwPort))
	writeConfig(t, dir, "knot.conf", config)
	cmd := exec.Command(bin, "-c", filepath.Join(dir, "knot.conf"))
	cmd.Dir = dir
	proc := testutil.Start(t, cmd, 10*time.Second)
	waitSecondary(t, "knotd", fmt.Sprintf("127.0.0.1:%d", port), proc, serial)
	return proc
}

// waitSecondary waits until the secondary at addr serves both zones at serial.
func waitSecondary(t *testing.T, name, addr string, proc *testutil.Process, serial uint32) {
	t.Helper()
	for _, zone := range []string{xfrZone, xfrReverse} {
		if _, err := waitSerial(addr, zone, serial, 30*time.Second, proc.Exited); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, proc.Out.String())
		}
	}
}

// soaSerial asks addr for zone's SOA over UDP.
func soaSerial(addr, zone string) (uint32, error) {
	m := new(dns.Msg)
	m.SetQuestion(zone, dns.TypeSOA)
	c := &dns.Client{Timeout: time.Second}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		return 0, err
	}
	for _, rr := range r.Answer {
		if soa, ok := rr.(*dns.SOA); ok {
			return soa.Serial, nil
		}
	}
	return 0, fmt.Errorf("%s SOA: rcode %s, no SOA", zone, dns.RcodeToString[r.Rcode])
}

// waitSerial waits until addr serves zone at serial and returns when it first
// saw it.
func waitSerial(addr, zone string, serial uint32, within time.Duration, exited <-chan struct{}) (time.Time, error) {
	var seen time.Time
	err := testutil.Poll(within, exited, func() error {
		got, err := soaSerial(addr, zone)
		if err != nil {
			return err
		}
		if got != serial {
			return fmt.Errorf("%s at %s: serial %d, want %d", zone, addr, got, serial)
		}
		seen = time.Now()
		return nil
	})
	return seen, err
}

// xfrMsg is an AXFR (or, with serial, IXFR) request for zone, signed with
// the key unless secret is empty.
func xfrMsg(zone string, serial uint32, keyName, secret string) *dns.Msg {
	m := new(dns.Msg)
	if serial == 0 {
		m.SetAxfr(zone)
	} else {
		m.SetIxfr(zone, serial, "ns.dns."+xfrZone, "hostmaster.dns."+xfrZone)
	}
	if secret != "" {
		m.SetTsig(keyName, dns.HmacSHA256, 300, time.Now().Unix())
	}
	return m
}

// transferZone transfers zone from addr with the key, checking every
// message's TSIG, and returns its records, the SOA at both ends included, and
// how many messages carried them.
func transferZone(t *testing.T, addr, zone string, serial uint32) (rrs []dns.RR, messages int) {
	t.Helper()
	return transferWith(t, addr, zone, serial, xfrSecret)
}

// transferWith is transferZone with the key's secret, or none for a server
// without tsig.
func transferWith(t *testing.T, addr, zone string, serial uint32, secret string) (rrs []dns.RR, messages int) {
	t.Helper()
	tr := &dns.Transfer{}
	if secret != "" {
		tr.TsigSecret = map[string]string{xfrKeyName: secret}
	}
	ch, err := tr.In(xfrMsg(zone, serial, xfrKeyName, secret), addr)
	if err != nil {
		t.Fatalf("transfer of %s from %s: %v", zone, addr, err)
	}
	for env := range ch {
		if env.Error != nil {
			t.Fatalf("transfer of %s from %s: %v", zone, addr, env.Error)
		}
		rrs = append(rrs, env.RR...)
		messages++
	}
	return rrs, messages
}

// rrLine is a record as one comparable line: fields separated by one space.
func rrLine(rr dns.RR) string { return strings.Join(strings.Fields(rr.String()), " ") }

// rrLines returns the sorted lines of rrs, OPT and TSIG left out.
func rrLines(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		if t := rr.Header().Rrtype; t != dns.TypeOPT && t != dns.TypeTSIG {
			out = append(out, rrLine(rr))
		}
	}
	sort.Strings(out)
	return out
}

// xfrQuestion is a name and type to ask both mysqlgw and a secondary.
type xfrQuestion struct {
	name  string
	qtype uint16
}

func (q xfrQuestion) String() string { return q.name + " " + dns.TypeToString[q.qtype] }

// zoneQuestions returns every name and type a transfer holds, in order.
func zoneQuestions(rrs []dns.RR) []xfrQuestion {
	var qs []xfrQuestion
	seen := map[xfrQuestion]bool{}
	for _, rr := range rrs {
		q := xfrQuestion{strings.ToLower(rr.Header().Name), rr.Header().Rrtype}
		if !seen[q] {
			seen[q] = true
			qs = append(qs, q)
		}
	}
	return qs
}

// xfrNegative is the sample's other half: names that do not exist and types
// a name lacks, with the rcode mysqlgw gives. With every name and type of the
// zones it covers each form of name: regions, roles, SRV, active, allow,
// shards and their count, APL, all, PTR, the apex and ns.dns.
var xfrNegative = []struct {
	q     xfrQuestion
	rcode int
}{
	{xfrQuestion{"nosuchregion.gateway.mysql.local.", dns.TypeA}, dns.RcodeNameError},
	{xfrQuestion{"gateway4.eastus2.gateway.mysql.local.", dns.TypeA}, dns.RcodeNameError},
	{xfrQuestion{"999.all.gateway.mysql.local.", dns.TypeA}, dns.RcodeNameError}, // past the last shard
	{xfrQuestion{"2.allow.westus2.gateway.mysql.local.", dns.TypeA}, dns.RcodeNameError},
	{xfrQuestion{"eastus2.gateway.mysql.local.", dns.TypeAAAA}, dns.RcodeSuccess},
	{xfrQuestion{"sqlonly.gateway.mysql.local.", dns.TypeA}, dns.RcodeSuccess},
	{xfrQuestion{"_tcp.eastus2.gateway.mysql.local.", dns.TypeSRV}, dns.RcodeSuccess}, // empty non-terminal
	{xfrQuestion{"dns.gateway.mysql.local.", dns.TypeA}, dns.RcodeSuccess},
	{xfrQuestion{"gateway.mysql.local.", dns.TypeA}, dns.RcodeSuccess},
	{xfrQuestion{"ns.dns.gateway.mysql.local.", dns.TypeAAAA}, dns.RcodeSuccess},
	{xfrQuestion{"active.eastus2.gateway.mysql.local.", dns.TypeMX}, dns.RcodeSuccess},
	{xfrQuestion{"4.3.2.1.in-addr.arpa.", dns.TypePTR}, dns.RcodeNameError},
	{xfrQuestion{"167.52.in-addr.arpa.", dns.TypePTR}, dns.RcodeSuccess}, // empty non-terminal
	{xfrQuestion{"38.105.167.52.in-addr.arpa.", dns.TypeA}, dns.RcodeSuccess},
}

// xfrForms are names and types the zone's own half of the sample must hold,
// so that it covers each form of name.
var xfrForms = []xfrQuestion{
	{"gateway.mysql.local.", dns.TypeSOA},
	{"gateway.mysql.local.", dns.TypeNS},
	{"ns.dns.gateway.mysql.local.", dns.TypeA},
	{"eastus2.gateway.mysql.local.", dns.TypeA},
	{"eastus2.gateway.mysql.local.", dns.TypeTXT},
	{"lab.gateway.mysql.local.", dns.TypeAAAA},
	{"primary.eastus2.gateway.mysql.local.", dns.TypeA},
	{"decommissioning.eastus2.gateway.mysql.local.", dns.TypeA},
	{"_mysql._tcp.eastus2.gateway.mysql.local.", dns.TypeSRV},
	{"active.eastus2.gateway.mysql.local.", dns.TypeA},
	{"_mysql._tcp.active.eastus2.gateway.mysql.local.", dns.TypeSRV},
	{"allow.eastus2.gateway.mysql.local.", dns.TypeA},
	{"allow.eastus2.gateway.mysql.local.", dns.TypeTXT},
	{"allow.eastus2.gateway.mysql.local.", dns.TypeAPL},
	{"1.allow.sqlonly.gateway.mysql.local.", dns.TypeA},
	{"shards.allow.sqlonly.gateway.mysql.local.", dns.TypeTXT},
	{"all.gateway.mysql.local.", dns.TypeA},
	{"all.gateway.mysql.local.", dns.TypeTXT},
	{"all.gateway.mysql.local.", dns.TypeAPL},
	{"2.all.gateway.mysql.local.", dns.TypeA},
	{"shards.all.gateway.mysql.local.", dns.TypeTXT},
	{"in-addr.arpa.", dns.TypeSOA},
	{"in-addr.arpa.", dns.TypeNS},
	{"38.105.167.52.in-addr.arpa.", dns.TypePTR},
	{"181.185.177.52.in-addr.arpa.", dns.TypePTR},
}

// askTCP asks addr one question over TCP, so that no answer is truncated.
func askTCP(addr string, q xfrQuestion) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(q.name, q.qtype)
	m.RecursionDesired = false
	c := &dns.Client{Net: "tcp", Timeout: 5 * time.Second}
	r, _, err := c.Exchange(m, addr)
	return r, err
}

// answerDiff says how a secondary's answer differs from mysqlgw's, or "".
// Records are compared as sets, whole (owner, TTL, type, data): the rcode,
// the answer, the SOA of a negative answer, and the addresses of SRV targets
// in the additional section, these without their TTL (mysqlgw gives the
// active SRV's targets the active TTL: TestTransferActiveSRVTargetTTL). A
// secondary's answer must be authoritative.
func answerDiff(gw, sec *dns.Msg) string {
	switch {
	case gw.Rcode != sec.Rcode:
		return fmt.Sprintf("rcode %s, mysqlgw %s", dns.RcodeToString[sec.Rcode], dns.RcodeToString[gw.Rcode])
	case !sec.Authoritative:
		return "not authoritative"
	}
	if g, s := rrLines(gw.Answer), rrLines(sec.Answer); !slices.Equal(g, s) {
		return fmt.Sprintf("answer\n  %s\nmysqlgw\n  %s", strings.Join(s, "\n  "), strings.Join(g, "\n  "))
	}
	if len(gw.Answer) == 0 {
		g, s := soaLines(gw.Ns), soaLines(sec.Ns)
		if len(g) != 1 || !slices.Equal(g, s) {
			return fmt.Sprintf("negative answer's SOA %v, mysqlgw %v", s, g)
		}
	}
	targets := map[string]bool{}
	for _, rr := range gw.Answer {
		if srv, ok := rr.(*dns.SRV); ok {
			targets[strings.ToLower(srv.Target)] = true
		}
	}
	if len(targets) > 0 {
		if g, s := targetLines(gw.Extra, targets), targetLines(sec.Extra, targets); !slices.Equal(g, s) {
			return fmt.Sprintf("SRV targets' addresses %v, mysqlgw %v", s, g)
		}
	}
	return ""
}

func soaLines(rrs []dns.RR) []string {
	var soas []dns.RR
	for _, rr := range rrs {
		if rr.Header().Rrtype == dns.TypeSOA {
			soas = append(soas, rr)
		}
	}
	return rrLines(soas)
}

// targetLines returns the sorted lines of the address records of targets,
// without their TTL.
func targetLines(rrs []dns.RR, targets map[string]bool) []string {
	var lines []string
	for _, rr := range rrs {
		if t := rr.Header().Rrtype; (t == dns.TypeA || t == dns.TypeAAAA) && targets[strings.ToLower(rr.Header().Name)] {
			rr = dns.Copy(rr)
			rr.Header().Ttl = 0
			lines = append(lines, rrLine(rr))
		}
	}
	sort.Strings(lines)
	return lines
}

// compareSecondary asks mysqlgw and the secondary every name and type the
// zones hold and the negative sample, and reports each difference. It returns
// how many questions it asked.
func compareSecondary(t *testing.T, which, gwAddr, secAddr string, zones map[string][]dns.RR) int {
	t.Helper()
	var qs []xfrQuestion
	for _, zone := range []string{xfrZone, xfrReverse} {
		qs = append(qs, zoneQuestions(zones[zone])...)
	}
	for _, form := range xfrForms {
		if !slices.Contains(qs, form) {
			t.Errorf("the transferred zones lack %s: the sample misses a form of name", form)
		}
	}
	want := map[xfrQuestion]int{}
	for _, n := range xfrNegative {
		qs = append(qs, n.q)
		want[n.q] = n.rcode
	}
	diffs := 0
	for _, q := range qs {
		gw, err := askTCP(gwAddr, q)
		if err != nil {
			t.Fatalf("mysqlgw, %s: %v", q, err)
		}
		if rcode, ok := want[q]; ok && (gw.Rcode != rcode || len(gw.Answer) != 0) {
			t.Errorf("mysqlgw, %s: rcode %s with %d records, want %s without: the sample's negative half is off",
				q, dns.RcodeToString[gw.Rcode], len(gw.Answer), dns.RcodeToString[rcode])
		}
		sec, err := askTCP(secAddr, q)
		if err != nil {
			t.Fatalf("%s, %s: %v", which, q, err)
		}
		if d := answerDiff(gw, sec); d != "" {
			if diffs++; diffs <= 10 {
				t.Errorf("%s, %s: %s", which, q, d)
			}
		}
	}
	if diffs > 10 {
		t.Errorf("%s: %d answers differ in all", which, diffs)
	}
	return len(qs)
}

// transferBoth transfers both zones from mysqlgw and checks that each one
// starts and ends with its SOA at serial.
func transferBoth(t *testing.T, addr string, serial uint32) map[string][]dns.RR {
	t.Helper()
	zones := map[string][]dns.RR{}
	for _, zone := range []string{xfrZone, xfrReverse} {
		rrs, _ := transferZone(t, addr, zone, 0)
		first, ok1 := rrs[0].(*dns.SOA)
		last, ok2 := rrs[len(rrs)-1].(*dns.SOA)
		if !ok1 || !ok2 || first.Serial != serial || last.Serial != serial {
			t.Fatalf("transfer of %s: starts with %v, ends with %v; want the SOA at serial %d at both ends", zone, rrs[0], rrs[len(rrs)-1], serial)
		}
		zones[zone] = rrs
	}
	return zones
}

// TestTransferSecondaries: BIND and Knot DNS transfer both zones from mysqlgw
// with the TSIG key and answer every name as mysqlgw does; the page's commands
// give the output it shows (the zone checks among them); a new table with a
// higher serial reaches both within 10 s of mysqlgw serving it, through
// NOTIFY: their refresh is mysqlgw's SOA refresh, 4 hours.
func TestTransferSecondaries(t *testing.T) {
	t.Parallel()
	if !inOwnNamespace(t, "ip", "named", "knotd", "dig", "named-checkzone", "kzonecheck", "tsig-keygen") {
		return
	}
	run(t, "ip", "link", "set", "lo", "up")
	gwPort, bindPort, knotPort := freePort(t), freePort(t), freePort(t)
	gw := startXFRServer(t, gwPort, xfrRegions, bindPort, knotPort)
	bind := startBindSecondary(t, bindPort, gwPort, xfrSerial)
	knot := startKnotSecondary(t, knotPort, gwPort, xfrSerial)
	bindAddr, knotAddr := fmt.Sprintf("127.0.0.1:%d", bindPort), fmt.Sprintf("127.0.0.1:%d", knotPort)

	zones := transferBoth(t, gw.addr, xfrSerial)
	t.Logf("transferred: %s %d records, %s %d records", xfrZone, len(zones[xfrZone]), xfrReverse, len(zones[xfrReverse]))
	for _, sec := range []struct{ name, addr string }{{"BIND", bindAddr}, {"Knot", knotAddr}} {
		n := compareSecondary(t, sec.name, gw.addr, sec.addr, zones)
		t.Logf("%s answers %d questions as mysqlgw does", sec.name, n)
	}

	t.Run("docs", func(t *testing.T) {
		runZoneTransferSessions(t, map[int]int{5300: gwPort, 5301: bindPort, 5302: knotPort})
		for _, line := range zoneTransferLog(t, "transfers") {
			gw.waitLog(line+"\n", 10*time.Second)
		}
	})

	// The new table. Neither secondary asks mysqlgw on its own for 4 hours
	// (SOA refresh 14400): a change within seconds came by NOTIFY.
	gw.writeFile("regions", xfrRegionsNext)
	served, err := waitSerial(gw.addr, xfrZone, xfrSerialNext, 30*time.Second, gw.proc.Exited)
	if err != nil {
		t.Fatalf("mysqlgw with the new table: %v\n%s", err, gw.out.String())
	}
	var wg sync.WaitGroup
	for _, sec := range []struct {
		name, addr string
		proc       *testutil.Process
		notified   string
	}{
		{"BIND", bindAddr, bind, "received notify for zone '%s'"},
		{"Knot", knotAddr, knot, "[%s.] notify, incoming, remote 127.0.0.1@"},
	} {
		for _, zone := range []string{xfrZone, xfrReverse} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				seen, err := waitSerial(sec.addr, zone, xfrSerialNext, 10*time.Second, sec.proc.Exited)
				if err != nil {
					t.Errorf("%s did not serve the new table within 10 s of mysqlgw: %v\n%s", sec.name, err, sec.proc.Out.String())
					return
				}
				t.Logf("%s serves %s at serial %d %s after mysqlgw", sec.name, zone, xfrSerialNext, seen.Sub(served).Round(time.Millisecond))
				if notified := fmt.Sprintf(sec.notified, strings.TrimSuffix(zone, ".")); !strings.Contains(sec.proc.Out.String(), notified) {
					t.Errorf("%s's log has no %q: the new table did not come by NOTIFY\n%s", sec.name, notified, sec.proc.Out.String())
				}
			}()
		}
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	next := transferBoth(t, gw.addr, xfrSerialNext)
	_, messages := transferZone(t, gw.addr, xfrZone, 0)
	t.Logf("the new table: %s %d records in %d messages", xfrZone, len(next[xfrZone]), messages)
	if messages < 2 {
		t.Errorf("the new table's transfer took %d message, want several: each must be signed", messages)
	}
	for _, sec := range []struct{ name, addr string }{{"BIND", bindAddr}, {"Knot", knotAddr}} {
		compareSecondary(t, sec.name, gw.addr, sec.addr, next)
	}
	// Both took the whole signed transfer, message by message.
	bindDone := regexp.MustCompile(`transfer of 'gateway\.mysql\.local/IN' from 127\.0\.0\.1#\d+: Transfer completed: (\d+) messages, (\d+) records, .*\(serial ` + strconv.Itoa(xfrSerialNext) + `\)`)
	if m := bindDone.FindStringSubmatch(bind.Out.String()); m == nil || m[1] == "1" || m[2] != strconv.Itoa(len(next[xfrZone])) {
		t.Errorf("BIND's log has no transfer of %d records in several messages: %v", len(next[xfrZone]), m)
	}
	knotDone := regexp.MustCompile(`\[gateway\.mysql\.local\.\] [AI]XFR, incoming, remote 127\.0\.0\.1@\d+, finished, [\d.]+ seconds, (\d+) messages`)
	if ms := knotDone.FindAllStringSubmatch(knot.Out.String(), -1); len(ms) < 2 || ms[len(ms)-1][1] == "1" {
		t.Errorf("Knot's log has no second transfer in several messages: %v", ms)
	}
	for _, line := range zoneTransferLog(t, "notify") {
		gw.waitLog(strings.ReplaceAll(line, "/etc/coredns/regions", "regions")+"\n", 10*time.Second)
	}
}

// TestTransferRefused: a transfer without the key, with a wrong secret or an
// unknown key, over UDP, or from an address not in `to` is refused, and so is
// one for a zone the server does not serve; nothing changes for the
// transfers and queries that follow. IXFR from the current serial gets the
// SOA alone, from an older one the whole zone.
func TestTransferRefused(t *testing.T) {
	t.Parallel()
	gw := startXFRServer(t, freePort(t), xfrRegions, freePort(t), freePort(t))
	want, _ := transferZone(t, gw.addr, xfrZone, 0)

	tcp := func(laddr string) *dns.Client {
		c := &dns.Client{Net: "tcp", Timeout: 5 * time.Second, TsigSecret: map[string]string{xfrKeyName: xfrSecret, "other.key.": xfrSecret}}
		if laddr != "" {
			c.Dialer = &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(laddr)}}
		}
		return c
	}
	for _, tc := range []struct {
		name    string
		client  *dns.Client
		msg     *dns.Msg
		rcode   int
		tsigErr uint16 // the TSIG error of a signed refusal
	}{
		{"without the key", tcp(""), xfrMsg(xfrZone, 0, "", ""), dns.RcodeRefused, 0},
		{"IXFR without the key", tcp(""), xfrMsg(xfrZone, xfrSerial-1, "", ""), dns.RcodeRefused, 0},
		{"with a wrong secret", &dns.Client{Net: "tcp", Timeout: 5 * time.Second, TsigSecret: map[string]string{xfrKeyName: "c2VjcmV0IHRoYXQgaXMgbm90IHRoZSBrZXkncyBvd24="}},
			xfrMsg(xfrZone, 0, xfrKeyName, xfrSecret), dns.RcodeNotAuth, dns.RcodeBadSig},
		{"with an unknown key", tcp(""), xfrMsg(xfrZone, 0, "other.key.", xfrSecret), dns.RcodeNotAuth, dns.RcodeBadKey},
		{"over UDP", &dns.Client{Net: "udp", Timeout: 5 * time.Second, TsigSecret: map[string]string{xfrKeyName: xfrSecret}},
			xfrMsg(xfrZone, 0, xfrKeyName, xfrSecret), dns.RcodeRefused, dns.RcodeSuccess},
		{"from 127.0.0.2, not in to", tcp("127.0.0.2"), xfrMsg(xfrZone, 0, xfrKeyName, xfrSecret), dns.RcodeRefused, dns.RcodeSuccess},
		{"of the reverse zone from 127.0.0.2", tcp("127.0.0.2"), xfrMsg(xfrReverse, 0, xfrKeyName, xfrSecret), dns.RcodeRefused, dns.RcodeSuccess},
	} {
		t.Run(tc.name, func(t *testing.T) {
			signed := tc.msg.IsTsig() != nil // Exchange takes the TSIG off tc.msg
			r, _, err := tc.client.Exchange(tc.msg, gw.addr)
			if r == nil {
				t.Fatalf("no answer: %v", err)
			}
			if r.Rcode != tc.rcode || len(r.Answer) != 0 {
				t.Errorf("rcode %s with %d records, want %s and none\n%v", dns.RcodeToString[r.Rcode], len(r.Answer), dns.RcodeToString[tc.rcode], r)
			}
			tsig := r.IsTsig()
			switch {
			case !signed && tsig != nil:
				t.Errorf("an unsigned request got a signed answer: %v", tsig)
			case signed && tsig == nil:
				t.Errorf("a signed request got an unsigned answer")
			case tsig != nil && tsig.Error != tc.tsigErr:
				t.Errorf("TSIG error %s, want %s", dns.RcodeToString[int(tsig.Error)], dns.RcodeToString[int(tc.tsigErr)])
			}
		})
	}

	t.Run("a zone not served", func(t *testing.T) {
		r, _, err := tcp("").Exchange(xfrMsg("example.org.", 0, xfrKeyName, xfrSecret), gw.addr)
		if r == nil {
			t.Fatalf("no answer: %v", err)
		}
		if r.Rcode == dns.RcodeSuccess || len(r.Answer) != 0 {
			t.Errorf("rcode %s with %d records, want a refusal and none", dns.RcodeToString[r.Rcode], len(r.Answer))
		}
	})

	t.Run("afterwards", func(t *testing.T) {
		got, _ := transferZone(t, gw.addr, xfrZone, 0)
		if !slices.Equal(rrLines(got), rrLines(want)) {
			t.Errorf("the transfer after the refusals differs from the one before: %d records, then %d", len(want), len(got))
		}
		if ixfr, _ := transferZone(t, gw.addr, xfrZone, xfrSerial); len(ixfr) != 1 || ixfr[0].Header().Rrtype != dns.TypeSOA {
			t.Errorf("IXFR from the current serial: %d records, want the SOA alone", len(ixfr))
		}
		if ixfr, _ := transferZone(t, gw.addr, xfrZone, xfrSerial-1); !slices.Equal(rrLines(ixfr), rrLines(want)) {
			t.Errorf("IXFR from an older serial: %d records, want the whole zone's %d", len(ixfr), len(want))
		}
		r, err := askTCP(gw.addr, xfrQuestion{"primary.eastus2.gateway.mysql.local.", dns.TypeA})
		if err != nil || len(r.Answer) != 1 {
			t.Errorf("primary.eastus2 A after the refusals: %v %v", r, err)
		}
	})
}

// TestTransferReplicas: two servers started from the same table at
// different times report the same SOA serial and transfer the same records,
// for a regions file with $SERIAL and for the built-in table.
func TestTransferReplicas(t *testing.T) {
	t.Parallel()
	builtin := `.:{PORT} {
    bind 127.0.0.1
    transfer {
        to *
    }
    mysqlgw gateway.mysql.local in-addr.arpa
}
`
	for _, tc := range []struct {
		name   string
		start  func() *server
		secret string // the TSIG key's, or none
		serial uint32
	}{
		{"regions file", func() *server { return startXFRServer(t, freePort(t), xfrRegions, freePort(t), freePort(t)) }, xfrSecret, xfrSerial},
		{"built-in table", func() *server { return startServer(t, map[string]string{"Corefile": builtin}) }, "", 2019052201},
	} {
		t.Run(tc.name, func(t *testing.T) {
			first := tc.start()
			started := time.Now().Unix()
			// The old serial was the load time in seconds: start the second
			// replica in a later second.
			testutil.Poll(5*time.Second, nil, func() error {
				if time.Now().Unix() <= started {
					return fmt.Errorf("still the second %d", started)
				}
				return nil
			})
			second := tc.start()
			for _, zone := range []string{xfrZone, xfrReverse} {
				a, _ := transferWith(t, first.addr, zone, 0, tc.secret)
				b, _ := transferWith(t, second.addr, zone, 0, tc.secret)
				sa, sb := a[0].(*dns.SOA), b[0].(*dns.SOA)
				if sa.Serial != tc.serial || sb.Serial != tc.serial {
					t.Errorf("%s: serials %d and %d, want %d for both", zone, sa.Serial, sb.Serial, tc.serial)
				}
				if la, lb := rrLines(a), rrLines(b); !slices.Equal(la, lb) {
					t.Errorf("%s: the replicas transfer %d and %d records, not the same", zone, len(la), len(lb))
				}
				t.Logf("%s: both replicas transfer %d records at serial %d", zone, len(a), sa.Serial)
			}
		})
	}
}

// notifyReceiver stands in for a secondary: it acknowledges each NOTIFY and,
// as a secondary does, asks mysqlgw for the zone's SOA, once (serial 0 when
// that fails).
type notifyReceiver struct {
	port int
	mu   sync.Mutex
	got  []notified
}

type notified struct {
	zone   string
	serial uint32
	err    string // why the SOA query failed
}

func startNotifyReceiver(t *testing.T, gwAddr string) *notifyReceiver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n := &notifyReceiver{port: pc.LocalAddr().(*net.UDPAddr).Port}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Authoritative = true
		w.WriteMsg(m)
		if r.Opcode != dns.OpcodeNotify || len(r.Question) != 1 {
			return
		}
		x := notified{zone: r.Question[0].Name}
		var err error
		if x.serial, err = soaSerial(gwAddr, x.zone); err != nil {
			x.err = err.Error()
		}
		n.mu.Lock()
		n.got = append(n.got, x)
		n.mu.Unlock()
	})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return n
}

// count returns how many NOTIFYs for zone came while mysqlgw served serial.
func (n *notifyReceiver) count(zone string, serial uint32) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := 0
	for _, x := range n.got {
		if x.zone == zone && x.serial == serial {
			c++
		}
	}
	return c
}

// zones returns how many zones have had a NOTIFY.
func (n *notifyReceiver) zones() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	seen := map[string]bool{}
	for _, x := range n.got {
		seen[x.zone] = true
	}
	return len(seen)
}

func (n *notifyReceiver) all() []notified {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.got)
}

// waitNotified waits until the receiver has a NOTIFY for both zones at serial.
func (n *notifyReceiver) waitNotified(t *testing.T, serial uint32, within time.Duration, why string) {
	t.Helper()
	err := testutil.Poll(within, nil, func() error {
		for _, zone := range []string{xfrZone, xfrReverse} {
			if n.count(zone, serial) == 0 {
				return fmt.Errorf("no NOTIFY for %s at serial %d; got %v", zone, serial, n.all())
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v", why, err)
	}
}

// TestTransferNoNotifyOnFailedReload: a regions file that fails to load and
// a Corefile that fails to load send no NOTIFY (the served serial stays, the
// error is logged); the good versions that follow each send one per zone.
func TestTransferNoNotifyOnFailedReload(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	// before: NOTIFY's target in the first Corefile; broken: in a Corefile
	// that fails; after: in the Corefile that replaces the first.
	before, broken, after := startNotifyReceiver(t, addr), startNotifyReceiver(t, addr), startNotifyReceiver(t, addr)
	closed := freePort(t) // nothing listens: each NOTIFY there fails at once
	gw := startXFRServer(t, port, xfrRegions, before.port, closed)
	// The start-up NOTIFY may come before mysqlgw listens (then the
	// receiver's SOA query fails: TestTransferStartupNotifyAnswered), so it
	// is counted whatever the serial.
	if err := testutil.Poll(10*time.Second, nil, func() error {
		if before.zones() < 2 {
			return fmt.Errorf("no start-up NOTIFY for both zones: %v", before.all())
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	// A regions file that does not parse, with a higher serial.
	gw.writeFile("regions", strings.Replace(xfrRegionsNext, "subnets 104.208.150.192/29", "subnets 104.208.150.193", 1))
	gw.waitLog("Keeping the last good table", 30*time.Second)
	if serial, err := soaSerial(gw.addr, xfrZone); err != nil || serial != xfrSerial {
		t.Fatalf("after a bad regions file mysqlgw serves serial %d (%v), want %d", serial, err, xfrSerial)
	}
	gw.writeFile("regions", xfrRegionsNext)
	before.waitNotified(t, xfrSerialNext, 30*time.Second, "after the good regions file")
	if got := before.all(); len(got) != 4 {
		t.Errorf("%d NOTIFYs, want 4 (start-up and the good file, two zones each): the bad file sent some\n%v", len(got), got)
	}

	// A Corefile that does not load: retry above refresh.
	good := xfrCorefileFor(t, after.port, closed)
	bad := strings.Replace(xfrCorefileFor(t, broken.port, closed), "soa 14400 3600", "soa 3600 14400", 1)
	gw.writeFile("Corefile", bad)
	gw.proc.Cmd.Process.Signal(syscall.SIGUSR1)
	gw.waitLog("retry 14400 must be shorter than refresh 3600", 30*time.Second)
	gw.writeFile("Corefile", good)
	gw.proc.Cmd.Process.Signal(syscall.SIGUSR1)
	after.waitNotified(t, xfrSerialNext, 30*time.Second, "after the good Corefile")
	if got := broken.all(); len(got) != 0 {
		t.Errorf("the Corefile that failed to load sent NOTIFY: %v", got)
	}
	if got := before.all(); len(got) != 4 {
		t.Errorf("the first Corefile's secondary got %d NOTIFYs, want 4 (start-up and the good file, two zones each): %v", len(got), got)
	}
}

// TestTransferSecondaryGone: with one secondary stopped (knotd) and another
// that never answers, NOTIFY fails at every reload, and queries all the while
// answer as promptly as ever; each reload is served.
func TestTransferSecondaryGone(t *testing.T) {
	t.Parallel()
	if !inOwnNamespace(t, "ip", "knotd") {
		return
	}
	run(t, "ip", "link", "set", "lo", "up")
	// A secondary whose host went away silently: it takes the NOTIFY and
	// never answers, so each attempt waits for its timeout.
	silent, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	gwPort, knotPort := freePort(t), freePort(t)
	gw := startXFRServer(t, gwPort, xfrRegions, silent.LocalAddr().(*net.UDPAddr).Port, knotPort)
	knot := startKnotSecondary(t, knotPort, gwPort, xfrSerial)
	knot.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-knot.Exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("knotd did not stop\n%s", knot.Out.String())
	}

	var (
		mu        sync.Mutex
		latencies []time.Duration
		failures  []string
	)
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		c := &dns.Client{Timeout: 2 * time.Second}
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			m := new(dns.Msg)
			m.SetQuestion("primary.eastus2.gateway.mysql.local.", dns.TypeA)
			r, rtt, err := c.Exchange(m, gw.addr)
			mu.Lock()
			if err != nil || len(r.Answer) != 1 {
				failures = append(failures, fmt.Sprintf("%v %v", r, err))
			} else {
				latencies = append(latencies, rtt)
			}
			mu.Unlock()
		}
	}()
	for i, serial := range []uint32{xfrSerialNext, xfrSerialNext + 1} {
		table := strings.Replace(xfrRegionsNext, "$SERIAL 2026112602", fmt.Sprintf("$SERIAL %d", serial), 1)
		gw.writeFile("regions", table+fmt.Sprintf("extra%d 192.0.2.%d\n", i, 100+i))
		if _, err := waitSerial(gw.addr, xfrZone, serial, 30*time.Second, gw.proc.Exited); err != nil {
			t.Fatalf("reload %d: %v\n%s", i+1, err, gw.out.String())
		}
	}
	// Every reload's NOTIFY failed, for both: refused by the stopped one,
	// timed out for the silent one.
	gw.waitLog(fmt.Sprintf(`not accepted by "127.0.0.1:%d": "read udp`, knotPort), 30*time.Second)
	gw.waitLog(fmt.Sprintf(`not accepted by "%s": "read udp`, silent.LocalAddr()), 60*time.Second)
	close(stop)
	<-stopped

	mu.Lock()
	defer mu.Unlock()
	if len(failures) > 0 {
		t.Errorf("%d of %d queries failed during NOTIFY failures: %v", len(failures), len(failures)+len(latencies), failures)
	}
	if len(latencies) < 50 {
		t.Fatalf("only %d queries answered", len(latencies))
	}
	slices.Sort(latencies)
	median, worst := latencies[len(latencies)/2], latencies[len(latencies)-1]
	t.Logf("%d queries during failing NOTIFYs: median %s, slowest %s", len(latencies), median, worst)
	if worst > time.Second {
		t.Errorf("the slowest query took %s during failing NOTIFYs (median %s)", worst, median)
	}
}

// zoneTransferDoc returns docs/zone-transfer.md's fenced blocks.
func zoneTransferDoc(t *testing.T) []doc {
	t.Helper()
	var blocks []doc
	for _, block := range docBlocks(t) {
		if block.file == "docs/zone-transfer.md" {
			blocks = append(blocks, block)
		}
	}
	if len(blocks) == 0 {
		t.Fatal("docs/zone-transfer.md has no fenced blocks")
	}
	return blocks
}

// zoneTransferLog returns the log lines docs/zone-transfer.md shows in its
// block with the info string "log NAME".
func zoneTransferLog(t *testing.T, name string) []string {
	t.Helper()
	for _, block := range zoneTransferDoc(t) {
		if block.info == "log "+name {
			return strings.Split(strings.TrimSuffix(block.text, "\n"), "\n")
		}
	}
	t.Fatalf("docs/zone-transfer.md has no ~~~ log %s block", name)
	return nil
}

// TestReadmeZoneTransfer checks that docs/zone-transfer.md shows, word for
// word, the configurations the transfer tests run, and nothing untested: its
// other blocks are command sessions and log lines that TestTransferSecondaries
// runs and compares, and regions files TestReadmeRegionsFiles loads. The
// README links the page.
func TestReadmeZoneTransfer(t *testing.T) {
	tested := []string{xfrCorefile, xfrRegions, xfrRegionsNext, bindSecondary, knotSecondary, xfrHealthCorefile}
	var shown []string
	for _, block := range zoneTransferDoc(t) {
		switch {
		case slices.Contains(tested, block.text):
			shown = append(shown, block.text)
		case strings.HasPrefix(block.text, "$ "), strings.HasPrefix(block.info, "log "):
		default:
			t.Errorf("docs/zone-transfer.md shows a block no test runs:\n%s", block.text)
		}
	}
	for _, config := range tested {
		if !slices.Contains(shown, config) {
			t.Errorf("docs/zone-transfer.md lacks the configuration the tests run:\n%s", config)
		}
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "[docs/zone-transfer.md](docs/zone-transfer.md)") {
		t.Error("README.md does not link docs/zone-transfer.md")
	}
}

// docPort matches a port the page's commands use: mysqlgw's, BIND's, Knot's.
var docPort = regexp.MustCompile(`-p (530[012])\b`)

// secretLine hides the one line tsig-keygen makes up afresh on every run.
var secretLine = regexp.MustCompile(`secret "[A-Za-z0-9+/]{43}=";`)

// runZoneTransferSessions runs every command docs/zone-transfer.md shows,
// with the tests' ports, in a fresh folder, and compares its output with the
// page's: whole, except that a dig without +short or +noall shows some of its
// lines, in order (the page trims it). Every command must exit 0.
func runZoneTransferSessions(t *testing.T, ports map[int]int) {
	t.Helper()
	dir := t.TempDir()
	commands := 0
	for _, block := range zoneTransferDoc(t) {
		if !strings.HasPrefix(block.text, "$ ") {
			continue
		}
		var cmd string
		var shown []string
		flush := func() {
			if cmd == "" {
				return
			}
			commands++
			local := docPort.ReplaceAllStringFunc(cmd, func(s string) string {
				p, _ := strconv.Atoi(s[3:])
				return fmt.Sprintf("-p %d", ports[p])
			})
			c := exec.Command("sh", "-c", local)
			c.Dir = dir
			out, err := c.CombinedOutput()
			if err != nil {
				t.Errorf("%s: %v\n%s", local, err, out)
				return
			}
			var real []string
			for _, line := range strings.Split(string(out), "\n") {
				if strings.TrimSpace(line) != "" {
					real = append(real, secretLine.ReplaceAllString(normalDigLine(line), `secret "…";`))
				}
			}
			trimmed := strings.HasPrefix(cmd, "dig ") && !strings.Contains(cmd, "+short") && !strings.Contains(cmd, "+noall")
			if ok := slices.Equal(real, shown); !ok && !(trimmed && isSubsequence(shown, real)) {
				t.Errorf("docs/zone-transfer.md: %s\nshown:\n%s\nreal:\n%s", cmd, strings.Join(shown, "\n"), strings.Join(real, "\n"))
			}
		}
		for _, line := range strings.Split(block.text, "\n") {
			if strings.HasPrefix(line, "$ ") {
				flush()
				cmd, shown = strings.TrimPrefix(line, "$ "), nil
			} else if strings.TrimSpace(line) != "" {
				shown = append(shown, secretLine.ReplaceAllString(normalDigLine(line), `secret "…";`))
			}
		}
		flush()
	}
	if commands < 8 {
		t.Errorf("ran %d commands from docs/zone-transfer.md, want at least 8", commands)
	}
}

// isSubsequence reports whether every line of part is in all, in order.
func isSubsequence(part, all []string) bool {
	i := 0
	for _, line := range all {
		if i < len(part) && line == part[i] {
			i++
		}
	}
	return i == len(part)
}

// TestTransferActiveSRVTargetTTL: the addresses mysqlgw adds to the answer of
// _mysql._tcp.active.REGION SRV are the targets' own records, as queries for
// them and the transfer give them; a secondary answers with those.
//
// The defect it caught: they carried active_ttl (5) where the target's
// record, primary.REGION A, has ttl (300).
func TestTransferActiveSRVTargetTTL(t *testing.T) {
	t.Parallel()
	gw := startXFRServer(t, freePort(t), xfrRegions, freePort(t), freePort(t))
	rrs, _ := transferZone(t, gw.addr, xfrZone, 0)
	zone := map[string]bool{}
	for _, rr := range rrs {
		zone[rrLine(rr)] = true
	}
	checked := 0
	for _, region := range []string{"eastus2", "westus2", "lab"} {
		q := xfrQuestion{"_mysql._tcp.active." + region + "." + xfrZone, dns.TypeSRV}
		r, err := askTCP(gw.addr, q)
		if err != nil || len(r.Answer) == 0 {
			t.Fatalf("%s: %v %v", q, r, err)
		}
		for _, rr := range r.Extra {
			if t := rr.Header().Rrtype; t != dns.TypeA && t != dns.TypeAAAA {
				continue
			}
			checked++
			if !zone[rrLine(rr)] {
				t.Errorf("%s: additional record %q is not the zone's (a query for %s %s, or a secondary, gives another TTL)",
					q, rrLine(rr), rr.Header().Name, dns.TypeToString[rr.Header().Rrtype])
			}
		}
	}
	if checked == 0 {
		t.Error("no additional addresses in the active SRV answers")
	}
}

// TestTransferWithoutNSOrBind: a server block with neither `ns` nor `bind`
// (listening on every address) still transfers a complete zone: its name
// server, ns.dns, has an address (the host's), so that named-checkzone
// accepts it.
//
// The defect it caught: the transfer carried the bind addresses only, and
// there were none.
func TestTransferWithoutNSOrBind(t *testing.T) {
	t.Parallel()
	// In a namespace of its own, where "every address" is loopback only.
	if !inOwnNamespace(t, "ip", "named-checkzone") {
		return
	}
	run(t, "ip", "link", "set", "lo", "up")
	gw := startServer(t, map[string]string{"Corefile": `.:{PORT} {
    transfer {
        to *
    }
    mysqlgw gateway.mysql.local in-addr.arpa
}
`})
	rrs, _ := transferWith(t, gw.addr, xfrZone, 0, "")
	var ns, lines []string
	for _, rr := range rrs[:len(rrs)-1] { // one SOA, as in a zone file
		lines = append(lines, rr.String())
		if rr.Header().Name == "ns.dns."+xfrZone {
			ns = append(ns, rrLine(rr))
		}
	}
	if len(ns) == 0 {
		t.Errorf("the transfer has no address for ns.dns.%s, the zone's name server", xfrZone)
	}
	file := filepath.Join(t.TempDir(), "zone")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("named-checkzone", strings.TrimSuffix(xfrZone, "."), file).CombinedOutput(); err != nil {
		t.Errorf("named-checkzone rejects the transferred zone: %v\n%s", err, out)
	}
}

// TestTransferStartupNotifyAnswered: a secondary that gets the start-up
// NOTIFY and asks for the SOA at once gets it. Here the hosts plugin after
// mysqlgw reads a large hosts file when the server starts, as it does
// before the server listens.
//
// The defect it caught: mysqlgw sent the start-up NOTIFY from OnStartup,
// which caddy runs before the server listens; the secondary's SOA query
// failed, and BIND or Knot then waited for the SOA retry (1 hour by default)
// to ask again.
func TestTransferStartupNotifyAnswered(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	receiver := startNotifyReceiver(t, fmt.Sprintf("127.0.0.1:%d", port))
	var hosts strings.Builder
	for i := range 300000 {
		fmt.Fprintf(&hosts, "10.%d.%d.%d host%d.example.\n", i>>16, (i>>8)&255, i&255, i)
	}
	corefile := strings.Replace(xfrCorefileFor(t, receiver.port, freePort(t)), "    errors\n",
		"    hosts hosts {\n        reload 0\n        fallthrough\n    }\n    errors\n", 1)
	startServerOn(t, port, map[string]string{"Corefile": corefile, "regions": xfrRegions, "hosts": hosts.String()})
	if err := testutil.Poll(10*time.Second, nil, func() error {
		if receiver.zones() < 2 {
			return fmt.Errorf("no start-up NOTIFY for both zones: %v", receiver.all())
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, x := range receiver.all() {
		if x.serial != xfrSerial {
			t.Errorf("start-up NOTIFY for %s: the SOA query it prompted got serial %d (%s), want %d", x.zone, x.serial, x.err, xfrSerial)
		}
	}
}

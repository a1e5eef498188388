package test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mysqlgw/mysqlgw/internal/testutil"
)

// TestDNSSEC runs docs/dnssec.md: the key and trust anchors made by the
// page's commands (dnssec-keygen), the page's Corefile (dnssec in front of
// mysqlgw), and Unbound with the page's drop-in in front. Unbound must
// validate every kind of answer (AD set) with mysqlgw's rcode and records,
// NXDOMAIN alone turned into NODATA by dnssec's black lies; delv, asking
// mysqlgw directly, must agree; the page's delv and dig sessions must give
// the output shown; and with another key's DS as the anchor Unbound must
// answer SERVFAIL, so validation is what sets AD.
func TestDNSSEC(t *testing.T) {
	for _, tool := range []string{"dnssec-keygen", "dnssec-dsfromkey", "unbound", "delv", "dig"} {
		requireTool(t, tool)
	}
	page := readDNSSECPage(t)
	dir := t.TempDir()
	key := runDNSSECKeygen(t, page.keygen, dir)

	corefile := dnssecLocal(t, page.corefile, dir)
	corefile = strings.ReplaceAll(corefile, ":1053", ":{PORT}")
	shownKey := regexp.MustCompile(`Kgateway\.mysql\.local\.\+013\+\d{5}`)
	if !shownKey.MatchString(corefile) {
		t.Fatalf("%s: the Corefile names no key Kgateway.mysql.local.+013+NNNNN:\n%s", dnssecDoc, page.corefile)
	}
	corefile = shownKey.ReplaceAllLiteralString(corefile, filepath.Base(key))
	gw := startServer(t, map[string]string{"Corefile": corefile})

	resolver := startValidatingUnbound(t, withPort(dnssecLocal(t, page.unbound, dir), gw.port), true)
	anchors := filepath.Join(dir, "coredns", "delv.anchors")

	// The page's sessions first, while Unbound's cache is empty, so its TTLs
	// are mysqlgw's.
	t.Run("page", func(t *testing.T) {
		for _, s := range page.sessions {
			checkDNSSECSession(t, s, dir, gw.port, resolver)
		}
	})

	for _, c := range dnssecCases {
		t.Run(c.name+"/"+dns.TypeToString[c.qtype], func(t *testing.T) {
			checkValidated(t, gw, resolver, anchors, c.name, c.qtype, c.rcode, c.empty)
		})
	}

	t.Run("black lies", func(t *testing.T) {
		for _, name := range []string{"nowhere.gateway.mysql.local.", "9.allow.eastus2.gateway.mysql.local.", "9.9.9.9.in-addr.arpa."} {
			checkBlackLie(t, gw, name, dns.TypeA)
		}
	})

	// Another key, made the same way: its DS is a wrong anchor for the zone.
	t.Run("wrong anchor", func(t *testing.T) {
		other := t.TempDir()
		out, err := exec.Command("dnssec-keygen", "-q", "-K", other, "-a", "ECDSAP256SHA256", "-f", "KSK", "gateway.mysql.local").Output()
		if err != nil {
			t.Fatalf("dnssec-keygen: %v", err)
		}
		otherKey := filepath.Join(other, strings.TrimSpace(string(out)))
		ds, err := exec.Command("dnssec-dsfromkey", "-2", otherKey+".key").Output()
		if err != nil {
			t.Fatalf("dnssec-dsfromkey: %v", err)
		}
		// The anchors file with the zone's DNSKEY swapped for that DS;
		// in-addr.arpa's anchor stays right.
		right := filepath.Join(dir, "unbound", "mysqlgw.anchors")
		content, err := os.ReadFile(right)
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for _, line := range strings.Split(strings.TrimSpace(string(content)), "\n") {
			if !strings.HasPrefix(line, "gateway.mysql.local. ") {
				lines = append(lines, line)
			}
		}
		lines = append(lines, strings.TrimSpace(string(ds)))
		writeConfig(t, other, "mysqlgw.anchors", strings.Join(lines, "\n")+"\n")
		dropIn := withPort(dnssecLocal(t, page.unbound, dir), gw.port)
		if !strings.Contains(dropIn, right) {
			t.Fatalf("%s: the Unbound drop-in does not read the anchors the commands write:\n%s", dnssecDoc, page.unbound)
		}
		dropIn = strings.ReplaceAll(dropIn, right, filepath.Join(other, "mysqlgw.anchors"))
		wrong := startValidatingUnbound(t, dropIn, false)
		for _, q := range []struct {
			name  string
			qtype uint16
		}{
			{"eastus2.gateway.mysql.local.", dns.TypeA},
			{"allow.eastus2.gateway.mysql.local.", dns.TypeAPL},
			{"nowhere.gateway.mysql.local.", dns.TypeA},
		} {
			r := askResolver(t, wrong, q.name, q.qtype)
			if r.Rcode != dns.RcodeServerFailure || r.AuthenticatedData || len(r.Answer) > 0 {
				t.Errorf("%s %s with another key's DS as the anchor: %s, AD %v, %d records; want SERVFAIL",
					q.name, dns.TypeToString[q.qtype], dns.RcodeToString[r.Rcode], r.AuthenticatedData, len(r.Answer))
			}
		}
		// The zone's anchor for in-addr.arpa is still right.
		if r := askResolver(t, wrong, "0.104.167.52.in-addr.arpa.", dns.TypePTR); r.Rcode != dns.RcodeSuccess || !r.AuthenticatedData {
			t.Errorf("PTR beside the wrong anchor: %s, AD %v; want NOERROR with AD", dns.RcodeToString[r.Rcode], r.AuthenticatedData)
		}

		wrongAnchors := filepath.Join(other, "delv.anchors")
		writeConfig(t, other, "delv.anchors", delvAnchor(t, otherKey+".key"))
		out2, _ := runDelv(t, gw.port, wrongAnchors, "gateway.mysql.local", "eastus2.gateway.mysql.local", "A")
		if strings.Contains(out2, "fully validated") || !strings.Contains(out2, "resolution failed: broken trust chain") {
			t.Errorf("delv with another key as the anchor:\n%s\nwant a failed resolution", out2)
		}
	})
}

const dnssecDoc = "docs/dnssec.md"

// dnssecPage holds the blocks of docs/dnssec.md.
type dnssecPage struct {
	keygen   string       // the commands that make the key and the anchors
	corefile string       // the signed Corefile
	unbound  string       // Unbound's drop-in
	sessions []docSession // the delv and dig commands shown, with their output
}

// readDNSSECPage finds each block of the page, once, and fails on a block
// this test does not run. The Corefile's fence says "corefile dnssec", not
// "corefile": TestReadmeCorefilesRun would start it without its key.
func readDNSSECPage(t *testing.T) dnssecPage {
	t.Helper()
	var p dnssecPage
	found := map[string]int{}
	for _, b := range docBlocks(t) {
		if b.file != dnssecDoc {
			continue
		}
		switch {
		case b.info == "sh" && strings.HasPrefix(b.text, "cd /etc/coredns\n"):
			p.keygen = b.text
			found["commands"]++
		case b.info == "corefile dnssec":
			p.corefile = b.text
			found["Corefile"]++
		case b.info == "conf" && strings.HasPrefix(b.text, "server:\n"):
			p.unbound = b.text
			found["Unbound drop-in"]++
		case b.info == "" && (strings.HasPrefix(b.text, "$ delv ") || strings.HasPrefix(b.text, "$ dig ")):
			found["sessions"]++
		default:
			t.Errorf("%s: no test runs this %q block:\n%s", dnssecDoc, b.info, b.text)
		}
	}
	for _, what := range []string{"commands", "Corefile", "Unbound drop-in"} {
		if found[what] != 1 {
			t.Fatalf("%s shows %d %s blocks, want 1", dnssecDoc, found[what], what)
		}
	}
	p.sessions = docSessions(t, "../"+dnssecDoc)
	if len(p.sessions) < 4 {
		t.Fatalf("%s shows %d delv and dig sessions, want at least 4", dnssecDoc, len(p.sessions))
	}
	return p
}

// dnssecLocal moves the page's folders into dir.
func dnssecLocal(t *testing.T, text, dir string) string {
	t.Helper()
	text = strings.NewReplacer(
		"/etc/coredns/", filepath.Join(dir, "coredns")+"/",
		"/etc/coredns\n", filepath.Join(dir, "coredns")+"\n",
		"/etc/unbound/", filepath.Join(dir, "unbound")+"/",
	).Replace(text)
	for _, system := range []string{"/etc/", "/usr/", "/run/", "/var/"} {
		if strings.Contains(text, system) {
			t.Fatalf("%s: a path under %s that the test does not move:\n%s", dnssecDoc, system, text)
		}
	}
	return text
}

// runDNSSECKeygen runs the page's commands in dir's coredns folder and
// returns the key they made, by the full path of its files without .key.
func runDNSSECKeygen(t *testing.T, commands, dir string) string {
	t.Helper()
	for _, sub := range []string{"coredns", "unbound"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("sh", "-ec", dnssecLocal(t, commands, dir))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: the key commands: %v\n%s%s", dnssecDoc, err, out, stderr.String())
	}
	name := strings.TrimSpace(string(out))
	if !regexp.MustCompile(`^Kgateway\.mysql\.local\.\+013\+\d{5}$`).MatchString(name) {
		t.Fatalf("%s: the key commands print %q, want the key's name", dnssecDoc, out)
	}
	key := filepath.Join(dir, "coredns", name)
	for _, file := range []string{key + ".key", key + ".private", filepath.Join(dir, "unbound", "mysqlgw.anchors"), filepath.Join(dir, "coredns", "delv.anchors")} {
		if _, err := os.Stat(file); err != nil {
			t.Fatalf("%s: the key commands did not write %v", dnssecDoc, err)
		}
	}
	// The anchors hold the key's own DNSKEY, for both zones.
	anchors, _ := os.ReadFile(filepath.Join(dir, "unbound", "mysqlgw.anchors"))
	for _, zone := range []string{"gateway.mysql.local.", "in-addr.arpa."} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(zone) + ` IN DNSKEY 257 3 13 \S`).Match(anchors) {
			t.Fatalf("%s: the Unbound anchors lack %s's DNSKEY:\n%s", dnssecDoc, zone, anchors)
		}
	}
	return key
}

// startValidatingUnbound runs Unbound with dropIn, as Debian's does: with
// the root's trust anchor, so that the zone's own anchor must win for its
// subtree. Every other name goes to a closed loopback port. With secure it
// waits for a validated NOERROR for the zone's SOA, else for any answer.
func startValidatingUnbound(t *testing.T, dropIn string, secure bool) string {
	t.Helper()
	bin := requireTool(t, "unbound")
	rootKey := requireRootKey(t)
	dir, port, sink := t.TempDir(), freePort(t), freePort(t)
	config := fmt.Sprintf(`server:
    interface: 127.0.0.1
    port: %[2]d
    do-ip6: no
    username: ""
    chroot: ""
    directory: "%[1]s"
    pidfile: "%[1]s/unbound.pid"
    use-syslog: no
    logfile: ""
    num-threads: 1
    trust-anchor-file: "%[4]s"
forward-zone:
    name: "."
    forward-addr: 127.0.0.1@%[3]d
`, dir, port, sink, rootKey) + dropIn
	writeConfig(t, dir, "unbound.conf", config)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(bin, "-d", "-c", filepath.Join(dir, "unbound.conf"))
	cmd.Dir = dir
	proc := testutil.Start(t, cmd, 10*time.Second)
	err := testutil.Poll(30*time.Second, proc.Exited, func() error {
		m := question("gateway.mysql.local.", dns.TypeSOA)
		m.AuthenticatedData = true
		r, _, err := (&dns.Client{Timeout: 2 * time.Second}).Exchange(m, addr)
		switch {
		case err != nil:
			return err
		case secure && (r.Rcode != dns.RcodeSuccess || !r.AuthenticatedData):
			return fmt.Errorf("SOA: %s, AD %v", dns.RcodeToString[r.Rcode], r.AuthenticatedData)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("unbound at start-up: %v\n%s", err, proc.Out.String())
	}
	return addr
}

// askResolver asks over TCP, so that no answer is truncated, with the AD
// bit, which asks a validating resolver to say whether it validated.
func askResolver(t *testing.T, addr, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := question(name, qtype)
	m.AuthenticatedData = true
	r, _, err := (&dns.Client{Net: "tcp", Timeout: 10 * time.Second}).Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s %s via %s: %v", name, dns.TypeToString[qtype], addr, err)
	}
	return r
}

// dnssecCases covers every kind of answer, with mysqlgw's own rcode and
// whether its answer section is empty.
var dnssecCases = []struct {
	name  string
	qtype uint16
	rcode int
	empty bool
}{
	{"eastus2.gateway.mysql.local.", dns.TypeA, dns.RcodeSuccess, false},
	{"eastus2.gateway.mysql.local.", dns.TypeAAAA, dns.RcodeSuccess, true}, // NODATA
	{"eastus2.gateway.mysql.local.", dns.TypeTXT, dns.RcodeSuccess, false},
	{"primary.eastus2.gateway.mysql.local.", dns.TypeA, dns.RcodeSuccess, false},
	{"active.eastus2.gateway.mysql.local.", dns.TypeA, dns.RcodeSuccess, false},
	{"_mysql._tcp.eastus2.gateway.mysql.local.", dns.TypeSRV, dns.RcodeSuccess, false},
	{"allow.eastus2.gateway.mysql.local.", dns.TypeA, dns.RcodeSuccess, false},
	{"allow.eastus2.gateway.mysql.local.", dns.TypeTXT, dns.RcodeSuccess, false},
	{"allow.eastus2.gateway.mysql.local.", dns.TypeAPL, dns.RcodeSuccess, false},
	{"1.allow.eastus2.gateway.mysql.local.", dns.TypeA, dns.RcodeSuccess, false},
	{"shards.allow.eastus2.gateway.mysql.local.", dns.TypeTXT, dns.RcodeSuccess, false},
	{"all.gateway.mysql.local.", dns.TypeA, dns.RcodeSuccess, false},
	{"gateway.mysql.local.", dns.TypeSOA, dns.RcodeSuccess, false},
	{"gateway.mysql.local.", dns.TypeNS, dns.RcodeSuccess, false},
	{"gateway.mysql.local.", dns.TypeMX, dns.RcodeSuccess, true},                   // NODATA at the apex
	{"primary.eastus2.gateway.mysql.local.", dns.TypeAAAA, dns.RcodeSuccess, true}, // NODATA
	{"0.104.167.52.in-addr.arpa.", dns.TypePTR, dns.RcodeSuccess, false},
	{"nowhere.gateway.mysql.local.", dns.TypeA, dns.RcodeNameError, true},
	{"9.allow.eastus2.gateway.mysql.local.", dns.TypeA, dns.RcodeNameError, true},
	{"9.9.9.9.in-addr.arpa.", dns.TypePTR, dns.RcodeNameError, true},
}

// checkValidated compares Unbound's answer with mysqlgw's own, unsigned one:
// validated (AD), the same records, the same rcode but for NXDOMAIN, which
// black lies turn into NODATA. delv, asking mysqlgw directly, must validate
// it too.
func checkValidated(t *testing.T, gw *server, resolver, anchors, name string, qtype uint16, rcode int, empty bool) {
	t.Helper()
	q := name + " " + dns.TypeToString[qtype]
	plain := gw.exchange(question(name, qtype), "tcp")
	if plain.Rcode != rcode {
		t.Fatalf("%s from mysqlgw without DO: %s, want %s", q, dns.RcodeToString[plain.Rcode], dns.RcodeToString[rcode])
	}
	want := rdata(plain.Answer, qtype)
	if empty != (len(want) == 0) {
		t.Fatalf("%s from mysqlgw: %d records, want them empty: %v", q, len(want), empty)
	}

	r := askResolver(t, resolver, name, qtype)
	wantRcode := rcode
	if rcode == dns.RcodeNameError {
		wantRcode = dns.RcodeSuccess // a black lie
	}
	if r.Rcode != wantRcode || !r.AuthenticatedData {
		t.Errorf("%s through Unbound: %s, AD %v; want %s with AD", q, dns.RcodeToString[r.Rcode], r.AuthenticatedData, dns.RcodeToString[wantRcode])
	}
	if got := rdata(r.Answer, qtype); !slices.Equal(got, want) {
		t.Errorf("%s through Unbound:\n got %v\nwant %v (mysqlgw's)", q, got, want)
	}

	zone, args := "gateway.mysql.local", []string{name, dns.TypeToString[qtype]}
	if strings.HasSuffix(name, ".in-addr.arpa.") {
		zone = "in-addr.arpa"
	}
	out, stdout := runDelv(t, gw.port, anchors, zone, args...)
	first, _, _ := strings.Cut(stdout, "\n")
	wantFirst := "; fully validated"
	if empty {
		wantFirst = "; negative response, fully validated"
	}
	if first != wantFirst {
		t.Errorf("delv %s: first line %q, want %q\n%s", q, first, wantFirst, out)
	}
	if !empty && !regexp.MustCompile(`\sRRSIG\s+`+dns.TypeToString[qtype]+` 13 `).MatchString(stdout) {
		t.Errorf("delv %s shows no RRSIG of the answer:\n%s", q, out)
	}
}

// checkBlackLie asks mysqlgw through dnssec for a name that does not exist:
// without DO, NXDOMAIN and the SOA; with DO, NOERROR, the signed SOA and an
// NSEC record for the name itself, to \000.name, without the type asked.
func checkBlackLie(t *testing.T, gw *server, name string, qtype uint16) {
	t.Helper()
	plain := gw.exchange(question(name, qtype), "udp")
	if plain.Rcode != dns.RcodeNameError || len(plain.Ns) != 1 || plain.Ns[0].Header().Rrtype != dns.TypeSOA {
		t.Fatalf("%s without DO: %s with %d authority records, want NXDOMAIN with the SOA\n%v", name, dns.RcodeToString[plain.Rcode], len(plain.Ns), plain)
	}
	m := question(name, qtype)
	m.SetEdns0(1232, true)
	signed := gw.exchange(m, "udp")
	var nsec *dns.NSEC
	sigs := map[uint16]bool{}
	for _, rr := range signed.Ns {
		switch rr := rr.(type) {
		case *dns.NSEC:
			nsec = rr
		case *dns.RRSIG:
			sigs[rr.TypeCovered] = true
		}
	}
	if signed.Rcode != dns.RcodeSuccess || nsec == nil || !sigs[dns.TypeSOA] || !sigs[dns.TypeNSEC] {
		t.Fatalf("%s with DO: %s, want NOERROR with the SOA, an NSEC and their RRSIGs\n%v", name, dns.RcodeToString[signed.Rcode], signed)
	}
	if nsec.Hdr.Name != name || nsec.NextDomain != `\000.`+name || slices.Contains(nsec.TypeBitMap, qtype) {
		t.Errorf("%s with DO: NSEC %v, want one from the name to \\000.name without %s", name, nsec, dns.TypeToString[qtype])
	}
}

// runDelv asks mysqlgw with delv, the anchors for zone as its root, and
// returns its whole output and its standard output.
func runDelv(t *testing.T, port int, anchors, zone string, args ...string) (all, stdout string) {
	t.Helper()
	argv := append([]string{"@127.0.0.1", "-p", fmt.Sprint(port), "-a", anchors, "+root=" + zone}, args...)
	cmd := exec.Command("delv", argv...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Logf("delv %s: %v", strings.Join(argv, " "), err)
	}
	return out.String() + stderr.String(), out.String()
}

// delvAnchor writes a key file's DNSKEY as delv's -a file holds it.
func delvAnchor(t *testing.T, keyFile string) string {
	t.Helper()
	content, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(content), "\n") {
		f := strings.Fields(line)
		if len(f) >= 7 && f[2] == "DNSKEY" {
			return fmt.Sprintf("trust-anchors { %s static-key %s %s %s %q; };\n", f[0], f[3], f[4], f[5], strings.Join(f[6:], ""))
		}
	}
	t.Fatalf("%s holds no DNSKEY", keyFile)
	return ""
}

// checkDNSSECSession runs a delv or dig command the page shows and compares
// its output with the page's: line by line, with signatures, their dates and
// key tags, message ids and TTLs counting down left out.
func checkDNSSECSession(t *testing.T, s docSession, dir string, gwPort int, resolver string) {
	t.Helper()
	args := strings.Fields(dnssecLocal(t, s.command, dir))
	var got string
	switch {
	case len(args) > 3 && args[0] == "delv" && args[1] == "@127.0.0.1" && args[2] == "-p" && args[3] == "1053":
		args[3] = fmt.Sprint(gwPort)
		cmd := exec.Command("delv", args[1:]...)
		var out, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &stderr
		cmd.Run()
		// The terminal shows delv's errors after its output.
		got = out.String() + stderr.String()
	case len(args) > 1 && args[0] == "dig" && args[1] == "@127.0.0.1":
		_, port, _ := strings.Cut(resolver, ":")
		argv := append([]string{"@127.0.0.1", "-p", port}, args[2:]...)
		out, err := exec.Command("dig", argv...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s:%d: dig %s: %v\n%s", dnssecDoc, s.line, strings.Join(argv, " "), err, out)
		}
		got = string(out)
	default:
		t.Errorf("%s:%d: no test runs %q", dnssecDoc, s.line, s.command)
		return
	}
	var real, shown []string
	for _, l := range strings.Split(got, "\n") {
		if strings.TrimSpace(l) != "" {
			real = append(real, normalSignedLine(l))
		}
	}
	for _, l := range s.output {
		if strings.TrimSpace(l) != "" {
			shown = append(shown, normalSignedLine(l))
		}
	}
	if len(shown) == 0 {
		t.Errorf("%s:%d: %s: no output shown; real:\n%s", dnssecDoc, s.line, s.command, got)
		return
	}
	if args[0] == "dig" {
		// The page trims dig's output: every line shown must be real.
		for _, l := range shown {
			if !slices.Contains(real, l) {
				t.Errorf("%s:%d: %s: the real output lacks the line shown\n%s\nreal:\n%s", dnssecDoc, s.line, s.command, l, got)
			}
		}
		return
	}
	// delv's whole output, in any order: its negative answers list their
	// proof in an order that changes from run to run.
	slices.Sort(real)
	slices.Sort(shown)
	if !slices.Equal(real, shown) {
		t.Errorf("%s:%d: %s\nshown:\n%s\nreal:\n%s", dnssecDoc, s.line, s.command, strings.Join(shown, "\n"), got)
	}
}

var (
	rrsigData = regexp.MustCompile(`(RRSIG (?:\S+ ){4})\d{14} \d{14} \d+ (\S+) .*`)
	rrTTL     = regexp.MustCompile(`^(;?\s*\S+\.) \d+ (IN )`)
)

// normalSignedLine is normalDigLine with an RRSIG's dates, key tag and
// signature, and a record's TTL (Unbound's counts down), left out.
func normalSignedLine(line string) string {
	line = rrsigData.ReplaceAllString(normalDigLine(line), "${1}DATES TAG $2 SIGNATURE")
	return rrTTL.ReplaceAllString(line, "$1 TTL $2")
}

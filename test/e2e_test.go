package test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// rootCorefile is the repository's own Corefile on a free port, so the test
// runs exactly what the README's first command runs.
func rootCorefile(t *testing.T) string {
	t.Helper()
	content, err := os.ReadFile("../Corefile")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(content), ":1053") {
		t.Fatal("the root Corefile no longer serves port 1053")
	}
	// The metrics port too, so a server a developer runs does not collide.
	return strings.NewReplacer(":1053", ":{PORT}", ":9153", fmt.Sprintf(":%d", freePort(t))).Replace(string(content))
}

func digLines(out string) []string {
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	slices.Sort(lines)
	return lines
}

func TestDigRegion(t *testing.T) {
	s := startServer(t, map[string]string{"Corefile": rootCorefile(t)})
	want := []string{"191.239.224.107", "40.79.84.180", "52.167.104.0"}
	slices.Sort(want)
	for _, transport := range [][]string{{"+notcp"}, {"+tcp"}, {"+notcp", "+noedns"}, {"+tcp", "+noedns"}} {
		args := append([]string{"eastus2.gateway.mysql.local", "A", "+short"}, transport...)
		if got := digLines(s.dig(args...)); !slices.Equal(got, want) {
			t.Errorf("dig %v: %v, want %v", args, got, want)
		}
	}
	txt := digLines(s.dig("EastUS2.Gateway.MySQL.local", "TXT", "+short"))
	wantTXT := []string{`"primary=191.239.224.107"`, `"region=East US 2"`, `"secondary=40.79.84.180"`, `"tertiary=52.167.104.0"`}
	if !slices.Equal(txt, wantTXT) {
		t.Errorf("TXT: %v, want %v", txt, wantTXT)
	}
	if got := strings.TrimSpace(s.dig("primary.eastus1.gateway.mysql.local", "+short")); got != "191.238.6.43" {
		t.Errorf("primary.eastus1: %q", got)
	}

	out := s.dig("nowhere.gateway.mysql.local")
	for _, want := range []string{"status: NXDOMAIN", "flags: qr aa", "AUTHORITY: 1", "IN\tSOA\tns.dns.gateway.mysql.local."} {
		if !strings.Contains(out, want) {
			t.Errorf("NXDOMAIN answer lacks %q:\n%s", want, out)
		}
	}
	out = s.dig("eastus2.gateway.mysql.local", "AAAA")
	if !strings.Contains(out, "status: NOERROR") || !strings.Contains(out, "ANSWER: 0, AUTHORITY: 1") || !strings.Contains(out, "flags: qr aa") {
		t.Errorf("NODATA answer:\n%s", out)
	}
	// The case of the question comes back as asked.
	if out := s.dig("EASTUS2.gateway.mysql.local"); !strings.Contains(out, ";EASTUS2.gateway.mysql.local.\tIN\tA") {
		t.Errorf("question not echoed as asked:\n%s", out)
	}
	// PTR, served by the root Corefile's in-addr.arpa block.
	if got := strings.TrimSpace(s.dig("-x", "52.167.104.0", "+short")); got != "tertiary.eastus2.gateway.mysql.local." {
		t.Errorf("PTR of 52.167.104.0: %q", got)
	}
}

// TestLargeAnswerTruncation checks CoreDNS's writer fits all.Z to a client
// without EDNS: TC over UDP, the full answer over TCP.
func TestLargeAnswerTruncation(t *testing.T) {
	s := startServer(t, map[string]string{"Corefile": rootCorefile(t)})
	m := new(dns.Msg)
	m.SetQuestion("all.gateway.mysql.local.", dns.TypeA)
	udp := s.exchange(m, "udp")
	if !udp.Truncated {
		t.Errorf("UDP without EDNS: TC not set (%d answers)", len(udp.Answer))
	}
	udp.Compress = true // as the server packed it
	if packed, _ := udp.Pack(); len(packed) > 512 {
		t.Errorf("UDP answer of %d bytes to a client without EDNS", len(packed))
	}
	if tcp := s.exchange(m, "tcp"); tcp.Truncated || len(tcp.Answer) != 47 {
		t.Errorf("TCP: TC %v, %d answers, want the full 47", tcp.Truncated, len(tcp.Answer))
	}
	m.SetEdns0(4096, false)
	if big := s.exchange(m, "udp"); big.Truncated || len(big.Answer) != 47 {
		t.Errorf("UDP with EDNS 4096: TC %v, %d answers", big.Truncated, len(big.Answer))
	}

	// dig retries over TCP by itself and gets all 47.
	out := s.dig("all.gateway.mysql.local", "+noedns")
	if !strings.Contains(out, "Truncated, retrying in TCP mode") || !strings.Contains(out, "ANSWER: 47") {
		t.Errorf("dig +noedns all.Z:\n%s", out)
	}
	out = s.dig("all.gateway.mysql.local", "+noedns", "+ignore")
	if !strings.Contains(out, "flags: qr aa tc") {
		t.Errorf("dig +noedns +ignore: no tc flag:\n%s", out)
	}
	spf := s.dig("all.gateway.mysql.local", "TXT", "+short")
	if !strings.HasPrefix(spf, `"v=spf1 ip4:`) || !strings.Contains(spf, `-all"`) {
		t.Errorf("SPF TXT: %s", spf)
	}
}

// TestGoResolver resolves through Go's own resolver, as a Go client would.
func TestGoResolver(t *testing.T) {
	s := startServer(t, map[string]string{"Corefile": rootCorefile(t)})
	for _, network := range []string{"udp", "tcp"} {
		r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, s.addr)
		}}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		addrs, err := r.LookupHost(ctx, "westus.gateway.mysql.local")
		slices.Sort(addrs)
		if err != nil || !slices.Equal(addrs, []string{"104.42.238.205", "23.99.34.75"}) {
			t.Errorf("%s LookupHost westus: %v %v", network, addrs, err)
		}
		txts, err := r.LookupTXT(ctx, "primary.westus.gateway.mysql.local")
		if err != nil || !slices.Equal(txts, []string{"primary=23.99.34.75"}) {
			t.Errorf("%s LookupTXT: %v %v", network, txts, err)
		}
		_, srvs, err := r.LookupSRV(ctx, "mysql", "tcp", "westus.gateway.mysql.local")
		if err != nil || len(srvs) != 2 || srvs[0].Target != "primary.westus.gateway.mysql.local." || srvs[0].Port != 3306 {
			t.Errorf("%s LookupSRV: %+v %v", network, srvs, err)
		}
		names, err := r.LookupAddr(ctx, "23.99.34.75")
		if err != nil || !slices.Equal(names, []string{"primary.westus.gateway.mysql.local."}) {
			t.Errorf("%s LookupAddr: %v %v", network, names, err)
		}
		_, err = r.LookupHost(ctx, "nowhere.gateway.mysql.local")
		var dnsErr *net.DNSError
		if !asDNSError(err, &dnsErr) || !dnsErr.IsNotFound {
			t.Errorf("%s LookupHost nowhere: %v, want not found", network, err)
		}
	}
}

func asDNSError(err error, target **net.DNSError) bool {
	e, ok := err.(*net.DNSError)
	if ok {
		*target = e
	}
	return ok
}

// TestMetricsEndToEnd reads mysqlgw's metrics from the prometheus plugin.
func TestMetricsEndToEnd(t *testing.T) {
	metricsPort := freePort(t)
	s := startServer(t, map[string]string{"Corefile": fmt.Sprintf(`gateway.mysql.local:{PORT} {
		bind 127.0.0.1
		prometheus 127.0.0.1:%d
		mysqlgw
	}`, metricsPort)})
	s.dig("eastus2.gateway.mysql.local", "+short")
	s.dig("nowhere.gateway.mysql.local", "+short")
	s.dig("eastus2.gateway.mysql.local", "AAAA", "+short")
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`coredns_mysqlgw_requests_total{kind="answer",server="dns://127.0.0.1:` + fmt.Sprint(s.port) + `",type="A",view="",zone="gateway.mysql.local."} 1`,
		`coredns_mysqlgw_requests_total{kind="nxdomain",`,
		`coredns_mysqlgw_requests_total{kind="nodata",`,
		`coredns_mysqlgw_regions{file="builtin"} 31`,
		`coredns_mysqlgw_addresses{file="builtin"} 47`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestBadCorefileStopsStartup checks a wrong Corefile stops the binary with
// an error naming the line, and a bad regions file names the file and line.
func TestBadCorefileStopsStartup(t *testing.T) {
	for _, tc := range []struct{ corefile, regions, want string }{
		{"gateway.mysql.local:{PORT} {\n  mysqlgw {\n    ttl forever\n  }\n}\n", "", `Corefile:3 - Error during parsing: ttl: "forever" is not a whole number`},
		{"gateway.mysql.local:{PORT} {\n  mysqlgw {\n    alias eu nowhere\n  }\n}\n", "", `Corefile:3: alias "eu": unknown region "nowhere"`},
		{"gateway.mysql.local:{PORT} {\n  mysqlgw {\n    regions regions.txt\n  }\n}\n", "lab 127.0.0.2\nlab 127.0.0.3\n", `regions.txt:2: region "lab" is already defined on line 1`},
	} {
		dir := t.TempDir()
		port := freePort(t)
		os.WriteFile(dir+"/Corefile", []byte(strings.ReplaceAll(tc.corefile, "{PORT}", fmt.Sprint(port))), 0o644)
		if tc.regions != "" {
			os.WriteFile(dir+"/regions.txt", []byte(tc.regions), 0o644)
		}
		cmd := exec.Command(binary, "-conf", "Corefile")
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Errorf("%q: the server started", tc.corefile)
		}
		if !strings.Contains(string(out), tc.want) {
			t.Errorf("output lacks %q:\n%s", tc.want, out)
		}
	}
}

package test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mysqlgw/mysqlgw/internal/testutil"
)

// The resolver configurations below are the README's, word for word, with
// 1053 (mysqlgw's port there) replaced by the test server's port. Each test
// wraps one in the least it takes to run the resolver unprivileged in a
// temporary folder on a loopback port; that wrapper also sends every name
// outside the zone to a closed loopback port, so that nothing leaves the
// machine and a zone that is not configured fails instead of being resolved
// some other way.

// unboundConfig is a drop-in for /etc/unbound/unbound.conf.d/.
const unboundConfig = `server:
    do-not-query-localhost: no
    domain-insecure: "gateway.mysql.local."
stub-zone:
    name: "gateway.mysql.local."
    stub-addr: 127.0.0.1@1053
`

// dnsmasqConfig is a drop-in for /etc/dnsmasq.d/.
const dnsmasqConfig = `server=/gateway.mysql.local/127.0.0.1#1053
`

// bindOptions goes inside named.conf's options block, bindZone beside it
// (Debian: /etc/bind/named.conf.options and named.conf.local).
const (
	bindOptions = `validate-except { "gateway.mysql.local"; };`
	bindZone    = `zone "gateway.mysql.local" {
    type forward;
    forward only;
    forwarders { 127.0.0.1 port 1053; };
};
`
)

// clusterCorefile is the server block to add to the cluster's own CoreDNS
// (the coredns ConfigMap in kube-system), with the mysqlgw Service's IP.
const clusterCorefile = `gateway.mysql.local:53 {
    errors
    cache 30
    forward . 10.96.0.53
}
`

// resolverCorefile runs mysqlgw with the log plugin, so that the test sees
// every query a resolver sends it, and bufsize 512, so that the all-regions
// answer is truncated over UDP and the resolver must fetch it over TCP.
const resolverCorefile = `gateway.mysql.local:{PORT} {
    bind 127.0.0.1
    bufsize 512
    mysqlgw {
        ttl 60
    }
    log
}
`

// resolverTTL is the ttl above: the SOA's minimum, so the negative TTL.
const resolverTTL = 60

func TestResolvers(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start func(t *testing.T, upstream int) string
	}{
		{"unbound", startUnbound},
		{"dnsmasq", startDnsmasq},
		{"bind", startNamed},
		{"coredns", startClusterCoreDNS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			gw := startServer(t, map[string]string{"Corefile": resolverCorefile})
			addr := tc.start(t, gw.port)
			testThroughResolver(t, gw, addr)
		})
	}
}

// testThroughResolver resolves the table's names through the resolver at
// addr and compares every answer with mysqlgw's own.
func testThroughResolver(t *testing.T, gw *server, addr string) {
	const zone = "gateway.mysql.local."

	t.Run("region", func(t *testing.T) {
		for _, qtype := range []uint16{dns.TypeA, dns.TypeTXT} {
			r, _ := resolve(t, addr, "eastus2."+zone, qtype)
			want := gw.exchange(question("eastus2."+zone, qtype), "tcp")
			checkSameAnswer(t, r, want, qtype)
		}
		r, _ := resolve(t, addr, "eastus2."+zone, dns.TypeTXT)
		if got := rdata(r.Answer, dns.TypeTXT); !slices.Contains(got, `"region=East US 2"`) {
			t.Errorf("eastus2 TXT through the resolver: %v, want region=East US 2 among them", got)
		}
	})

	t.Run("role", func(t *testing.T) {
		r, _ := resolve(t, addr, "primary.eastus2."+zone, dns.TypeA)
		if got := rdata(r.Answer, dns.TypeA); !slices.Equal(got, []string{"191.239.224.107"}) {
			t.Errorf("primary.eastus2 A through the resolver: %v, want [191.239.224.107]", got)
		}
	})

	t.Run("nxdomain cached", func(t *testing.T) {
		name := "nosuchregion." + zone
		upstream := fmt.Sprintf(`"A IN %s `, name)
		first, _ := resolve(t, addr, name, dns.TypeA)
		firstTTL := checkNegative(t, "first", first)
		gw.waitLog(upstream, 10*time.Second)

		second, _ := resolve(t, addr, name, dns.TypeA)
		if second.Rcode != dns.RcodeNameError {
			t.Fatalf("second %s A: rcode %s, want NXDOMAIN", name, dns.RcodeToString[second.Rcode])
		}
		// Unbound and BIND hand out the cached SOA with its TTL counting
		// down; dnsmasq answers from its cache without one.
		if soa := findSOA(second); soa != nil && soa.Hdr.Ttl > firstTTL {
			t.Errorf("second answer's SOA TTL %d is above the first's %d: not from the cache", soa.Hdr.Ttl, firstTTL)
		}

		// A later query that must reach mysqlgw: once it is in the log, so
		// is any upstream query for the second lookup.
		marker := "secondary.westus." + zone
		if r, _ := resolve(t, addr, marker, dns.TypeA); r.Rcode != dns.RcodeSuccess {
			t.Fatalf("%s A: rcode %s", marker, dns.RcodeToString[r.Rcode])
		}
		gw.waitLog(fmt.Sprintf(`"A IN %s `, marker), 10*time.Second)
		if n := strings.Count(gw.out.String(), upstream); n != 1 {
			t.Errorf("mysqlgw saw %d queries for %s, want 1: the resolver did not cache the NXDOMAIN\n%s", n, name, gw.out.String())
		}
	})

	t.Run("all over tcp", func(t *testing.T) {
		name := "all." + zone
		r, truncated := resolve(t, addr, name, dns.TypeA)
		if !truncated {
			t.Errorf("%s A over UDP without EDNS was not truncated by the resolver", name)
		}
		// bufsize 512 truncated mysqlgw's UDP answer to the resolver, so the
		// full answer can only have come over TCP. (Checked before this test
		// asks mysqlgw itself over TCP below.)
		gw.waitLog(fmt.Sprintf(`"A IN %s tcp `, name), 10*time.Second)
		want := gw.exchange(question(name, dns.TypeA), "tcp")
		checkSameAnswer(t, r, want, dns.TypeA)
		if n := len(rdata(r.Answer, dns.TypeA)); n != 47 {
			t.Errorf("%s A through the resolver: %d addresses, want 47", name, n)
		}
	})
}

// checkNegative checks an NXDOMAIN answer with the zone's SOA, whose TTL
// bounds how long it may be cached, and returns that TTL.
func checkNegative(t *testing.T, which string, r *dns.Msg) uint32 {
	t.Helper()
	if r.Rcode != dns.RcodeNameError {
		t.Fatalf("%s answer: rcode %s, want NXDOMAIN\n%s", which, dns.RcodeToString[r.Rcode], r)
	}
	soa := findSOA(r)
	if soa == nil {
		t.Fatalf("%s answer has no SOA in the authority section\n%s", which, r)
	}
	if soa.Minttl != resolverTTL || soa.Hdr.Ttl == 0 || soa.Hdr.Ttl > resolverTTL {
		t.Fatalf("%s answer's SOA: TTL %d, minimum %d; want both %d (the TTL may count down)", which, soa.Hdr.Ttl, soa.Minttl, resolverTTL)
	}
	return soa.Hdr.Ttl
}

func findSOA(r *dns.Msg) *dns.SOA {
	for _, rr := range r.Ns {
		if soa, ok := rr.(*dns.SOA); ok {
			return soa
		}
	}
	return nil
}

// checkSameAnswer compares the records of qtype in a resolver's answer with
// mysqlgw's own, ignoring order, case and TTL.
func checkSameAnswer(t *testing.T, got, want *dns.Msg, qtype uint16) {
	t.Helper()
	q := want.Question[0].Name + " " + dns.TypeToString[qtype]
	if got.Rcode != dns.RcodeSuccess {
		t.Fatalf("%s through the resolver: rcode %s, want NOERROR", q, dns.RcodeToString[got.Rcode])
	}
	g, w := rdata(got.Answer, qtype), rdata(want.Answer, qtype)
	if len(w) == 0 {
		t.Fatalf("%s: mysqlgw itself answers nothing", q)
	}
	if !slices.Equal(g, w) {
		t.Errorf("%s through the resolver:\n got %v\nwant %v", q, g, w)
	}
	for _, rr := range got.Answer {
		if rr.Header().Ttl > resolverTTL {
			t.Errorf("%s through the resolver: TTL %d above mysqlgw's %d", q, rr.Header().Ttl, resolverTTL)
		}
	}
}

// rdata returns the sorted data of the records of qtype.
func rdata(rrs []dns.RR, qtype uint16) []string {
	var out []string
	for _, rr := range rrs {
		if rr.Header().Rrtype != qtype {
			continue
		}
		hdr := rr.Header().String()
		out = append(out, strings.TrimPrefix(rr.String(), hdr))
	}
	slices.Sort(out)
	return out
}

func question(name string, qtype uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	return m
}

// resolve asks a resolver the way a stub does: over UDP without EDNS, so a
// 512-byte limit, and again over TCP when the answer comes back truncated.
func resolve(t *testing.T, addr, name string, qtype uint16) (r *dns.Msg, truncated bool) {
	t.Helper()
	m := question(name, qtype)
	c := &dns.Client{Net: "udp", Timeout: 5 * time.Second}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s %s over UDP via %s: %v", name, dns.TypeToString[qtype], addr, err)
	}
	if !r.Truncated {
		return r, false
	}
	c.Net = "tcp"
	r, _, err = c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s %s over TCP via %s: %v", name, dns.TypeToString[qtype], addr, err)
	}
	if r.Truncated {
		t.Fatalf("%s %s over TCP via %s: truncated", name, dns.TypeToString[qtype], addr)
	}
	return r, true
}

// withPort puts the test server's port where the README has 1053.
func withPort(config string, port int) string {
	return strings.ReplaceAll(config, "@1053", fmt.Sprintf("@%d", port))
}

// requireRootKey returns Debian's root trust anchor (dns-root-data), which a
// validating Unbound needs; without it the test skips on a laptop and fails
// in CI.
func requireRootKey(t *testing.T) string {
	t.Helper()
	const rootKey = "/usr/share/dns/root.key"
	if _, err := os.Stat(rootKey); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v; .ci/run installs dns-root-data", err)
		}
		t.Skip(err)
	}
	return rootKey
}

func startUnbound(t *testing.T, upstream int) string {
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
    # Validate, as a production resolver does: domain-insecure must keep
    # the unsigned zone from being judged bogus.
    trust-anchor-file: "%[4]s"
forward-zone:
    name: "."
    forward-addr: 127.0.0.1@%[3]d
`, dir, port, sink, rootKey) + withPort(unboundConfig, upstream)
	writeConfig(t, dir, "unbound.conf", config)
	return startResolver(t, dir, port, bin, "-d", "-c", filepath.Join(dir, "unbound.conf"))
}

func startDnsmasq(t *testing.T, upstream int) string {
	bin := requireTool(t, "dnsmasq")
	dir, port, sink := t.TempDir(), freePort(t), freePort(t)
	config := fmt.Sprintf(`port=%[2]d
listen-address=127.0.0.1
bind-interfaces
no-resolv
no-hosts
no-poll
keep-in-foreground
log-facility=-
log-queries
pid-file=%[1]s/dnsmasq.pid
server=127.0.0.1#%[3]d
`, dir, port, sink) + strings.ReplaceAll(dnsmasqConfig, "#1053", fmt.Sprintf("#%d", upstream))
	writeConfig(t, dir, "dnsmasq.conf", config)
	return startResolver(t, dir, port, bin, "--conf-file="+filepath.Join(dir, "dnsmasq.conf"))
}

func startNamed(t *testing.T, upstream int) string {
	bin := requireTool(t, "named")
	dir, port, sink := t.TempDir(), freePort(t), freePort(t)
	config := fmt.Sprintf(`options {
    directory "%[1]s";
    pid-file "%[1]s/named.pid";
    session-keyfile "%[1]s/session.key";
    managed-keys-directory "%[1]s";
    listen-on port %[2]d { 127.0.0.1; };
    listen-on-v6 { none; };
    allow-query { 127.0.0.1; };
    recursion yes;
    notify no;
    dnssec-validation auto;
    forwarders { 127.0.0.1 port %[3]d; };
    forward only;
    %[4]s
};
controls { };
`, dir, port, sink, bindOptions) + strings.ReplaceAll(bindZone, "port 1053", fmt.Sprintf("port %d", upstream))
	writeConfig(t, dir, "named.conf", config)
	return startResolver(t, dir, port, bin, "-g", "-4", "-c", filepath.Join(dir, "named.conf"))
}

// startClusterCoreDNS runs the cluster's CoreDNS as the binary under test:
// errors, cache and forward are CoreDNS's own plugins, compiled in unchanged.
func startClusterCoreDNS(t *testing.T, upstream int) string {
	dir, port := t.TempDir(), freePort(t)
	config := strings.Replace(clusterCorefile, "gateway.mysql.local:53 {\n",
		fmt.Sprintf("gateway.mysql.local:%d {\n    bind 127.0.0.1\n", port), 1)
	config = strings.ReplaceAll(config, "forward . 10.96.0.53", fmt.Sprintf("forward . 127.0.0.1:%d", upstream))
	if !strings.Contains(config, "bind 127.0.0.1") || !strings.Contains(config, fmt.Sprintf("127.0.0.1:%d", upstream)) {
		t.Fatalf("clusterCorefile no longer has the lines this test rewrites:\n%s", clusterCorefile)
	}
	writeConfig(t, dir, "Corefile", config)
	return startResolver(t, dir, port, binary, "-conf", filepath.Join(dir, "Corefile"))
}

func writeConfig(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// startResolver runs a resolver in the foreground in dir, stops it when the
// test ends, and returns its address once it resolves the zone's SOA.
func startResolver(t *testing.T, dir string, port int, bin string, args ...string) string {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	proc := testutil.Start(t, cmd, 10*time.Second)
	r, err := testutil.WaitDNS(addr, "gateway.mysql.local.", dns.TypeSOA, 30*time.Second, proc.Exited)
	if err != nil {
		t.Fatalf("%s at start-up: %v\n%s", filepath.Base(bin), err, proc.Out.String())
	}
	if r.Rcode != dns.RcodeSuccess {
		t.Fatalf("%s answers gateway.mysql.local. SOA with %s:\n%s", filepath.Base(bin), dns.RcodeToString[r.Rcode], proc.Out.String())
	}
	return addr
}

package test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mysqlgw/mysqlgw/internal/testutil"
)

// TestHTTPAbuse does to the HTTP listener what a hostile or broken client
// can: a thousand idle connections, headers a byte a second, a 1 MB header,
// `..` and NUL in paths. Through each, DNS must keep answering (its latency
// is printed, never asserted) and the process's memory must stay bounded.
func TestHTTPAbuse(t *testing.T) {
	httpPort := freePort(t)
	s := startServer(t, map[string]string{"Corefile": fmt.Sprintf(`gateway.mysql.local:{PORT} {
    bind 127.0.0.1
    mysqlgw {
        http 127.0.0.1:%d
    }
}
`, httpPort)})
	httpAddr := fmt.Sprintf("127.0.0.1:%d", httpPort)
	testutil.Until(t, 10*time.Second, "the HTTP listener", func() bool { return httpGet(httpAddr, "/all") == 200 })
	rss := func() int {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.proc.Cmd.Process.Pid))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(data), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
				kb, _ := strconv.Atoi(f[1])
				return kb
			}
		}
		t.Fatal("no VmRSS")
		return 0
	}
	base := rss()
	t.Logf("at rest: DNS %s; RSS %d KB", dnsLatency(t, s.addr), base)
	// A bound that a leak per connection or per header byte would cross:
	// 1000 connections holding 1 MB each would be 1 GB.
	const maxGrowthKB = 150 << 10
	check := func(what string) {
		t.Helper()
		lat := dnsLatency(t, s.addr)
		grown := rss() - base
		t.Logf("%s: DNS %s; RSS +%d KB", what, lat, grown)
		if grown > maxGrowthKB {
			t.Errorf("%s: RSS grew %d KB, more than %d KB", what, grown, maxGrowthKB)
		}
	}

	// A thousand idle connections: at most 256 are served at once, the
	// rest wait in the kernel's backlog, and the read-header timeout closes
	// them all.
	var idle []net.Conn
	for range 1000 {
		c, err := net.Dial("tcp", httpAddr)
		if err != nil {
			t.Fatalf("connection %d: %v", len(idle), err)
		}
		idle = append(idle, c)
	}
	check("1000 idle connections")
	closed := 0
	for _, c := range idle[:256] {
		c.SetReadDeadline(time.Now().Add(60 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err != nil {
			closed++
		}
	}
	if closed != 256 {
		t.Errorf("%d of the first 256 idle connections were closed by the server", closed)
	}
	for _, c := range idle {
		c.Close()
	}
	testutil.Until(t, 30*time.Second, "HTTP answering after the idle connections", func() bool { return httpGet(httpAddr, "/all") == 200 })

	// Headers a byte a second: the read-header timeout ends them.
	var wg sync.WaitGroup
	var mu sync.Mutex
	cut := 0
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", httpAddr)
			if err != nil {
				return
			}
			defer c.Close()
			req := "GET /all HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("a", 60)
			for i := range req {
				if _, err := c.Write([]byte{req[i]}); err != nil {
					mu.Lock()
					cut++
					mu.Unlock()
					return
				}
				time.Sleep(time.Second)
			}
		}()
	}
	time.Sleep(3 * time.Second) // let the trickle start before measuring under it
	check("50 clients sending headers a byte a second")
	wg.Wait()
	if cut != 50 {
		t.Errorf("%d of 50 byte-a-second clients were cut off before sending their headers", cut)
	}

	// A 1 MB header: refused with 431 without reading it all.
	c, err := net.Dial("tcp", httpAddr)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		fmt.Fprintf(c, "GET /all HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n", strings.Repeat("b", 1<<20))
	}()
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	status, _ := bufio.NewReader(c).ReadString('\n')
	c.Close()
	if !strings.Contains(status, " 431 ") {
		t.Errorf("a 1 MB header: %q, want 431", status)
	}
	check("a 1 MB header")

	// `..` and NUL: 404, never a redirect, a thousand times over.
	for i := range 1000 {
		path := []string{"/allow/../../etc/passwd", "/all%00", "/allow/%2e%2e/all", "/" + strings.Repeat("../", 100)}[i%4]
		if code := httpGet(httpAddr, path); code != 404 {
			t.Fatalf("GET %s: %d, want 404", path, code)
		}
	}
	check("1000 requests for `..` and NUL paths")
}

// httpGet sends one GET for the raw path and returns the status code, 0 on
// error.
func httpGet(addr, path string) int {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path)
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return 0
	}
	code, _ := strconv.Atoi(strings.Fields(line + " x x")[1])
	return code
}

// dnsLatency asks 200 queries one after another and returns their median
// and 99th percentile; every one must be answered.
func dnsLatency(t *testing.T, addr string) string {
	t.Helper()
	client := &dns.Client{Timeout: 2 * time.Second}
	m := new(dns.Msg)
	m.SetQuestion("eastus2.gateway.mysql.local.", dns.TypeA)
	var took []time.Duration
	for range 200 {
		r, rtt, err := client.Exchange(m, addr)
		if err != nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
			t.Fatalf("DNS stopped answering: %v %v", r, err)
		}
		took = append(took, rtt)
	}
	slices.Sort(took)
	return fmt.Sprintf("median %s, p99 %s", took[len(took)/2], took[len(took)*99/100])
}

// TestHTTPPace: a listener with `http_rate 2` answers a crowd of 40 (from
// four addresses, each within the per-address connection limit) at most its
// burst plus two a second for the five seconds a request may wait; the
// rest get 503 with Retry-After, and nothing is left unanswered.
func TestHTTPPace(t *testing.T) {
	httpPort := freePort(t)
	startServer(t, map[string]string{"Corefile": fmt.Sprintf(`gateway.mysql.local:{PORT} {
    bind 127.0.0.1
    mysqlgw {
        http 127.0.0.1:%d
        http_rate 2
    }
}
`, httpPort)})
	httpAddr := fmt.Sprintf("127.0.0.1:%d", httpPort)
	testutil.Until(t, 10*time.Second, "the HTTP listener", func() bool { return httpGet(httpAddr, "/all") == 200 })
	time.Sleep(time.Second) // the burst refills: two turns a second

	start := time.Now()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		codes    = map[string]int{}
		lastSent time.Time
	)
	sent := func() {
		mu.Lock()
		defer mu.Unlock()
		lastSent = time.Now()
	}
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, retry := httpStatusFrom(fmt.Sprintf("127.0.0.%d", 2+i%4), httpAddr, "/all", sent)
			mu.Lock()
			defer mu.Unlock()
			codes[status+" Retry-After:"+retry]++
		}()
	}
	wg.Wait()
	took := time.Since(start)
	t.Logf("40 at once, in %s: %v", took, codes)
	served, refused := codes["200 Retry-After:"], codes["503 Retry-After:5"]
	if served+refused != 40 {
		t.Fatalf("answers other than 200 and 503 with Retry-After: %v", codes)
	}
	// Two at once, then one every 500 ms up to 5 s of waiting: 12, plus
	// the turns that came round while the crowd was still arriving, and
	// one for the rounding.
	if limit := 13 + int(lastSent.Sub(start).Seconds()*2); served < 2 || served > limit || refused == 0 {
		t.Errorf("served %d (want 2 to %d) and refused %d (want some)", served, limit, refused)
	}
}

// httpStatusFrom sends one GET from the address from, calls sent once it
// has, and returns the status code and Retry-After.
func httpStatusFrom(from, addr, path string, sent func()) (status, retryAfter string) {
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return err.Error(), ""
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path)
	sent()
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		return err.Error(), ""
	}
	status = strings.Fields(line + " x")[1]
	for {
		h, err := r.ReadString('\n')
		if err != nil || strings.TrimSpace(h) == "" {
			return status, retryAfter
		}
		if k, v, ok := strings.Cut(h, ":"); ok && strings.EqualFold(k, "Retry-After") {
			retryAfter = strings.TrimSpace(v)
		}
	}
}

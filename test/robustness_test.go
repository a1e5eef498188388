package test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mysqlgw/mysqlgw/internal/dnscheck"
	"github.com/mysqlgw/mysqlgw/internal/testutil"
)

// Concurrent queries while the regions file is rewritten over and over,
// valid tables A and B alternating with invalid versions, in the same process
// as the server so that the race detector watches the swap. Every answer
// must come whole from table A or table B, and none may be SERVFAIL.
func TestRobustReloadUnderQueries(t *testing.T) {
	a, b := dnscheck.Tables(8)
	questions := dnscheck.Questions(8)
	dir := t.TempDir()
	path := filepath.Join(dir, "regions.txt")
	if err := os.WriteFile(path, []byte(a.Text()), 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	udp, tcp := startInProcess(t, fmt.Sprintf(`gateway.mysql.local:%d {
    bind 127.0.0.1
    mysqlgw {
        regions %s
        reload 100ms
    }
}`, port, path))
	invalid := a.Invalid()

	var (
		stop                 = make(chan struct{})
		wg                   sync.WaitGroup
		sawA, sawB, switches atomic.Int64
		queries, lost        atomic.Int64
		mu                   sync.Mutex
		failures             []string
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(failures) < 20 {
			failures = append(failures, fmt.Sprintf(format, args...))
		}
	}
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			udpClient := &dns.Client{Timeout: 2 * time.Second}
			tcpClient := &dns.Client{Net: "tcp", Timeout: 5 * time.Second}
			last := ""
			for i := w; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				q := questions[i%len(questions)]
				m := new(dns.Msg)
				m.SetQuestion(q.Name, q.Qtype)
				queries.Add(1)
				r, _, err := udpClient.Exchange(m, udp)
				if err == nil && r.Truncated {
					r, _, err = tcpClient.Exchange(m, tcp)
				}
				if err != nil {
					lost.Add(1)
					continue
				}
				if r.Rcode == dns.RcodeServerFailure {
					fail("SERVFAIL for %s", q)
					continue
				}
				switch which, got := dnscheck.Which(a, b, q, r); which {
				case "AB":
				case "A", "B":
					if which == "A" {
						sawA.Add(1)
					} else {
						sawB.Add(1)
					}
					if last != "" && last != which {
						switches.Add(1)
					}
					last = which
				default:
					fail("%s: got %v, table A gives %v, table B %v", q, got, a.Expect(q), b.Expect(q))
				}
			}
		}()
	}

	// The writer alternates valid and invalid versions, in place and by
	// rename, for three rounds at least and until the readers have seen the
	// tables switch a few times.
	// Each version stays long enough for the watcher to see it twice.
	i := 0
	if err := testutil.Poll(90*time.Second, nil, func() error {
		if i >= 12 && switches.Load() >= 6 {
			return nil
		}
		var content string
		switch i % 4 {
		case 0:
			content = b.Text()
		case 2:
			content = a.Text()
		default:
			content = invalid[(i/2)%len(invalid)]
		}
		if i%3 == 0 {
			tmp := path + ".tmp"
			if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, path); err != nil {
				t.Fatal(err)
			}
		} else if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		i++
		time.Sleep(300 * time.Millisecond) // and Poll's 50 ms
		return fmt.Errorf("the tables switched only %d times (A seen %d, B seen %d): reloads are not applied", switches.Load(), sawA.Load(), sawB.Load())
	}); err != nil {
		close(stop)
		wg.Wait()
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()

	t.Logf("%d queries, %d lost, answers from table A %d, from table B %d, %d switches seen", queries.Load(), lost.Load(), sawA.Load(), sawB.Load(), switches.Load())
	for _, f := range failures {
		t.Error(f)
	}
	if lost.Load()*10 > queries.Load() {
		t.Errorf("%d of %d queries got no answer", lost.Load(), queries.Load())
	}
}

// robustUDP sends raw query bytes over UDP and returns the raw reply, read
// into a buffer big enough for anything, so that an oversized reply shows.
func robustUDP(t *testing.T, addr string, query []byte) []byte {
	t.Helper()
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	buf := make([]byte, 65536)
	for range 3 {
		if _, err := conn.Write(query); err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, err := conn.Read(buf)
		if err == nil {
			return buf[:n]
		}
	}
	t.Fatalf("no UDP reply from %s", addr)
	return nil
}

// No UDP answer is larger than the client allows: 512 bytes without EDNS,
// the advertised size with it. A truncated answer sets TC and the full one
// comes over TCP. The largest amplification is logged for the README.
func TestRobustUDPAnswerSize(t *testing.T) {
	port := freePort(t)
	udp, tcp := startInProcess(t, fmt.Sprintf("gateway.mysql.local:%d {\n    bind 127.0.0.1\n    mysqlgw\n}", port))

	type amp struct {
		query, reply int
		what         string
	}
	var largest amp
	largestBySize := map[int]amp{}
	sawTC := false
	for _, q := range []struct {
		name  string
		qtype uint16
	}{
		{"all.gateway.mysql.local.", dns.TypeTXT},
		{"all.gateway.mysql.local.", dns.TypeA},
		{"eastus2.gateway.mysql.local.", dns.TypeTXT},
		{"_mysql._tcp.eastus2.gateway.mysql.local.", dns.TypeSRV},
		{"eastus2.gateway.mysql.local.", dns.TypeANY},
		{"nope.gateway.mysql.local.", dns.TypeA},
	} {
		full := func() *dns.Msg {
			m := new(dns.Msg)
			m.SetQuestion(q.name, q.qtype)
			r, _, err := (&dns.Client{Net: "tcp", Timeout: 5 * time.Second}).Exchange(m, tcp)
			if err != nil {
				t.Fatal(err)
			}
			return r
		}()
		for _, bufsize := range []int{0, 100, 512, 1232, 4096} {
			m := new(dns.Msg)
			m.SetQuestion(q.name, q.qtype)
			limit := dns.MinMsgSize
			if bufsize > 0 {
				m.SetEdns0(uint16(bufsize), false)
				limit = max(bufsize, dns.MinMsgSize)
			}
			query, err := m.Pack()
			if err != nil {
				t.Fatal(err)
			}
			wire := robustUDP(t, udp, query)
			what := fmt.Sprintf("%s %s bufsize %d", q.name, dns.TypeToString[q.qtype], bufsize)
			if len(wire) > limit {
				t.Errorf("%s: %d-byte UDP reply, over the %d the client allows", what, len(wire), limit)
			}
			r := new(dns.Msg)
			if err := r.Unpack(wire); err != nil {
				t.Fatalf("%s: reply does not unpack: %v", what, err)
			}
			if r.Rcode == dns.RcodeServerFailure {
				t.Errorf("%s: SERVFAIL", what)
			}
			if r.Truncated {
				sawTC = true
				if full.Truncated || len(full.Answer) <= len(r.Answer) {
					t.Errorf("%s: TC set, but TCP gives %d answers against %d", what, len(full.Answer), len(r.Answer))
				}
			} else if len(r.Answer) != len(full.Answer) {
				t.Errorf("%s: %d answers without TC, TCP gives %d", what, len(r.Answer), len(full.Answer))
			}
			if largest.query == 0 || len(wire)*largest.query > largest.reply*len(query) {
				largest = amp{len(query), len(wire), what}
			}
			if l := largestBySize[bufsize]; l.query == 0 || len(wire)*l.query > l.reply*len(query) {
				largestBySize[bufsize] = amp{len(query), len(wire), what}
			}
		}
	}
	if !sawTC {
		t.Error("no answer needed truncation: the test no longer exercises the size limit")
	}
	for _, size := range []int{0, 100, 512, 1232, 4096} {
		l := largestBySize[size]
		t.Logf("bufsize %4d: largest UDP reply %d bytes to a %d-byte query, %.1fx (%s)", size, l.reply, l.query, float64(l.reply)/float64(l.query), l.what)
	}
	t.Logf("largest UDP amplification: %.1fx, a %d-byte reply to a %d-byte query (%s)",
		float64(largest.reply)/float64(largest.query), largest.reply, largest.query, largest.what)
}

// ANY gets one small synthesised record (RFC 8482), not everything a name
// has, whatever the name.
func TestRobustANYIsMinimal(t *testing.T) {
	port := freePort(t)
	udp, _ := startInProcess(t, fmt.Sprintf("gateway.mysql.local:%d {\n    bind 127.0.0.1\n    mysqlgw\n}", port))
	for _, name := range []string{
		"gateway.mysql.local.",
		"all.gateway.mysql.local.",
		"eastus2.gateway.mysql.local.",
		"EastUS2.Gateway.MySQL.Local.",
		"_mysql._tcp.eastus2.gateway.mysql.local.",
		"active.eastus2.gateway.mysql.local.",
	} {
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeANY)
		m.SetEdns0(4096, false)
		query, _ := m.Pack()
		wire := robustUDP(t, udp, query)
		r := new(dns.Msg)
		if err := r.Unpack(wire); err != nil {
			t.Fatal(err)
		}
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 || len(r.Ns) != 0 {
			t.Errorf("ANY %s: want one record, got %s with %d answers, %d authority:\n%v", name, dns.RcodeToString[r.Rcode], len(r.Answer), len(r.Ns), r)
			continue
		}
		h, ok := r.Answer[0].(*dns.HINFO)
		if !ok || h.Cpu != "RFC8482" || h.Hdr.Name != name {
			t.Errorf("ANY %s: want HINFO \"RFC8482\" at the name asked, got %v", name, r.Answer[0])
		}
		if len(r.Extra) > 1 { // the OPT record at most
			t.Errorf("ANY %s: additional section %v", name, r.Extra)
		}
		if len(wire) > 2*len(query) {
			t.Errorf("ANY %s: %d-byte reply to a %d-byte query", name, len(wire), len(query))
		}
	}
	// A name that does not exist is NXDOMAIN, ANY or not.
	m := new(dns.Msg)
	m.SetQuestion("nope.gateway.mysql.local.", dns.TypeANY)
	query, _ := m.Pack()
	r := new(dns.Msg)
	if err := r.Unpack(robustUDP(t, udp, query)); err != nil {
		t.Fatal(err)
	}
	if r.Rcode != dns.RcodeNameError {
		t.Errorf("ANY for a missing name: %s, want NXDOMAIN", dns.RcodeToString[r.Rcode])
	}
}

// The real binary survives a burst of hostile datagrams and still answers;
// robust/run.sh sends tens of thousands, this is the quick version.
func TestRobustHostileBurst(t *testing.T) {
	s := startServer(t, map[string]string{"Corefile": "gateway.mysql.local:{PORT} {\n    bind 127.0.0.1\n    mysqlgw\n}\n"})
	conn, err := net.Dial("udp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	good := func(name string, qtype uint16) []byte {
		m := new(dns.Msg)
		m.SetQuestion(name, qtype)
		b, _ := m.Pack()
		return b
	}
	pkts := [][]byte{
		{},
		{0, 1, 0},
		{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1}, // a name pointing at itself
		{0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 'a', 0xC0, 14, 0, 1, 0, 1},
		{0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, // QDCOUNT 0
	}
	q := good("eastus2.gateway.mysql.local.", dns.TypeA)
	for cut := 12; cut < len(q); cut++ {
		pkts = append(pkts, q[:cut])
	}
	for i := range 2000 {
		p := slices.Clone(q)
		p[i%len(p)] ^= byte(1 << (i % 8))
		pkts = append(pkts, p)
	}
	for i, p := range pkts {
		if _, err := conn.Write(p); err != nil {
			t.Fatal(err)
		}
		if i%200 == 0 {
			time.Sleep(5 * time.Millisecond) // let the server keep up
		}
	}
	// The server may still be working through the burst (with the race
	// detector, on a busy machine): poll until it answers again.
	r, err := testutil.WaitDNS(s.addr, "eastus2.gateway.mysql.local.", dns.TypeA, 60*time.Second, s.proc.Exited)
	if err != nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) != 3 {
		t.Fatalf("after the burst: %v %v", r, err)
	}
	if strings.Contains(s.out.String(), "panic") {
		t.Fatalf("server log has a panic:\n%s", s.out.String())
	}
}

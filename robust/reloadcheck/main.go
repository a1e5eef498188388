// Command reloadcheck rewrites a regions file every second, alternating two
// valid tables (A and B) with invalid versions, while it queries the server
// continuously and checks that every answer comes from table A or table B
// whole, never a mix and never SERVFAIL. It samples the server's goroutines
// and RSS from its prometheus endpoint. It is part of robust/run.sh.
//
// The tables, the questions and what each table answers are
// internal/dnscheck's, which test/robustness_test.go shares.
//
//	reloadcheck init -dir DIR              # DIR/regions.txt (table A) and DIR/queries.txt for dnsperf
//	reloadcheck run -server ADDR -file DIR/regions.txt -metrics URL -duration 60s
//	reloadcheck freeport                   # a loopback port free for UDP and TCP
//	reloadcheck wait -server ADDR          # until the server answers
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/mysqlgw/mysqlgw/internal/dnscheck"
	"github.com/mysqlgw/mysqlgw/internal/testutil"
)

// regionCount regions r01..rNN are in both tables; onlya and onlyb in one each.
const regionCount = 30

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: reloadcheck init|run|freeport|wait [flags]")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "init":
		fs := flag.NewFlagSet("init", flag.ExitOnError)
		dir := fs.String("dir", ".", "where to write regions.txt and queries.txt")
		fs.Parse(os.Args[2:])
		initFiles(*dir)
	case "run":
		os.Exit(run(os.Args[2:]))
	case "freeport":
		port, err := testutil.LoopbackPort()
		if err != nil {
			fatal(err)
		}
		fmt.Println(port)
	case "wait":
		fs := flag.NewFlagSet("wait", flag.ExitOnError)
		server := fs.String("server", "127.0.0.1:1053", "the server's UDP address")
		within := fs.Duration("within", 30*time.Second, "how long to wait")
		fs.Parse(os.Args[2:])
		if _, err := testutil.WaitDNS(*server, "all."+dnscheck.Zone, dns.TypeSOA, *within, nil); err != nil {
			fatal(err)
		}
	default:
		fmt.Fprintf(os.Stderr, "reloadcheck: unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
}

func initFiles(dir string) {
	a, _ := dnscheck.Tables(regionCount)
	if err := os.WriteFile(filepath.Join(dir, "regions.txt"), []byte(a.Text()), 0o644); err != nil {
		fatal(err)
	}
	var b strings.Builder
	for _, q := range dnscheck.Questions(regionCount) {
		fmt.Fprintln(&b, q)
	}
	if err := os.WriteFile(filepath.Join(dir, "queries.txt"), []byte(b.String()), 0o644); err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "reloadcheck:", err)
	os.Exit(2)
}

// counts are the checker's tallies.
type counts struct {
	sent, answered, lost, servfail, wrong atomic.Int64
	fromA, fromB, both                    atomic.Int64 // answers matching one table, or both (unchanged names)
	mu                                    sync.Mutex
	examples                              []string
}

func (c *counts) wrongAnswer(s string) {
	c.wrong.Add(1)
	c.mu.Lock()
	if len(c.examples) < 10 {
		c.examples = append(c.examples, s)
	}
	c.mu.Unlock()
}

func run(args []string) int {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	server := fs.String("server", "127.0.0.1:1053", "the server's UDP address, loopback only")
	file := fs.String("file", "regions.txt", "the regions file the server watches")
	metricsURL := fs.String("metrics", "", "the server's prometheus /metrics URL")
	duration := fs.Duration("duration", 60*time.Second, "how long to rewrite and check")
	settle := fs.Duration("settle", 5*time.Second, "how long to let the server settle before the last sample")
	workers := fs.Int("workers", 2, "concurrent checking clients")
	every := fs.Duration("every", time.Second, "how often the file is rewritten")
	fs.Parse(args)

	host, _, err := net.SplitHostPort(*server)
	if err != nil || !net.ParseIP(host).IsLoopback() {
		fatal(fmt.Errorf("-server must be a loopback address, got %q", *server))
	}
	a, b := dnscheck.Tables(regionCount)

	base := sample(*metricsURL)
	fmt.Printf("reloadcheck: before: %s\n", base)

	ctx, cancel := context.WithTimeout(context.Background(), *duration)
	defer cancel()
	var wg sync.WaitGroup
	var rewrites, invalid atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		rewrite(ctx, *file, *every, a, b, &rewrites, &invalid)
	}()
	var c counts
	for w := range *workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			check(ctx, *server, a, b, w, &c)
		}()
	}
	var samples []metrics
	ticker := time.NewTicker(time.Second)
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-ticker.C:
			samples = append(samples, sample(*metricsURL))
		}
	}
	ticker.Stop()
	wg.Wait()
	end := sample(*metricsURL)
	time.Sleep(*settle)
	settled := sample(*metricsURL)

	fmt.Printf("reloadcheck: %d rewrites (%d invalid) every %s over %s\n", rewrites.Load(), invalid.Load(), *every, *duration)
	fmt.Printf("reloadcheck: checker sent %d, answered %d, lost %d (%.3f%%), SERVFAIL %d, wrong %d; answers from table A only %d, B only %d, either %d\n",
		c.sent.Load(), c.answered.Load(), c.lost.Load(), pct(c.lost.Load(), c.sent.Load()), c.servfail.Load(), c.wrong.Load(),
		c.fromA.Load(), c.fromB.Load(), c.both.Load())
	for _, e := range c.examples {
		fmt.Println("  wrong:", e)
	}
	mid := base
	if len(samples) > 0 {
		mid = samples[len(samples)/2]
	}
	peak := base
	for _, s := range samples {
		peak.goroutines = max(peak.goroutines, s.goroutines)
		peak.rss = max(peak.rss, s.rss)
	}
	fmt.Printf("reloadcheck: middle:  %s\n", mid)
	fmt.Printf("reloadcheck: peak:    goroutines=%.0f rss=%.1fMiB\n", peak.goroutines, peak.rss/(1<<20))
	fmt.Printf("reloadcheck: end:     %s\n", end)
	fmt.Printf("reloadcheck: settled: %s (after %s)\n", settled, *settle)
	fmt.Printf("reloadcheck: reloads applied %.0f, reload failures %.0f during the run\n",
		settled.reloads-base.reloads, settled.failures-base.failures)

	ok := true
	fail := func(format string, args ...any) {
		fmt.Printf("FAIL: "+format+"\n", args...)
		ok = false
	}
	if c.wrong.Load() > 0 {
		fail("%d wrong answers", c.wrong.Load())
	}
	if c.servfail.Load() > 0 {
		fail("%d SERVFAIL answers", c.servfail.Load())
	}
	if pct(c.lost.Load(), c.sent.Load()) >= 0.1 {
		fail("checker lost %.3f%% of its queries", pct(c.lost.Load(), c.sent.Load()))
	}
	if c.fromA.Load() == 0 || c.fromB.Load() == 0 {
		fail("never saw both tables served: the reloads did not happen")
	}
	if *metricsURL != "" {
		// Goroutines return to where they were; memory stops growing once
		// the load ends (Go keeps its heap, so settled is compared with the
		// middle of the run, not with the idle start).
		if settled.goroutines > base.goroutines+2 {
			fail("goroutines grew from %.0f to %.0f", base.goroutines, settled.goroutines)
		}
		if settled.rss > mid.rss*1.25+8<<20 {
			fail("RSS kept growing: %.1fMiB in the middle of the run, %.1fMiB settled", mid.rss/(1<<20), settled.rss/(1<<20))
		}
		if settled.reloads-base.reloads < 2 {
			fail("the server applied %.0f reloads", settled.reloads-base.reloads)
		}
	}
	if !ok {
		return 1
	}
	fmt.Println("OK: no wrong answers, no SERVFAIL, nothing leaked")
	return 0
}

func pct(n, of int64) float64 {
	if of == 0 {
		return 0
	}
	return 100 * float64(n) / float64(of)
}

// rewrite writes the file every interval: invalid, B, invalid, A, ... Valid
// versions are written in place in two halves a few milliseconds apart or
// renamed into place, so that the watcher also meets a file mid-write.
func rewrite(ctx context.Context, path string, every time.Duration, a, b dnscheck.Table, rewrites, invalid *atomic.Int64) {
	valid := []string{b.Text(), a.Text()}
	bad := a.Invalid()
	ticker := time.NewTicker(every)
	defer ticker.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			// Leave a valid file behind, whatever the last version was.
			os.WriteFile(path, []byte(a.Text()), 0o644)
			return
		case <-ticker.C:
		}
		var err error
		switch {
		case i%2 == 0:
			err = os.WriteFile(path, []byte(bad[(i/2)%len(bad)]), 0o644)
			invalid.Add(1)
		case (i/2)%2 == 0:
			err = writeInHalves(path, valid[(i/2)%2])
		default:
			tmp := path + ".tmp"
			if err = os.WriteFile(tmp, []byte(valid[(i/2)%2]), 0o644); err == nil {
				err = os.Rename(tmp, path)
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "reloadcheck: rewriting:", err)
		}
		rewrites.Add(1)
	}
}

func writeInHalves(path, content string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	half := len(content) / 2
	if _, err := f.WriteString(content[:half]); err != nil {
		f.Close()
		return err
	}
	time.Sleep(20 * time.Millisecond)
	if _, err := f.WriteString(content[half:]); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// check queries continuously and classifies every reply.
func check(ctx context.Context, server string, a, b dnscheck.Table, worker int, c *counts) {
	qs := dnscheck.Questions(regionCount)
	client := &dns.Client{Timeout: time.Second}
	for i := worker; ctx.Err() == nil; i++ {
		q := qs[i%len(qs)]
		m := new(dns.Msg)
		m.SetQuestion(q.Name, q.Qtype)
		c.sent.Add(1)
		r, _, err := client.Exchange(m, server)
		if err != nil {
			c.lost.Add(1)
			continue
		}
		c.answered.Add(1)
		if r.Rcode == dns.RcodeServerFailure {
			c.servfail.Add(1)
			continue
		}
		if r.Truncated {
			// The SRV and all answers fit in 512 bytes here; a TC reply
			// would hide a mix, so ask again over TCP.
			tcp := &dns.Client{Net: "tcp", Timeout: time.Second}
			if r, _, err = tcp.Exchange(m, server); err != nil {
				c.lost.Add(1)
				continue
			}
		}
		switch which, got := dnscheck.Which(a, b, q, r); which {
		case "AB":
			c.both.Add(1)
		case "A":
			c.fromA.Add(1)
		case "B":
			c.fromB.Add(1)
		default:
			c.wrongAnswer(fmt.Sprintf("%s: %v; table A: %v; table B: %v", q, got, a.Expect(q), b.Expect(q)))
		}
	}
}

// metrics is one sample of the server's own gauges.
type metrics struct {
	goroutines, rss, reloads, failures float64
}

func (m metrics) String() string {
	return fmt.Sprintf("goroutines=%.0f rss=%.1fMiB", m.goroutines, m.rss/(1<<20))
}

func sample(url string) metrics {
	var m metrics
	if url == "" {
		return m
	}
	client := &http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, "reloadcheck: metrics:", err)
		return m
	}
	defer resp.Body.Close()
	scanner := bufio.NewScanner(resp.Body)
	for scanner.Scan() {
		line := scanner.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			continue
		}
		switch {
		case name == "go_goroutines":
			m.goroutines = v
		case name == "process_resident_memory_bytes":
			m.rss = v
		case strings.HasPrefix(name, "coredns_mysqlgw_reloads_total"):
			m.reloads += v
		case strings.HasPrefix(name, "coredns_mysqlgw_reload_failures_total"):
			m.failures += v
		}
	}
	return m
}

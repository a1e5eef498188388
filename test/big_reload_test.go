package test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mysqlgw/mysqlgw/internal/testutil"
)

// bigTable is n regions with a gateway and a /24 each, from the benchmarking
// range 198.18.0.0/15 (the second half when shifted): about 700 records a
// region, so 2,000 regions are some 1.4 million, within the default budget.
func bigTable(n int, shifted bool) string {
	var b strings.Builder
	third := 0
	if shifted {
		third = 128
	}
	for i := range n {
		fmt.Fprintf(&b, "r%d 198.%d.%d.1 subnets 198.%d.%d.0/24\n", i, 18+i/128%2, third+i%128, 18+i/128%2, third+i%128)
	}
	return b.String()
}

// TestBigReloadKeepsServing: while a reload builds a table of 1.4 million
// records, the HTTP lists answer from the last version at their usual
// speed; SIGTERM in the middle of such a reload ends the server at once
// rather than after the build. The times are logged; the bounds asserted
// are generous (the requirements are 2 s for SIGTERM and the usual time for
// a list).
func TestBigReloadKeepsServing(t *testing.T) {
	t.Parallel()
	httpPort := freePort(t)
	s := startServer(t, map[string]string{
		"Corefile": fmt.Sprintf("gateway.mysql.local:{PORT} {\n    bind 127.0.0.1\n    mysqlgw {\n        regions regions\n        reload 100ms\n        http 127.0.0.1:%d\n    }\n}\n", httpPort),
		// Only 64 regions, so that regions of the big tables never clash
		// with the names asked here.
		"regions": bigTable(64, false),
	})
	url := fmt.Sprintf("http://127.0.0.1:%d/allow/r5", httpPort)
	client := &http.Client{Timeout: 10 * time.Second}
	get := func() (string, time.Duration) {
		t.Helper()
		began := time.Now()
		resp, err := client.Get(url)
		if err != nil {
			t.Fatalf("GET during the reload: %v", err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET during the reload: %s", resp.Status)
		}
		return string(body), time.Since(began)
	}
	before, usual := get()
	after := "198.18.133.0/24\n" // r5 of the shifted table: its gateway inside its /24

	reloaded := strings.Count(s.out.String(), "Reloaded regions")
	s.writeFile("regions", bigTable(2000, true))
	wrote := time.Now()
	var slowest time.Duration
	gets := 0
	testutil.Until(t, 3*time.Minute, "the big table served", func() bool {
		body, took := get()
		gets++
		slowest = max(slowest, took)
		if body != before && body != after {
			t.Fatalf("a list during the reload is neither table's: %q", body)
		}
		return strings.Count(s.out.String(), "Reloaded regions") > reloaded
	})
	t.Logf("the reload to 2,000 regions took %s; %d lists asked meanwhile, the slowest in %s (%s before the reload)",
		time.Since(wrote).Round(time.Millisecond), gets, slowest.Round(time.Millisecond), usual.Round(time.Millisecond))
	if slowest > 2*time.Second {
		t.Errorf("a list took %s during the reload", slowest)
	}

	// Another big table, and SIGTERM while it is being built: the second
	// poll that reads it starts the build.
	s.writeFile("regions", bigTable(2000, false))
	time.Sleep(300 * time.Millisecond) // three polls: read, read again, build
	began := time.Now()
	if err := s.proc.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.proc.Exited:
		t.Logf("SIGTERM during the reload: exited in %s", time.Since(began).Round(time.Millisecond))
	case <-time.After(10 * time.Second):
		t.Fatal("still running 10 s after SIGTERM")
	}
}

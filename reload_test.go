package mysqlgw

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// primaryOf answers primary.<region>.Z A through g, or "" for no answer.
func primaryOf(t *testing.T, g *MysqlGW, region string) string {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion("primary."+region+".gateway.mysql.local.", dns.TypeA)
	resp, _ := serve(t, g, m)
	if len(resp.Answer) != 1 {
		return ""
	}
	return resp.Answer[0].(*dns.A).A.String()
}

func TestReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "regions")
	write := func(content string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("lab 127.0.0.2\n")
	g := newTestPlugin(t, "mysqlgw {\n regions "+path+"\n alias lab-alias lab\n reload 1h\n}")
	fw := g.watcher
	fw.start(g) // reads the applied version; its ticker never fires within the test
	defer fw.stop()
	applied := counterValue(reloadCount.WithLabelValues(path))
	failed := counterValue(reloadFailureCount.WithLabelValues(path))

	// A new version is applied once it reads the same twice in a row.
	write("lab 127.0.0.3\nlab2 127.0.0.4\n")
	fw.check(g)
	if got := primaryOf(t, g, "lab"); got != "127.0.0.2" {
		t.Fatalf("applied after one read: primary %s", got)
	}
	fw.check(g)
	if got := primaryOf(t, g, "lab"); got != "127.0.0.3" {
		t.Fatalf("not applied after two identical reads: primary %s", got)
	}
	if got := primaryOf(t, g, "lab-alias"); got != "127.0.0.3" {
		t.Errorf("Corefile alias lost on reload: %s", got)
	}
	if counterValue(reloadCount.WithLabelValues(path)) != applied+1 {
		t.Error("reloads_total did not count the reload")
	}

	// A bad version keeps the last good table, whole, and counts once.
	write("lab 127.0.0.5\nlab2 not-an-address\n")
	for range 4 {
		fw.check(g)
	}
	if got := primaryOf(t, g, "lab"); got != "127.0.0.3" {
		t.Errorf("bad file half-applied: lab primary %s", got)
	}
	if got := primaryOf(t, g, "lab2"); got != "127.0.0.4" {
		t.Errorf("bad file dropped lab2: %q", got)
	}
	if got := counterValue(reloadFailureCount.WithLabelValues(path)); got != failed+1 {
		t.Errorf("reload_failures_total went up by %v, want 1", got-failed)
	}
	if fw.lastErr == "" || !strings.Contains(fw.lastErr, path+":2:") {
		t.Errorf("error %q does not name the file and line", fw.lastErr)
	}

	// A file that breaks a Corefile alias fails the reload too, naming the Corefile line.
	write("other 127.0.0.6\n")
	fw.check(g)
	fw.check(g)
	if got := primaryOf(t, g, "lab"); got != "127.0.0.3" {
		t.Errorf("table without the alias target applied: lab primary %q", got)
	}
	if !strings.Contains(fw.lastErr, `Testfile:3: alias "lab-alias": unknown region "lab"`) {
		t.Errorf("error %q", fw.lastErr)
	}

	// Deleted: last good stays; restored: picked up.
	os.Remove(path)
	fw.check(g)
	if got := primaryOf(t, g, "lab"); got != "127.0.0.3" {
		t.Errorf("deleted file dropped the table: %q", got)
	}
	write("lab 127.0.0.7\n")
	fw.check(g)
	fw.check(g)
	if got := primaryOf(t, g, "lab"); got != "127.0.0.7" {
		t.Errorf("recovery not picked up: %q", got)
	}
	if fw.lastErr != "" {
		t.Errorf("error %q kept after recovery", fw.lastErr)
	}
}

// TestReloadRunsInBackground checks the watcher's own goroutine picks a
// change up, and that stop ends it.
func TestReloadRunsInBackground(t *testing.T) {
	path := filepath.Join(t.TempDir(), "regions")
	os.WriteFile(path, []byte("lab 127.0.0.2\n"), 0o644)
	g := newTestPlugin(t, "mysqlgw {\n regions "+path+"\n reload 100ms\n}")
	if err := g.start(); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, []byte("lab 127.0.0.3\n"), 0o644)
	deadline := time.Now().Add(10 * time.Second)
	for primaryOf(t, g, "lab") != "127.0.0.3" && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if err := g.stop(); err != nil {
		t.Fatal(err)
	}
	if got := primaryOf(t, g, "lab"); got != "127.0.0.3" {
		t.Fatalf("change not picked up within 10s: %s", got)
	}
}

// counterValue reads a counter's current value.
func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}

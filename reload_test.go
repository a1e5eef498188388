package mysqlgw

// Reloading the regions file: the watcher applies a new version once it
// holds still, keeps the last good table on any fault, and reads no more than
// the size limit.

import (
	"context"
	"fmt"
	golog "log"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/mysqlgw/mysqlgw/internal/testutil"
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
	logged := captureLog(t)
	lastError := func() string {
		errs := logged.errors()
		if len(errs) == 0 {
			return ""
		}
		return errs[len(errs)-1]
	}
	g := newTestPlugin(t, "mysqlgw {\n regions "+path+"\n alias lab-alias lab\n reload 1h\n}")
	fw := g.watcher
	fw.start() // reads the applied version; its ticker never fires within the test
	defer fw.stop()
	applied := counterValue(reloadCount.WithLabelValues(path))
	failed := counterValue(reloadFailureCount.WithLabelValues(path))

	// A new version is applied once it reads the same twice in a row.
	write("lab 127.0.0.3\nlab2 127.0.0.4\n")
	fw.check()
	if got := primaryOf(t, g, "lab"); got != "127.0.0.2" {
		t.Fatalf("applied after one read: primary %s", got)
	}
	fw.check()
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
		fw.check()
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
	if !strings.Contains(lastError(), path+":2:") || len(logged.errors()) != 1 {
		t.Errorf("errors logged %q: want one, naming the file and line", logged.errors())
	}

	// A file that breaks a Corefile alias fails the reload too, naming the Corefile line.
	write("other 127.0.0.6\n")
	fw.check()
	fw.check()
	if got := primaryOf(t, g, "lab"); got != "127.0.0.3" {
		t.Errorf("table without the alias target applied: lab primary %q", got)
	}
	if !strings.Contains(lastError(), `Testfile:3: alias "lab-alias": unknown region "lab"`) {
		t.Errorf("error %q", lastError())
	}

	// Deleted: last good stays; restored: picked up.
	os.Remove(path)
	fw.check()
	if got := primaryOf(t, g, "lab"); got != "127.0.0.3" {
		t.Errorf("deleted file dropped the table: %q", got)
	}
	write("lab 127.0.0.7\n")
	fw.check()
	fw.check()
	if got := primaryOf(t, g, "lab"); got != "127.0.0.7" {
		t.Errorf("recovery not picked up: %q", got)
	}
	// The fault is cleared: the same bad version again is a new fault.
	errs := len(logged.errors())
	write("lab 127.0.0.5\nlab2 not-an-address\n")
	fw.check()
	fw.check()
	if len(logged.errors()) != errs+1 {
		t.Errorf("a bad version after a recovery logged %d errors, want 1", len(logged.errors())-errs)
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
	picked := testutil.Poll(10*time.Second, nil, func() error {
		if got := primaryOf(t, g, "lab"); got != "127.0.0.3" {
			return fmt.Errorf("change not picked up: serving %s", got)
		}
		return nil
	})
	if err := g.stop(); err != nil {
		t.Fatal(err)
	}
	if picked != nil {
		t.Fatal(picked)
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

// The two good tables the fault tests switch between. tableSameSize has the
// length of tableA, so a watcher trusting size and mtime would miss it.
const (
	tableA        = "alpha 192.0.2.1 192.0.2.2\nbeta 198.51.100.1\n"
	tableB        = "alpha 192.0.2.11\ngamma 2001:db8::7\n"
	tableSameSize = "alpha 192.0.2.9 192.0.2.2\nbeta 198.51.100.1\n"
)

// faultLog captures what the plugin logs. clog writes through the standard
// library's log package, so swapping its output is enough; the tests using
// it do not run in parallel.
type faultLog struct {
	testutil.SyncBuffer
}

// errors returns the plugin's error lines logged so far.
func (l *faultLog) errors() []string {
	var out []string
	for _, line := range strings.Split(l.String(), "\n") {
		if strings.Contains(line, "[ERROR] plugin/mysqlgw") {
			out = append(out, line)
		}
	}
	return out
}

func captureLog(t *testing.T) *faultLog {
	t.Helper()
	l := &faultLog{}
	prev := golog.Writer()
	golog.SetOutput(l)
	t.Cleanup(func() { golog.SetOutput(prev) })
	return l
}

// watched is a plugin serving the regions file at path, with its watcher
// primed as the server primes it; the test then polls by calling check.
type watched struct {
	t    *testing.T
	g    *MysqlGW
	path string
	log  *faultLog
}

// newWatched loads path (which must hold tableA) like setup does, then runs
// the watcher's start-up with an interval so long it never ticks, and stops
// it: the test drives every poll itself.
func newWatched(t *testing.T, path string) *watched {
	t.Helper()
	w := &watched{t: t, path: path, log: captureLog(t)}
	g := newTestPlugin(t, fmt.Sprintf("mysqlgw {\n regions %s\n reload 1h\n}", path))
	if g.watcher == nil {
		t.Fatal("regions with reload set up no watcher")
	}
	g.Next = test.NextHandler(dns.RcodeServerFailure, nil)
	g.watcher.start()
	g.watcher.stop()
	w.g = g
	w.wantTable(tableA)
	return w
}

// poll runs n polls of the watcher.
func (w *watched) poll(n int) {
	for range n {
		w.g.watcher.check()
	}
}

// wantTable checks that the plugin serves exactly the table in content, both
// as data and as an answer.
func (w *watched) wantTable(content string) {
	w.t.Helper()
	table, err := gwtable.Parse([]byte(content), "want")
	if err != nil {
		w.t.Fatal(err)
	}
	want, got := table.Regions, w.g.answers.Load().regions
	if !reflect.DeepEqual(got, want) {
		w.t.Fatalf("serving %+v\nwant %+v", got, want)
	}
	// The first region's first address also answers over DNS.
	m := new(dns.Msg)
	m.SetQuestion(want[0].Name+".gateway.mysql.local.", dns.TypeTXT)
	rec := dnstest.NewRecorder(&test.ResponseWriter{})
	w.g.ServeDNS(context.Background(), rec, m)
	if rec.Msg == nil || len(rec.Msg.Answer) == 0 {
		w.t.Fatalf("no answer for %s", m.Question[0].Name)
	}
	if first := rec.Msg.Answer[0].(*dns.TXT).Txt[0]; first != "primary="+want[0].Addrs[0].String() {
		w.t.Fatalf("%s answers %q, want primary=%s", m.Question[0].Name, first, want[0].Addrs[0])
	}
}

// wantErrors checks how many error lines the plugin has logged and that the
// last one says what it should.
func (w *watched) wantErrors(n int, last string) {
	w.t.Helper()
	errs := w.log.errors()
	if len(errs) != n {
		w.t.Fatalf("%d error lines logged, want %d:\n%s", len(errs), n, strings.Join(errs, "\n"))
	}
	if n > 0 && !strings.Contains(errs[n-1], last) {
		w.t.Fatalf("last error %q does not mention %q", errs[n-1], last)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// replaceFile writes content beside path and renames it over path, the way
// editors and config management tools save.
func replaceFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	writeFile(t, tmp, content)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// A regions file that disappears, is emptied, truncated mid-line or turned
// into something unreadable keeps the last good table, logs the error once
// however many polls see it, and the next good version is picked up.
func TestFileFaults(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fault  func(t *testing.T, path string)
		logged string // in the error line
	}{
		{"deleted", func(t *testing.T, path string) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}, "no such file"},
		{"emptied", func(t *testing.T, path string) { writeFile(t, path, "") }, "no regions"},
		{"truncated mid-line", func(t *testing.T, path string) { writeFile(t, path, tableA[:len(tableA)-8]) }, ":2: "},
		{"truncated mid-address", func(t *testing.T, path string) { writeFile(t, path, "alpha 192.0.2") }, ":1: "},
		{"replaced by a directory", func(t *testing.T, path string) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(path, 0o755); err != nil {
				t.Fatal(err)
			}
		}, "is a directory, not a regular file"},
		{"made unreadable", func(t *testing.T, path string) {
			if os.Geteuid() == 0 {
				// root reads a mode 000 file all the same; "replaced by a
				// directory" covers a read that fails.
				t.Skip("running as root: chmod 000 does not stop root reading the file")
			}
			if err := os.Chmod(path, 0); err != nil {
				t.Fatal(err)
			}
		}, "permission denied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "regions")
			writeFile(t, path, tableA)
			w := newWatched(t, path)

			tc.fault(t, path)
			w.poll(5)
			w.wantTable(tableA)
			w.wantErrors(1, tc.logged)

			// Recovery: whatever broke the file is undone by a good version.
			os.Chmod(path, 0o644)
			os.Remove(path) // a file, or the empty directory
			writeFile(t, path, tableB)
			w.poll(2)
			w.wantTable(tableB)
			w.wantErrors(1, tc.logged)
		})
	}
}

// Two different faults in a row are two log lines; a fault that returns
// after the file was fixed is logged again.
func TestFileFaultsDistinctErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "regions")
	writeFile(t, path, tableA)
	w := newWatched(t, path)

	writeFile(t, path, "alpha 192.0.2.1\nalpha 192.0.2.2\n")
	w.poll(4)
	w.wantErrors(1, "already defined on line 1")
	writeFile(t, path, "")
	w.poll(4)
	w.wantErrors(2, "no regions")
	os.Remove(path)
	w.poll(4)
	w.wantErrors(3, "no such file")
	w.wantTable(tableA)
}

// An invalid version that comes back after the file held another error must
// be reported again: the operator's last log line would otherwise describe a
// fault the file no longer has.
func TestFileFaultsRecurringRejectedContent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "regions")
	writeFile(t, path, tableA)
	w := newWatched(t, path)

	writeFile(t, path, "")
	w.poll(3)
	w.wantErrors(1, "no regions")
	writeFile(t, path, tableB)
	w.poll(2)
	w.wantTable(tableB)
	writeFile(t, path, "")
	w.poll(3)
	w.wantTable(tableB)
	w.wantErrors(2, "no regions")
}

// A rename over the file is picked up even when the new file has the old
// one's size and modification time.
func TestFileReplacedByRename(t *testing.T) {
	path := filepath.Join(t.TempDir(), "regions")
	writeFile(t, path, tableA)
	w := newWatched(t, path)
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}

	tmp := path + ".new"
	writeFile(t, tmp, tableSameSize)
	if err := os.Chtimes(tmp, info.ModTime(), info.ModTime()); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	w.poll(2)
	w.wantTable(tableSameSize)

	replaceFile(t, path, tableB)
	w.poll(2)
	w.wantTable(tableB)
	w.wantErrors(0, "")
}

// configMap lays out a directory the way the kubelet updates a ConfigMap
// volume: regions -> ..data/regions, ..data -> ..TIMESTAMP, and an update
// writes a new ..TIMESTAMP directory, renames a new symlink over ..data and
// removes the old directory.
type configMap struct {
	t       *testing.T
	dir     string
	current string
	version int
}

func newConfigMap(t *testing.T, content string) *configMap {
	t.Helper()
	cm := &configMap{t: t, dir: t.TempDir()}
	cm.update(content)
	if err := os.Symlink(filepath.Join("..data", "regions"), filepath.Join(cm.dir, "regions")); err != nil {
		t.Fatal(err)
	}
	return cm
}

func (cm *configMap) path() string { return filepath.Join(cm.dir, "regions") }

// update publishes content as a new version: files is nil for a version
// without the regions key.
func (cm *configMap) update(content string) {
	cm.t.Helper()
	cm.version++
	ts := fmt.Sprintf("..2024_01_01_00_00_%02d.%d", cm.version, 1000+cm.version)
	if err := os.Mkdir(filepath.Join(cm.dir, ts), 0o755); err != nil {
		cm.t.Fatal(err)
	}
	if content != "\x00missing" {
		writeFile(cm.t, filepath.Join(cm.dir, ts, "regions"), content)
	}
	tmp := filepath.Join(cm.dir, "..data_tmp")
	if err := os.Symlink(ts, tmp); err != nil {
		cm.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(cm.dir, "..data")); err != nil {
		cm.t.Fatal(err)
	}
	if cm.current != "" {
		if err := os.RemoveAll(filepath.Join(cm.dir, cm.current)); err != nil {
			cm.t.Fatal(err)
		}
	}
	cm.current = ts
}

// A Kubernetes ConfigMap update swaps the ..data symlink: the new version is
// applied, a version without the key or with a bad table keeps the last good
// one, and the next good version is applied again.
func TestFileConfigMapSwap(t *testing.T) {
	cm := newConfigMap(t, tableA)
	w := newWatched(t, cm.path())

	cm.update(tableSameSize)
	w.poll(2)
	w.wantTable(tableSameSize)

	cm.update("\x00missing") // the key was removed from the ConfigMap
	w.poll(3)
	w.wantTable(tableSameSize)
	w.wantErrors(1, "no such file")

	cm.update("alpha 192.0.2.1 not-an-address\n")
	w.poll(3)
	w.wantTable(tableSameSize)
	w.wantErrors(2, ":1: ")

	cm.update(tableB)
	w.poll(2)
	w.wantTable(tableB)
	w.wantErrors(2, ":1: ")
}

// A file caught while it is being written is never applied: every prefix of
// a good table that a poll sees, even one that parses, is only served once
// two polls in a row read it.
func TestFileNeverAppliedHalfWritten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "regions")
	writeFile(t, path, tableA)
	w := newWatched(t, path)

	// A writer appends the new table a few bytes between every two polls.
	// Some prefixes parse ("alpha 192.0.2.1" is a valid table), so only the
	// stability rule keeps them out.
	final := "alpha 192.0.2.1\nbeta 198.51.100.1 198.51.100.2\ngamma 203.0.113.5\n"
	for n := 1; n < len(final); n += 3 {
		writeFile(t, path, final[:n])
		w.poll(1)
		w.wantTable(tableA)
	}
	w.wantErrors(0, "")
	writeFile(t, path, final)
	w.poll(1)
	w.wantTable(tableA)
	w.poll(1)
	w.wantTable(final)
}

// The version on disk when the server starts is served, even when it changed
// between setup loading the file and the watcher starting.
func TestFileChangedBeforeStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "regions")
	writeFile(t, path, tableA)
	captureLog(t)
	g := newTestPlugin(t, fmt.Sprintf("mysqlgw {\n regions %s\n reload 1h\n}", path))
	w := &watched{t: t, g: g, path: path}
	w.wantTable(tableA)

	// Setup has loaded tableA; the file changes before the server starts
	// (a Corefile reload, or a slow start-up).
	writeFile(t, path, tableB)
	g.watcher.start()
	g.watcher.stop()
	w.poll(3)
	w.wantTable(tableB)
}

// The watcher's own goroutine, with a short interval, applies a good version
// and keeps it through a bad one; stop leaves nothing running.
func TestFileWatcherRunning(t *testing.T) {
	path := filepath.Join(t.TempDir(), "regions")
	writeFile(t, path, tableA)
	log := captureLog(t)
	g := newTestPlugin(t, fmt.Sprintf("mysqlgw {\n regions %s\n reload 100ms\n}", path))
	if err := g.start(); err != nil {
		t.Fatal(err)
	}
	defer g.stop()

	waitFor := func(what string, ok func() bool) {
		t.Helper()
		testutil.Until(t, 20*time.Second, "watcher "+what, ok)
	}
	replaceFile(t, path, tableB)
	waitFor("serving table B", func() bool { return g.answers.Load().regions[0].Addrs[0].String() == "192.0.2.11" })
	replaceFile(t, path, "beta 1.2.3\n")
	waitFor("logging the bad version", func() bool { return len(log.errors()) == 1 })
	if got := g.answers.Load().regions[0].Addrs[0].String(); got != "192.0.2.11" {
		t.Fatalf("a bad version replaced the table: serving %s", got)
	}
	g.stop()
	g.stop() // twice is harmless
}

// TestReloadRefusesHugeFile: a regions file that grows far past the limit
// (a sparse gigabyte, which costs no disk) is refused after reading at most
// limit+1 bytes, logged once, and the last good table stays.
func TestReloadRefusesHugeFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "regions")
	writeFile(t, path, tableA)
	w := newWatched(t, path)
	if err := os.Truncate(path, 1<<30); err != nil {
		t.Skipf("no sparse files here: %v", err)
	}
	before := bytesRead(t)
	w.poll(3)
	if read := bytesRead(t) - before; read > 3*(gwtable.MaxFileSize+1)+1<<20 {
		t.Errorf("three polls read %d bytes, want at most %d each", read, gwtable.MaxFileSize+1)
	}
	w.wantTable(tableA)
	w.wantErrors(1, "larger than 16777216 bytes")
}

// bytesRead is what this process has read through system calls so far
// (rchar in /proc/self/io).
func bytesRead(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Skipf("no /proc/self/io: %v", err)
	}
	var n int64
	if _, err := fmt.Sscanf(string(b), "rchar: %d", &n); err != nil {
		t.Fatalf("/proc/self/io: %v", err)
	}
	return n
}

// TestReloadSerial: the SOA follows the file's $SERIAL; a changed file whose
// serial did not increase is served all the same, with a warning that
// secondaries will not see it; bad $SERIAL lines keep the last good table.
func TestReloadSerial(t *testing.T) {
	path := filepath.Join(t.TempDir(), "regions")
	writeFile(t, path, "$SERIAL 2023030901\n"+tableA)
	w := newWatched(t, path)
	serial := func() uint32 {
		m := new(dns.Msg)
		m.SetQuestion("gateway.mysql.local.", dns.TypeSOA)
		resp, _ := serve(t, w.g, m)
		return resp.Answer[0].(*dns.SOA).Serial
	}
	if s := serial(); s != 2023030901 {
		t.Fatalf("serial %d, want 2023030901", s)
	}
	writeFile(t, path, "$SERIAL 2023030901\n"+tableB)
	w.poll(2)
	w.wantTable(tableB)
	if !strings.Contains(w.log.String(), "changed but its serial 2023030901 is not above 2023030901") {
		t.Errorf("no warning for a change without a new serial:\n%s", w.log.String())
	}
	writeFile(t, path, "$SERIAL 2023030902\n"+tableA)
	w.poll(2)
	w.wantTable(tableA)
	if s := serial(); s != 2023030902 {
		t.Errorf("serial %d after the reload, want 2023030902", s)
	}
	if n := strings.Count(w.log.String(), "is not above"); n != 1 {
		t.Errorf("%d serial warnings, want only the one", n)
	}
	for i, bad := range []string{"$SERIAL 99999999999\n" + tableB, tableB + "$SERIAL 2023030903\n", "$SERIAL 1\n$SERIAL 2\n" + tableB} {
		writeFile(t, path, bad)
		w.poll(2)
		w.wantTable(tableA)
		w.wantErrors(i+1, "SERIAL")
	}
}

// An operator who fixes another line while the bad one stays writes a new
// version that fails with the same message: it is logged and counted all the
// same. Polls that see the same version again count nothing.
func TestFileNewVersionSameError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "regions")
	writeFile(t, path, tableA)
	w := newWatched(t, path)
	failed := counterValue(reloadFailureCount.WithLabelValues(path))

	writeFile(t, path, "alpha 192.0.2.1\nbeta not-an-address\n")
	w.poll(4)
	writeFile(t, path, "alpha 192.0.2.7\nbeta not-an-address\n")
	w.poll(4)
	w.wantErrors(2, ":2: ")
	errs := w.log.errors()
	message := func(line string) string { return line[strings.Index(line, "Keeping"):] }
	if message(errs[0]) != message(errs[1]) {
		t.Fatalf("the two versions failed differently:\n%s", strings.Join(errs, "\n"))
	}
	if got := counterValue(reloadFailureCount.WithLabelValues(path)) - failed; got != 2 {
		t.Errorf("reload_failures_total went up by %v, want 2", got)
	}
	w.wantTable(tableA)
}

// Read errors count once per kind: a file missing over many polls, then
// replaced by a FIFO, then missing again is three faults; after a good version
// the same kind counts again.
func TestFileReadErrorsByKind(t *testing.T) {
	path := filepath.Join(t.TempDir(), "regions")
	writeFile(t, path, tableA)
	w := newWatched(t, path)
	failed := counterValue(reloadFailureCount.WithLabelValues(path))
	count := func(want float64) {
		t.Helper()
		if got := counterValue(reloadFailureCount.WithLabelValues(path)) - failed; got != want {
			t.Fatalf("reload_failures_total went up by %v, want %v", got, want)
		}
	}

	os.Remove(path)
	w.poll(4)
	count(1)
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Skipf("no FIFOs here: %v", err)
	}
	w.poll(4)
	count(2)
	w.wantErrors(2, path+": is a named pipe (FIFO), not a regular file")
	os.Remove(path)
	w.poll(4)
	count(3)
	writeFile(t, path, tableB)
	w.poll(2)
	w.wantTable(tableB)
	os.Remove(path)
	w.poll(4)
	count(4)
	w.wantErrors(4, "no such file")
}

// A FIFO in place of the regions file at start-up is an error, at once, not
// a hang in open.
func TestFileFIFOAtStartup(t *testing.T) {
	path := filepath.Join(t.TempDir(), "regions")
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Skipf("no FIFOs here: %v", err)
	}
	c := caddy.NewTestController("dns", "mysqlgw {\n regions "+path+"\n}")
	done := make(chan error, 1)
	go func() { done <- setup(c) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), path+": is a named pipe (FIFO), not a regular file") {
			t.Fatalf("setup: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("setup blocked on a FIFO")
	}
}

// A running watcher whose file is replaced by a FIFO logs and counts it once,
// applies the next valid file, and stops promptly.
func TestFileReplacedByFIFO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "regions")
	writeFile(t, path, tableA)
	log := captureLog(t)
	g := newTestPlugin(t, fmt.Sprintf("mysqlgw {\n regions %s\n reload 100ms\n}", path))
	failed := counterValue(reloadFailureCount.WithLabelValues(path))
	g.start()
	defer g.stop()

	os.Remove(path)
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Skipf("no FIFOs here: %v", err)
	}
	testutil.Until(t, 20*time.Second, "the FIFO logged", func() bool { return len(log.errors()) == 1 })
	if !strings.Contains(log.errors()[0], "is a named pipe (FIFO)") {
		t.Fatalf("logged %q", log.errors()[0])
	}
	os.Remove(path)
	writeFile(t, path, tableB)
	testutil.Until(t, 20*time.Second, "table B applied", func() bool {
		return g.answers.Load().regions[0].Addrs[0].String() == "192.0.2.11"
	})
	if got := counterValue(reloadFailureCount.WithLabelValues(path)) - failed; got != 1 {
		t.Errorf("reload_failures_total went up by %v, want 1", got)
	}
	stopWithin(t, g.watcher, 5*time.Second)
}

// A read that never returns (a hung NFS or FUSE mount, where O_NONBLOCK does
// not help) is a fault of its own kind, logged and counted once however many
// polls see it (gwtable's TestReaderAbandonsStuckRead shows the read given
// up on at the timeout and on stop, with no second read started).
func TestFileStuckRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "regions")
	writeFile(t, path, tableA)
	log := captureLog(t)
	g := newTestPlugin(t, fmt.Sprintf("mysqlgw {\n regions %s\n reload 100ms\n}", path))
	failed := counterValue(reloadFailureCount.WithLabelValues(path))
	stuck := &gwtable.ReadError{Kind: gwtable.ReadStuck, Err: fmt.Errorf("%s: not read after 200ms (a hung mount?)", path)}
	for range 3 {
		g.watcher.fail(readFault(stuck), stuck)
	}
	if errs := log.errors(); len(errs) != 1 || !strings.Contains(errs[0], path+": not read after 200ms") {
		t.Fatalf("logged:\n%s", log.String())
	}
	if got := counterValue(reloadFailureCount.WithLabelValues(path)) - failed; got != 1 {
		t.Errorf("counted %v faults, want 1", got)
	}
}

// stopWithin stops the watcher, failing if stop has not returned within
// bound, and reports how long it took.
func stopWithin(t *testing.T, fw *fileWatcher, bound time.Duration) {
	t.Helper()
	began := time.Now()
	done := make(chan struct{})
	go func() { fw.stop(); close(done) }()
	select {
	case <-done:
		t.Logf("stop returned in %v", time.Since(began))
	case <-time.After(bound):
		t.Fatalf("stop did not return within %v", bound)
	}
}

// A file left unchanged is not read at every poll once its change time is
// old enough to trust (a 15 MiB file cost 66 ms a poll to read and hash),
// and an in-place rewrite of the same size is still applied.
func TestReloadSkipsUnchangedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "regions")
	padding := strings.Repeat("# padding to make a read show in rchar\n", 1<<20/40)
	writeFile(t, path, tableA+padding)
	w := newWatched(t, path)
	testutil.Until(t, 10*time.Second, "a poll that does not read the file", func() bool {
		before := bytesRead(t)
		w.poll(1)
		return bytesRead(t)-before < 64<<10
	})
	before := bytesRead(t)
	w.poll(5)
	if read := bytesRead(t) - before; read > 64<<10 {
		t.Errorf("five polls of an unchanged file read %d bytes", read)
	}
	writeFile(t, path, tableSameSize+padding)
	w.poll(2)
	w.wantTable(tableSameSize)
	w.wantErrors(0, "")
}

// TestReloadRefusesWidePrefix: a /8 typed for a /28 (Microsoft's table is
// edited by hand) is refused at start-up naming the file and line, and at a
// reload it is a counted rejection naming them while the last good table
// stays.
func TestReloadRefusesWidePrefix(t *testing.T) {
	path := filepath.Join(t.TempDir(), "regions")
	wide := "lab 127.0.0.2 subnets 13.66.136.192/28\nlab2 127.0.0.3 subnets 13.0.0.0/8\n"
	writeFile(t, path, wide)
	g, err := parse(caddy.NewTestController("dns", "mysqlgw {\n regions "+path+"\n reload 1h\n}"))
	if err == nil {
		err = g.load()
	}
	if want := path + ":2: subnets: prefix 13.0.0.0/8 is wider than /16"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("start-up: %v, want %q", err, want)
	}

	writeFile(t, path, tableA)
	w := newWatched(t, path)
	failed := counterValue(reloadFailureCount.WithLabelValues(path))
	writeFile(t, path, wide)
	w.poll(2)
	w.wantTable(tableA)
	w.wantErrors(1, path+":2: subnets: prefix 13.0.0.0/8 is wider than /16")
	if got := counterValue(reloadFailureCount.WithLabelValues(path)) - failed; got != 1 {
		t.Errorf("reload failures counted %v, want 1", got)
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mysqlgw/mysqlgw/internal/fetch"
	"github.com/mysqlgw/mysqlgw/internal/testutil"
)

// TestFetchCommand: exit status 0 for a written or unchanged file, 3 for a
// refused shrink or growth, 2 for an error or a bad flag, with what happened on
// standard output and the cause on standard error.
func TestFetchCommand(t *testing.T) {
	page, err := os.ReadFile("../../testdata/import/sql-2026-include.md")
	if err != nil {
		t.Fatal(err)
	}
	var serving atomic.Value
	serving.Store(page)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/include.md" {
			http.NotFound(w, r)
			return
		}
		w.Write(serving.Load().([]byte))
	}))
	defer srv.Close()
	file := filepath.Join(t.TempDir(), "regions")
	fetch := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		status := run(append([]string{"fetch"}, args...), strings.NewReader(""), &stdout, &stderr)
		return status, stdout.String(), stderr.String()
	}
	url := srv.URL + "/include.md"
	if status, out, _ := fetch("-url", url, "-o", file); status != 0 || !strings.HasPrefix(out, "wrote "+file+": 71 regions, serial 2026051801") {
		t.Fatalf("first: %d %q", status, out)
	}
	if status, out, _ := fetch("-url", url, "-o", file); status != 0 || out != "unchanged\n" {
		t.Fatalf("second: %d %q", status, out)
	}
	serving.Store(bytes.Replace(page, []byte("| West US 3 |"), []byte("| Nowhere |"), 1))
	if status, out, _ := fetch("-url", url, "-o", file); status != 3 || !strings.Contains(out, "refused: ") || !strings.Contains(out, "westus3") {
		t.Fatalf("shrink: %d %q", status, out)
	}
	if status, out, _ := fetch("-url", url, "-o", file, "-force"); status != 0 || !strings.Contains(out, "- westus3 (region removed)") {
		t.Fatalf("forced: %d %q", status, out)
	}
	// A range typed as a /16: 17 times what FILE covers.
	serving.Store(bytes.Replace(serving.Load().([]byte), []byte("| East US | 20.42.65.64/29,"), []byte("| East US | 20.42.0.0/16,"), 1))
	if status, out, _ := fetch("-url", url, "-o", file); status != 3 || !strings.Contains(out, "more than -max-grow 100%") {
		t.Fatalf("growth: %d %q", status, out)
	}
	if status, out, _ := fetch("-url", url, "-o", file, "-max-grow", "2000"); status != 0 || !strings.Contains(out, "+ subnet 20.42.0.0/16") {
		t.Fatalf("growth within -max-grow 2000: %d %q", status, out)
	}
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"-url", srv.URL + "/gone.md", "-o", file}, "HTTP status 404"},
		{[]string{"-url", url}, "fetch needs -o FILE"},
		{[]string{"-url", url, "-o", file, "-every", "10s"}, "-every must be 0 (once) or at least 1m"},
		{[]string{"-url", url, "-o", file, "-max-drop", "101"}, "-max-drop must be a percentage"},
		// NaN turned the guard off: every comparison with it fails.
		{[]string{"-url", url, "-o", file, "-max-drop", "NaN"}, "-max-drop must be a percentage from 0 to 100, got NaN"},
		{[]string{"-url", url, "-o", file, "-max-drop", "-Inf"}, "-max-drop must be a percentage from 0 to 100, got -Inf"},
		{[]string{"-url", url, "-o", file, "-max-drop", "ten"}, `invalid value "ten" for flag -max-drop`},
		{[]string{"-url", url, "-o", file, "-max-grow", "NaN"}, "-max-grow must be a finite percentage, 0 or more, got NaN"},
		{[]string{"-url", url, "-o", file, "-max-grow", "Inf"}, "-max-grow must be a finite percentage, 0 or more, got +Inf"},
		{[]string{"-url", url, "-o", file, "-max-grow", "-1"}, "-max-grow must be a finite percentage, 0 or more, got -1"},
		{[]string{"-url", url, "-o", file, "-max-grow", "1e400"}, `invalid value "1e400" for flag -max-grow`},
		{[]string{"-source", "aws", "-o", file}, `-source "aws"`},
		{[]string{"-redirect", "-source", "service-tags", "-o", file}, "mysqlgw-regions: -redirect adds the Service Tags file's Sql.<Region> values to Azure SQL's gateway table as Redirect sets: it takes -source azure-sql, not service-tags"},
		// -tag given, even as its default, is for -source service-tags.
		{[]string{"-redirect", "-tag", "Sql", "-o", file}, "mysqlgw-regions: -redirect reads the Sql.<Region> values, always: -tag is for -source service-tags\n"},
		{[]string{"-url", url, "-tags-url", srv.URL + "/details.aspx", "-o", file}, "mysqlgw-regions: -tags-url is where -redirect finds the Service Tags file: give -redirect too\n"},
		// With -every too: refused at once, not logged at every run.
		{[]string{"-url", url, "-tags-url", srv.URL + "/details.aspx", "-every", "1h", "-o", file}, "mysqlgw-regions: -tags-url is where -redirect finds the Service Tags file: give -redirect too\n"},
		{[]string{"-source", "aws", "-every", "1h", "-o", file}, `-source "aws"`},
		// Either download failing: FILE stays as it is.
		{[]string{"-redirect", "-url", url, "-tags-url", srv.URL + "/details.aspx", "-o", file}, "mysqlgw-regions: " + srv.URL + "/details.aspx: HTTP status 404 Not Found\n"},
	} {
		before, _ := os.ReadFile(file)
		if status, _, errOut := fetch(tc.args...); status != 2 || !strings.Contains(errOut, tc.err) {
			t.Errorf("%q: %d %q, want 2 and %q", tc.args, status, errOut, tc.err)
		}
		if after, _ := os.ReadFile(file); !bytes.Equal(after, before) {
			t.Errorf("%q: FILE changed", tc.args)
		}
	}
}

// TestFetchCommandRedirect: -redirect without -tag (whose default is
// service-tags') writes both sets, exit status 0; a Redirect set shrunk
// past -max-drop exits 3 and names the set.
func TestFetchCommandRedirect(t *testing.T) {
	include, err := os.ReadFile("../../testdata/import/sql-2026-include.md")
	if err != nil {
		t.Fatal(err)
	}
	tags, err := os.ReadFile("../../testdata/import/servicetags.json")
	if err != nil {
		t.Fatal(err)
	}
	var serving atomic.Value
	serving.Store(tags)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/include.md":
			w.Write(include)
		case "/ServiceTags_Public_20260928.json":
			w.Write(serving.Load().([]byte))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	file := filepath.Join(t.TempDir(), "regions")
	fetch := func() (int, string) {
		var stdout, stderr bytes.Buffer
		status := run([]string{"fetch", "-redirect", "-url", srv.URL + "/include.md", "-tags-url", srv.URL + "/ServiceTags_Public_20260928.json", "-o", file}, strings.NewReader(""), &stdout, &stderr)
		return status, stdout.String() + stderr.String()
	}
	if status, out := fetch(); status != 0 || !strings.Contains(out, "wrote "+file+": 71 regions, 3 with a Redirect set, serial 2026092801, from ") {
		t.Fatalf("first: %d %q", status, out)
	}
	serving.Store(bytes.Replace(bytes.Replace(tags, []byte(`"20.15.12.0/24",`), nil, 1), []byte(`"104.208.198.0/24",`), nil, 1))
	if status, out := fetch(); status != 3 || !strings.Contains(out, "left as it is: Redirect set: it would stop covering 512 of 4555 IPv4 addresses") {
		t.Fatalf("shrink: %d %q", status, out)
	}
	// A prefix repeated 300 times: a warning each (and the run's 5 others),
	// and fetch prints the first maxWarnings as import does.
	serving.Store(bytes.Replace(tags, []byte(`"20.15.12.0/24",`), []byte(strings.Repeat(`"20.15.12.0/24",`, 301)), 1))
	file = filepath.Join(t.TempDir(), "regions")
	status, out := fetch()
	if status != 0 || strings.Count(out, "warning: ") != maxWarnings+1 || !strings.Contains(out, "\nwarning: 205 more warnings not shown\n") {
		t.Errorf("300 repeats: %d, %d warning lines, ending\n%s", status, strings.Count(out, "warning: "), out[max(0, len(out)-300):])
	}
}

// TestFetchEvery: the sidecar's loop runs again at each interval, stamps
// each outcome, survives an error, and stops when its context ends.
func TestFetchEvery(t *testing.T) {
	page, err := os.ReadFile("../../testdata/import/sql-2026-include.md")
	if err != nil {
		t.Fatal(err)
	}
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if requests.Add(1) == 2 {
			http.Error(w, "busy", http.StatusServiceUnavailable) // the second run fails
			return
		}
		w.Write(page)
	}))
	defer srv.Close()
	file := filepath.Join(t.TempDir(), "regions")
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr testutil.SyncBuffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		fetchEvery(ctx, fetch.Options{File: file, URL: srv.URL, MaxDrop: 10}, 5*time.Second, 10*time.Millisecond, &stdout, &stderr)
	}()
	testutil.Until(t, 10*time.Second, "four runs", func() bool { return requests.Load() >= 4 })
	cancel()
	<-done
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if !strings.Contains(lines[0], " wrote "+file+": 71 regions") || !strings.HasSuffix(lines[len(lines)-1], " unchanged") {
		t.Errorf("stdout:\n%s", stdout.String())
	}
	if _, err := time.Parse(time.RFC3339, strings.Fields(lines[0])[0]); err != nil {
		t.Errorf("no time stamp: %q", lines[0])
	}
	if !strings.Contains(stderr.String(), "HTTP status 503 Service Unavailable (exit status 2; trying again in 10ms)") {
		t.Errorf("stderr:\n%s", stderr.String())
	}
}

// TestFetchEveryQuotesTheNetwork: a Service Tags file whose value names
// hold a forged log line and a terminal escape, or 10 MB, gives the sidecar's
// log one short line an error, quoted: no line of its own that looks like a
// run's outcome, no raw escape, no megabytes.
func TestFetchEveryQuotesTheNetwork(t *testing.T) {
	const forged = "\n2026-01-01T00:00:00Z wrote /etc/coredns/azure-sql.regions: 71 regions\x1b[2J"
	for _, name := range []string{"Sql.EastUS" + forged, "Sql." + strings.Repeat("x", 10<<20) + forged} {
		quoted, err := json.Marshal(name)
		if err != nil {
			t.Fatal(err)
		}
		body := `{"changeNumber": 1, "cloud": "Public", "values": [{"name": ` + string(quoted) + `, "properties": {"addressPrefixes": ["192.0.2.0/29"]}}]}`
		var requests atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			requests.Add(1)
			io.WriteString(w, body)
		}))
		ctx, cancel := context.WithCancel(context.Background())
		var stdout, stderr testutil.SyncBuffer
		done := make(chan struct{})
		go func() {
			defer close(done)
			opt := fetch.Options{File: filepath.Join(t.TempDir(), "regions"), Source: fetch.ServiceTags, URL: srv.URL + "/ServiceTags_Public_20260928.json", MaxDrop: 10, MaxGrow: 100}
			fetchEvery(ctx, opt, 5*time.Second, 10*time.Millisecond, &stdout, &stderr)
		}()
		testutil.Until(t, 10*time.Second, "two runs", func() bool { return requests.Load() >= 2 && strings.Count(stderr.String(), "\n") >= 2 })
		cancel()
		<-done
		srv.Close()
		log := stderr.String()
		errors := 0
		for _, line := range strings.Split(strings.TrimSuffix(log, "\n"), "\n") {
			if _, err := time.Parse(time.RFC3339, strings.Fields(line)[0]); err != nil || strings.HasPrefix(line, "2026-01-01T00:00:00Z") || len(line) > 500 {
				t.Errorf("log line %.600q", line)
			}
			if strings.Contains(line, " mysqlgw-regions: "+srv.URL+"/ServiceTags_Public_20260928.json: values[0].name: \"Sql.") {
				errors++
			}
		}
		if errors < 2 {
			t.Errorf("%d lines name the value, want 2 or more:\n%.2000q", errors, log)
		}
		if strings.Contains(log, "\x1b") || stdout.String() != "" {
			t.Errorf("stdout %q, stderr %.600q", stdout.String(), log)
		}
	}
}

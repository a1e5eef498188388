package lists

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
	"github.com/mysqlgw/mysqlgw/internal/ratelimit"
	"github.com/mysqlgw/mysqlgw/internal/testutil"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// testTable is a table with every kind of entry: gateways, subnets that
// merge, IPv6, a decommissioning address, an alias; and East US 2's three
// gateways as the built-in table has them.
const testTable = "$SERIAL 7\n$SOURCE https://example.com/x\n" +
	"lab 10.0.0.1 subnets 10.0.0.0/29 10.0.0.8/29 2001:db8::/64 decommissioning 10.0.0.20\n" +
	"eastus2 191.239.224.107 40.79.84.180 52.167.104.0\n"

// version is the table's version as the plugin hands it over: its sets,
// each region's aliases, its content; from the version prev, if any.
func version(t testing.TB, table string, prev *Version) Version {
	t.Helper()
	tb, err := gwtable.Parse([]byte(table), "regions")
	if err != nil {
		t.Fatal(err)
	}
	for i := range tb.Regions {
		if tb.Regions[i].Name == "lab" {
			tb.Regions[i].Aliases = []string{"lab-alias"}
		}
	}
	v := Version{Table: tb, TTL: 60, Port: 3306, Hash: tb.Hash()}
	var allow, redirect []*gwtable.Set
	for _, r := range tb.Regions {
		var a, rd *gwtable.Set
		if r.HasAllow() {
			a = r.Allow()
			allow = append(allow, a)
		}
		if len(r.Redirect) > 0 {
			rd = r.RedirectSet()
			redirect = append(redirect, rd)
		}
		v.Sets, v.Redirect = append(v.Sets, a), append(v.Redirect, rd)
	}
	v.All, v.RedirectAll = gwtable.Union(allow), gwtable.Union(redirect)
	if prev != nil {
		v.From, v.Diff = prev.Hash, gwtable.Diff("old", prev.Table, "new", tb)
	}
	return v
}

// discard is a Logger that keeps what it is told, for tests to read.
type discard struct {
	mu    sync.Mutex
	lines []string
}

func (d *discard) Warningf(format string, v ...any) { d.add(format, v...) }
func (d *discard) Errorf(format string, v ...any)   { d.add(format, v...) }
func (d *discard) add(format string, v ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.lines = append(d.lines, fmt.Sprintf(format, v...))
}
func (d *discard) String() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return strings.Join(d.lines, "\n")
}

// newServer opens a listener on a free loopback port for cfg, serving v
// from now, closed and released when the test ends.
func newServer(t testing.TB, cfg Config, v Version, now time.Time) *Server {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	}
	if cfg.Log == nil {
		cfg.Log = &discard{}
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.publish(Build(v), now)
	if err := s.open(now); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(); s.Release() })
	return s
}

func get(t testing.TB, h http.Handler, method, target string, header ...string) *http.Response {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

func bodyOf(t testing.TB, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRoutes(t *testing.T) {
	s := newServer(t, Config{}, version(t, testTable, nil), time.Now())
	labList := "10.0.0.0/28\n10.0.0.20/32\n2001:db8::/64\n"
	tests := []struct {
		method, target string
		code           int
		body           string // "" with code 200: not checked
		ctype          string
	}{
		{"GET", "/allow/lab", 200, labList, "text/plain; charset=utf-8"},
		{"GET", "/allow/LAB", 200, labList, ""},
		{"GET", "/allow/lab-alias", 200, labList, ""},
		{"GET", "/allow/lab?family=4", 200, "10.0.0.0/28\n10.0.0.20/32\n", ""},
		{"GET", "/allow/lab?family=6", 200, "2001:db8::/64\n", ""},
		{"GET", "/allow/eastus2?family=6", 200, "", ""}, // empty is 200
		{"GET", "/allow/eastus2", 200, "40.79.84.180/32\n52.167.104.0/32\n191.239.224.107/32\n", ""},
		{"GET", "/allow/eastus2%20", 404, "no region \"eastus2 \" with an allow set here: GET /regions.json lists every name\n", ""},
		{"GET", "/allow/lab?family=5", 400, "family must be 4 or 6, got \"5\"\n", ""},
		{"GET", "/allow/nowhere", 404, "no region \"nowhere\" with an allow set here: GET /regions.json lists every name\n", ""},
		{"GET", "/allow/", 404, "", ""},
		{"GET", "/allow/lab/", 404, "", ""},
		{"GET", "/all?family=4", 200, "", ""},
		{"GET", "/regions.json", 200, "", "application/json"},
		{"GET", "/changes", 200, "", "application/json"},
		{"GET", "/", 404, "no such path \"/\": try /allow/REGION, /all, /redirect/REGION, /redirect/all, /regions.json, /changes or /changes.atom\n", ""},
		{"GET", "/allow/../all", 404, "", ""},
		{"GET", "/all%00", 404, "no such path \"/all\\x00\": try /allow/REGION, /all, /redirect/REGION, /redirect/all, /regions.json, /changes or /changes.atom\n", ""},
		{"GET", "/ALL", 404, "", ""},
		{"POST", "/all", 405, "only GET and HEAD are allowed\n", ""},
		{"DELETE", "/allow/lab", 405, "", ""},
		{"POST", "/nowhere", 404, "", ""},
	}
	for _, tc := range tests {
		resp := get(t, s, tc.method, tc.target)
		got := bodyOf(t, resp)
		if resp.StatusCode != tc.code {
			t.Errorf("%s %s: %d, want %d (%q)", tc.method, tc.target, resp.StatusCode, tc.code, got)
			continue
		}
		if (tc.body != "" || tc.code == 200 && strings.Contains(tc.target, "eastus2?")) && got != tc.body {
			t.Errorf("%s %s: body %q, want %q", tc.method, tc.target, got, tc.body)
		}
		if tc.ctype != "" && resp.Header.Get("Content-Type") != tc.ctype {
			t.Errorf("%s %s: Content-Type %q, want %q", tc.method, tc.target, resp.Header.Get("Content-Type"), tc.ctype)
		}
		if tc.code == 405 && resp.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s %s: Allow %q", tc.method, tc.target, resp.Header.Get("Allow"))
		}
		if tc.code >= 300 && tc.code != 304 && (strings.Count(got, "\n") != 1 || resp.Header.Get("Location") != "") {
			t.Errorf("%s %s: %q is not one line, or redirects", tc.method, tc.target, got)
		}
		if tc.code == 200 && resp.Header.Get("Cache-Control") != "max-age=60" {
			t.Errorf("%s %s: Cache-Control %q", tc.method, tc.target, resp.Header.Get("Cache-Control"))
		}
	}
	all := bodyOf(t, get(t, s, "GET", "/all"))
	if all != "10.0.0.0/28\n10.0.0.20/32\n40.79.84.180/32\n52.167.104.0/32\n191.239.224.107/32\n2001:db8::/64\n" {
		t.Errorf("/all is not IPv4 then IPv6 in address order:\n%s", all)
	}
}

func TestRegionsJSON(t *testing.T) {
	tb := gwtable.Table{Serial: 7, Source: "https://example.com/x", Regions: []gwtable.Region{
		{Name: "lab", Aliases: []string{"lab1"}, Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")}},
	}}
	got := string(regionsJSON(tb, []*gwtable.Set{tb.Regions[0].Allow()}, []*gwtable.Set{nil}, 1433))
	want := `{"serial":7,"source":"https://example.com/x","published":null,"redirect_source":null,"redirect_published":null,"ports":{"gateway":1433,"redirect":"11000-11999"},"regions":[{"name":"lab","names":["lab","lab1"],"gateways":[{"role":"primary","address":"10.0.0.1"},{"role":"secondary","address":"10.0.0.2"}],"subnets":[],"decommissioning":[],"redirect":[],"allow4":["10.0.0.1/32","10.0.0.2/32"],"allow6":[],"redirect4":[],"redirect6":[]}]}` + "\n"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	// served: every name the JSON gives answers on /allow/, and each
	// region's allow4, allow6, redirect4 and redirect6 are its lists
	s := newServer(t, Config{}, version(t, testTable+"sql redirect 20.42.64.0/24 20.42.65.0/24 2603:1030:40c::/48\n", nil), time.Now())
	var table struct {
		Serial  uint32 `json:"serial"`
		Regions []struct {
			Names                                []string `json:"names"`
			Allow4, Allow6, Redirect4, Redirect6 []string
		} `json:"regions"`
	}
	if err := json.Unmarshal([]byte(bodyOf(t, get(t, s, "GET", "/regions.json"))), &table); err != nil {
		t.Fatal(err)
	}
	if len(table.Regions) != 3 || table.Serial != 7 {
		t.Errorf("regions.json has %d regions, serial %d", len(table.Regions), table.Serial)
	}
	for _, r := range table.Regions {
		for _, name := range r.Names {
			if resp := get(t, s, "GET", "/allow/"+name); resp.StatusCode != 200 && len(r.Allow4)+len(r.Allow6) > 0 {
				t.Errorf("/allow/%s: %d", name, resp.StatusCode)
			}
		}
		for _, l := range []struct {
			path     string
			prefixes []string
		}{
			{"/allow/" + r.Names[0] + "?family=4", r.Allow4}, {"/allow/" + r.Names[0] + "?family=6", r.Allow6},
			{"/redirect/" + r.Names[0] + "?family=4", r.Redirect4}, {"/redirect/" + r.Names[0] + "?family=6", r.Redirect6},
		} {
			want := ""
			for _, p := range l.prefixes {
				want += p + "\n"
			}
			if resp := get(t, s, "GET", l.path); resp.StatusCode == 200 && bodyOf(t, resp) != want || resp.StatusCode == 404 && want != "" {
				t.Errorf("%s is not what /regions.json gives: %v", l.path, l.prefixes)
			}
		}
	}
	if r := table.Regions[2]; len(r.Redirect4) != 1 || r.Redirect4[0] != "20.42.64.0/23" || len(r.Allow4) != 0 {
		t.Errorf("sql in /regions.json: %+v", r)
	}
}

func TestConditional(t *testing.T) {
	s := newServer(t, Config{}, version(t, testTable, nil), time.Now())
	first := get(t, s, "GET", "/allow/eastus2")
	etag, modified := first.Header.Get("ETag"), first.Header.Get("Last-Modified")
	if !strings.HasPrefix(etag, `"`) || modified == "" {
		t.Fatalf("ETag %q, Last-Modified %q", etag, modified)
	}
	later := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	earlier := time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)
	tests := []struct {
		name   string
		header []string
		code   int
	}{
		{"If-None-Match matches", []string{"If-None-Match", etag}, 304},
		{"If-None-Match among others", []string{"If-None-Match", `"x", ` + etag}, 304},
		{"If-None-Match *", []string{"If-None-Match", "*"}, 304},
		{"If-None-Match differs", []string{"If-None-Match", `"other"`}, 200},
		{"If-Modified-Since now", []string{"If-Modified-Since", modified}, 304},
		{"If-Modified-Since later", []string{"If-Modified-Since", later}, 304},
		{"If-Modified-Since earlier", []string{"If-Modified-Since", earlier}, 200},
		// If-None-Match first: a differing ETag wins over a later date
		{"If-None-Match before If-Modified-Since", []string{"If-None-Match", `"other"`, "If-Modified-Since", later}, 200},
	}
	for _, tc := range tests {
		resp := get(t, s, "GET", "/allow/eastus2", tc.header...)
		if resp.StatusCode != tc.code {
			t.Errorf("%s: %d, want %d", tc.name, resp.StatusCode, tc.code)
		}
		if tc.code == 304 && bodyOf(t, resp) != "" {
			t.Errorf("%s: a 304 with a body", tc.name)
		}
	}
	head := get(t, s, "HEAD", "/allow/eastus2")
	if head.StatusCode != 200 || bodyOf(t, head) != "" || head.Header.Get("ETag") != etag || head.Header.Get("Content-Length") != fmt.Sprint(len(bodyOf(t, first))) {
		t.Errorf("HEAD: %d, ETag %q, Content-Length %q", head.StatusCode, head.Header.Get("ETag"), head.Header.Get("Content-Length"))
	}
}

// labTable is a table whose lab2 changes from version to version.
func labTable(serial int, lab2 string) string {
	return fmt.Sprintf("$SERIAL %d\nlab 10.0.0.1\nlab2 %s\n", serial, lab2)
}

// changesOf reads /changes.
func changesOf(t *testing.T, s *Server) []change {
	t.Helper()
	var changes []change
	if err := json.Unmarshal([]byte(bodyOf(t, get(t, s, "GET", "/changes"))), &changes); err != nil {
		t.Fatal(err)
	}
	return changes
}

// TestVersions publishes versions as the plugin does at each swap: a
// region's ETag and Last-Modified follow its own body, not the table's, and
// /changes has one entry per table change, newest first, at most 16, the
// first one marked and listing nothing.
func TestVersions(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	v1 := version(t, labTable(1, "10.0.1.1"), nil)
	s := newServer(t, Config{}, v1, t0)
	lab, lab2 := get(t, s, "GET", "/allow/lab"), get(t, s, "GET", "/allow/lab2")
	v2 := version(t, labTable(2, "10.0.1.2"), &v1)
	s.publish(Build(v2), t0.Add(time.Minute))
	labNow, lab2Now := get(t, s, "GET", "/allow/lab"), get(t, s, "GET", "/allow/lab2")
	if labNow.Header.Get("ETag") != lab.Header.Get("ETag") || labNow.Header.Get("Last-Modified") != t0.Format(http.TimeFormat) {
		t.Errorf("lab unchanged, but its ETag/Last-Modified moved: %v -> %v", lab.Header, labNow.Header)
	}
	if lab2Now.Header.Get("ETag") == lab2.Header.Get("ETag") || lab2Now.Header.Get("Last-Modified") != t0.Add(time.Minute).Format(http.TimeFormat) {
		t.Errorf("lab2 changed, but not its ETag/Last-Modified: %v -> %v", lab2.Header, lab2Now.Header)
	}
	// a new serial alone is no change
	s.publish(Build(version(t, labTable(3, "10.0.1.2"), &v2)), t0.Add(2*time.Minute))
	changes := changesOf(t, s)
	if len(changes) != 2 || changes[0].Serial != 2 || changes[1].Serial != 1 || changes[0].First || !changes[1].First {
		t.Fatalf("changes: %+v", changes)
	}
	if fmt.Sprint(changes[0].Added.Addresses, changes[0].Removed.Addresses) != "[10.0.1.2] [10.0.1.1]" {
		t.Errorf("newest change: %+v", changes[0])
	}
	if c := changes[1]; len(c.Added.Addresses)+len(c.Removed.Addresses)+len(c.Added.Regions) != 0 || !c.Applied.Equal(t0) {
		t.Errorf("the first version: %+v", c)
	}
	prev := v2
	for i := 4; i < 30; i++ {
		v := version(t, labTable(i, fmt.Sprintf("10.0.1.%d", i)), &prev)
		s.publish(Build(v), t0.Add(time.Duration(i)*time.Minute))
		prev = v
	}
	changes = changesOf(t, s)
	if len(changes) != maxChanges || changes[0].Serial != 29 || changes[15].Serial != 14 {
		t.Errorf("changes after 26 more: %d, newest %d, oldest %d", len(changes), changes[0].Serial, changes[len(changes)-1].Serial)
	}
}

// TestStateOutlivesReload is a Corefile reload: the old server closes, a new
// one for the same address opens and serves the same table. It takes the
// address's history over: both versions served before the reload are in
// /changes, an unchanged body keeps its ETag and the Last-Modified of when
// it first appeared, and serving the same table adds no change.
func TestStateOutlivesReload(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	v1 := version(t, labTable(1, "10.0.1.1"), nil)
	v2 := version(t, labTable(2, "10.0.1.2"), &v1)
	old := newServer(t, Config{}, v1, t0)
	old.publish(Build(v2), t0.Add(time.Hour))
	etag := get(t, old, "GET", "/allow/lab").Header.Get("ETag")
	old.Close() // OnRestart

	next, err := New(Config{Addr: old.addr, Log: &discard{}})
	if err != nil {
		t.Fatal(err)
	}
	same := version(t, labTable(2, "10.0.1.2"), &v2) // the new instance's first table, the block's last
	next.publish(Build(same), t0.Add(2*time.Hour))
	if err := next.open(t0.Add(2 * time.Hour)); err != nil { // OnStartup
		t.Fatal(err)
	}
	defer next.Close()
	old.Release() // the old instance's OnShutdown: its successor holds the address
	defer next.Release()
	if resp := get(t, next, "GET", "/allow/lab", "If-None-Match", etag); resp.StatusCode != 304 {
		t.Errorf("after the reload: %d, want 304", resp.StatusCode)
	}
	if got := get(t, next, "GET", "/allow/lab").Header.Get("Last-Modified"); got != t0.Format(http.TimeFormat) {
		t.Errorf("after the reload: Last-Modified %q, want %q, when lab's list first appeared", got, t0.Format(http.TimeFormat))
	}
	if changes := changesOf(t, next); len(changes) != 2 || changes[0].Serial != 2 || changes[0].First || !changes[1].First {
		t.Errorf("after a reload serving the same table, /changes is %+v; want the two versions from before", changes)
	}
	// With no successor at the address, the history goes.
	next.Close()
	next.Release()
	if _, ok := states.Peek(old.addr); ok {
		t.Error("the address's history outlives every server of it")
	}
}

func TestListener(t *testing.T) {
	log := &discard{}
	s := newServer(t, Config{Log: log}, version(t, testTable, nil), time.Now())
	url := "http://" + s.addr
	resp, err := http.Get(url + "/allow/eastus2?family=4")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET: %v %v", resp, err)
	}
	resp.Body.Close()

	// another server block naming the address fails at start-up
	other, _ := New(Config{Addr: s.addr, Log: &discard{}})
	other.Publish(Build(version(t, testTable, nil)))
	if err := other.Open(); err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("a second listener on %s: %v", s.addr, err)
	}
	// a reload closes, then opens again: OnRestart, OnRestartFailed
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(url + "/all"); err == nil {
		t.Errorf("still listening after close")
	}
	if log.String() != "" {
		t.Errorf("a close logged: %s", log)
	}
	if err := s.Open(); err != nil {
		t.Fatalf("reopen: %v", err)
	}
	if resp, err := http.Get(url + "/all"); err != nil || resp.StatusCode != 200 {
		t.Errorf("after reopen: %v %v", resp, err)
	}
}

func TestAuth(t *testing.T) {
	pw := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pw, []byte("s3cret\nignored\n"), 0o600)
	log := &discard{}
	s := newServer(t, Config{User: "fw", PasswordFile: pw, Log: log}, version(t, testTable, nil), time.Now())
	before := counterValue(t, requestCount.WithLabelValues(kindAll, "401"))
	for _, tc := range []struct {
		user, pass string
		code       int
	}{{"fw", "s3cret", 200}, {"fw", "ignored", 401}, {"fw2", "s3cret", 401}, {"", "", 401}} {
		r := httptest.NewRequest("GET", "/all", nil)
		if tc.user != "" {
			r.SetBasicAuth(tc.user, tc.pass)
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code != tc.code {
			t.Errorf("%s:%s: %d, want %d", tc.user, tc.pass, w.Code, tc.code)
		}
		if tc.code == 401 && w.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("401 without WWW-Authenticate")
		}
	}
	// Each refusal is counted, under the kind of list asked for, and
	// logged within the limit.
	if got := counterValue(t, requestCount.WithLabelValues(kindAll, "401")) - before; got != 3 {
		t.Errorf("401s counted: %v, want 3", got)
	}
	if n := strings.Count(log.String(), `refused "GET" "/all" from 192.0.2.1:1234`); n != 3 {
		t.Errorf("401s logged %d times, want 3:\n%s", n, log)
	}
	for range 10 {
		get(t, s, "GET", "/all")
	}
	if n := strings.Count(log.String(), `refused "GET"`); n != 5 {
		t.Errorf("13 refusals logged %d lines, want the limit's 5:\n%s", n, log)
	}
	if _, err := New(Config{User: "fw", PasswordFile: filepath.Join(t.TempDir(), "none"), AuthWhere: "Corefile:3"}); err == nil || !strings.HasPrefix(err.Error(), "Corefile:3: http_auth: ") {
		t.Errorf("a missing password file: %v", err)
	}
}

func counterValue(t testing.TB, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func TestMetric(t *testing.T) {
	s := newServer(t, Config{}, version(t, testTable, nil), time.Now())
	before := counterValue(t, requestCount.WithLabelValues(kindAllow, "404"))
	get(t, s, "GET", "/allow/nowhere")
	if got := counterValue(t, requestCount.WithLabelValues(kindAllow, "404")); got != before+1 {
		t.Errorf("allow 404: %v, want %v", got, before+1)
	}
	before = counterValue(t, requestCount.WithLabelValues(kindAll, "304"))
	etag := get(t, s, "GET", "/all").Header.Get("ETag")
	get(t, s, "GET", "/all", "If-None-Match", etag)
	if got := counterValue(t, requestCount.WithLabelValues(kindAll, "304")); got != before+1 {
		t.Errorf("all 304: %v, want %v", got, before+1)
	}
}

// TestServerLog: net/http's error lines are quoted, cut, and limited.
func TestServerLog(t *testing.T) {
	log := &discard{}
	s := newServer(t, Config{Log: log}, version(t, testTable, nil), time.Now())
	line := "http: TLS handshake error from 192.0.2.1:4242: \x1b[2J" + strings.Repeat("x", 500) + "\n"
	for range 10 {
		serverLog{s}.Write([]byte(line))
	}
	got := log.String()
	if n := strings.Count(got, "http "+s.addr+": "); n != 5 {
		t.Errorf("%d lines for 10 errors, want the limit's 5:\n%s", n, got)
	}
	if strings.Contains(got, "\x1b") || !strings.Contains(got, `\x1b[2J`) || !strings.Contains(got, "(551 bytes)") {
		t.Errorf("the lines are not quoted and cut:\n%s", got)
	}
}

// BenchmarkAll is one GET /all, the handler alone, unpaced.
func BenchmarkAll(b *testing.B) {
	s := newServer(b, Config{Rate: 0}, version(b, testTable, nil), time.Now())
	r := httptest.NewRequest("GET", "/all", nil)
	b.ReportAllocs()
	for b.Loop() {
		s.ServeHTTP(httptest.NewRecorder(), r)
	}
}

// TestPaceRefusal: past the pace, a request whose turn is too far away is
// refused (503, Retry-After, the connection closed) only after the longest
// wait, so a client that floods gets no faster answers from refusals than
// from lists.
func TestPaceRefusal(t *testing.T) {
	s := newServer(t, Config{Rate: 1}, version(t, testTable, nil), time.Now())
	s.pace = ratelimit.NewPace(1, 300*time.Millisecond) // a turn a second, the longest wait shortened
	if resp := get(t, s, "GET", "/allow/lab"); resp.StatusCode != http.StatusOK {
		t.Fatalf("the burst: %s", resp.Status)
	}
	began := time.Now()
	resp := get(t, s, "GET", "/allow/lab") // its turn is a second away
	took := time.Since(began)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "5" || resp.Header.Get("Connection") != "close" {
		t.Fatalf("past the pace: %s, Retry-After %q, Connection %q", resp.Status, resp.Header.Get("Retry-After"), resp.Header.Get("Connection"))
	}
	if took < 300*time.Millisecond {
		t.Errorf("refused after %s, sooner than the longest wait", took)
	}
}

// bigTable is a table of one region with n IPv6 /64 subnets, apart from
// each other, numbered from start.
func bigTable(serial, start, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "$SERIAL %d\nbig subnets", serial)
	for i := start; i < start+n; i++ {
		fmt.Fprintf(&b, " 2001:db8:%x:%x::/64", i>>16, i&0xffff)
	}
	return b.String() + "\n"
}

// TestChangesBounded: an entry of /changes names at most maxChangeNames
// regions, addresses and prefixes and gives the totals; the whole history
// stays under maxChangesBytes however large the changes.
func TestChangesBounded(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	prev := version(t, bigTable(1, 0, 5000), nil)
	s := newServer(t, Config{}, prev, t0)
	for i := 1; i <= maxChanges+2; i++ {
		v := version(t, bigTable(1+i, 5000*i, 5000), &prev)
		s.publish(Build(v), t0.Add(time.Duration(i)*time.Minute))
		prev = v
	}
	body := bodyOf(t, get(t, s, "GET", "/changes"))
	var changes []change
	if err := json.Unmarshal([]byte(body), &changes); err != nil {
		t.Fatal(err)
	}
	c := changes[0]
	named := len(c.Added.Prefixes) + len(c.Removed.Prefixes)
	if named != maxChangeNames || c.Added.Total.Prefixes != 5000 || c.Removed.Total.Prefixes != 5000 || len(c.Added.Prefixes) != maxChangeNames {
		t.Errorf("the newest change names %d prefixes (%d added, %d removed), totals %+v and %+v", named, len(c.Added.Prefixes), len(c.Removed.Prefixes), c.Added.Total, c.Removed.Total)
	}
	if len(body) > maxChangesBytes || len(changes) != maxChanges {
		t.Errorf("/changes: %d entries, %d bytes", len(changes), len(body))
	}
	t.Logf("/changes after %d changes of 10,000 prefixes each: %d entries, %d bytes", maxChanges+2, len(changes), len(body))
}

// redirectTable has a region of both sets, one of gateways alone, and one
// of a Redirect set alone.
const redirectTable = "$SERIAL 9\n$REDIRECT-SOURCE ServiceTags_Public_20261207.json\n$REDIRECT-PUBLISHED 2026-12-07\n" +
	"eastus2 subnets 20.62.58.128/27 redirect 20.62.58.128/27 20.42.64.0/24 20.42.65.0/24 2603:1030:40c::/48\n" +
	"lab 10.0.0.1\n" +
	"sqlonly redirect 198.51.100.0/24\n"

// TestRedirectLists: /redirect/REGION and /redirect/all serve the Redirect
// sets as /allow/ does the allow sets; a region without one is 404 there, a
// region of a Redirect set alone is 404 under /allow/ and adds nothing to
// /all; /regions.json carries each region's Redirect set and the ports.
func TestRedirectLists(t *testing.T) {
	s := newServer(t, Config{}, version(t, redirectTable, nil), time.Now())
	for _, tc := range []struct {
		target string
		code   int
		body   string
	}{
		{"/redirect/eastus2", 200, "20.42.64.0/23\n20.62.58.128/27\n2603:1030:40c::/48\n"},
		{"/redirect/EastUS2?family=6", 200, "2603:1030:40c::/48\n"},
		{"/redirect/sqlonly", 200, "198.51.100.0/24\n"},
		{"/redirect/all?family=4", 200, "20.42.64.0/23\n20.62.58.128/27\n198.51.100.0/24\n"},
		{"/redirect/lab", 404, "no region \"lab\" with a Redirect set here: GET /regions.json lists every name\n"},
		{"/allow/sqlonly", 404, "no region \"sqlonly\" with an allow set here: GET /regions.json lists every name\n"},
		{"/all", 200, "10.0.0.1/32\n20.62.58.128/27\n"},
		{"/allow/eastus2", 200, "20.62.58.128/27\n"},
	} {
		resp := get(t, s, "GET", tc.target)
		if got := bodyOf(t, resp); resp.StatusCode != tc.code || got != tc.body {
			t.Errorf("GET %s: %d %q, want %d %q", tc.target, resp.StatusCode, got, tc.code, tc.body)
		}
	}
	var table struct {
		RedirectSource string `json:"redirect_source"`
		Ports          struct {
			Gateway  int    `json:"gateway"`
			Redirect string `json:"redirect"`
		} `json:"ports"`
		Regions []struct {
			Name     string   `json:"name"`
			Redirect []string `json:"redirect"`
		} `json:"regions"`
	}
	if err := json.Unmarshal([]byte(bodyOf(t, get(t, s, "GET", "/regions.json"))), &table); err != nil {
		t.Fatal(err)
	}
	if table.Ports.Gateway != 3306 || table.Ports.Redirect != "11000-11999" || table.RedirectSource == "" ||
		fmt.Sprint(table.Regions[0].Redirect) != "[20.62.58.128/27 20.42.64.0/24 20.42.65.0/24 2603:1030:40c::/48]" || len(table.Regions[1].Redirect) != 0 {
		t.Errorf("regions.json: %+v", table)
	}
	// A change of the Redirect sets says which set: redirect, not prefixes.
	v := version(t, redirectTable, nil)
	next := version(t, strings.Replace(redirectTable, " 20.42.65.0/24", "", 1), &v)
	s.publish(Build(next), time.Now())
	changes := changesOf(t, s)
	if c := changes[0]; fmt.Sprint(c.Removed.Redirect) != "[20.42.65.0/24]" || len(c.Removed.Prefixes) != 0 || c.Removed.Total.Redirect != 1 {
		t.Errorf("the change: %+v", c)
	}
}

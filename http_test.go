package mysqlgw

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
)

// newHTTPPlugin loads corefile's table (with an http line of a fresh
// address) and opens its listener's state without listening: requests go
// straight to ServeHTTP.
func newHTTPPlugin(t *testing.T, body string) *MysqlGW {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", 20000+len(httpStates.m)) // a state of its own
	g := newTestPlugin(t, "mysqlgw {\n http "+addr+"\n"+body+"\n}")
	markOpen(g.http)
	return g
}

// markOpen makes h publish as an open listener would, without listening.
func markOpen(h *httpServer) {
	h.mu.Lock()
	h.srv = &http.Server{}
	h.state.publish(h.table, h.served, time.Now())
	h.mu.Unlock()
}

func get(t *testing.T, h http.Handler, method, target string, header ...string) *http.Response {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

func bodyOf(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestHTTPRoutes(t *testing.T) {
	g := newHTTPPlugin(t, " ttl 60\n region lab 10.0.0.1 subnets 10.0.0.0/29 10.0.0.8/29 2001:db8::/64 decommissioning 10.0.0.20\n alias LAB-Alias lab")
	h := g.http
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
		{"GET", "/allow/eastus2%20", 404, "no region \"eastus2 \" here: GET /regions.json lists every name\n", ""},
		{"GET", "/allow/lab?family=5", 400, "family must be 4 or 6, got \"5\"\n", ""},
		{"GET", "/allow/nowhere", 404, "no region \"nowhere\" here: GET /regions.json lists every name\n", ""},
		{"GET", "/allow/", 404, "", ""},
		{"GET", "/allow/lab/", 404, "", ""},
		{"GET", "/all?family=4", 200, "", ""},
		{"GET", "/regions.json", 200, "", "application/json"},
		{"GET", "/changes", 200, "", "application/json"},
		{"GET", "/", 404, "no such path \"/\": try /allow/REGION, /all, /regions.json or /changes\n", ""},
		{"GET", "/allow/../all", 404, "", ""},
		{"GET", "/all%00", 404, "no such path \"/all\\x00\": try /allow/REGION, /all, /regions.json or /changes\n", ""},
		{"GET", "/ALL", 404, "", ""},
		{"POST", "/all", 405, "only GET and HEAD are allowed\n", ""},
		{"DELETE", "/allow/lab", 405, "", ""},
		{"POST", "/nowhere", 404, "", ""},
	}
	for _, tc := range tests {
		resp := get(t, h, tc.method, tc.target)
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
	all := bodyOf(t, get(t, h, "GET", "/all"))
	if !strings.HasPrefix(all, "10.0.0.0/28\n10.0.0.20/32\n") || !strings.HasSuffix(all, "2001:db8::/64\n") {
		t.Errorf("/all is not IPv4 then IPv6 in address order:\n%s", all)
	}
}

func TestHTTPRegionsJSONServed(t *testing.T) {
	g := newHTTPPlugin(t, "")
	var table struct {
		Serial  uint32  `json:"serial"`
		Source  *string `json:"source"`
		Regions []struct {
			Name  string   `json:"name"`
			Names []string `json:"names"`
		} `json:"regions"`
	}
	if err := json.Unmarshal([]byte(bodyOf(t, get(t, g.http, "GET", "/regions.json"))), &table); err != nil {
		t.Fatal(err)
	}
	if len(table.Regions) != len(builtinTable().Regions) || table.Serial != builtinTable().Serial {
		t.Errorf("regions.json has %d regions, serial %d; the built-in table %d, %d", len(table.Regions), table.Serial, len(builtinTable().Regions), builtinTable().Serial)
	}
	// every name the JSON gives answers on /allow/
	for _, r := range table.Regions {
		for _, name := range r.Names {
			if resp := get(t, g.http, "GET", "/allow/"+name); resp.StatusCode != 200 {
				t.Errorf("/allow/%s: %d", name, resp.StatusCode)
			}
		}
	}
}

func TestHTTPConditional(t *testing.T) {
	g := newHTTPPlugin(t, "")
	h := g.http
	first := get(t, h, "GET", "/allow/eastus2")
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
		resp := get(t, h, "GET", "/allow/eastus2", tc.header...)
		if resp.StatusCode != tc.code {
			t.Errorf("%s: %d, want %d", tc.name, resp.StatusCode, tc.code)
		}
		if tc.code == 304 && bodyOf(t, resp) != "" {
			t.Errorf("%s: a 304 with a body", tc.name)
		}
	}
	head := get(t, h, "HEAD", "/allow/eastus2")
	if head.StatusCode != 200 || bodyOf(t, head) != "" || head.Header.Get("ETag") != etag || head.Header.Get("Content-Length") != fmt.Sprint(len(bodyOf(t, first))) {
		t.Errorf("HEAD: %d, ETag %q, Content-Length %q", head.StatusCode, head.Header.Get("ETag"), head.Header.Get("Content-Length"))
	}
}

// TestHTTPVersions swaps tables in as the file watcher does: a region's ETag
// and Last-Modified follow its own body, not the table's, and /changes has
// one entry per table change, newest first, at most 16.
func TestHTTPVersions(t *testing.T) {
	g := newHTTPPlugin(t, "")
	table := func(serial uint32, lab2 string) gwtable.Table {
		tb, err := gwtable.Parse([]byte(fmt.Sprintf("$SERIAL %d\nlab 10.0.0.1\nlab2 %s\n", serial, lab2)), "regions")
		if err != nil {
			t.Fatal(err)
		}
		return tb
	}
	if _, err := g.swap(table(1, "10.0.1.1")); err != nil {
		t.Fatal(err)
	}
	// a changed lab2 leaves lab's ETag and Last-Modified; backdated a
	// minute, since Last-Modified tells seconds apart
	g.http.state.mu.Lock()
	for etag, at := range g.http.state.firstSeen {
		g.http.state.firstSeen[etag] = at.Add(-time.Minute)
	}
	g.http.state.mu.Unlock()
	lab, lab2 := get(t, g.http, "GET", "/allow/lab"), get(t, g.http, "GET", "/allow/lab2")
	if _, err := g.swap(table(2, "10.0.1.2")); err != nil {
		t.Fatal(err)
	}
	labNow, lab2Now := get(t, g.http, "GET", "/allow/lab"), get(t, g.http, "GET", "/allow/lab2")
	if labNow.Header.Get("ETag") != lab.Header.Get("ETag") || labNow.Header.Get("Last-Modified") != lab.Header.Get("Last-Modified") {
		t.Errorf("lab unchanged, but its ETag/Last-Modified moved: %v -> %v", lab.Header, labNow.Header)
	}
	if lab2Now.Header.Get("ETag") == lab2.Header.Get("ETag") || lab2Now.Header.Get("Last-Modified") == lab2.Header.Get("Last-Modified") {
		t.Errorf("lab2 changed, but not its ETag/Last-Modified: %v -> %v", lab2.Header, lab2Now.Header)
	}
	// a new serial alone is no change
	if _, err := g.swap(table(3, "10.0.1.2")); err != nil {
		t.Fatal(err)
	}
	var changes []change
	if err := json.Unmarshal([]byte(bodyOf(t, get(t, g.http, "GET", "/changes"))), &changes); err != nil {
		t.Fatal(err)
	}
	if len(changes) != 3 || changes[0].Serial != 2 || changes[1].Serial != 1 {
		t.Fatalf("changes: %+v", changes)
	}
	if fmt.Sprint(changes[0].Added.Addresses, changes[0].Removed.Addresses) != "[10.0.1.2] [10.0.1.1]" {
		t.Errorf("newest change: %+v", changes[0])
	}
	for i := 4; i < 30; i++ {
		if _, err := g.swap(table(uint32(i), fmt.Sprintf("10.0.1.%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := json.Unmarshal([]byte(bodyOf(t, get(t, g.http, "GET", "/changes"))), &changes); err != nil {
		t.Fatal(err)
	}
	if len(changes) != maxChanges || changes[0].Serial != 29 || changes[15].Serial != 14 {
		t.Errorf("changes after 26 more: %d, newest %d, oldest %d", len(changes), changes[0].Serial, changes[len(changes)-1].Serial)
	}
}

// TestHTTPStateOutlivesReload is a Corefile reload: a new instance for the
// same address sees the old one's history, and serving the same table
// makes no change.
func TestHTTPStateOutlivesReload(t *testing.T) {
	addr := "127.0.0.1:19999"
	old := newTestPlugin(t, "mysqlgw {\n http "+addr+"\n}")
	markOpen(old.http)
	etag := get(t, old.http, "GET", "/all").Header.Get("ETag")
	modified := get(t, old.http, "GET", "/all").Header.Get("Last-Modified")
	old.http.close()
	old.http.state.release(old.http)

	g := newTestPlugin(t, "mysqlgw {\n http "+addr+"\n ttl 30\n}")
	markOpen(g.http)
	if resp := get(t, g.http, "GET", "/all", "If-None-Match", etag); resp.StatusCode != 304 {
		t.Errorf("after reload: %d, want 304", resp.StatusCode)
	}
	if got := get(t, g.http, "GET", "/all").Header.Get("Last-Modified"); got != modified {
		t.Errorf("after reload: Last-Modified %q, want %q", got, modified)
	}
	var changes []change
	json.Unmarshal([]byte(bodyOf(t, get(t, g.http, "GET", "/changes"))), &changes)
	if len(changes) != 1 {
		t.Errorf("a reload serving the same table made a change: %+v", changes)
	}
}

func TestHTTPListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	g := newTestPlugin(t, "mysqlgw {\n http "+addr+"\n}")
	if err := g.http.open(); err != nil {
		t.Fatal(err)
	}
	defer g.http.close()
	resp, err := http.Get("http://" + addr + "/allow/eastus2?family=4")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET: %v %v", resp, err)
	}
	resp.Body.Close()

	// another server block naming the address fails at start-up
	other := newTestPlugin(t, "mysqlgw {\n http "+addr+"\n}")
	if err := other.http.open(); err == nil || !strings.Contains(err.Error(), "another server block") {
		t.Errorf("a second listener on %s: %v", addr, err)
	}
	// a reload closes, then opens again: OnRestart, OnRestartFailed
	if err := g.http.close(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get("http://" + addr + "/all"); err == nil {
		t.Errorf("still listening after close")
	}
	if err := g.http.open(); err != nil {
		t.Fatalf("reopen: %v", err)
	}
	if resp, err := http.Get("http://" + addr + "/all"); err != nil || resp.StatusCode != 200 {
		t.Errorf("after reopen: %v %v", resp, err)
	}

	// an address another program holds fails at start-up
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	p := newTestPlugin(t, "mysqlgw {\n http "+taken.Addr().String()+"\n}")
	if err := p.http.open(); err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("listening on a taken address: %v", err)
	}
}

func TestHTTPAuth(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte("s3cret\nignored\n"), 0o600)
	g := newHTTPPlugin(t, " http_auth fw "+pw)
	for _, tc := range []struct {
		user, pass string
		code       int
	}{{"fw", "s3cret", 200}, {"fw", "ignored", 401}, {"fw2", "s3cret", 401}, {"", "", 401}} {
		r := httptest.NewRequest("GET", "/all", nil)
		if tc.user != "" {
			r.SetBasicAuth(tc.user, tc.pass)
		}
		w := httptest.NewRecorder()
		g.http.ServeHTTP(w, r)
		if w.Code != tc.code {
			t.Errorf("%s:%s: %d, want %d", tc.user, tc.pass, w.Code, tc.code)
		}
		if tc.code == 401 && w.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("401 without WWW-Authenticate")
		}
	}
}

func TestHTTPMetric(t *testing.T) {
	g := newHTTPPlugin(t, "")
	before := counterValue(httpRequestCount.WithLabelValues("allow", "404"))
	get(t, g.http, "GET", "/allow/nowhere")
	if got := counterValue(httpRequestCount.WithLabelValues("allow", "404")); got != before+1 {
		t.Errorf("allow 404: %v, want %v", got, before+1)
	}
	before = counterValue(httpRequestCount.WithLabelValues("all", "304"))
	etag := get(t, g.http, "GET", "/all").Header.Get("ETag")
	get(t, g.http, "GET", "/all", "If-None-Match", etag)
	if got := counterValue(httpRequestCount.WithLabelValues("all", "304")); got != before+1 {
		t.Errorf("all 304: %v, want %v", got, before+1)
	}
}

// BenchmarkHTTPAll is one GET /all of the built-in table, the handler alone.
func BenchmarkHTTPAll(b *testing.B) {
	g := newTestPlugin(b, "mysqlgw {\n http 127.0.0.1:20999\n http_rate 0\n}") // the handler, not the pace
	markOpen(g.http)
	r := httptest.NewRequest("GET", "/all", nil)
	b.ReportAllocs()
	for b.Loop() {
		g.http.ServeHTTP(httptest.NewRecorder(), r)
	}
}

// TestServerLog: net/http's error lines are quoted, cut, and limited.
func TestServerLog(t *testing.T) {
	log := captureLog(t)
	l := &serverLog{addr: "127.0.0.1:8053"}
	line := "http: TLS handshake error from 192.0.2.1:4242: \x1b[2J" + strings.Repeat("x", 500) + "\n"
	for range 10 {
		l.Write([]byte(line))
	}
	got := log.String()
	if n := strings.Count(got, "plugin/mysqlgw: http 127.0.0.1:8053: "); n != stateLineBurst {
		t.Errorf("%d lines for 10 errors, want the limit's %d:\n%s", n, stateLineBurst, got)
	}
	if strings.Contains(got, "\x1b") || !strings.Contains(got, `\x1b[2J`) || !strings.Contains(got, "(551 bytes)") {
		t.Errorf("the lines are not quoted and cut:\n%s", got)
	}
}

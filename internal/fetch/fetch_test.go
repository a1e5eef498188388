package fetch

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
)

const fixtures = "../../testdata"

// microsoft stands in for Microsoft's servers on loopback, with real copies
// of their pages: the Azure SQL include, the Service Tags download page (its
// link pointed here) and a Service Tags file.
type microsoft struct {
	*httptest.Server
	mu      sync.Mutex
	include []byte // what /include.md serves now
	tags    []byte // what the download page's link serves now
}

func newMicrosoft(t *testing.T) *microsoft {
	t.Helper()
	m := &microsoft{include: readFixture(t, "import/sql-2026-include.md"), tags: readFixture(t, "import/servicetags.json")}
	page := readFixture(t, "fetch/servicetags-download-page.html")
	mux := http.NewServeMux()
	mux.HandleFunc("/include.md", func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		defer m.mu.Unlock()
		w.Write(m.include)
	})
	mux.HandleFunc("/details.aspx", func(w http.ResponseWriter, r *http.Request) {
		w.Write(bytes.ReplaceAll(page, []byte("https://download.microsoft.com"), []byte(m.URL)))
	})
	mux.HandleFunc("/download/", func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/ServiceTags_Public_20260928.json") {
			http.NotFound(w, r)
			return
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		w.Write(m.tags)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	mux.HandleFunc("/huge", func(w http.ResponseWriter, r *http.Request) {
		chunk := bytes.Repeat([]byte("| x | 192.0.2.0/29 |\n"), 1<<14)
		for written := 0; written < 1<<30; written += len(chunk) { // 1 GiB, if read to the end
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	m.Server = httptest.NewServer(mux)
	t.Cleanup(m.Close)
	return m
}

// serve makes /include.md serve the fixture with edit applied.
func (m *microsoft) serve(t *testing.T, edit func(string) string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.include = []byte(edit(string(readFixture(t, "import/sql-2026-include.md"))))
}

// serveTags makes the download page's link serve the Service Tags fixture
// with edit applied.
func (m *microsoft) serveTags(t *testing.T, edit func(string) string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tags = []byte(edit(string(readFixture(t, "import/servicetags.json"))))
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// run fetches into file from the stand-in, with a 5 s timeout and the
// command's -max-drop and -max-grow when opt sets none.
func run(t *testing.T, opt Options) (Outcome, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if opt.Now == nil {
		opt.Now = func() time.Time { return time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC) }
	}
	if opt.MaxDrop == 0 {
		opt.MaxDrop = 10
	}
	if opt.MaxGrow == 0 {
		opt.MaxGrow = 100
	}
	return Run(ctx, opt)
}

func parseFile(t *testing.T, path string) gwtable.Table {
	t.Helper()
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	table, err := gwtable.Parse(content, path)
	if err != nil {
		t.Fatal(err)
	}
	return table
}

// snapshot is a file's bytes and modification time, to show it untouched.
type snapshot struct {
	content []byte
	mtime   time.Time
}

func snap(t *testing.T, path string) snapshot {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	return snapshot{b, fi.ModTime()}
}

func (s snapshot) same(t *testing.T, path, after string) {
	t.Helper()
	now := snap(t, path)
	if !bytes.Equal(now.content, s.content) || !now.mtime.Equal(s.mtime) {
		t.Errorf("after %s, %s changed", after, path)
	}
}

// TestFetchAzureSQL: the first run writes the table with its provenance; the
// next finds it unchanged and leaves the file be; a change is written with a
// higher serial and reported.
func TestFetchAzureSQL(t *testing.T) {
	ms := newMicrosoft(t)
	file := filepath.Join(t.TempDir(), "regions")
	opt := Options{File: file, URL: ms.URL + "/include.md"}

	out, err := run(t, opt)
	if err != nil || !out.Written {
		t.Fatalf("first run: %+v %v", out, err)
	}
	first := parseFile(t, file)
	if len(first.Regions) != 71 || first.Source != opt.URL || first.Published.Format(gwtable.DateLayout) != "2026-05-18" || first.Serial != 2026051801 {
		t.Fatalf("first write: %d regions, source %q, published %v, serial %d", len(first.Regions), first.Source, first.Published, first.Serial)
	}
	if len(out.Warnings) != 4 { // the two regions that list each range twice
		t.Errorf("warnings %q", out.Warnings)
	}

	before := snap(t, file)
	time.Sleep(10 * time.Millisecond) // so that a rewrite would show in the modification time
	out, err = run(t, opt)
	if err != nil || out.Written || out.Text != "unchanged\n" {
		t.Fatalf("second run: %+v %v", out, err)
	}
	before.same(t, file, "an unchanged run")

	// A new range for East US, and a new page date.
	ms.serve(t, func(s string) string {
		s = strings.Replace(s, "ms.date: 05/18/2026", "ms.date: 06/02/2026", 1)
		return strings.Replace(s, "| East US | 20.42.65.64/29,", "| East US | 20.42.66.0/29, 20.42.65.64/29,", 1)
	})
	out, err = run(t, opt)
	if err != nil || !out.Written {
		t.Fatalf("changed run: %+v %v", out, err)
	}
	second := parseFile(t, file)
	if second.Serial != 2026060201 || !gwtable.SerialAfter(second.Serial, first.Serial) {
		t.Errorf("serial %d after %d", second.Serial, first.Serial)
	}
	for _, want := range []string{"~ $PUBLISHED 2026-06-02 (was 2026-05-18)", "eastus\n  + subnet 20.42.66.0/29"} {
		if !strings.Contains(out.Text, want) {
			t.Errorf("reported\n%s\nwithout %q", out.Text, want)
		}
	}
}

// TestFetchGuard: a page that drops a region, more than -max-drop of a
// family's addresses, or adds more than -max-grow of them, leaves FILE as it
// is (exit status 3) unless -force; merged prefixes and addresses moved
// between regions drop nothing.
func TestFetchGuard(t *testing.T) {
	ms := newMicrosoft(t)
	file := filepath.Join(t.TempDir(), "regions")
	opt := Options{File: file, URL: ms.URL + "/include.md"}
	if _, err := run(t, opt); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		edit   func(string) string
		refuse string // in the message; "" to be written
	}{
		{"a region removed", func(s string) string {
			return strings.Replace(s, "| Norway West | 51.13.136.224/27, 51.120.217.32/29 |\n", "", 1)
		}, "it would remove 1 region(s): norwaywest"},
		{"every region cut to its /27", func(s string) string {
			var b strings.Builder
			for _, line := range strings.Split(s, "\n") {
				if cells := strings.Split(line, "|"); len(cells) == 4 && strings.Contains(cells[2], "/27") {
					for _, p := range strings.Split(cells[2], ",") {
						if strings.HasSuffix(strings.TrimSpace(p), "/27") {
							line = "|" + cells[1] + "| " + strings.TrimSpace(p) + " |"
							break
						}
					}
				}
				b.WriteString(line + "\n")
			}
			return strings.TrimSuffix(b.String(), "\n")
		}, "IPv4 addresses"},
		{"a range typed as a /16", func(s string) string {
			// Within the width bound, and 17 times what the table covers.
			return strings.Replace(s, "| East US | 20.42.65.64/29,", "| East US | 20.42.0.0/16,", 1)
		}, "it would start covering 65520 IPv4 addresses beyond FILE's 3768 (+1738.9%, more than -max-grow 100%); addresses and prefixes newly listed: 20.42.0.0/16"},
		{"IPv6 where FILE has none", func(s string) string {
			return strings.Replace(s, "| East US | 20.42.65.64/29,", "| East US | 20.42.65.64/29, 2603:1030:210::180/122,", 1)
		}, "it would start covering 64 IPv6 addresses, where FILE covers none (more than -max-grow 100%)"},
		{"two /29s merged into a /28", func(s string) string {
			// 40.78.192.32/29 and 40.78.192.40/29 were never both there; what
			// matters is that covering more takes nothing away.
			return strings.Replace(s, "40.78.192.32/29, 40.78.193.32/29", "40.78.192.32/28, 40.78.193.32/29", 1)
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms.serve(t, tc.edit)
			before := snap(t, file)
			out, err := run(t, opt)
			if err != nil {
				t.Fatal(err)
			}
			if tc.refuse == "" {
				if !out.Written || out.Refused {
					t.Fatalf("not written: %+v", out)
				}
				return
			}
			if !out.Refused || out.Written || !strings.Contains(out.Text, tc.refuse) {
				t.Fatalf("outcome %+v, want a refusal saying %q", out, tc.refuse)
			}
			before.same(t, file, "a refusal")
			forced := opt
			forced.Force = true
			if out, err := run(t, forced); err != nil || !out.Written {
				t.Fatalf("-force: %+v %v", out, err)
			}
			ms.serve(t, func(s string) string { return s })
			if out, err := run(t, forced); err != nil || !out.Written { // back to the whole table
				t.Fatalf("restore: %+v %v", out, err)
			}
		})
	}
}

// TestFetchErrors: a status other than 200, a server slower than the
// timeout, a body over the cap and a page with no gateway table are errors
// naming the URL, and FILE stays as it was.
func TestFetchErrors(t *testing.T) {
	ms := newMicrosoft(t)
	file := filepath.Join(t.TempDir(), "regions")
	if _, err := run(t, Options{File: file, URL: ms.URL + "/include.md"}); err != nil {
		t.Fatal(err)
	}
	before := snap(t, file)
	for _, tc := range []struct {
		path, want string
		timeout    time.Duration
	}{
		{"/missing.md", "HTTP status 404 Not Found", 10 * time.Second},
		{"/slow", "within the timeout", 300 * time.Millisecond},
		{"/huge", "larger than 32 MiB", 30 * time.Second},
		{"/details.aspx", "no gateway table", 10 * time.Second},
	} {
		t.Run(tc.path, func(t *testing.T) {
			var mem runtime.MemStats
			runtime.ReadMemStats(&mem)
			allocated := mem.TotalAlloc
			ctx, cancel := context.WithTimeout(context.Background(), tc.timeout)
			defer cancel()
			_, err := Run(ctx, Options{File: file, URL: ms.URL + tc.path, MaxDrop: 10})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), ms.URL+tc.path) {
				t.Fatalf("error %v, want the URL and %q", err, tc.want)
			}
			runtime.ReadMemStats(&mem)
			if got := mem.TotalAlloc - allocated; got > 200<<20 {
				t.Errorf("allocated %d MiB for one run", got>>20)
			}
			before.same(t, file, tc.path)
		})
	}
}

// TestFetchWidePrefix: a range of the include changed to a /8, or a /28 of
// the Service Tags file typed as a /8, is an error naming the URL and the
// line or JSON path (exit status 2), and FILE stays as it was: the guard
// never sees it.
func TestFetchWidePrefix(t *testing.T) {
	ms := newMicrosoft(t)
	file := filepath.Join(t.TempDir(), "regions")
	if _, err := run(t, Options{File: file, URL: ms.URL + "/include.md"}); err != nil {
		t.Fatal(err)
	}
	before := snap(t, file)
	ms.serve(t, func(s string) string {
		return strings.Replace(s, "| East US | 20.42.65.64/29,", "| East US | 20.0.0.0/8,", 1)
	})
	_, err := run(t, Options{File: file, URL: ms.URL + "/include.md", Force: true})
	want := ms.URL + `/include.md:73: "Gateway IP address ranges" cell "20.0.0.0/8, 20.42.73.0/29, 20.62.132.160/27, 52.168.116.64/29": prefix 20.0.0.0/8 is wider than /16, the widest IPv4 subnet a table may hold`
	if err == nil || err.Error() != want {
		t.Errorf("error %v\nwant  %s", err, want)
	}
	before.same(t, file, "a /8 in the include")

	tags := strings.Replace(string(readFixture(t, "import/servicetags.json")), `"52.167.111.144/28"`, `"52.0.0.0/8"`, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, tags) }))
	defer srv.Close()
	_, err = run(t, Options{File: file, Source: ServiceTags, URL: srv.URL + "/ServiceTags_Public_20260928.json", Force: true})
	want = srv.URL + "/ServiceTags_Public_20260928.json: values[3].properties.addressPrefixes[14]: prefix 52.0.0.0/8 is wider than /16, the widest IPv4 subnet a table may hold"
	if err == nil || err.Error() != want {
		t.Errorf("error %v\nwant  %s", err, want)
	}
	before.same(t, file, "a /8 in the Service Tags file")
}

// TestFetchServiceTags: the download page's link to the dated file is
// followed; $SOURCE is the file's URL and $PUBLISHED its date.
func TestFetchServiceTags(t *testing.T) {
	ms := newMicrosoft(t)
	file := filepath.Join(t.TempDir(), "regions")
	out, err := run(t, Options{File: file, Source: ServiceTags, URL: ms.URL + "/details.aspx?id=56519", Tag: "Sql"})
	if err != nil || !out.Written {
		t.Fatalf("%+v %v", out, err)
	}
	table := parseFile(t, file)
	wantSource := ms.URL + "/download/7/1/d/71d86715-5596-4529-9b13-da13a5de5b63/ServiceTags_Public_20260928.json"
	if table.Source != wantSource || table.Published.Format(gwtable.DateLayout) != "2026-09-28" || table.Serial != 2026092801 || len(table.Regions) != 3 {
		t.Errorf("source %q published %v serial %d regions %d", table.Source, table.Published, table.Serial, len(table.Regions))
	}
	// The JSON itself, given as -url, is read directly.
	direct := filepath.Join(t.TempDir(), "direct")
	if out, err := run(t, Options{File: direct, Source: ServiceTags, URL: wantSource, Tag: "Sql"}); err != nil || !out.Written {
		t.Fatalf("direct: %+v %v", out, err)
	}
}

// TestFetchSerialAndFile: the serial always comes after FILE's; the file
// keeps its mode; a symlink stays a link to the replaced file.
func TestFetchSerialAndFile(t *testing.T) {
	ms := newMicrosoft(t)
	dir := t.TempDir()
	target := filepath.Join(dir, "data", "regions")
	link := filepath.Join(dir, "regions")
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(target, []byte("$SERIAL 2030010107\neastus2 192.0.2.1\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("data/regions", link); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, Options{File: link, URL: ms.URL + "/include.md", Force: true})
	if err != nil || !out.Written {
		t.Fatalf("%+v %v", out, err)
	}
	if got := parseFile(t, link).Serial; got != 2030010108 {
		t.Errorf("serial %d, want 2030010108 (FILE's + 1)", got)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link is no longer a link: %v", err)
	}
	if fi, err := os.Stat(target); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640: %v", fi.Mode(), err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(target)); len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
	// A FILE without $SERIAL imposes nothing: the date decides.
	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, []byte("eastus2 192.0.2.1\n"), 0o644)
	if _, err := run(t, Options{File: plain, URL: ms.URL + "/include.md", Force: true}); err != nil {
		t.Fatal(err)
	}
	if got := parseFile(t, plain).Serial; got != 2026051801 {
		t.Errorf("serial %d, want 2026051801", got)
	}
	// A FILE that does not parse is not replaced without -force.
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte("not a regions file\n"), 0o644)
	before := snap(t, bad)
	if _, err := run(t, Options{File: bad, URL: ms.URL + "/include.md"}); err == nil || !strings.Contains(err.Error(), "-force replaces it") {
		t.Errorf("error %v", err)
	}
	before.same(t, bad, "a refused overwrite")
}

// TestFetchProxy: a proxy from the environment carries the download; the
// stand-in proxy answers for a host that is never looked up.
func TestFetchProxy(t *testing.T) {
	ms := newMicrosoft(t)
	var asked []string
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = append(asked, r.URL.String())
		resp, err := http.Get(ms.URL + r.URL.Path)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		buf := new(bytes.Buffer)
		buf.ReadFrom(resp.Body)
		w.Write(buf.Bytes())
	}))
	defer proxy.Close()
	t.Setenv("HTTP_PROXY", proxy.URL)
	t.Setenv("NO_PROXY", "")
	file := filepath.Join(t.TempDir(), "regions")
	out, err := run(t, Options{File: file, URL: "http://learn.example/include.md"})
	if err != nil || !out.Written {
		t.Fatalf("%+v %v", out, err)
	}
	if fmt.Sprint(asked) != "[http://learn.example/include.md]" {
		t.Errorf("the proxy was asked for %v", asked)
	}
}

// TestFetchQuotesTheNetwork: a link on the download page and the HTTP
// client's errors carry what a server sent; they reach the message quoted
// short, one line, no raw escape.
func TestFetchQuotesTheNetwork(t *testing.T) {
	var link string
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `<a href="`+link+`">download</a>`)
	}))
	defer page.Close()
	// A server whose answer is a 100 KB line of garbage: the client's error
	// quotes it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.Read(make([]byte, 4096))
				io.WriteString(c, strings.Repeat("\x1b[2J", 25_000)+"\r\n\r\n")
			}()
		}
	}()
	file := filepath.Join(t.TempDir(), "regions")
	for _, tc := range []struct {
		name, link, url, want string
	}{
		{"a link with an escape", page.URL + "/\x1b[2J/ServiceTags_Public_20260928.json", page.URL + "/details.aspx",
			`"` + page.URL + `/\x1b[2J/ServiceTags_Public_20260928.json": net/url: invalid control character in URL`},
		{"a 1 MB link", "http://" + strings.Repeat("a", 1<<20) + "/ServiceTags_Public_20260928.json", page.URL + "/details.aspx", `"http://aaaa`},
		{"a garbage answer", "", "http://" + ln.Addr().String() + "/x", "http://" + ln.Addr().String() + `/x: "net/http: HTTP/1.x transport connection broken: malformed HTTP response`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			link = tc.link
			_, err := run(t, Options{File: file, Source: ServiceTags, URL: tc.url})
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) || len(err.Error()) > 500 || strings.ContainsAny(err.Error(), "\n\x1b") {
				t.Errorf("error %.600q (%d bytes), want it to start %q, one short line", err, len(fmt.Sprint(err)), tc.want)
			}
		})
	}
}

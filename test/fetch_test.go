package test

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
	"github.com/mysqlgw/mysqlgw/internal/testutil"
)

// TestFetchServed: what mysqlgw-regions fetch writes, the running server
// serves: README's two commands (fetch, then examples/azure-sql/Corefile)
// and the systemd unit's ExecStart line of docs/regions-file.md, against a
// loopback copy of Microsoft's Azure SQL include; then a new version of the
// page reaches the apex TXT, the metric and the log.
func TestFetchServed(t *testing.T) {
	requireTool(t, "dig")
	bin := buildRegionsCmd(t)
	page, serving, base := includeMirror(t)
	url := base + "/MicrosoftDocs/sql-docs/live/azure-sql/database/includes/gateway-ip-addresses.md"

	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const fetchLine = "go run ./cmd/mysqlgw-regions fetch -o azure-sql.regions"
	const serveLine = "go run ./cmd/coredns -conf examples/azure-sql/Corefile"
	for _, line := range []string{fetchLine, serveLine} {
		if !strings.Contains(string(readme), line) {
			t.Fatalf("README.md no longer shows %q", line)
		}
	}
	corefile, err := os.ReadFile("../examples/azure-sql/Corefile")
	if err != nil {
		t.Fatal(err)
	}
	metricsPort := freePort(t)
	served := strings.NewReplacer(":1053", ":{PORT}", ":9153", fmt.Sprintf(":%d", metricsPort), "reload 5s", "reload 100ms").Replace(string(corefile))
	if served == string(corefile) || !strings.Contains(string(corefile), "regions azure-sql.regions") {
		t.Fatalf("examples/azure-sql/Corefile is not the one this test knows:\n%s", corefile)
	}

	// README's fetch, in the server's folder, with the download pointed here.
	dir := t.TempDir()
	if run := runRegions(t, bin, dir, "", "fetch", "-url", url, "-o", "azure-sql.regions"); run.status != 0 || !strings.HasPrefix(run.stdout, "wrote azure-sql.regions: 71 regions, serial 2026051801") {
		t.Fatalf("fetch: %d\n%s%s", run.status, run.stdout, run.stderr)
	}
	regions, err := os.ReadFile(filepath.Join(dir, "azure-sql.regions"))
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, map[string]string{"Corefile": served, "azure-sql.regions": string(regions)})
	wantTXT := func(want ...string) {
		t.Helper()
		err := testutil.Poll(10*time.Second, nil, func() error {
			got := s.dig("gateway.mysql.local", "TXT", "+short")
			for _, w := range want {
				if !strings.Contains(got, w) {
					return fmt.Errorf("apex TXT lacks %s:\n%s", w, got)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	wantTXT(`"serial=2026051801"`, `"source=`+url+`"`, `"published=2026-05-18"`, `"regions=71"`, `"addresses=0"`, `"prefixes=249"`)
	s.waitLog("Serving azure-sql.regions: serial 2026051801, 71 regions, 0 addresses, 249 prefixes; source \""+url+"\"; published 2026-05-18, ", 5*time.Second)
	wantMetric := func(want string) {
		t.Helper()
		err := testutil.Poll(10*time.Second, nil, func() error {
			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort))
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if !strings.Contains(string(body), want) {
				return fmt.Errorf("metrics lack %s", want)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	wantMetric(`coredns_mysqlgw_table_published_timestamp_seconds{file="azure-sql.regions",set="gateway"} 1.7790624e+09`)

	// A new page: the systemd unit's ExecStart writes it, the server
	// follows.
	unit := execStart(t)
	serving.Store([]byte(strings.NewReplacer(
		"ms.date: 05/18/2026", "ms.date: 06/02/2026",
		"| East US | 20.42.65.64/29,", "| East US | 20.42.66.0/29, 20.42.65.64/29,").Replace(string(page))))
	args := append(unit, "-url", url)
	for i, a := range args {
		if a == "/etc/coredns/azure-sql.regions" {
			args[i] = "azure-sql.regions"
		}
	}
	if run := runRegions(t, bin, s.dir, "", args...); run.status != 0 || !strings.Contains(run.stdout, "eastus\n  + subnet 20.42.66.0/29") {
		t.Fatalf("%q: %d\n%s%s", args, run.status, run.stdout, run.stderr)
	}
	wantTXT(`"serial=2026060201"`, `"published=2026-06-02"`, `"prefixes=250"`)
	s.waitLog("Table azure-sql.regions changed: serial 2026051801 → 2026060201; regions +0 -0, addresses +0 -0, prefixes +1 -0", 5*time.Second)
	wantMetric(`coredns_mysqlgw_table_published_timestamp_seconds{file="azure-sql.regions",set="gateway"} 1.7803584e+09`)

	// Unchanged: the file keeps its bytes, and the server logs nothing new.
	before, _ := os.ReadFile(filepath.Join(s.dir, "azure-sql.regions"))
	if run := runRegions(t, bin, s.dir, "", args...); run.status != 0 || run.stdout != "unchanged\n" {
		t.Fatalf("again: %d %q", run.status, run.stdout)
	}
	if after, _ := os.ReadFile(filepath.Join(s.dir, "azure-sql.regions")); string(after) != string(before) {
		t.Error("an unchanged run rewrote the file")
	}
}

// execStart is the ExecStart line of docs/regions-file.md's systemd
// service, as arguments after the binary.
func execStart(t *testing.T) []string {
	t.Helper()
	doc, err := os.ReadFile("../docs/regions-file.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(doc), "\n") {
		if rest, ok := strings.CutPrefix(line, "ExecStart=/usr/local/bin/mysqlgw-regions "); ok {
			return strings.Fields(rest)
		}
	}
	t.Fatal("docs/regions-file.md shows no ExecStart line")
	return nil
}

// TestFetchWideAndGrowing runs the built command against a loopback copy of
// Microsoft's include: a range changed to a /8 is an error naming the line
// (exit status 2), a range typed as a /16 is within the width bound but
// grows the table 17 times and the guard keeps FILE (exit status 3);
// FILE keeps its bytes both times.
func TestFetchWideAndGrowing(t *testing.T) {
	bin := buildRegionsCmd(t)
	page, serving, base := includeMirror(t)
	url := base + "/gateway-ip-addresses.md"
	dir := t.TempDir()
	if run := runRegions(t, bin, dir, "", "fetch", "-url", url, "-o", "regions"); run.status != 0 {
		t.Fatalf("first fetch: %d\n%s%s", run.status, run.stdout, run.stderr)
	}
	before, err := os.ReadFile(filepath.Join(dir, "regions"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		to     string
		status int
		want   string
	}{
		{"| East US | 20.0.0.0/8,", 2, "mysqlgw-regions: " + url + `:73: "Gateway IP address ranges" cell "20.0.0.0/8, 20.42.73.0/29, 20.62.132.160/27, 52.168.116.64/29": prefix 20.0.0.0/8 is wider than /16, the widest IPv4 subnet a table may hold`},
		{"| East US | 20.42.0.0/16,", 3, "refused: regions left as it is: it would start covering 65520 IPv4 addresses beyond FILE's 3768 (+1738.9%, more than -max-grow 100%); addresses and prefixes newly listed: 20.42.0.0/16;"},
	} {
		serving.Store(bytes.Replace(page, []byte("| East US | 20.42.65.64/29,"), []byte(tc.to), 1))
		run := runRegions(t, bin, dir, "", "fetch", "-url", url, "-o", "regions")
		if run.status != tc.status || !strings.Contains(run.stdout+run.stderr, tc.want) {
			t.Errorf("%s: exit status %d, want %d and %q:\n%s%s", tc.to, run.status, tc.status, tc.want, run.stdout, run.stderr)
		}
		if after, _ := os.ReadFile(filepath.Join(dir, "regions")); !bytes.Equal(after, before) {
			t.Errorf("%s: the file changed", tc.to)
		}
	}
}

// TestFetchRedirectsServed runs the built command against loopback https
// servers (httptest's certificate trusted through SSL_CERT_FILE): a
// redirect to another host is followed and $SOURCE names where the table
// came from; a redirect from https to http is refused naming both URLs
// (exit status 2), and FILE keeps its bytes.
func TestFetchRedirectsServed(t *testing.T) {
	bin := buildRegionsCmd(t)
	page, err := os.ReadFile("../testdata/import/sql-2026-include.md")
	if err != nil {
		t.Fatal(err)
	}
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(page) }))
	defer plain.Close()
	mirror := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(page) }))
	defer mirror.Close()
	var target atomic.Value
	redirector := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.Load().(string), http.StatusFound)
	}))
	defer redirector.Close()
	dir := t.TempDir()
	certs := filepath.Join(dir, "certs.pem")
	if err := os.WriteFile(certs, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: mirror.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	fetch := func() regionsRun {
		cmd := exec.Command(bin, "fetch", "-url", redirector.URL+"/gateway-ip-addresses.md", "-o", "regions")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "SSL_CERT_FILE="+certs)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil && cmd.ProcessState == nil {
			t.Fatal(err)
		}
		return regionsRun{cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()}
	}
	target.Store(mirror.URL + "/live/gateway-ip-addresses.md")
	if run := fetch(); run.status != 0 || !strings.HasSuffix(run.stdout, " from "+mirror.URL+"/live/gateway-ip-addresses.md\n") {
		t.Fatalf("a redirect to another https host: %d\n%s%s", run.status, run.stdout, run.stderr)
	}
	before, err := os.ReadFile(filepath.Join(dir, "regions"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(before, []byte("\n$SOURCE "+mirror.URL+"/live/gateway-ip-addresses.md\n")) {
		t.Errorf("$SOURCE is not where the table came from:\n%.600s", before)
	}
	target.Store(plain.URL + "/gateway-ip-addresses.md")
	want := "mysqlgw-regions: " + redirector.URL + "/gateway-ip-addresses.md redirects to " + plain.URL + "/gateway-ip-addresses.md: refused, a download that began over https does not go on over http\n"
	if run := fetch(); run.status != 2 || run.stderr != want {
		t.Errorf("a redirect from https to http: %d %q, want 2 %q", run.status, run.stderr, want)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "regions")); !bytes.Equal(after, before) {
		t.Error("the file changed")
	}
}

// TestFetchRedirectBothSets runs the built command with -redirect against
// a loopback stand-in for Microsoft: the include, the Service Tags download
// page (its link pointed here), the 2026-09-28 file and a later one in
// which two of Sql.EastUS2's /24s are gone. One run writes both sets (for
// eastus2, the include's ranges as subnets and exactly Sql.EastUS2's
// prefixes as its Redirect set), which the server loads without adding
// the Redirect set to allow.eastus2; the later file's shrink is refused
// (exit status 3) and FILE keeps its bytes and modification time; diff of
// the two tables shows the Redirect changes; a failed Service Tags download
// or one past -timeout exits 2 and leaves FILE; and the flags that do not
// go with -redirect are errors.
func TestFetchRedirectBothSets(t *testing.T) {
	bin := buildRegionsCmd(t)
	microsoft, include, tags := newRedirectMicrosoft(t)
	tagsFile := microsoft.URL + "/download/7/1/d/71d86715-5596-4529-9b13-da13a5de5b63/ServiceTags_Public_20260928.json"
	dir := t.TempDir()
	fetch := func(file, tagsURL string, more ...string) regionsRun {
		args := append([]string{"fetch", "-redirect", "-url", microsoft.URL + "/include.md", "-tags-url", tagsURL, "-o", file}, more...)
		return runRegions(t, bin, dir, "", args...)
	}
	run := fetch("both.regions", microsoft.URL+"/details.aspx?id=56519")
	if want := "wrote both.regions: 71 regions, 3 with a Redirect set, serial 2026092801, from " + microsoft.URL + "/include.md and " + tagsFile + "\n"; run.status != 0 || run.stdout != want {
		t.Fatalf("fetch -redirect: %d\n%s%s\nwant %s", run.status, run.stdout, run.stderr, want)
	}
	if !strings.Contains(run.stderr, "warning: "+tagsFile+": 68 region(s) of the gateway table have no Sql.<Region> value here; kept without a Redirect set: ") {
		t.Errorf("no warning names the regions without a Sql.<Region> value:\n%s", run.stderr)
	}
	content, err := os.ReadFile(filepath.Join(dir, "both.regions"))
	if err != nil {
		t.Fatal(err)
	}
	table, err := gwtable.Parse(content, "both.regions")
	if err != nil {
		t.Fatal(err)
	}
	var eastus2 gwtable.Region
	for _, r := range table.Regions {
		if r.Name == "eastus2" {
			eastus2 = r
		}
	}
	gatewayRanges := prefixes(t, "20.62.58.128/27, 40.70.144.192/29, 52.167.104.192/29, 104.208.150.192/29, 172.210.216.24/29")
	if !bytes.Contains(include, []byte("| East US 2 | 20.62.58.128/27, 40.70.144.192/29, 52.167.104.192/29, 104.208.150.192/29, 172.210.216.24/29 |")) {
		t.Fatal("the include's East US 2 row is not the one this test knows")
	}
	sql := sqlEastUS2(t, tags)
	if !slices.Equal(eastus2.Subnets, gatewayRanges) || !slices.Equal(eastus2.Redirect, sql) || !slices.Equal(gwtable.Aggregate(eastus2.Redirect), gwtable.Aggregate(sql)) {
		t.Errorf("eastus2: subnets %v\nredirect %v\nwant subnets %v\nand Sql.EastUS2's %v", eastus2.Subnets, eastus2.Redirect, gatewayRanges, sql)
	}
	if table.RedirectSource != tagsFile || table.RedirectPublished.Format(gwtable.DateLayout) != "2026-09-28" || table.Source != microsoft.URL+"/include.md" {
		t.Errorf("provenance: %q %v %q", table.RedirectSource, table.RedirectPublished, table.Source)
	}
	if _, err := exec.LookPath("dig"); err == nil || os.Getenv("CI") == "true" {
		// The server loads the table; allow.eastus2 is the gateway set alone.
		s := startServer(t, map[string]string{"Corefile": importCorefile, "regions": string(content)})
		var apl []string
		for _, p := range gatewayRanges {
			apl = append(apl, "1:"+p.String())
		}
		slices.Sort(apl)
		got := strings.Fields(s.dig("allow.eastus2.gateway.mysql.local", "APL", "+short"))
		slices.Sort(got)
		if !slices.Equal(got, apl) {
			t.Errorf("allow.eastus2 APL %q, want the gateway ranges %q", got, apl)
		}
	}

	// The later file: the Redirect set shrinks past -max-drop, the gateway
	// set does not change. FILE's modification time is set an hour back,
	// so that a rewrite would show in it.
	past := time.Now().Add(-time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "both.regions"), past, past); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(filepath.Join(dir, "both.regions"))
	if err != nil {
		t.Fatal(err)
	}
	unchanged := func(what string) {
		t.Helper()
		after, err := os.ReadFile(filepath.Join(dir, "both.regions"))
		fi, statErr := os.Stat(filepath.Join(dir, "both.regions"))
		if err != nil || statErr != nil || !bytes.Equal(after, content) || !fi.ModTime().Equal(info.ModTime()) {
			t.Errorf("%s: both.regions changed", what)
		}
	}
	run = fetch("both.regions", microsoft.URL+"/later/ServiceTags_Public_20261005.json")
	wantRefusal := "refused: both.regions left as it is: Redirect set: it would stop covering 512 of 4555 IPv4 addresses (11.2%, more than -max-drop 10%); Redirect set: prefixes no longer listed: 20.15.12.0/24 104.208.198.0/24; review the change, then run again with -force to write it\n"
	if run.status != 3 || !strings.HasPrefix(run.stdout, wantRefusal) {
		t.Errorf("a Redirect shrink: %d\n%s%s\nwant 3 and %s", run.status, run.stdout, run.stderr, wantRefusal)
	}
	unchanged("a refused Redirect shrink")

	// diff of the two tables, each way.
	if run := fetch("later.regions", microsoft.URL+"/later/ServiceTags_Public_20261005.json"); run.status != 0 {
		t.Fatalf("fetch into later.regions: %d\n%s", run.status, run.stderr)
	}
	run = runRegions(t, bin, dir, "", "diff", "both.regions", "later.regions")
	for _, want := range []string{"~ $REDIRECT-SOURCE " + microsoft.URL + "/later/ServiceTags_Public_20261005.json (was " + tagsFile + ")\n", "~ $REDIRECT-PUBLISHED 2026-10-05 (was 2026-09-28)\n", "eastus2\n  - redirect 20.15.12.0/24\n  - redirect 104.208.198.0/24\n"} {
		if run.status != 1 || !strings.Contains(run.stdout, want) {
			t.Errorf("diff both.regions later.regions: %d\n%s\nlacks %q", run.status, run.stdout, want)
		}
	}
	if run := runRegions(t, bin, dir, "", "diff", "later.regions", "both.regions"); run.status != 1 || !strings.Contains(run.stdout, "eastus2\n  + redirect 20.15.12.0/24\n  + redirect 104.208.198.0/24\n") {
		t.Errorf("diff later.regions both.regions: %d\n%s", run.status, run.stdout)
	}

	// Errors: FILE stays as it is.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"fetch", "-redirect", "-url", microsoft.URL + "/include.md", "-tags-url", microsoft.URL + "/gone/ServiceTags_Public_20261012.json", "-o", "both.regions"},
			"mysqlgw-regions: " + microsoft.URL + "/gone/ServiceTags_Public_20261012.json: HTTP status 404 Not Found\n"},
		{[]string{"fetch", "-redirect", "-url", microsoft.URL + "/include.md", "-tags-url", microsoft.URL + "/slow/ServiceTags_Public_20261012.json", "-timeout", "1s", "-o", "both.regions"},
			"mysqlgw-regions: not done within the timeout (while downloading " + microsoft.URL + "/slow/ServiceTags_Public_20261012.json): both.regions is left as it is\n"},
		{[]string{"fetch", "-redirect", "-source", "service-tags", "-o", "both.regions"},
			"mysqlgw-regions: -redirect adds the Service Tags file's Sql.<Region> values to Azure SQL's gateway table as Redirect sets: it takes -source azure-sql, not service-tags (which makes a tag's values the gateway set)\n"},
		{[]string{"fetch", "-redirect", "-tag", "Sql", "-o", "both.regions"},
			"mysqlgw-regions: -redirect reads the Sql.<Region> values, always: -tag is for -source service-tags\n"},
		{[]string{"fetch", "-tags-url", microsoft.URL + "/details.aspx", "-o", "both.regions"},
			"mysqlgw-regions: -tags-url is where -redirect finds the Service Tags file: give -redirect too\n"},
	} {
		if run := runRegions(t, bin, dir, "", tc.args...); run.status != 2 || run.stderr != tc.want {
			t.Errorf("%q: %d %q\nwant 2 %q", tc.args, run.status, run.stderr, tc.want)
		}
		unchanged(strings.Join(tc.args, " "))
	}
}

// includeMirror serves a real copy of Microsoft's 2026 Azure SQL include at
// every path of base until the test changes what it serves (serving).
func includeMirror(t *testing.T) (page []byte, serving *atomic.Value, base string) {
	t.Helper()
	page, err := os.ReadFile("../testdata/import/sql-2026-include.md")
	if err != nil {
		t.Fatal(err)
	}
	serving = new(atomic.Value)
	serving.Store(page)
	mirror := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(serving.Load().([]byte))
	}))
	t.Cleanup(mirror.Close)
	return page, serving, mirror.URL
}

// newRedirectMicrosoft is Microsoft as fetch -redirect meets it, serving real
// copies: the 2026 gateway include at /include.md, the Service Tags download
// page at /details.aspx (its link pointed here) and the file it links to,
// a later week's file at /later/, and under /slow/ nothing until the client
// gives up. It returns the server, the include and the tags file.
func newRedirectMicrosoft(t *testing.T) (microsoft *httptest.Server, include, tags []byte) {
	t.Helper()
	read := func(name string) []byte {
		t.Helper()
		b, err := os.ReadFile("../testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	include, page, tags := read("import/sql-2026-include.md"), read("fetch/servicetags-download-page.html"), read("import/servicetags.json")
	later := read("fetch/ServiceTags_Public_20261005.json")
	// Unstarted until microsoft is set: the handler reads its URL.
	microsoft = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/include.md":
			w.Write(include)
		case r.URL.Path == "/details.aspx":
			w.Write(bytes.ReplaceAll(page, []byte("https://download.microsoft.com"), []byte(microsoft.URL)))
		case strings.HasSuffix(r.URL.Path, "/71d86715-5596-4529-9b13-da13a5de5b63/ServiceTags_Public_20260928.json"):
			w.Write(tags)
		case r.URL.Path == "/later/ServiceTags_Public_20261005.json":
			w.Write(later)
		case strings.HasPrefix(r.URL.Path, "/slow/"):
			<-r.Context().Done() // answers nothing until the client gives up
		default:
			http.NotFound(w, r)
		}
	}))
	microsoft.Start()
	t.Cleanup(microsoft.Close)
	return microsoft, include, tags
}

// prefixes parses a comma-separated list of prefixes.
func prefixes(t *testing.T, list string) []netip.Prefix {
	t.Helper()
	var out []netip.Prefix
	for _, s := range strings.Split(list, ",") {
		out = append(out, netip.MustParsePrefix(strings.TrimSpace(s)))
	}
	return out
}

// sqlEastUS2 is Sql.EastUS2's addressPrefixes in a Service Tags file,
// decoded with encoding/json.
func sqlEastUS2(t *testing.T, tags []byte) []netip.Prefix {
	t.Helper()
	var doc struct {
		Values []struct {
			Name       string
			Properties struct{ AddressPrefixes []string }
		}
	}
	if err := json.Unmarshal(tags, &doc); err != nil {
		t.Fatal(err)
	}
	for _, v := range doc.Values {
		if v.Name == "Sql.EastUS2" {
			return prefixes(t, strings.Join(v.Properties.AddressPrefixes, ","))
		}
	}
	t.Fatal("no Sql.EastUS2 value")
	return nil
}

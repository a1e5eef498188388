package test

import (
	"bytes"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

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
	page, err := os.ReadFile("../testdata/import/sql-2026-include.md")
	if err != nil {
		t.Fatal(err)
	}
	var serving atomic.Value
	serving.Store(page)
	microsoft := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(serving.Load().([]byte))
	}))
	defer microsoft.Close()
	url := microsoft.URL + "/MicrosoftDocs/sql-docs/live/azure-sql/database/includes/gateway-ip-addresses.md"

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
	page, err := os.ReadFile("../testdata/import/sql-2026-include.md")
	if err != nil {
		t.Fatal(err)
	}
	var serving atomic.Value
	serving.Store(page)
	microsoft := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(serving.Load().([]byte))
	}))
	defer microsoft.Close()
	url := microsoft.URL + "/gateway-ip-addresses.md"
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

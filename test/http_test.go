package test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mysqlgw/mysqlgw/internal/testutil"
)

// The HTTP listener of the real binary, asked by real curl.

const httpRegions = `$SERIAL 1
lab 192.0.2.1 192.0.2.2 subnets 198.51.100.0/29 198.51.100.8/29 2001:db8::/120 decommissioning 192.0.2.9
lab2 192.0.2.33
`

func httpCorefile(httpPort, ttl int) string {
	return fmt.Sprintf(`gateway.mysql.local:{PORT} {
    bind 127.0.0.1
    mysqlgw {
        regions regions
        reload 100ms
        ttl %d
        alias lab-alias lab
        http 127.0.0.1:%d
    }
}
`, ttl, httpPort)
}

// curlResult is what curl -i printed: the status, the headers and the body.
type curlResult struct {
	code   int
	header map[string]string // lower-case names
	body   string
}

func curl(t *testing.T, args ...string) curlResult {
	t.Helper()
	r, err := tryCurl(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// waitHTTP waits until url answers 200: a listener open and serving.
func waitHTTP(t *testing.T, url string, args ...string) curlResult {
	t.Helper()
	var r curlResult
	testutil.Until(t, 10*time.Second, "the listener at "+url, func() bool {
		var err error
		r, err = tryCurl(t, append(args, url)...)
		return err == nil && r.code == 200
	})
	return r
}

// tryCurl is curl that returns curl's failure (a listener closed for a
// Corefile reload, say) instead of ending the test: for polls.
func tryCurl(t *testing.T, args ...string) (curlResult, error) {
	t.Helper()
	bin := requireTool(t, "curl")
	out, err := exec.Command(bin, append([]string{"-sS", "-i", "--max-time", "10"}, args...)...).Output()
	if err != nil {
		return curlResult{}, fmt.Errorf("curl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	head, body, _ := strings.Cut(strings.ReplaceAll(string(out), "\r\n", "\n"), "\n\n")
	lines := strings.Split(head, "\n")
	r := curlResult{header: map[string]string{}, body: body}
	fmt.Sscanf(lines[0], "HTTP/1.1 %d", &r.code)
	for _, l := range lines[1:] {
		if k, v, ok := strings.Cut(l, ": "); ok {
			r.header[strings.ToLower(k)] = v
		}
	}
	return r, nil
}

func TestHTTPWithCurl(t *testing.T) {
	requireTool(t, "curl")
	httpPort := freePort(t)
	s := startServer(t, map[string]string{"Corefile": httpCorefile(httpPort, 300), "regions": httpRegions})
	base := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	var r curlResult
	waitHTTP(t, base+"/all")

	// lists: merged, IPv4 first, any name in any case, a family at a time
	const labList = "192.0.2.1/32\n192.0.2.2/32\n192.0.2.9/32\n198.51.100.0/28\n2001:db8::/120\n"
	for _, tc := range []struct {
		path string
		code int
		body string
	}{
		{"/allow/lab", 200, labList},
		{"/allow/LAB-Alias", 200, labList},
		{"/allow/lab?family=4", 200, "192.0.2.1/32\n192.0.2.2/32\n192.0.2.9/32\n198.51.100.0/28\n"},
		{"/allow/lab?family=6", 200, "2001:db8::/120\n"},
		{"/allow/lab2?family=6", 200, ""},
		{"/all?family=4", 200, "192.0.2.1/32\n192.0.2.2/32\n192.0.2.9/32\n192.0.2.33/32\n198.51.100.0/28\n"},
		{"/allow/lab?family=7", 400, "family must be 4 or 6, got \"7\"\n"},
		{"/allow/nowhere", 404, "no region \"nowhere\" with an allow set here: GET /regions.json lists every name\n"},
		{"/allow/../all", 404, "no region \"../all\" with an allow set here: GET /regions.json lists every name\n"},
		{"/../all", 404, "no such path \"/../all\": try /allow/REGION, /all, /redirect/REGION, /redirect/all, /regions.json, /changes or /changes.atom\n"},
		{"/all%00", 404, "no such path \"/all\\x00\": try /allow/REGION, /all, /redirect/REGION, /redirect/all, /regions.json, /changes or /changes.atom\n"},
	} {
		r = curl(t, "--path-as-is", base+tc.path)
		if r.code != tc.code || r.body != tc.body {
			t.Errorf("GET %s: %d %q, want %d %q", tc.path, r.code, r.body, tc.code, tc.body)
		}
		if r.header["location"] != "" {
			t.Errorf("GET %s redirects to %s", tc.path, r.header["location"])
		}
	}
	r = curl(t, "-X", "POST", base+"/all")
	if r.code != 405 || r.header["allow"] != "GET, HEAD" {
		t.Errorf("POST /all: %d, Allow %q", r.code, r.header["allow"])
	}
	head := curl(t, "-I", base+"/allow/lab")
	if head.code != 200 || head.body != "" || head.header["content-length"] != fmt.Sprint(len(labList)) || head.header["cache-control"] != "max-age=300" {
		t.Errorf("HEAD /allow/lab: %d %q %v", head.code, head.body, head.header)
	}

	// conditional requests: If-None-Match, and curl -z's If-Modified-Since
	etag, modified := head.header["etag"], head.header["last-modified"]
	if r = curl(t, "-H", "If-None-Match: "+etag, base+"/allow/lab"); r.code != 304 || r.body != "" {
		t.Errorf("If-None-Match %s: %d %q", etag, r.code, r.body)
	}
	if r = curl(t, "-z", modified, base+"/allow/lab"); r.code != 304 {
		t.Errorf("curl -z %q: %d", modified, r.code)
	}
	if r = curl(t, "-z", "Sat, 01 Jan 2000 00:00:00 GMT", base+"/allow/lab"); r.code != 200 || r.body != labList {
		t.Errorf("curl -z 2000: %d", r.code)
	}

	// a Corefile reload that serves the same table: same ETag and
	// Last-Modified, no new version
	s.writeFile("Corefile", httpCorefile(httpPort, 301))
	s.proc.Cmd.Process.Signal(syscall.SIGUSR1)
	testutil.Until(t, 30*time.Second, "the reloaded Corefile's ttl", func() bool {
		var err error
		r, err = tryCurl(t, "-I", base+"/allow/lab")
		return err == nil && r.header["cache-control"] == "max-age=301"
	})
	if r.header["etag"] != etag || r.header["last-modified"] != modified {
		t.Errorf("a Corefile reload with the same table moved ETag %s → %s, Last-Modified %s → %s", etag, r.header["etag"], modified, r.header["last-modified"])
	}
	if n := len(changes(t, base)); n != 1 {
		t.Errorf("a Corefile reload with the same table: %d versions in /changes, want 1", n)
	}

	// a table change: lab's ETag moves, lab2's does not, and /changes says
	// what changed
	lab2 := curl(t, "-I", base+"/allow/lab2").header["etag"]
	s.writeFile("regions", strings.Replace(strings.Replace(httpRegions, "$SERIAL 1", "$SERIAL 2", 1), "192.0.2.2 ", "192.0.2.3 ", 1))
	testutil.Until(t, 30*time.Second, "a new ETag for lab", func() bool {
		r = curl(t, base+"/allow/lab")
		return r.header["etag"] != etag
	})
	if !strings.Contains(r.body, "192.0.2.3/32\n") || strings.Contains(r.body, "192.0.2.2/32") {
		t.Errorf("lab after the change:\n%s", r.body)
	}
	if got := curl(t, "-I", base+"/allow/lab2").header["etag"]; got != lab2 {
		t.Errorf("lab2 did not change, but its ETag moved %s → %s", lab2, got)
	}
	if r = curl(t, "-H", "If-None-Match: "+etag, base+"/allow/lab"); r.code != 200 {
		t.Errorf("the old ETag after a change: %d, want 200", r.code)
	}
	c := changes(t, base)
	if len(c) != 2 || c[0].Serial != 2 || fmt.Sprint(c[0].Added.Addresses, c[0].Removed.Addresses) != "[192.0.2.3] [192.0.2.2]" {
		t.Errorf("/changes after the table change: %+v", c)
	}

	// the table as JSON
	r = curl(t, base+"/regions.json")
	var table struct {
		Serial  uint32
		Regions []struct {
			Name     string
			Names    []string
			Gateways []struct{ Role, Address string }
		}
	}
	if err := json.Unmarshal([]byte(r.body), &table); err != nil || r.header["content-type"] != "application/json" {
		t.Fatalf("regions.json: %v %q", err, r.body)
	}
	if table.Serial != 2 || len(table.Regions) != 2 || fmt.Sprint(table.Regions[0].Names) != "[lab lab-alias]" ||
		fmt.Sprint(table.Regions[0].Gateways) != "[{primary 192.0.2.1} {secondary 192.0.2.3}]" {
		t.Errorf("regions.json: %+v", table)
	}
}

type httpChange struct {
	Serial         uint32
	Applied        time.Time
	Added, Removed struct {
		Regions, Addresses, Prefixes []string
	}
}

func changes(t *testing.T, base string) []httpChange {
	t.Helper()
	r := curl(t, base+"/changes")
	var c []httpChange
	if err := json.Unmarshal([]byte(r.body), &c); err != nil {
		t.Fatalf("/changes: %v\n%s", err, r.body)
	}
	return c
}

// TestHTTPAddressTwice: two server blocks naming one http address, and an
// address another program holds, stop start-up with an error.
func TestHTTPAddressTwice(t *testing.T) {
	httpPort := freePort(t)
	corefile := fmt.Sprintf(`a.example:{PORT} {
    bind 127.0.0.1
    mysqlgw {
        http 127.0.0.1:%d
    }
}
b.example:{PORT} {
    bind 127.0.0.1
    mysqlgw {
        http 127.0.0.1:%d
    }
}
`, httpPort, httpPort)
	want := fmt.Sprintf("http 127.0.0.1:%d: listen tcp 127.0.0.1:%d: bind: address already in use", httpPort, httpPort)
	if out, err := runCorefile(t, corefile); err == nil || !strings.Contains(out, want) {
		t.Errorf("two server blocks on one http address: %v\n%s", err, out)
	}

	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	corefile = fmt.Sprintf("a.example:{PORT} {\n    bind 127.0.0.1\n    mysqlgw {\n        http %s\n    }\n}\n", taken.Addr())
	if out, err := runCorefile(t, corefile); err == nil || !strings.Contains(out, "http "+taken.Addr().String()+": listen tcp") {
		t.Errorf("an http address another program holds: %v\n%s", err, out)
	}
}

// runCorefile runs the binary on corefile, which must fail at start-up, and
// returns its output.
func runCorefile(t *testing.T, corefile string) (string, error) {
	dir := t.TempDir()
	content := strings.ReplaceAll(corefile, "{PORT}", fmt.Sprint(freePort(t)))
	if err := os.WriteFile(filepath.Join(dir, "Corefile"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "-conf", "Corefile")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestHTTPTLSAuth: http_tls and http_auth, asked by curl, and a password
// changed in its file taken at a Corefile reload.
func TestHTTPTLSAuth(t *testing.T) {
	openssl := requireTool(t, "openssl")
	requireTool(t, "curl")
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	out, err := exec.Command(openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
		"-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1").CombinedOutput()
	if err != nil {
		t.Fatalf("openssl: %v\n%s", err, out)
	}
	httpPort := freePort(t)
	corefile := fmt.Sprintf(`gateway.mysql.local:{PORT} {
    bind 127.0.0.1
    mysqlgw {
        http 127.0.0.1:%d
        http_tls %s %s
        http_auth firewall password
    }
}
`, httpPort, cert, key)
	s := startServer(t, map[string]string{"Corefile": corefile, "password": "first secret\n"})
	url := fmt.Sprintf("https://127.0.0.1:%d/allow/eastus2?family=4", httpPort)
	r := waitHTTP(t, url, "--cacert", cert, "-u", "firewall:first secret")
	if r.body != "40.79.84.180/32\n52.167.104.0/32\n191.239.224.107/32\n" {
		t.Errorf("over HTTPS: %q", r.body)
	}
	if r = curl(t, "--cacert", cert, url); r.code != 401 || r.header["www-authenticate"] == "" {
		t.Errorf("without a password: %d %v", r.code, r.header)
	}
	if r = curl(t, "--cacert", cert, "-u", "firewall:wrong", url); r.code != 401 {
		t.Errorf("a wrong password: %d", r.code)
	}
	// plain HTTP to the TLS port gets no list
	if r = curl(t, "-u", "firewall:first secret", strings.Replace(url, "https:", "http:", 1)); r.code == 200 {
		t.Errorf("plain HTTP to the HTTPS listener: %d", r.code)
	}

	s.writeFile("password", "second secret\n")
	s.proc.Cmd.Process.Signal(syscall.SIGUSR1)
	testutil.Until(t, 30*time.Second, "the new password after a Corefile reload", func() bool {
		r, err := tryCurl(t, "--cacert", cert, "-u", "firewall:second secret", url)
		return err == nil && r.code == 200
	})
	if r = curl(t, "--cacert", cert, "-u", "firewall:first secret", url); r.code != 401 {
		t.Errorf("the old password after the reload: %d", r.code)
	}
}

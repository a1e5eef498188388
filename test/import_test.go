package test

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
)

// The tests here run the importer as built from cmd/mysqlgw-regions on the
// fixtures in testdata/import, load what it writes in the real server, and
// ask the server with dig; and they run every command docs/regions-file.md
// shows and compare the output.

// buildRegionsCmd builds cmd/mysqlgw-regions into a folder of the test's.
func buildRegionsCmd(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "mysqlgw-regions")
	out, err := exec.Command("go", "build", "-o", bin, "../cmd/mysqlgw-regions").CombinedOutput()
	if err != nil {
		t.Fatalf("building cmd/mysqlgw-regions: %v\n%s", err, out)
	}
	return bin
}

// regionsRun is one run of the importer.
type regionsRun struct {
	status         int
	stdout, stderr string
}

// runRegions runs the importer in dir with stdin and args.
func runRegions(t *testing.T, bin, dir, stdin string, args ...string) regionsRun {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("mysqlgw-regions %s: %v", strings.Join(args, " "), err)
	}
	return regionsRun{cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()}
}

// importCorefile serves the regions file "regions" in the server's folder.
const importCorefile = "gateway.mysql.local:{PORT} {\n    bind 127.0.0.1\n    mysqlgw {\n        regions regions\n        reload 0\n    }\n}\n"

// TestImportFixtures imports every fixture with the command, loads the file
// in a real server, and checks with dig that each region answers its
// gateways (A and AAAA), lists its roles, subnets and decommissioning
// addresses in TXT, names its decommissioning addresses, and that the SOA
// serial is the imported one.
func TestImportFixtures(t *testing.T) {
	requireTool(t, "dig")
	bin := buildRegionsCmd(t)
	for _, tc := range []struct {
		file     string
		args     []string
		regions  int
		serial   uint32 // 0: none in the file, the content's hash
		warnings int
	}{
		{"mysql-2019.md", nil, 7, 2019052201, 1},
		{"mysql-2019-note.md", nil, 7, 2019052201, 1},
		{"mysql-2022.md", nil, 10, 2022062001, 8},
		{"mysql-subnets.md", nil, 8, 2022062001, 1},
		{"postgresql.md", nil, 9, 2023030901, 3},
		{"sql-2022.md", nil, 7, 2021012501, 1},
		{"sql-2026.md", nil, 6, 2026022601, 4},
		{"sql-2026-include.md", nil, 71, 2026051801, 4},
		{"odd-cells.md", nil, 5, 0, 7},
		{"odd-cells.md", []string{"-serial", "2026030101"}, 5, 2026030101, 7},
		{"servicetags.json", nil, 3, 329, 0},
	} {
		t.Run(strings.Join(append(tc.args, tc.file), " "), func(t *testing.T) {
			args := append(append([]string{"import"}, tc.args...), filepath.Join("testdata", "import", tc.file))
			run := runRegions(t, bin, "..", "", args...)
			if run.status != 0 {
				t.Fatalf("exit status %d\n%s", run.status, run.stderr)
			}
			if n := strings.Count(run.stderr, "warning: "); n != tc.warnings {
				t.Errorf("%d warnings, want %d:\n%s", n, tc.warnings, run.stderr)
			}
			table, err := gwtable.Parse([]byte(run.stdout), "imported")
			if err != nil {
				t.Fatalf("the imported file does not load: %v\n%s", err, run.stdout)
			}
			if len(table.Regions) != tc.regions {
				t.Errorf("%d regions, want %d", len(table.Regions), tc.regions)
			}
			if tc.serial != 0 && (!table.HasSerial || table.Serial != tc.serial) {
				t.Errorf("$SERIAL %d (%v), want %d", table.Serial, table.HasSerial, tc.serial)
			}
			if tc.serial == 0 && table.HasSerial {
				t.Errorf("$SERIAL %d, want none", table.Serial)
			}
			s := startServer(t, map[string]string{"Corefile": importCorefile, "regions": run.stdout})
			if soa := strings.Fields(s.dig("gateway.mysql.local", "SOA", "+short")); len(soa) != 7 || soa[2] != fmt.Sprint(table.Serial) {
				t.Errorf("SOA %q, want serial %d", soa, table.Serial)
			}
			for _, r := range table.Regions {
				checkRegion(t, s, r)
			}
		})
	}
}

// checkRegion asks the server for one region's names with dig.
func checkRegion(t *testing.T, s *server, r gwtable.Region) {
	t.Helper()
	name := r.Name + ".gateway.mysql.local"
	var v4, v6, texts []string
	for i, a := range r.Addrs {
		if a.Is4() {
			v4 = append(v4, a.String())
		} else {
			v6 = append(v6, a.String())
		}
		texts = append(texts, fmt.Sprintf("%q", gwtable.Role(i).String()+"="+a.String()))
	}
	for _, p := range r.Subnets {
		texts = append(texts, fmt.Sprintf("%q", "subnet="+p.String()))
	}
	var decommissioning []string
	for _, a := range r.Decommissioning {
		texts = append(texts, fmt.Sprintf("%q", "decommissioning="+a.String()))
		decommissioning = append(decommissioning, a.String())
	}
	texts = append(texts, fmt.Sprintf("%q", "region="+r.Name))
	for _, q := range []struct {
		args []string
		want []string
	}{
		{[]string{name, "A", "+short"}, v4},
		{[]string{name, "AAAA", "+short"}, v6},
		{[]string{name, "TXT", "+short"}, texts},
	} {
		if got := digOrdered(s, q.args...); !slices.Equal(got, q.want) {
			t.Errorf("dig %s:\n%s\nwant:\n%s", strings.Join(q.args, " "), strings.Join(got, "\n"), strings.Join(q.want, "\n"))
		}
	}
	if len(decommissioning) > 0 {
		var got []string
		for _, qtype := range []string{"A", "AAAA"} {
			got = append(got, digOrdered(s, "decommissioning."+name, qtype, "+short")...)
		}
		if !slices.Equal(got, decommissioning) {
			t.Errorf("decommissioning.%s: %q, want %q", name, got, decommissioning)
		}
	}
}

// digOrdered is dig's output as lines, in order, without empty ones.
func digOrdered(s *server, args ...string) []string {
	var lines []string
	for _, l := range strings.Split(s.dig(args...), "\n") {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// TestImportErrors: a cell that is not an address, a prefix wider than a
// table holds, and a Service Tags file cut short, are errors that name where
// they are; nothing is written.
func TestImportErrors(t *testing.T) {
	bin := buildRegionsCmd(t)
	dir := t.TempDir()
	page, err := os.ReadFile("../testdata/import/mysql-2022.md")
	if err != nil {
		t.Fatal(err)
	}
	typo := bytes.Replace(page, []byte("52.167.105.38 "), []byte("52.167.105.388 "), 1)
	tags, err := os.ReadFile("../testdata/import/servicetags.json")
	if err != nil {
		t.Fatal(err)
	}
	include, err := os.ReadFile("../testdata/import/sql-2026-include.md")
	if err != nil {
		t.Fatal(err)
	}
	// A range of the hand-edited include changed to a /8, and a /28 of the
	// Service Tags file typed as a /8: refused, naming the line or JSON path.
	wide := strings.Replace(string(include), "| East US | 20.42.65.64/29,", "| East US | 20.0.0.0/8,", 1)
	wideTags := strings.Replace(string(tags), `"52.167.111.144/28"`, `"52.0.0.0/8"`, 1)
	if wide == string(include) || wideTags == string(tags) {
		t.Fatal("the fixtures changed: no range to widen")
	}
	for _, tc := range []struct {
		name, content, want string
	}{
		{"typo.md", string(typo), `mysqlgw-regions: typo.md:24: "Gateway IP addresses" cell "40.70.144.38, 52.167.105.388": "52.167.105.388" is not an IPv4 or IPv6 address`},
		{"wide.md", wide, `mysqlgw-regions: wide.md:73: "Gateway IP address ranges" cell "20.0.0.0/8, 20.42.73.0/29, 20.62.132.160/27, 52.168.116.64/29": prefix 20.0.0.0/8 is wider than /16, the widest IPv4 subnet a table may hold`},
		{"wide.json", wideTags, "mysqlgw-regions: wide.json: values[3].properties.addressPrefixes[14]: prefix 52.0.0.0/8 is wider than /16, the widest IPv4 subnet a table may hold"},
		{"cut.json", string(tags[:len(tags)/2]), "mysqlgw-regions: cut.json: truncated: the input ends inside values[3].properties.addressPrefixes[34]"},
		{"wrong.json", strings.Replace(string(tags), `"40.79.84.180/32"`, `40`, 1), "mysqlgw-regions: wrong.json: values[1].properties.addressPrefixes[3]: want a string, got the number 40"},
	} {
		if err := os.WriteFile(filepath.Join(dir, tc.name), []byte(tc.content), 0o644); err != nil {
			t.Fatal(err)
		}
		run := runRegions(t, bin, dir, "", "import", tc.name)
		if run.status != 2 || run.stdout != "" || strings.TrimSpace(run.stderr) != tc.want {
			t.Errorf("%s: exit status %d, stdout %q, stderr %q; want 2, nothing, %q", tc.name, run.status, run.stdout, run.stderr, tc.want)
		}
	}
	// Standard input, with -serial.
	odd, err := os.ReadFile("../testdata/import/odd-cells.md")
	if err != nil {
		t.Fatal(err)
	}
	run := runRegions(t, bin, dir, string(odd), "import", "-serial", "7", "-")
	if run.status != 0 || !strings.HasPrefix(run.stdout, "# Imported by mysqlgw-regions from standard input\n") ||
		!strings.Contains(run.stdout, "\n# $SERIAL 7 from -serial\n$SERIAL 7\n") || !strings.Contains(run.stderr, "warning: standard input:11: ") {
		t.Errorf("import -serial 7 -: exit status %d\n%s%s", run.status, run.stderr, run.stdout)
	}
}

// TestImportDiff runs diff on imported files: unchanged files exit 0 with
// nothing printed; the 2019 table against the 2022 one exits 1 and lists
// added, removed and moved addresses.
func TestImportDiff(t *testing.T) {
	bin := buildRegionsCmd(t)
	dir := t.TempDir()
	for name, fixture := range map[string]string{"2019": "mysql-2019.md", "2022": "mysql-2022.md"} {
		run := runRegions(t, bin, "..", "", "import", "testdata/import/"+fixture)
		if run.status != 0 {
			t.Fatalf("import %s: %d %s", fixture, run.status, run.stderr)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(run.stdout), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if run := runRegions(t, bin, dir, "", "diff", "2022", "2022"); run.status != 0 || run.stdout != "" || run.stderr != "" {
		t.Errorf("unchanged: exit status %d, %q %q", run.status, run.stdout, run.stderr)
	}
	run := runRegions(t, bin, dir, "", "diff", "2019", "2022")
	if run.status != 1 {
		t.Errorf("changed: exit status %d, want 1", run.status)
	}
	for _, want := range []string{
		"eastus\n  + gateway 40.71.8.203\n  + gateway 40.71.83.113\n  - gateway 191.238.6.43\n  ~ 40.121.158.30: gateway -> decommissioning\n",
		"+ australiacentral (new region)\n",
		"- chinaeast (region removed)\n",
		"  + decommissioning 52.177.185.181\n",
	} {
		if !strings.Contains(run.stdout, want) {
			t.Errorf("diff 2019 2022 lacks %q:\n%s", want, run.stdout)
		}
	}
	if run := runRegions(t, bin, dir, "", "diff", "2019", "missing"); run.status != 2 || !strings.Contains(run.stderr, "missing: no such file") {
		t.Errorf("missing file: exit status %d, %q", run.status, run.stderr)
	}
}

// docSession is a command docs/regions-file.md shows, with the output shown
// after it.
type docSession struct {
	line    int
	command string
	output  []string
}

// docSessions returns the "$ " commands of a Markdown file's fenced blocks.
func docSessions(t *testing.T, path string) []docSession {
	t.Helper()
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var sessions []docSession
	fence, inSession := false, false
	for i, line := range strings.Split(string(content), "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "~~~") || strings.HasPrefix(trimmed, "```"):
			fence, inSession = !fence, false
		case fence && strings.HasPrefix(line, "$ "):
			sessions = append(sessions, docSession{line: i + 1, command: strings.TrimPrefix(line, "$ ")})
			inSession = true
		case fence && inSession:
			sessions[len(sessions)-1].output = append(sessions[len(sessions)-1].output, line)
		}
	}
	return sessions
}

// TestImportDocs runs every command docs/regions-file.md shows and compares
// the output with the text: the importer (built once; `go run` adds "exit
// status N" on standard error when the program exits N > 0) in a folder
// where testdata/ is the repository's, and dig against the page's Corefile
// serving the page's regions file. It also checks the page's example of a
// wrong file against the server's own error.
func TestImportDocs(t *testing.T) {
	requireTool(t, "dig")
	const page = "../docs/regions-file.md"
	bin := buildRegionsCmd(t)
	work := t.TempDir()
	repoTestdata, err := filepath.Abs("../testdata")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(repoTestdata, filepath.Join(work, "testdata")); err != nil {
		t.Fatal(err)
	}
	var regionsFile, corefile string
	for _, block := range docBlocks(t) {
		if block.file != "docs/regions-file.md" {
			continue
		}
		switch {
		case block.info == "txt" && strings.HasPrefix(block.text, "$SERIAL"):
			regionsFile = block.text
		case block.info == "corefile":
			corefile = block.text
		}
	}
	if regionsFile == "" || !strings.Contains(corefile, ".:1054 {\n") || !strings.Contains(corefile, "regions /etc/coredns/regions\n") {
		t.Fatalf("docs/regions-file.md lacks its regions file or Corefile:\n%s\n%s", regionsFile, corefile)
	}
	corefile = strings.NewReplacer(".:1054 {\n", ".:{PORT} {\n    bind 127.0.0.1\n", "/etc/coredns/regions", "regions").Replace(corefile)
	s := startServer(t, map[string]string{"Corefile": corefile, "regions": regionsFile})

	// The page's fetch examples download from a mirror on 127.0.0.1:8080:
	// here, testdata/ served on a free loopback port, where Microsoft's
	// download page links to the mirror's copy of the Service Tags file.
	files := http.FileServer(http.Dir("../testdata"))
	downloadPage, err := os.ReadFile("../testdata/fetch/servicetags-download-page.html")
	if err != nil {
		t.Fatal(err)
	}
	// Unstarted until mirror is set: the handler reads its URL.
	var mirror *httptest.Server
	mirror = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/fetch/servicetags-download-page.html":
			w.Write(bytes.ReplaceAll(downloadPage, []byte("https://download.microsoft.com"), []byte(mirror.URL)))
		case strings.HasPrefix(r.URL.Path, "/download/") && strings.HasSuffix(r.URL.Path, "/ServiceTags_Public_20260928.json"):
			http.ServeFile(w, r, "../testdata/import/servicetags.json")
		default:
			files.ServeHTTP(w, r)
		}
	}))
	mirror.Start()
	defer mirror.Close()
	mirrorHost := strings.TrimPrefix(mirror.URL, "http://")

	const goRun, dig = "go run ./cmd/mysqlgw-regions", "dig @127.0.0.1 -p 1054 "
	ran := map[string]int{}
	for _, session := range docSessions(t, page) {
		var got string
		switch {
		case session.command == goRun || strings.HasPrefix(session.command, goRun+" "):
			args := strings.Fields(strings.ReplaceAll(strings.TrimPrefix(session.command, goRun), "127.0.0.1:8080", mirrorHost))
			got = strings.ReplaceAll(runDocCommand(t, bin, work, args), mirrorHost, "127.0.0.1:8080")
			ran["go run"]++
		case strings.HasPrefix(session.command, dig):
			got = s.dig(strings.Fields(strings.TrimPrefix(session.command, dig))...)
			ran["dig"]++
		default:
			t.Errorf("%s:%d: no test runs %q", page, session.line, session.command)
			continue
		}
		want := strings.Join(session.output, "\n")
		if strings.TrimRight(got, "\n") != want {
			t.Errorf("%s:%d: $ %s\nshown:\n%s\nreal:\n%s", page, session.line, session.command, want, got)
		}
	}
	if ran["go run"] < 5 || ran["dig"] < 7 {
		t.Errorf("ran %v commands of %s, want at least 5 go run and 7 dig", ran, page)
	}

	// The page's example of a wrong file is the server's error at start-up.
	const wrong = "regions:3: subnets: \"192.0.2.1\" is an address; a subnet is a prefix such as 104.208.150.192/29"
	content, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(content), "`"+wrong+"`") {
		t.Errorf("%s no longer shows %q", page, wrong)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "regions"), []byte("$SERIAL 1\n# a region with an address among its subnets\neastus2 52.167.105.38 subnets 192.0.2.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Corefile"), []byte(strings.ReplaceAll(importCorefile, "{PORT}", fmt.Sprint(freePort(t)))), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "-conf", "Corefile")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "plugin/mysqlgw: "+wrong) {
		t.Errorf("the server with a wrong regions file: %v\n%s", err, out)
	}
}

// runDocCommand runs one importer command of the page in work, with its
// "> FILE" redirection, and returns what a terminal would show.
func runDocCommand(t *testing.T, bin, work string, args []string) string {
	t.Helper()
	var redirect string
	if n := len(args); n >= 2 && args[n-2] == ">" {
		redirect, args = args[n-1], args[:n-2]
	}
	var shown, stdout bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Dir = work
	cmd.Stdout, cmd.Stderr = &shown, &shown
	if redirect != "" {
		cmd.Stdout = &stdout
	}
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("mysqlgw-regions %s: %v", strings.Join(args, " "), err)
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		fmt.Fprintf(&shown, "exit status %d\n", code) // as go run reports it
	}
	if redirect != "" {
		if err := os.WriteFile(filepath.Join(work, redirect), stdout.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return shown.String()
}

// TestImportDocsRegionsFile: the regions file shown on the page parses as
// the server reads it, with the serial the page's dig shows.
func TestImportDocsRegionsFile(t *testing.T) {
	for _, block := range docBlocks(t) {
		if block.file != "docs/regions-file.md" || !strings.HasPrefix(block.text, "$SERIAL") {
			continue
		}
		table, err := gwtable.Parse([]byte(block.text), "docs/regions-file.md")
		if err != nil {
			t.Fatal(err)
		}
		if table.Serial != 2023030901 || len(table.Regions) != 3 || len(table.Regions[2].Addrs) != 0 ||
			!slices.Contains(table.Regions[0].Decommissioning, netip.MustParseAddr("52.177.185.181")) {
			t.Errorf("the page's regions file is %+v", table)
		}
		return
	}
	t.Error("docs/regions-file.md shows no regions file")
}

package test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/mysqlgw/mysqlgw/internal/testutil"
)

// The tests here hold the README and the pages under docs/ to what the code
// does: every Corefile and regions file they show is started, every dig
// against the root Corefile is run and its output compared with the text, and
// the configurations shown for other programs are the ones their tests run.

// doc is one fenced block of a documentation file.
type doc struct {
	file    string // README.md or docs/NAME.md
	section string // the "## " heading the block is under, "" before the first
	info    string // the fence's info string: "corefile", "txt", "" …
	text    string // the lines between the fences, each ending in a newline
}

// docBlocks returns the fenced blocks of README.md and of every docs/*.md.
func docBlocks(t *testing.T) []doc {
	t.Helper()
	files, err := filepath.Glob("../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	files = append([]string{"../README.md"}, files...)
	var blocks []doc
	for _, path := range files {
		content, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(path, "../")
		var open *doc
		section := ""
		for _, line := range strings.SplitAfter(string(content), "\n") {
			trimmed := strings.TrimRight(line, "\n")
			fence := strings.HasPrefix(trimmed, "~~~") || strings.HasPrefix(trimmed, "```")
			switch {
			case open == nil && strings.HasPrefix(trimmed, "## "):
				section = strings.TrimPrefix(trimmed, "## ")
			case open == nil && fence:
				open = &doc{file: name, section: section, info: strings.TrimSpace(trimmed[3:])}
			case open != nil && (trimmed == "~~~" || trimmed == "```"):
				blocks = append(blocks, *open)
				open = nil
			case open != nil:
				open.text += line
			}
		}
		if open != nil {
			t.Fatalf("%s: a fenced block is never closed", name)
		}
	}
	return blocks
}

// dnssecKey matches a dnssec block's key file, which the test makes.
var dnssecKey = regexp.MustCompile(`key file (\S+)`)

// writeZoneKey makes a signing key for zone in BIND's format, as
// dnssec-keygen does, and returns the path without .key and .private.
func writeZoneKey(t *testing.T, zone string) string {
	t.Helper()
	key := &dns.DNSKEY{
		Hdr:       dns.RR_Header{Name: zone, Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 3600},
		Flags:     257,
		Protocol:  3,
		Algorithm: dns.ECDSAP256SHA256,
	}
	priv, err := key.Generate(256)
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(t.TempDir(), fmt.Sprintf("K%s+%03d+%05d", zone, key.Algorithm, key.KeyTag()))
	if err := os.WriteFile(base+".key", []byte(key.String()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(base+".private", []byte(key.PrivateKeyString(priv)), 0o600); err != nil {
		t.Fatal(err)
	}
	return base
}

// serverKey matches the first line of a server block, to move it to a free
// loopback port.
var serverKey = regexp.MustCompile(`(?m)^(\S+?)(:\d+)? \{$`)

// TestReadmeCorefilesRun starts every Corefile example of the README and
// docs/ that uses mysqlgw, in-process on a free loopback port with the
// regions file pointed at a loopback table, and asks it for eastus2: each
// must answer, except the acl example, which must drop a client outside its
// networks. A Corefile without mysqlgw must be one another test runs.
func TestReadmeCorefilesRun(t *testing.T) {
	regions := filepath.Join(t.TempDir(), "regions")
	// Loopback only: examples turn health checks on.
	if err := os.WriteFile(regions, []byte("eastus2 127.0.0.51 127.0.0.52\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ran := map[string]int{}
	for _, block := range docBlocks(t) {
		if block.info != "corefile" {
			continue
		}
		corefile := block.text
		if !strings.Contains(corefile, "mysqlgw") {
			if corefile != clusterCorefile {
				t.Errorf("%s: no test runs this Corefile:\n%s", block.file, corefile)
			}
			continue // the cluster CoreDNS's block; TestResolvers runs it
		}
		// Health checks probe every address of the table: only the loopback
		// table above may be probed.
		if strings.Contains(corefile, "healthcheck") &&
			(!strings.Contains(corefile, "regions /etc/coredns/regions") || regexp.MustCompile(`(?m)^\s*region `).MatchString(corefile)) {
			t.Errorf("%s: this example would probe addresses outside the loopback table:\n%s", block.file, corefile)
			continue
		}
		ran[block.file]++
		local := serverKey.ReplaceAllString(corefile, "$1:0 {\n    bind 127.0.0.1")
		local = strings.NewReplacer("/etc/coredns/regions", regions, "localhost:9153", "127.0.0.1:0").Replace(local)
		if m := dnssecKey.FindStringSubmatch(local); m != nil {
			local = strings.Replace(local, m[0], "key file "+writeZoneKey(t, "gateway.mysql.local."), 1)
		}
		t.Run(fmt.Sprintf("%s#%d", block.file, ran[block.file]), func(t *testing.T) {
			udp, _ := startInProcess(t, local)
			m := new(dns.Msg)
			m.SetQuestion("eastus2.gateway.mysql.local.", dns.TypeA)
			c := &dns.Client{Timeout: 2 * time.Second}
			r, _, err := c.Exchange(m, udp)
			if strings.Contains(corefile, "acl {") {
				if err == nil {
					t.Errorf("the acl example answered 127.0.0.1: %v", r)
				}
				return
			}
			if err != nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
				t.Errorf("%s\neastus2 A: %v %v", local, r, err)
			}
			if strings.Contains(corefile, "dnssec {") {
				m.SetEdns0(4096, true)
				r, _, err := c.Exchange(m, udp)
				if err != nil || !slices.ContainsFunc(r.Answer, func(rr dns.RR) bool { return rr.Header().Rrtype == dns.TypeRRSIG }) {
					t.Errorf("the signed example answered eastus2 A with DO unsigned: %v %v", r, err)
				}
			}
		})
	}
	if ran["README.md"] < 2 || ran["docs/operations.md"] < 1 {
		t.Errorf("ran %v examples with mysqlgw, want the 2 of the README and the acl one from docs/operations.md", ran)
	}
}

// TestReadmeRegionsFiles loads every regions file example (a txt block that
// starts with the "# NAME" header) and asks each region for its primary.
func TestReadmeRegionsFiles(t *testing.T) {
	files := 0
	for _, block := range docBlocks(t) {
		if block.info != "txt" || !(strings.HasPrefix(block.text, "# NAME") || strings.HasPrefix(block.text, "$SERIAL")) {
			continue
		}
		files++
		regions := filepath.Join(t.TempDir(), "regions")
		if err := os.WriteFile(regions, []byte(block.text), 0o644); err != nil {
			t.Fatal(err)
		}
		udp, _ := startInProcess(t, "gateway.mysql.local:0 {\n    bind 127.0.0.1\n    mysqlgw {\n        regions "+regions+"\n    }\n}\n")
		for _, line := range strings.Split(block.text, "\n") {
			fields := strings.Fields(line)
			if len(fields) < 2 || strings.HasPrefix(fields[0], "#") || strings.HasPrefix(fields[0], "$") {
				continue
			}
			if fields[1] == "subnets" || fields[1] == "decommissioning" {
				// No gateway: the region's TXT names it all the same.
				m := new(dns.Msg)
				m.SetQuestion(fields[0]+".gateway.mysql.local.", dns.TypeTXT)
				r, err := dns.Exchange(m, udp)
				if err != nil || len(r.Answer) == 0 {
					t.Errorf("%s: %s TXT: %v %v", block.file, fields[0], r, err)
				}
				continue
			}
			qtype := dns.TypeA
			if net.ParseIP(fields[1]).To4() == nil {
				qtype = dns.TypeAAAA
			}
			m := new(dns.Msg)
			m.SetQuestion("primary."+fields[0]+".gateway.mysql.local.", qtype)
			r, err := dns.Exchange(m, udp)
			if err != nil || len(r.Answer) != 1 || !strings.HasSuffix(r.Answer[0].String(), "\t"+fields[1]) {
				t.Errorf("%s: primary.%s %s: %v %v", block.file, fields[0], dns.TypeToString[qtype], r, err)
			}
		}
	}
	if files == 0 {
		t.Error("no regions file example in the README or docs/")
	}
}

// normalDigLine makes a line of dig's output comparable with one shown in
// the docs: spaces and tabs alike, and the message id left out.
func normalDigLine(line string) string {
	line = strings.Join(strings.Fields(line), " ")
	return regexp.MustCompile(`id: \d+`).ReplaceAllString(line, "id: ID")
}

// digSessions returns the dig commands against 127.0.0.1 port 1053 that a
// block shows, each with the output lines shown after it.
func digSessions(text string) (commands [][]string, outputs [][]string) {
	const prompt = "$ dig @127.0.0.1 -p 1053 "
	inSession := false
	for _, line := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(line, prompt):
			commands = append(commands, strings.Fields(strings.TrimPrefix(line, prompt)))
			outputs = append(outputs, nil)
			inSession = true
		case strings.HasPrefix(line, "$ "):
			inSession = false
		case inSession && strings.TrimSpace(line) != "":
			outputs[len(outputs)-1] = append(outputs[len(outputs)-1], normalDigLine(line))
		}
	}
	return commands, outputs
}

// TestReadmeDigOutputs runs every dig the README and docs/ show against the
// root Corefile and compares the output: whole for +short and +noall, and
// line by line for the full output, which the docs trim.
func TestReadmeDigOutputs(t *testing.T) {
	s := startServer(t, map[string]string{"Corefile": rootCorefile(t)})
	checked := 0
	for _, block := range docBlocks(t) {
		commands, outputs := digSessions(block.text)
		for i, args := range commands {
			checked++
			var got []string
			for _, line := range strings.Split(s.dig(args...), "\n") {
				if strings.TrimSpace(line) != "" {
					got = append(got, normalDigLine(line))
				}
			}
			want := outputs[i]
			if slices.Contains(args, "+short") || slices.Contains(args, "+noall") {
				if !slices.Equal(got, want) {
					t.Errorf("%s: dig %s\nshown:\n%s\nreal:\n%s", block.file, strings.Join(args, " "), strings.Join(want, "\n"), strings.Join(got, "\n"))
				}
				continue
			}
			for _, line := range want {
				if !slices.Contains(got, line) {
					t.Errorf("%s: dig %s: the real output lacks the line shown\n%s\nreal:\n%s", block.file, strings.Join(args, " "), line, strings.Join(got, "\n"))
				}
			}
		}
	}
	if checked < 8 {
		t.Errorf("checked %d dig commands in the README and docs/, want at least 8", checked)
	}
}

// TestReadmeMetricsOutput sends the root Corefile the five queries
// docs/operations.md describes and compares mysqlgw's metrics with the ones
// shown there.
func TestReadmeMetricsOutput(t *testing.T) {
	const command = "$ curl -s 127.0.0.1:9153/metrics | grep ^coredns_mysqlgw\n"
	var shown string
	for _, block := range docBlocks(t) {
		if i := strings.Index(block.text, command); i >= 0 {
			shown = block.text[i+len(command):]
		}
	}
	if shown == "" {
		t.Fatal("docs/ show no metrics of the root Corefile")
	}
	content, err := os.ReadFile("../Corefile")
	if err != nil {
		t.Fatal(err)
	}
	metricsPort := freePort(t)
	corefile := strings.NewReplacer(":1053", ":{PORT}", ":9153", fmt.Sprintf(":%d", metricsPort)).Replace(string(content))
	s := startServer(t, map[string]string{"Corefile": corefile})
	s.dig("eastus2.gateway.mysql.local")
	s.dig("eastus2.gateway.mysql.local", "TXT")
	s.dig("eastus2.gateway.mysql.local", "AAAA")
	s.dig("nowhere.gateway.mysql.local")
	s.dig("-x", "52.167.104.0")
	want := strings.Split(strings.TrimSpace(strings.ReplaceAll(shown, "127.0.0.1:1053", fmt.Sprintf("127.0.0.1:%d", s.port))), "\n")
	var got []string
	// The start-up NOTIFY goes out in the background once the server
	// listens: poll until its count is in.
	err = testutil.Poll(10*time.Second, nil, func() error {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort))
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got = got[:0]
		for _, line := range strings.Split(string(body), "\n") {
			if strings.HasPrefix(line, "coredns_mysqlgw") {
				got = append(got, line)
			}
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("not the metrics shown")
		}
		return nil
	})
	if err != nil {
		t.Errorf("metrics after the five queries:\n%s\nshown:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestReadmeResolverConfigs checks that docs/resolvers.md shows, word for
// word, the configurations TestResolvers runs, and nothing else untested but
// the systemd-resolved one, which it says is untested.
func TestReadmeResolverConfigs(t *testing.T) {
	tested := []string{unboundConfig, dnsmasqConfig, bindOptions + "\n\n" + bindZone, clusterCorefile}
	var shown []string
	for _, block := range docBlocks(t) {
		if block.file != "docs/resolvers.md" {
			continue
		}
		shown = append(shown, block.text)
		if !slices.Contains(tested, block.text) && !strings.HasPrefix(block.text, "[Resolve]\n") {
			t.Errorf("docs/resolvers.md shows a configuration TestResolvers does not run:\n%s", block.text)
		}
	}
	for _, config := range tested {
		if !slices.Contains(shown, config) {
			t.Errorf("docs/resolvers.md lacks the configuration TestResolvers runs:\n%s", config)
		}
	}
}

// TestReadmeQuickStart checks the README's two first commands: the server
// with the root Corefile (which TestDigRegion runs) and the test command,
// which must be the one CI runs.
func TestReadmeQuickStart(t *testing.T) {
	var commands []string
	for _, block := range docBlocks(t) {
		if block.file == "README.md" && block.info == "sh" {
			for _, line := range strings.Split(strings.TrimSpace(block.text), "\n") {
				command, _, _ := strings.Cut(line, "#")
				commands = append(commands, strings.Join(strings.Fields(command), " "))
			}
			break
		}
	}
	if len(commands) != 2 || commands[0] != "go run ./cmd/coredns -conf Corefile" || !strings.HasPrefix(commands[1], "go test ") {
		t.Fatalf("the README's quick start is %q, want the server with the root Corefile, then go test", commands)
	}
	ci, err := os.ReadFile("../.ci/run")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(strings.Split(string(ci), "\n"), commands[1]) {
		t.Errorf(".ci/run does not run the README's test command %q", commands[1])
	}
}

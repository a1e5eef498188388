package test

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Real consumers of the HTTP lists, in a network namespace of their own:
// docs/http.md's nftables recipe, run word for word; FireHOL's update-ipsets
// with docs/firewalls.md's lines; and curl, with every command docs/http.md
// shows.

const httpDoc = "docs/http.md"

// consumerRegions puts eastus2 on loopback: a gateway, a decommissioning
// address, and two /29 that the list merges into one /28.
const consumerRegions = "eastus2 127.0.2.1 subnets 127.0.3.0/29 127.0.3.8/29 decommissioning 127.0.2.9\nlab2 127.0.4.1\n"

const consumerCorefile = `gateway.mysql.local:{PORT} {
    bind 127.0.0.1
    mysqlgw {
        regions regions
        http 127.0.0.1:8053
    }
}
`

// httpRecipe returns docs/http.md's nft file, load command and script.
func httpRecipe(t *testing.T) (nftFile, load, script string) {
	t.Helper()
	for _, b := range docBlocks(t) {
		if b.file != httpDoc {
			continue
		}
		switch {
		case b.info == "nft":
			nftFile = b.text
		case b.info == "sh" && strings.HasPrefix(b.text, "nft -f "):
			load = b.text
		case b.info == "sh" && strings.HasPrefix(b.text, "#!/bin/sh"):
			script = b.text
		}
	}
	if nftFile == "" || load == "" || script == "" {
		t.Fatalf("%s: no nft file, load command or script", httpDoc)
	}
	return nftFile, load, script
}

func TestHTTPNftablesRecipe(t *testing.T) {
	nftFile, load, script := httpRecipe(t)
	if !inOwnNamespace(t, "ip", "nft", "curl") {
		return
	}
	run(t, "ip", "link", "set", "lo", "up")
	dir := t.TempDir()
	move := strings.NewReplacer(
		"/etc/nftables.d/mysqlgw-http.nft", filepath.Join(dir, "mysqlgw-http.nft"),
		"/usr/local/sbin/mysqlgw-http-nft", filepath.Join(dir, "mysqlgw-http-nft"))
	writeConfig(t, dir, "mysqlgw-http.nft", nftFile)
	writeConfig(t, dir, "mysqlgw-http-nft", script)
	if err := os.Chmod(filepath.Join(dir, "mysqlgw-http-nft"), 0o755); err != nil {
		t.Fatal(err)
	}
	startServer(t, map[string]string{"Corefile": consumerCorefile, "regions": consumerRegions})
	shell(t, move.Replace(load))
	shell(t, filepath.Join(dir, "mysqlgw-http-nft"))

	list := fetchList(t, "http://127.0.0.1:8053/allow/eastus2")
	got4, got6 := nftSetRanges(t, "mysqlgw_http", "allow4"), nftSetRanges(t, "mysqlgw_http", "allow6")
	if want := ranges(list); !slices.Equal(append(got4, got6...), want) {
		t.Errorf("the sets hold %v %v; the list %v", got4, got6, want)
	}
	for _, a := range []string{"127.0.2.1", "127.0.2.9", "127.0.3.0", "127.0.3.15", "127.0.3.16", "127.0.2.2", "127.0.4.1"} {
		listen(t, a+":3306")
	}
	for _, a := range []string{"127.0.2.1", "127.0.2.9", "127.0.3.0", "127.0.3.15"} {
		checkConnects(t, a)
	}
	// just outside the /28, next to the gateway, and another region's
	for _, a := range []string{"127.0.3.16", "127.0.2.2", "127.0.4.1"} {
		checkDropped(t, a)
	}
}

// fetchList gets a list with curl and parses its lines.
func fetchList(t *testing.T, url string) []netip.Prefix {
	t.Helper()
	r := curl(t, url)
	if r.code != 200 {
		t.Fatalf("GET %s: %d", url, r.code)
	}
	var out []netip.Prefix
	for _, line := range strings.Fields(r.body) {
		out = append(out, netip.MustParsePrefix(line))
	}
	return out
}

// addrRange is a span of addresses, first to last.
type addrRange struct{ from, to netip.Addr }

func (r addrRange) String() string { return r.from.String() + "-" + r.to.String() }

func prefixRange(p netip.Prefix) addrRange {
	b := p.Masked().Addr().AsSlice()
	for bit := p.Bits(); bit < len(b)*8; bit++ {
		b[bit/8] |= 0x80 >> (bit % 8)
	}
	last, _ := netip.AddrFromSlice(b)
	return addrRange{p.Masked().Addr(), last}
}

// joinRanges sorts spans and joins those that touch or overlap, so that two
// ways of writing one address set compare equal.
func joinRanges(rs []addrRange) []addrRange {
	slices.SortFunc(rs, func(a, b addrRange) int { return a.from.Compare(b.from) })
	var out []addrRange
	for _, r := range rs {
		if n := len(out); n > 0 && out[n-1].to.Is4() == r.from.Is4() && (out[n-1].to.Next() == r.from || out[n-1].to.Compare(r.from) >= 0) {
			if r.to.Compare(out[n-1].to) > 0 {
				out[n-1].to = r.to
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

func ranges(ps []netip.Prefix) []addrRange {
	var rs []addrRange
	for _, p := range ps {
		rs = append(rs, prefixRange(p))
	}
	return joinRanges(rs)
}

// nftSetRanges reads a set of an inet table as address spans.
func nftSetRanges(t *testing.T, table, set string) []addrRange {
	t.Helper()
	out := run(t, "nft", "-j", "list", "set", "inet", table, set)
	var doc struct {
		Nftables []struct {
			Set *struct {
				Elem []json.RawMessage `json:"elem"`
			} `json:"set"`
		} `json:"nftables"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("nft -j list set %s: %v\n%s", set, err, out)
	}
	var rs []addrRange
	for _, item := range doc.Nftables {
		if item.Set == nil {
			continue
		}
		for _, e := range item.Set.Elem {
			var addr string
			var prefix struct {
				Prefix struct {
					Addr string `json:"addr"`
					Len  int    `json:"len"`
				} `json:"prefix"`
				Range []string `json:"range"`
			}
			switch {
			case json.Unmarshal(e, &addr) == nil:
				a := netip.MustParseAddr(addr)
				rs = append(rs, addrRange{a, a})
			case json.Unmarshal(e, &prefix) == nil && prefix.Prefix.Addr != "":
				rs = append(rs, prefixRange(netip.PrefixFrom(netip.MustParseAddr(prefix.Prefix.Addr), prefix.Prefix.Len)))
			case len(prefix.Range) == 2:
				rs = append(rs, addrRange{netip.MustParseAddr(prefix.Range[0]), netip.MustParseAddr(prefix.Range[1])})
			default:
				t.Fatalf("set %s: an element %s this test does not read", set, e)
			}
		}
	}
	return joinRanges(rs)
}

// ipsetRanges reads a kernel ipset as address spans.
func ipsetRanges(t *testing.T, name string) []addrRange {
	t.Helper()
	var got []addrRange
	for _, line := range strings.Split(run(t, "ipset", "save", name), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "add" {
			continue
		}
		p, err := netip.ParsePrefix(f[2])
		if err != nil {
			a := netip.MustParseAddr(f[2])
			p = netip.PrefixFrom(a, a.BitLen())
		}
		got = append(got, prefixRange(p))
	}
	return joinRanges(got)
}

// ipsetsLine matches an update line of FireHOL's ipsets.d: the ipset's name
// and its URL.
var ipsetsLine = regexp.MustCompile(`^update (\S+) \d+ \d+ ipv4 both "([^"]+)" `)

// TestHTTPUpdateIpsets has FireHOL's update-ipsets fetch the lists of
// docs/firewalls.md's configuration (eastus2's gateway and Redirect sets,
// IPv4) into the kernel ipsets the page creates: each holds its list's
// addresses (update-ipsets aggregates, so address sets are compared, not
// lines). With mysqlgw stopped, a run that checks again keeps both.
func TestHTTPUpdateIpsets(t *testing.T) {
	recipe := readPolicyRecipe(t)
	lists := map[string]string{} // ipset: URL
	for _, line := range strings.Split(strings.TrimSpace(recipe.ipsetsConf), "\n") {
		m := ipsetsLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("%s: an update-ipsets line this test does not read: %s", firewallDoc, line)
		}
		lists[m[1]] = m[2]
	}
	if len(lists) != 2 {
		t.Fatalf("%s: %d update-ipsets lines, want the gateway set's and the Redirect set's", firewallDoc, len(lists))
	}
	if !inOwnNamespace(t, "ip", "ipset", "update-ipsets", "curl") {
		return
	}
	run(t, "ip", "link", "set", "lo", "up")
	dir := t.TempDir()
	// Every folder update-ipsets uses in the test's own; only this
	// definition, not the distribution's hundreds.
	folders := map[string]string{
		"BASE_DIR": "base", "RUN_PARENT_DIR": "run", "CACHE_DIR": "cache", "LIB_DIR": "lib", "ADMIN_SUPPLIED_IPSETS": "ipsets.d",
	}
	var conf strings.Builder
	for name, sub := range folders {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&conf, "%s=%q\n", name, filepath.Join(dir, sub))
	}
	conf.WriteString("DISTRIBUTION_SUPPLIED_IPSETS=\"\"\nUSER_SUPPLIED_IPSETS=\"\"\n")
	writeConfig(t, dir, "update-ipsets.conf", conf.String())
	writeConfig(t, dir, "ipsets.d/mysqlgw.conf", recipe.ipsetsConf)
	s := startServer(t, map[string]string{"Corefile": strings.Replace(sqlCorefile, "HTTP", "127.0.0.1:8053", 1), "regions": sqlRegions})

	updateIpsets := requireTool(t, "update-ipsets")
	config := filepath.Join(dir, "update-ipsets.conf")
	for name := range lists {
		run(t, updateIpsets, "--config", config, "enable", name)
	}
	// update-ipsets loads only sets the kernel already has, as FireHOL's
	// firewall creates them: the page's commands.
	shell(t, recipe.ipsetCreate)
	out := run(t, updateIpsets, "--config", config, "-s")
	t.Logf("update-ipsets:\n%s", out)

	held := map[string][]addrRange{}
	for name, url := range lists {
		held[name] = ipsetRanges(t, name)
		want := ranges(fetchList(t, url))
		if len(want) == 0 || !slices.Equal(held[name], want) {
			t.Errorf("ipset %s holds %v; %s is %v", name, held[name], url, want)
		}
	}

	// mysqlgw stops; an hour later (the downloads' times moved back, and -i
	// so that update-ipsets goes by them) update-ipsets fetches again, fails,
	// and keeps both sets.
	s.proc.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.proc.Exited:
	case <-time.After(30 * time.Second):
		t.Fatal("mysqlgw did not stop")
	}
	hourAgo := time.Now().Add(-time.Hour)
	for name := range lists {
		if err := os.Chtimes(filepath.Join(dir, "base", name+".source"), hourAgo, hourAgo); err != nil {
			t.Fatal(err)
		}
	}
	again, _ := exec.Command(updateIpsets, "--config", config, "-s", "-i").CombinedOutput()
	t.Logf("update-ipsets with mysqlgw stopped:\n%s", again)
	if !strings.Contains(string(again), "consecutive failures") {
		t.Errorf("update-ipsets with mysqlgw stopped reports no failed download:\n%s", again)
	}
	for name := range lists {
		if got := ipsetRanges(t, name); !slices.Equal(got, held[name]) {
			t.Errorf("with mysqlgw stopped, ipset %s holds %v; want it kept, %v", name, got, held[name])
		}
	}
}

// curlSession is a Corefile of docs/http.md (with the regions file shown
// before it, if it reads one) and the commands shown after it.
type curlSession struct {
	corefile, regions string
	commands          []string // each "$ COMMAND\n" followed by its output
}

// TestHTTPDocCurl runs each Corefile of docs/http.md (http on
// 127.0.0.1:8053, in a namespace of its own so the port is free) and every
// `$ ` command shown after it, comparing the output with the page's.
func TestHTTPDocCurl(t *testing.T) {
	var sessions []curlSession
	regions := ""
	for _, b := range docBlocks(t) {
		switch {
		case b.file != httpDoc:
		case b.info == "txt" && (strings.HasPrefix(b.text, "# NAME") || strings.HasPrefix(b.text, "$SERIAL")):
			regions = b.text
		case b.info == "corefile":
			sessions = append(sessions, curlSession{corefile: b.text, regions: regions})
		case strings.HasPrefix(b.text, "$ curl "):
			if len(sessions) == 0 {
				t.Fatalf("%s: a command before any Corefile:\n%s", httpDoc, b.text)
			}
			last := &sessions[len(sessions)-1]
			for _, line := range strings.SplitAfter(b.text, "\n") {
				if strings.HasPrefix(line, "$ ") {
					last.commands = append(last.commands, "")
				}
				last.commands[len(last.commands)-1] += line
			}
		}
	}
	ran := 0
	for _, session := range sessions {
		ran += len(session.commands)
	}
	if len(sessions) < 2 || ran < 8 {
		t.Fatalf("%s: %d Corefiles and %d commands, want the built-in table's and the Redirect sets' and their commands", httpDoc, len(sessions), ran)
	}
	if !inOwnNamespace(t, "ip", "curl", "jq") {
		return
	}
	run(t, "ip", "link", "set", "lo", "up")
	for i, session := range sessions {
		t.Run(fmt.Sprintf("corefile#%d", i+1), func(t *testing.T) {
			files := map[string]string{"Corefile": strings.Replace(
				serverKey.ReplaceAllString(session.corefile, "$1:{PORT} {\n    bind 127.0.0.1"),
				"/etc/coredns/regions", "regions", 1)}
			if strings.Contains(session.corefile, "/etc/coredns/regions") {
				if session.regions == "" {
					t.Fatalf("%s: this Corefile reads a regions file the page does not show before it:\n%s", httpDoc, session.corefile)
				}
				files["regions"] = session.regions
			}
			startServer(t, files)
			waitHTTP(t, "http://127.0.0.1:8053/regions.json")
			for _, shown := range session.commands {
				command, want, _ := strings.Cut(shown, "\n")
				out, err := exec.Command("sh", "-c", strings.TrimPrefix(command, "$ ")).CombinedOutput()
				if err != nil || string(out) != want {
					t.Errorf("%s: %v\ngot:\n%s\nthe page shows:\n%s", command, err, out, want)
				}
			}
		})
	}
}

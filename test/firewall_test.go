package test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mysqlgw/mysqlgw/internal/testutil"
)

// The consumers of docs/firewalls.md: the nftables recipe, run word for word
// in a network namespace of its own; a client that reads the shards the way
// PAN-OS is documented to; Unbound and dnsmasq in front of the allow names;
// and what moves between shards when the table changes.

const firewallDoc = "docs/firewalls.md"

// firewallRecipe is the nftables recipe of docs/firewalls.md, block by block.
type firewallRecipe struct {
	regions  string // the lab table of loopback addresses
	corefile string // mysqlgw on port 1053
	nftFile  string // /etc/nftables.d/mysqlgw.nft
	load     string // the command that loads it
	nftset   string // dnsmasq's drop-in
	script   string // /usr/local/sbin/mysqlgw-nftset
	cron     string // the command of the cron line
	change   string // the commands for addresses that leave the table
}

// readFirewallRecipe finds each block of the recipe, once, and fails on a
// block of the page that no test runs.
func readFirewallRecipe(t *testing.T) firewallRecipe {
	t.Helper()
	var r firewallRecipe
	found := map[string]int{}
	for _, b := range docBlocks(t) {
		if b.file != firewallDoc || b.section == policySection || b.section == jsonFeedsSection {
			continue // readPolicyRecipe and TestFirewallJSONFeeds read these
		}
		var field *string
		what := b.info
		switch {
		case b.info == "txt" && strings.HasPrefix(b.text, "# NAME"):
			field, what = &r.regions, "regions file"
		case b.info == "corefile":
			field = &r.corefile
		case b.info == "nft":
			field = &r.nftFile
		case b.info == "sh" && strings.HasPrefix(b.text, "#!/bin/sh\n"):
			field, what = &r.script, "script"
		case b.info == "sh" && strings.HasPrefix(b.text, "nft -f "):
			field, what = &r.load, "load command"
		case b.info == "sh" && strings.HasPrefix(b.text, "kill -HUP "):
			field, what = &r.change, "commands after a removal"
		case b.info == "conf" && strings.HasPrefix(b.text, "nftset="):
			field = &r.nftset
		case b.info == "crontab":
			fields := strings.Fields(b.text)
			if len(fields) < 7 || strings.Join(fields[:6], " ") != "*/5 * * * * root" {
				t.Fatalf("%s: the cron line is not \"*/5 * * * * root COMMAND\":\n%s", firewallDoc, b.text)
			}
			found["cron line"]++
			r.cron = strings.Join(fields[6:], " ")
			continue
		case b.info == "" && strings.HasPrefix(b.text, "$ dig @127.0.0.1 -p 1053 "):
			continue // TestReadmeDigOutputs runs these
		default:
			t.Errorf("%s: no test runs this %q block:\n%s", firewallDoc, b.info, b.text)
			continue
		}
		found[what]++
		*field = b.text
	}
	for _, what := range []string{"regions file", "corefile", "nft", "load command", "conf", "script", "cron line", "commands after a removal"} {
		if found[what] != 1 {
			t.Fatalf("%s shows %d %s blocks of the nftables recipe, want 1", firewallDoc, found[what], what)
		}
	}
	return r
}

// localPaths moves the recipe's files into dir; the commands are otherwise
// run as shown.
func localPaths(t *testing.T, text, dir string) string {
	t.Helper()
	text = strings.NewReplacer(
		"/etc/nftables.d/mysqlgw.nft", filepath.Join(dir, "mysqlgw.nft"),
		"/usr/local/sbin/mysqlgw-nftset", filepath.Join(dir, "mysqlgw-nftset"),
		"/run/dnsmasq/dnsmasq.pid", filepath.Join(dir, "dnsmasq.pid"),
		"/etc/coredns/regions", "regions",
	).Replace(text)
	for _, system := range []string{"/etc/", "/usr/", "/run/", "/var/"} {
		if strings.Contains(text, system) {
			t.Fatalf("%s: a path under %s that the test does not move:\n%s", firewallDoc, system, text)
		}
	}
	return text
}

// shell runs commands with sh -e, as a script would.
func shell(t *testing.T, commands string) {
	t.Helper()
	out, err := exec.Command("sh", "-ec", commands).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", commands, err, out)
	}
}

// TestFirewallNftables runs the nftables recipe of docs/firewalls.md: mysqlgw
// with the lab table on port 1053, the nftables table, dnsmasq on port 53 with
// the resolvers.md drop-in and the nftset one, then the script from the cron
// line. The set then holds the allow set exactly, and only those addresses
// can be reached on port 3306. Then lab2 leaves the table: the cron run alone
// removes nothing, the three commands for a removal do.
func TestFirewallNftables(t *testing.T) {
	recipe := readFirewallRecipe(t)
	if !inOwnNamespace(t, "ip", "nft", "dnsmasq", "dig") {
		return
	}
	run(t, "ip", "link", "set", "lo", "up")
	dir := t.TempDir()
	writeConfig(t, dir, "mysqlgw.nft", recipe.nftFile)
	writeConfig(t, dir, "mysqlgw-nftset", localPaths(t, recipe.script, dir))
	if err := os.Chmod(filepath.Join(dir, "mysqlgw-nftset"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeConfig(t, dir, "mysqlgw.conf", dnsmasqConfig) // resolvers.md's, word for word
	writeConfig(t, dir, "mysqlgw-nftset.conf", recipe.nftset)
	// As Debian's service runs it, on port 53, but in the foreground.
	writeConfig(t, dir, "dnsmasq.conf", fmt.Sprintf(`keep-in-foreground
no-resolv
no-hosts
log-facility=-
log-queries
pid-file=%[1]s/dnsmasq.pid
conf-file=%[1]s/mysqlgw.conf
conf-file=%[1]s/mysqlgw-nftset.conf
`, dir))

	gw := startServerOn(t, 1053, map[string]string{
		"Corefile": localPaths(t, recipe.corefile, dir),
		"regions":  recipe.regions,
	})
	shell(t, localPaths(t, recipe.load, dir))
	if got := nftElements(t, "allow4"); len(got) != 0 {
		t.Fatalf("allow4 before dnsmasq has answered anything: %v", got)
	}
	resolver := startResolver(t, dir, 53, requireTool(t, "dnsmasq"), "--conf-file="+filepath.Join(dir, "dnsmasq.conf"))

	const all = "all.gateway.mysql.local."
	if r := ask(t, resolver, "udp", "shards."+all, dns.TypeTXT); !slices.Equal(rdata(r.Answer, dns.TypeTXT), []string{`"3"`}) {
		t.Errorf("shards.all TXT through dnsmasq: %v, want \"3\"", r.Answer)
	}
	shell(t, localPaths(t, recipe.cron, dir))
	want4, want6 := allowSet(t, gw.addr, all)
	if len(want4) != 76 || len(want6) != 0 {
		t.Fatalf("all A and AAAA: %d and %d addresses, want the lab table's 76 and 0", len(want4), len(want6))
	}
	checkSet(t, "after the first run", want4, want6)
	t.Logf("after the first run: allow4 holds the %d addresses of all, allow6 none", len(want4))

	for _, a := range []string{"127.0.0.2", "127.0.2.31", "127.0.3.31", "127.0.1.8"} {
		listen(t, a+":3306")
	}
	for _, a := range []string{"127.0.0.2", "127.0.2.31", "127.0.3.31"} {
		checkConnects(t, a)
	}
	checkDropped(t, "127.0.1.8")
	// The drop is the rule's: the same listener answers once its address
	// is in the set.
	run(t, "nft", "add", "element", "inet", "mysqlgw", "allow4", "{ 127.0.1.8 }")
	checkConnects(t, "127.0.1.8")
	run(t, "nft", "delete", "element", "inet", "mysqlgw", "allow4", "{ 127.0.1.8 }")

	// lab2 leaves the table; mysqlgw reloads it.
	var kept []string
	for _, line := range strings.SplitAfter(recipe.regions, "\n") {
		if !strings.HasPrefix(line, "lab2 ") {
			kept = append(kept, line)
		}
	}
	if err := os.WriteFile(filepath.Join(gw.dir, "regions"), []byte(strings.Join(kept, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	var labOnly []string
	err := testutil.Poll(time.Minute, gw.proc.Exited, func() error {
		labOnly, _ = allowSet(t, gw.addr, all)
		if len(labOnly) != 43 {
			return fmt.Errorf("all has %d addresses, want lab's 43", len(labOnly))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("mysqlgw without lab2: %v", err)
	}
	shell(t, localPaths(t, recipe.cron, dir))
	checkSet(t, "after lab2 left and the cron run alone", want4, nil)
	shell(t, localPaths(t, recipe.change, dir))
	checkSet(t, "after the commands for a removal", labOnly, nil)
	checkDropped(t, "127.0.3.31")
	checkConnects(t, "127.0.0.2")
	t.Logf("after lab2 left: the cron run kept %d addresses, the commands for a removal left %d", len(want4), len(labOnly))
}

// nftElements lists a set of the table inet mysqlgw, sorted.
func nftElements(t *testing.T, set string) []string {
	t.Helper()
	var listing struct {
		Nftables []struct {
			Set *struct {
				Elem []json.RawMessage `json:"elem"`
			} `json:"set"`
		} `json:"nftables"`
	}
	out := run(t, "nft", "-j", "list", "set", "inet", "mysqlgw", set)
	if err := json.Unmarshal([]byte(out), &listing); err != nil {
		t.Fatalf("nft -j list set inet mysqlgw %s: %v\n%s", set, err, out)
	}
	elems := []string{}
	for _, item := range listing.Nftables {
		if item.Set == nil {
			continue
		}
		for _, raw := range item.Set.Elem {
			var addr string
			if err := json.Unmarshal(raw, &addr); err != nil {
				t.Fatalf("set %s holds %s, not a single address", set, raw)
			}
			elems = append(elems, addr)
		}
	}
	slices.Sort(elems)
	return elems
}

// checkSet compares the sets allow4 and allow6 with the addresses wanted.
func checkSet(t *testing.T, when string, want4, want6 []string) {
	t.Helper()
	for _, s := range []struct {
		name string
		want []string
	}{{"allow4", want4}, {"allow6", want6}} {
		got := nftElements(t, s.name)
		if s.want == nil {
			s.want = []string{}
		}
		if !slices.Equal(got, s.want) {
			t.Errorf("%s, set %s (%d addresses):\n%v\nwant (%d):\n%v", when, s.name, len(got), got, len(s.want), s.want)
		}
	}
}

// listen opens a stand-in gateway on addr until the test ends.
func listen(t *testing.T, addr string) {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
}

func checkConnects(t *testing.T, addr string) {
	t.Helper()
	checkConnectsTo(t, net.JoinHostPort(addr, "3306"))
}

// checkConnectsTo expects a connection to hostport to go through.
func checkConnectsTo(t *testing.T, hostport string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", hostport, 5*time.Second)
	if err != nil {
		t.Errorf("connect to %s: %v, want a connection", hostport, err)
		return
	}
	c.Close()
}

// checkDropped expects a connection to port 3306 to time out: the SYN
// dropped, not refused.
func checkDropped(t *testing.T, addr string) {
	t.Helper()
	checkDroppedAt(t, net.JoinHostPort(addr, "3306"))
}

// checkDroppedAt expects a connection to hostport to time out.
func checkDroppedAt(t *testing.T, hostport string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", hostport, 2*time.Second)
	var nerr net.Error
	switch {
	case err == nil:
		c.Close()
		t.Errorf("connect to %s went through; want it dropped", hostport)
	case !errors.As(err, &nerr) || !nerr.Timeout():
		t.Errorf("connect to %s: %v; want a timeout (dropped)", hostport, err)
	}
}

// ask sends one query without EDNS over network ("udp" or "tcp").
func ask(t *testing.T, addr, network, name string, qtype uint16) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: network, Timeout: 5 * time.Second}
	r, _, err := c.Exchange(question(name, qtype), addr)
	if err != nil {
		t.Fatalf("%s %s over %s to %s: %v", name, dns.TypeToString[qtype], network, addr, err)
	}
	return r
}

// allowSet is name's A and AAAA records from mysqlgw over TCP, sorted.
func allowSet(t *testing.T, addr, name string) (v4, v6 []string) {
	t.Helper()
	v4 = rdata(ask(t, addr, "tcp", name, dns.TypeA).Answer, dns.TypeA)
	v6 = rdata(ask(t, addr, "tcp", name, dns.TypeAAAA).Answer, dns.TypeAAAA)
	return v4, v6
}

// firewallTable has subnets, decommissioning addresses and IPv6. Only DNS
// goes anywhere (to mysqlgw on 127.0.0.1). all: 43 + 25 + 64 = 132 IPv4 and
// 65 IPv6 addresses; at 28 A and 16 AAAA a shard, 5 shards.
const firewallTable = `eastus2  52.167.105.38 40.70.144.38 subnets 104.208.150.192/29 20.62.58.128/27 decommissioning 52.177.185.181
westus2  13.66.226.202 subnets 13.66.136.192/29 40.78.240.192/29 40.78.248.192/29
lab6     2001:db8::10 subnets 2001:db8:1::/122 192.0.2.0/26
`

// maxFQDNAddrs is what PAN-OS keeps of each address type from one name, and
// Google Cloud NGFW of each answer.
const maxFQDNAddrs = 32

// readShards asks name's shards the way PAN-OS is documented to: over UDP
// without EDNS, so with 512 bytes at most, never again over TCP, keeping the
// first 32 addresses of each answer. It stops at the first NXDOMAIN and
// returns the addresses kept (each once), the number of shards and the
// largest answer's size.
func readShards(t *testing.T, addr, name string) (kept map[string]int, shards, largest int) {
	t.Helper()
	kept = map[string]int{}
	for k := 1; ; k++ {
		shard := fmt.Sprintf("%d.%s", k, name)
		nxdomain := 0
		for _, qtype := range []uint16{dns.TypeA, dns.TypeAAAA} {
			r, size := exchangeNoEDNS(t, addr, question(shard, qtype))
			if r.Truncated {
				t.Errorf("%s %s over UDP without EDNS: TC set (%d records); a firewall keeps them and never asks over TCP", shard, dns.TypeToString[qtype], len(r.Answer))
			}
			if size > 512 {
				t.Errorf("%s %s over UDP without EDNS: %d bytes, more than 512", shard, dns.TypeToString[qtype], size)
			}
			largest = max(largest, size)
			if r.Rcode == dns.RcodeNameError {
				nxdomain++
				continue
			}
			got := rdata(r.Answer, qtype)
			if len(got) > maxFQDNAddrs {
				t.Errorf("%s %s: %d addresses; a firewall keeps %d", shard, dns.TypeToString[qtype], len(got), maxFQDNAddrs)
			}
			for _, a := range r.Answer[:min(len(r.Answer), maxFQDNAddrs)] {
				if a.Header().Rrtype != qtype {
					continue
				}
				s := strings.TrimPrefix(a.String(), a.Header().String())
				if prev, ok := kept[s]; ok {
					t.Errorf("%s is in shard %d and shard %d of %s", s, prev, k, name)
				}
				kept[s] = k
			}
		}
		switch {
		case nxdomain == 2:
			return kept, k - 1, largest
		case nxdomain == 1:
			t.Fatalf("%s: NXDOMAIN for one address type only", shard)
		case k > 100:
			t.Fatalf("%s: still no NXDOMAIN", shard)
		}
	}
}

// exchangeNoEDNS sends m over UDP as it is (no OPT record) and returns the
// reply with its size on the wire.
func exchangeNoEDNS(t *testing.T, addr string, m *dns.Msg) (*dns.Msg, int) {
	t.Helper()
	if m.IsEdns0() != nil {
		t.Fatal("the question has EDNS")
	}
	wire, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write(wire); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65535)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("%s %s over UDP: %v", m.Question[0].Name, dns.TypeToString[m.Question[0].Qtype], err)
	}
	r := new(dns.Msg)
	if err := r.Unpack(buf[:n]); err != nil {
		t.Fatalf("%s %s over UDP: %v", m.Question[0].Name, dns.TypeToString[m.Question[0].Qtype], err)
	}
	if r.Id != m.Id {
		t.Fatalf("reply id %d to question %d", r.Id, m.Id)
	}
	return r, n
}

// checkShardConsumer reads each name's shards as a 32-address firewall does
// and compares what it kept with the name's set over TCP and the count in
// shards.NAME TXT.
func checkShardConsumer(t *testing.T, addr string, names []string) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for _, name := range names {
		kept, shards, largest := readShards(t, addr, name)
		v4, v6 := allowSet(t, addr, name)
		want := append(v4, v6...)
		got := make([]string, 0, len(kept))
		for a := range kept {
			got = append(got, a)
		}
		slices.Sort(got)
		slices.Sort(want)
		if len(want) == 0 || !slices.Equal(got, want) {
			t.Errorf("%s: the union of the shards as a 32-address firewall keeps them (%d addresses) is not the name's set over TCP (%d):\n got %v\nwant %v", name, len(got), len(want), got, want)
		}
		txt := rdata(ask(t, addr, "udp", "shards."+name, dns.TypeTXT).Answer, dns.TypeTXT)
		if !slices.Equal(txt, []string{strconv.Quote(strconv.Itoa(shards))}) {
			t.Errorf("shards.%s TXT %v; the shards run to %d", name, txt, shards)
		}
		counts[name] = shards
		t.Logf("%s: %d addresses in %d shards, answers of %d bytes at most", name, len(got), shards, largest)
	}
	return counts
}

func TestFirewallShardConsumer(t *testing.T) {
	const zone = "gateway.mysql.local."
	t.Run("builtin", func(t *testing.T) {
		gw := startServer(t, map[string]string{"Corefile": "gateway.mysql.local:{PORT} in-addr.arpa:{PORT} {\n    bind 127.0.0.1\n    mysqlgw\n}\n"})
		all, _ := allowSet(t, gw.addr, "all."+zone)
		if len(all) != 47 {
			t.Fatalf("all A: %d addresses, want the built-in table's 47", len(all))
		}
		// The regions, from the PTR of every address: ROLE.REGION.zone.
		regions := map[string]bool{}
		for _, a := range all {
			rev, err := dns.ReverseAddr(a)
			if err != nil {
				t.Fatal(err)
			}
			for _, ptr := range rdata(ask(t, gw.addr, "udp", rev, dns.TypePTR).Answer, dns.TypePTR) {
				regions[dns.SplitDomainName(ptr)[1]] = true
			}
		}
		if len(regions) != 31 {
			t.Fatalf("the PTR records name %d regions, want 31", len(regions))
		}
		names := []string{"all." + zone}
		for region := range regions {
			names = append(names, "allow."+region+"."+zone)
		}
		counts := checkShardConsumer(t, gw.addr, names)
		if counts["all."+zone] != 2 {
			t.Errorf("all: %d shards, want 2 (47 addresses, 28 a shard)", counts["all."+zone])
		}
	})
	t.Run("subnets", func(t *testing.T) {
		gw := startServer(t, map[string]string{
			"Corefile": "gateway.mysql.local:{PORT} {\n    bind 127.0.0.1\n    mysqlgw {\n        regions regions\n    }\n}\n",
			"regions":  firewallTable,
		})
		names := []string{"all." + zone, "allow.eastus2." + zone, "allow.westus2." + zone, "allow.lab6." + zone}
		counts := checkShardConsumer(t, gw.addr, names)
		v4, v6 := allowSet(t, gw.addr, "all."+zone)
		if len(v4) != 132 || len(v6) != 65 || counts["all."+zone] != 5 {
			t.Errorf("all: %d IPv4 and %d IPv6 addresses in %d shards, want 132 and 65 in 5", len(v4), len(v6), counts["all."+zone])
		}
	})
}

// shardOf maps each address of name to its shard, asked over TCP.
func shardOf(t *testing.T, addr, name string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for k := 1; k <= 100; k++ {
		shard := fmt.Sprintf("%d.%s", k, name)
		r := ask(t, addr, "tcp", shard, dns.TypeA)
		if r.Rcode == dns.RcodeNameError {
			return out
		}
		for _, a := range append(rdata(r.Answer, dns.TypeA), rdata(ask(t, addr, "tcp", shard, dns.TypeAAAA).Answer, dns.TypeAAAA)...) {
			out[a] = k
		}
	}
	t.Fatalf("%s: still no NXDOMAIN at shard 100", name)
	return nil
}

// moved lists the addresses of before whose shard differs in after, or
// which after lacks.
func moved(before, after map[string]int) []string {
	var out []string
	for a, k := range before {
		if after[a] != k {
			out = append(out, a)
		}
	}
	slices.Sort(out)
	return out
}

// TestFirewallShardMoves checks what docs/firewalls.md says moves between
// shards when the table changes.
func TestFirewallShardMoves(t *testing.T) {
	const (
		zone = "gateway.mysql.local."
		lab  = "lab  127.0.0.2 127.0.0.3 subnets 127.0.1.0/29 127.0.2.0/27 decommissioning 127.0.0.9\n"
		lab2 = "lab2 127.0.0.4 subnets 127.0.3.0/27\n"
		lab3 = "lab3 127.0.4.1 subnets 127.0.5.0/29\n"
		// 19 characters: longer than the default size of 28 allows.
		long = "abcdefghijklmnopqrs 127.0.4.1\n"
	)
	type shards struct{ all, lab, lab2 map[string]int }
	serve := func(t *testing.T, regions, option string) (*server, shards) {
		gw := startServer(t, map[string]string{
			"Corefile": "gateway.mysql.local:{PORT} {\n    bind 127.0.0.1\n    mysqlgw {\n        regions regions\n        reload 100ms\n        " + option + "\n    }\n}\n",
			"regions":  regions,
		})
		return gw, shards{shardOf(t, gw.addr, "all."+zone), shardOf(t, gw.addr, "allow.lab."+zone), shardOf(t, gw.addr, "allow.lab2."+zone)}
	}
	_, base := serve(t, lab+lab2, "")
	if len(base.all) != 76 || base.all["127.0.2.31"] != 2 || base.all["127.0.3.31"] != 3 {
		t.Fatalf("the lab table: %d addresses, 127.0.2.31 in shard %d, 127.0.3.31 in %d; want 76, 2, 3", len(base.all), base.all["127.0.2.31"], base.all["127.0.3.31"])
	}

	t.Run("a region whose addresses come after every other moves nothing", func(t *testing.T) {
		_, s := serve(t, lab+lab2+lab3, "")
		if m := moved(base.all, s.all); len(m) != 0 {
			t.Errorf("all: %d addresses moved: %v", len(m), m)
		}
		if len(moved(base.lab, s.lab)) != 0 || len(moved(base.lab2, s.lab2)) != 0 {
			t.Error("allow.lab or allow.lab2 changed")
		}
		if len(s.all) != 76+9 {
			t.Errorf("all: %d addresses, want 85", len(s.all))
		}
	})
	t.Run("the order of the regions in the file moves nothing", func(t *testing.T) {
		_, s := serve(t, lab2+lab, "")
		if m := moved(base.all, s.all); len(m) != 0 {
			t.Errorf("all: %d addresses moved: %v", len(m), m)
		}
		if len(moved(base.lab, s.lab)) != 0 || len(moved(base.lab2, s.lab2)) != 0 {
			t.Error("allow.lab or allow.lab2 changed")
		}
	})
	t.Run("a new address shifts the ones after it", func(t *testing.T) {
		grown := strings.Replace(lab, "decommissioning 127.0.0.9", "decommissioning 127.0.0.9 127.0.0.10", 1)
		_, s := serve(t, grown+lab2, "")
		before := map[string]int{}
		for a, k := range base.all {
			if netip.MustParseAddr(a).Less(netip.MustParseAddr("127.0.0.10")) {
				before[a] = k
			}
		}
		if m := moved(before, s.all); len(m) != 0 {
			t.Errorf("all: addresses before the new one moved: %v", m)
		}
		if len(moved(base.lab, s.lab)) == 0 || len(moved(base.all, s.all)) == 0 {
			t.Error("a decommissioning address more moved nothing in allow.lab or all")
		}
		if m := moved(base.lab2, s.lab2); len(m) != 0 {
			t.Errorf("allow.lab2 changed: %v", m)
		}
	})
	t.Run("a longer region name lowers the default size", func(t *testing.T) {
		_, s := serve(t, lab+lab2+long, "")
		// 127.0.2.15 is the 28th address in address order: the last of
		// shard 1 at 28 a shard.
		if m := moved(base.all, s.all); len(m) == 0 || base.all["127.0.2.15"] != 1 || s.all["127.0.2.15"] != 2 {
			t.Errorf("all: %d addresses moved, 127.0.2.15 from shard %d to %d; want shards of 27, so from 1 to 2", len(m), base.all["127.0.2.15"], s.all["127.0.2.15"])
		} else {
			t.Logf("a region named %q: %d addresses of all moved", strings.Fields(long)[0], len(m))
		}
	})
	t.Run("shard 28 refuses a name that does not fit", func(t *testing.T) {
		gw, before := serve(t, lab+lab2, "shard 28")
		gw.writeFile("regions", lab+lab2+long)
		gw.waitLog("Keeping the last good table", time.Minute)
		if !strings.Contains(gw.out.String(), "shard 28 does not fit in 512 bytes") {
			t.Errorf("the refusal does not say why:\n%s", gw.out.String())
		}
		if m := moved(before.all, shardOf(t, gw.addr, "all."+zone)); len(m) != 0 {
			t.Errorf("all: %d addresses moved", len(m))
		}
	})
}

// firewallResolverCorefile is resolverCorefile with firewallTable: answers
// over 512 bytes are truncated to the resolver, which must fetch them over
// TCP.
const firewallResolverCorefile = `gateway.mysql.local:{PORT} {
    bind 127.0.0.1
    bufsize 512
    mysqlgw {
        ttl 60
        regions regions
    }
    log
}
`

// TestFirewallResolvers resolves every allow name and every shard through
// Unbound and dnsmasq (configured as docs/resolvers.md shows) and compares
// the answers with mysqlgw's own, and the NXDOMAIN past the last shard.
func TestFirewallResolvers(t *testing.T) {
	const zone = "gateway.mysql.local."
	for _, tc := range []struct {
		name  string
		start func(t *testing.T, upstream int) string
	}{
		{"unbound", startUnbound},
		{"dnsmasq", startDnsmasq},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			gw := startServer(t, map[string]string{"Corefile": firewallResolverCorefile, "regions": firewallTable})
			resolver := tc.start(t, gw.port)
			addresses := 0
			for _, name := range []string{"all", "allow.eastus2", "allow.westus2", "allow.lab6"} {
				name += "." + zone
				checkThroughResolver(t, gw.addr, resolver, name, dns.TypeTXT, dns.TypeAPL, dns.TypeA, dns.TypeAAAA)
				count := rdata(ask(t, gw.addr, "tcp", "shards."+name, dns.TypeTXT).Answer, dns.TypeTXT)
				n, err := strconv.Atoi(strings.Trim(strings.Join(count, ""), `"`))
				if err != nil || n < 1 {
					t.Fatalf("shards.%s TXT %v", name, count)
				}
				checkThroughResolver(t, gw.addr, resolver, "shards."+name, dns.TypeTXT)
				for k := 1; k <= n; k++ {
					addresses += checkThroughResolver(t, gw.addr, resolver, fmt.Sprintf("%d.%s", k, name), dns.TypeA, dns.TypeAAAA)
				}
				past, _ := resolve(t, resolver, fmt.Sprintf("%d.%s", n+1, name), dns.TypeA)
				checkNegative(t, fmt.Sprintf("shard %d of %s", n+1, name), past)
			}
			t.Logf("%s: every allow name and %d shard addresses resolve as mysqlgw answers them", tc.name, addresses)
		})
	}
}

// checkThroughResolver resolves name for each qtype through the resolver (as
// a stub does: UDP, then TCP if truncated) and compares the records with
// mysqlgw's over TCP; a type mysqlgw has no records of must come back
// NOERROR and empty. It returns the number of records compared.
func checkThroughResolver(t *testing.T, gwAddr, resolver, name string, qtypes ...uint16) int {
	t.Helper()
	n := 0
	for _, qtype := range qtypes {
		want := ask(t, gwAddr, "tcp", name, qtype)
		got, _ := resolve(t, resolver, name, qtype)
		if len(rdata(want.Answer, qtype)) > 0 {
			checkSameAnswer(t, got, want, qtype)
			n += len(rdata(want.Answer, qtype))
			continue
		}
		if got.Rcode != dns.RcodeSuccess || len(rdata(got.Answer, qtype)) != 0 {
			t.Errorf("%s %s through the resolver: %s with %d records, want NOERROR and none, as mysqlgw answers", name, dns.TypeToString[qtype], dns.RcodeToString[got.Rcode], len(got.Answer))
		}
	}
	return n
}

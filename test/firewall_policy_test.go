package test

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
)

// The consumers of docs/firewalls.md's "Proxy or Redirect" and "JSON feeds"
// sections: the nftables recipe for Azure SQL's connection policies, run
// word for word in a network namespace of its own, and the path expressions
// for Check Point, OPNsense and FortiGate, run through jq against a real
// /regions.json. TestHTTPUpdateIpsets runs the section's FireHOL lines.

// The sections of docs/firewalls.md these tests read.
const (
	policySection    = "Proxy or Redirect"
	jsonFeedsSection = "JSON feeds: Check Point, OPNsense, FortiGate"
)

// sqlRegions is part of Azure SQL Database's table: East US 2's gateway
// subnets, as Microsoft's page lists them, with part of the Sql.EastUS2
// service tag (IPv4 and IPv6) as its Redirect set; a West Europe of
// gateways, a subnet of each family and a decommissioning address; and a
// West US 3 without a Redirect set. The addresses are Azure's: the tests
// answer with them and, in a namespace of their own, put a few on its
// loopback interface, never reaching Azure.
const sqlRegions = `# NAME [ADDRESS...] [subnets PREFIX...] [decommissioning ADDRESS...] [redirect PREFIX...]
eastus2 subnets 20.62.58.128/27 40.70.144.192/29 52.167.104.192/29 104.208.150.192/29 172.210.216.24/29 redirect 20.62.58.128/25 40.70.144.0/26 40.70.144.192/29 52.167.104.0/26 52.167.104.192/29 52.167.104.224/27 52.167.105.0/26 104.208.150.192/29 172.210.216.24/29 2603:1030:40c::320/123 2603:1030:40c::380/121
westeurope 191.237.232.75 40.68.37.158 subnets 13.69.105.192/26 2603:1020:206::320/123 decommissioning 104.40.168.105 redirect 13.69.104.0/26 13.69.105.192/26 191.237.232.75/32 2603:1020:206::320/123
westus3 subnets 4.236.112.48/29 20.150.168.32/29
`

// sqlCorefile serves sqlRegions with Azure SQL's gateway port and the HTTP
// lists on HTTP.
const sqlCorefile = `gateway.mysql.local:{PORT} {
    bind 127.0.0.1
    mysqlgw {
        regions regions
        port 1433
        http HTTP
    }
}
`

// policyRecipe is the "Proxy or Redirect" section of docs/firewalls.md,
// block by block.
type policyRecipe struct {
	nftFile     string // /etc/nftables.d/mysqlgw-sql.nft
	load        string // the command that loads it
	script      string // /usr/local/sbin/mysqlgw-sql-nft
	ipsetsConf  string // FireHOL's ipsets.d/mysqlgw.conf
	ipsetCreate string // the commands that create the kernel ipsets
}

// readPolicyRecipe finds each block of the section, once, and fails on a
// block no test runs.
func readPolicyRecipe(t *testing.T) policyRecipe {
	t.Helper()
	var r policyRecipe
	found := map[string]int{}
	for _, b := range docBlocks(t) {
		if b.file != firewallDoc || b.section != policySection {
			continue
		}
		var field *string
		var what string
		switch {
		case b.info == "nft":
			field, what = &r.nftFile, "nft file"
		case b.info == "sh" && strings.HasPrefix(b.text, "nft -f "):
			field, what = &r.load, "load command"
		case b.info == "sh" && strings.HasPrefix(b.text, "#!/bin/sh"):
			field, what = &r.script, "script"
		case b.info == "conf" && strings.HasPrefix(b.text, "update "):
			field, what = &r.ipsetsConf, "update-ipsets configuration"
		case b.info == "sh" && strings.HasPrefix(b.text, "ipset create "):
			field, what = &r.ipsetCreate, "ipset commands"
		default:
			t.Errorf("%s, %q: no test runs this %q block:\n%s", firewallDoc, policySection, b.info, b.text)
			continue
		}
		found[what]++
		*field = b.text
	}
	for _, what := range []string{"nft file", "load command", "script", "update-ipsets configuration", "ipset commands"} {
		if found[what] != 1 {
			t.Fatalf("%s, %q: %d %s blocks, want 1", firewallDoc, policySection, found[what], what)
		}
	}
	return r
}

// proxyOnly is the recipe's text for the Proxy policy alone, as the page
// says: every line that names a redirect set left out.
func proxyOnly(t *testing.T, text string) string {
	t.Helper()
	var kept []string
	for _, line := range strings.SplitAfter(text, "\n") {
		if !strings.Contains(line, "redirect") {
			kept = append(kept, line)
		}
	}
	if len(kept) == strings.Count(text, "\n") {
		t.Fatalf("%s: no line names a redirect set in\n%s", firewallDoc, text)
	}
	return strings.Join(kept, "")
}

// checkReach dials every address at once: those in open must connect, those
// in closed must time out.
func checkReach(t *testing.T, open, closed []string) {
	t.Helper()
	var wg sync.WaitGroup
	for _, a := range open {
		wg.Go(func() { checkConnectsTo(t, a) })
	}
	for _, a := range closed {
		wg.Go(func() { checkDroppedAt(t, a) })
	}
	wg.Wait()
}

// TestFirewallProxyRedirect runs the nftables recipe of docs/firewalls.md's
// "Proxy or Redirect" against sqlRegions in a network namespace, with a
// gateway address, a Redirect address of each family and an address of
// neither on the namespace's loopback interface. Before the first fetch both ports are
// closed; after it the sets hold exactly /allow/eastus2 and
// /redirect/eastus2, and each port leads only to its set. A fetch that fails
// (a set the table lacks, mysqlgw unreachable) changes nothing. The Proxy
// version of the recipe closes 11000-11999 and keeps 1433.
func TestFirewallProxyRedirect(t *testing.T) {
	recipe := readPolicyRecipe(t)
	if !inOwnNamespace(t, "ip", "nft", "curl") {
		return
	}
	const (
		gateway   = "52.167.104.193"     // a gateway subnet's, in the Redirect set too
		redirect4 = "52.167.105.1"       // the Redirect set's alone
		redirect6 = "2603:1030:40c::381" // the Redirect set's alone
		outside   = "52.167.106.1"       // in neither set
	)
	// Azure's addresses on the namespace's own loopback interface: local
	// here, unknown outside.
	run(t, "ip", "link", "set", "lo", "up")
	for _, a := range []string{gateway, redirect4, outside} {
		run(t, "ip", "addr", "add", a+"/32", "dev", "lo")
	}
	run(t, "ip", "-6", "addr", "add", redirect6+"/128", "dev", "lo", "nodad")
	at := func(addr, port string) string { return net.JoinHostPort(addr, port) }
	for _, a := range []string{
		at(gateway, "1433"), at(gateway, "11000"),
		at(redirect4, "11000"), at(redirect4, "11999"), at(redirect4, "3306"), at(redirect4, "1433"),
		at(redirect6, "11000"), at(redirect6, "11999"), at(redirect6, "1433"),
		at(outside, "11000"),
	} {
		listen(t, a)
	}

	dir := t.TempDir()
	nftPath, scriptPath := filepath.Join(dir, "mysqlgw-sql.nft"), filepath.Join(dir, "mysqlgw-sql-nft")
	move := strings.NewReplacer("/etc/nftables.d/mysqlgw-sql.nft", nftPath, "/usr/local/sbin/mysqlgw-sql-nft", scriptPath)
	install := func(nftFile, script string) {
		t.Helper()
		writeConfig(t, dir, "mysqlgw-sql.nft", nftFile)
		writeConfig(t, dir, "mysqlgw-sql-nft", script)
		if err := os.Chmod(scriptPath, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	install(recipe.nftFile, recipe.script)
	startServer(t, map[string]string{"Corefile": strings.Replace(sqlCorefile, "HTTP", "127.0.0.1:8053", 1), "regions": sqlRegions})

	shell(t, move.Replace(recipe.load))
	checkReach(t, nil, []string{at(gateway, "1433"), at(redirect4, "11000")})
	t.Log("loaded, before the first fetch: 1433 and 11000 closed")

	shell(t, scriptPath)
	sets := func() map[string][]addrRange {
		got := map[string][]addrRange{}
		for _, set := range []string{"gateway4", "gateway6", "redirect4", "redirect6"} {
			got[set] = nftSetRanges(t, "mysqlgw_sql", set)
		}
		return got
	}
	filled := sets()
	for _, want := range []struct{ path, four, six string }{
		{"/allow/eastus2", "gateway4", "gateway6"},
		{"/redirect/eastus2", "redirect4", "redirect6"},
	} {
		list := ranges(fetchList(t, "http://127.0.0.1:8053"+want.path))
		if got := append(slices.Clone(filled[want.four]), filled[want.six]...); len(list) == 0 || !slices.Equal(got, list) {
			t.Errorf("sets %s and %s hold %v; %s is %v", want.four, want.six, got, want.path, list)
		}
	}
	checkReach(t,
		[]string{at(gateway, "1433"), at(gateway, "11000"), at(redirect4, "11000"), at(redirect4, "11999"), at(redirect6, "11000"), at(redirect6, "11999")},
		[]string{at(redirect4, "3306"), at(redirect4, "1433"), at(redirect6, "1433"), at(outside, "11000")})
	t.Logf("Redirect: %d and %d spans in the gateway sets, %d and %d in the Redirect sets; each port leads only to its set",
		len(filled["gateway4"]), len(filled["gateway6"]), len(filled["redirect4"]), len(filled["redirect6"]))

	// A fetch that fails stops the script before nft: a region without a
	// Redirect set (its allow lists fetched, then a 404), and mysqlgw
	// unreachable.
	for what, broken := range map[string]string{
		"a region without a Redirect set": strings.Replace(recipe.script, "region=eastus2", "region=westus3", 1),
		"mysqlgw unreachable":             strings.Replace(recipe.script, "127.0.0.1:8053", fmt.Sprintf("127.0.0.1:%d", freePort(t)), 1),
	} {
		if broken == recipe.script {
			t.Fatalf("%s: the script has no line to change for %s", firewallDoc, what)
		}
		install(recipe.nftFile, broken)
		if out, err := exec.Command(scriptPath).CombinedOutput(); err == nil {
			t.Errorf("the script with %s succeeded:\n%s", what, out)
		} else {
			t.Logf("the script with %s: %v: %s", what, err, strings.TrimSpace(string(out)))
		}
		if got := sets(); fmt.Sprint(got) != fmt.Sprint(filled) {
			t.Errorf("after the script with %s the sets are %v; want them as they were, %v", what, got, filled)
		}
	}

	// The Proxy policy alone.
	install(proxyOnly(t, recipe.nftFile), proxyOnly(t, recipe.script))
	shell(t, move.Replace(recipe.load))
	shell(t, scriptPath)
	if got := nftSetRanges(t, "mysqlgw_sql", "gateway4"); !slices.Equal(got, filled["gateway4"]) {
		t.Errorf("Proxy: gateway4 holds %v, want %v", got, filled["gateway4"])
	}
	checkReach(t, []string{at(gateway, "1433")}, []string{at(gateway, "11000"), at(redirect4, "11000"), at(redirect6, "11000")})
	t.Log("Proxy: 1433 to the gateway set, 11000 nowhere")
}

// feedEntries parses jq's output, one address or prefix a line, as spans.
func feedEntries(t *testing.T, out string) []addrRange {
	t.Helper()
	var ps []netip.Prefix
	for _, line := range strings.Fields(out) {
		p, err := netip.ParsePrefix(line)
		if err != nil {
			a, err := netip.ParseAddr(line)
			if err != nil {
				t.Fatalf("jq printed %q, neither an address nor a prefix", line)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		ps = append(ps, p)
	}
	return ranges(ps)
}

// jsonPath matches the JSONPaths FortiGate's mapping uses here: members from
// the root, which jq writes without the $.
var jsonPath = regexp.MustCompile(`^\$((\.[a-z_0-9]+)+)$`)

// TestFirewallJSONFeeds runs docs/firewalls.md's path expressions with jq
// against /regions.json of a server with sqlRegions: the gateway-set
// expression covers exactly /allow/REGION's addresses and the Redirect one
// /redirect/REGION's, for eastus2 (subnets alone) and westeurope (gateways,
// a decommissioning address, IPv6); FortiGate's mapping, run as jq, selects
// exactly /allow/REGION?family=4, and with $.redirect4 /redirect/REGION's.
func TestFirewallJSONFeeds(t *testing.T) {
	var expressions []string
	var mapping string
	for _, b := range docBlocks(t) {
		switch {
		case b.file != firewallDoc || b.section != jsonFeedsSection:
		case b.info == "jq":
			expressions = append(expressions, strings.TrimSpace(b.text))
		case b.info == "txt" && strings.Contains(b.text, "object-array-path"):
			mapping = b.text
		default:
			t.Errorf("%s, %q: no test runs this %q block:\n%s", firewallDoc, jsonFeedsSection, b.info, b.text)
		}
	}
	if len(expressions) != 2 || mapping == "" {
		t.Fatalf("%s, %q: %d jq expressions and FortiGate's mapping %q; want 2 and one", firewallDoc, jsonFeedsSection, len(expressions), mapping)
	}
	jq := requireTool(t, "jq")
	requireTool(t, "curl")
	httpPort := freePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	startServer(t, map[string]string{"Corefile": strings.Replace(sqlCorefile, "HTTP", fmt.Sprintf("127.0.0.1:%d", httpPort), 1), "regions": sqlRegions})
	doc := waitHTTP(t, base+"/regions.json")
	if doc.code != 200 {
		t.Fatalf("GET /regions.json: %d", doc.code)
	}
	regionsJSON := filepath.Join(t.TempDir(), "regions.json")
	if err := os.WriteFile(regionsJSON, []byte(doc.body), 0o644); err != nil {
		t.Fatal(err)
	}
	runJQ := func(program string) []addrRange {
		t.Helper()
		out, err := exec.Command(jq, "-r", program, regionsJSON).CombinedOutput()
		if err != nil {
			t.Fatalf("jq -r '%s': %v\n%s", program, err, out)
		}
		return feedEntries(t, string(out))
	}

	for _, expression := range expressions {
		if !strings.Contains(expression, `"eastus2"`) {
			t.Fatalf("%s: the expression names no \"eastus2\": %s", firewallDoc, expression)
		}
		set := "allow"
		if strings.Contains(expression, ".redirect") {
			set = "redirect"
		}
		for _, region := range []string{"eastus2", "westeurope"} {
			got := runJQ(strings.ReplaceAll(expression, `"eastus2"`, `"`+region+`"`))
			want := ranges(fetchList(t, base+"/"+set+"/"+region))
			if len(want) == 0 || !slices.Equal(got, want) {
				t.Errorf("%s for %s covers %v; /%s/%s covers %v", expression, region, got, set, region, want)
			}
		}
	}

	fields := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(mapping), "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			fields[f[0]] = f[1]
		}
	}
	if fields["resource"] != "http://HOST:8053/regions.json" {
		t.Errorf("FortiGate's resource is %q, want /regions.json of the listener", fields["resource"])
	}
	var paths []string
	for _, name := range []string{"object-array-path", "address-name-field", "address-data-field"} {
		m := jsonPath.FindStringSubmatch(fields[name])
		if m == nil {
			t.Fatalf("FortiGate's %s is %q, not a path of members this test runs", name, fields[name])
		}
		paths = append(paths, m[1])
	}
	if paths[2] != ".allow4" {
		t.Fatalf("FortiGate's address-data-field is %q, want $.allow4", fields["address-data-field"])
	}
	for _, set := range []string{"allow", "redirect"} {
		for _, region := range []string{"eastus2", "westeurope"} {
			program := fmt.Sprintf(`%s[] | select(%s == "%s") | .%s4[]`, paths[0], paths[1], region, set)
			got := runJQ(program)
			want := ranges(fetchList(t, base+"/"+set+"/"+region+"?family=4"))
			if len(want) == 0 || !slices.Equal(got, want) {
				t.Errorf("FortiGate's mapping (%s) covers %v; /%s/%s?family=4 covers %v", program, got, set, region, want)
			}
		}
	}
}

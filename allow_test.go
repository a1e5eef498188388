package mysqlgw

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/coredns/caddy"

	"github.com/miekg/dns"
)

// answerAddrs asks name for qtype through g and returns the rcode and the
// addresses answered.
func answerAddrs(t *testing.T, g *MysqlGW, name string, qtype uint16) (int, []string, *dns.Msg) {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	resp, _ := serve(t, g, m)
	var addrs []string
	for _, rr := range resp.Answer {
		switch rr := rr.(type) {
		case *dns.A:
			addrs = append(addrs, rr.A.String())
		case *dns.AAAA:
			addrs = append(addrs, rr.AAAA.String())
		}
	}
	return resp.Rcode, addrs, resp
}

// expand lists every address of the prefixes and addresses given, once,
// in address order: the order allow names answer in.
func expand(t *testing.T, items ...string) []string {
	t.Helper()
	seen := map[netip.Addr]bool{}
	for _, it := range items {
		p, err := netip.ParsePrefix(it)
		if err != nil {
			a := netip.MustParseAddr(it)
			p = netip.PrefixFrom(a, a.BitLen())
		}
		for a := p.Addr(); p.Contains(a); a = a.Next() {
			seen[a] = true
		}
	}
	addrs := slices.SortedFunc(maps.Keys(seen), netip.Addr.Compare)
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = a.String()
	}
	return out
}

const allowTable = `$SERIAL 2023030901
eastus2 52.167.105.38 40.70.144.38 subnets 104.208.150.192/29 40.70.144.192/29 52.167.104.192/29 20.62.58.128/27 decommissioning 52.177.185.181
overlap 192.0.2.9 subnets 192.0.2.0/28 192.0.2.8/29 2001:db8::/124
wide 198.51.100.1 subnets 10.0.0.0/16
`

func allowPlugin(t *testing.T, extra string) *MysqlGW {
	t.Helper()
	return newTestPlugin(t, "mysqlgw {\n regions "+loopbackTable(t, allowTable)+"\n reload 0\n "+extra+"\n}")
}

// TestAllowNames: allow.<region> and all answer every address a firewall
// must allow, once, in address order; TXT and APL keep the prefixes whole,
// aggregated.
func TestAllowNames(t *testing.T) {
	g := allowPlugin(t, "")
	z := ".gateway.mysql.local."
	want := expand(t, "52.167.105.38", "40.70.144.38", "52.177.185.181", "104.208.150.192/29", "40.70.144.192/29", "52.167.104.192/29", "20.62.58.128/27")
	if _, got, _ := answerAddrs(t, g, "allow.eastus2"+z, dns.TypeA); !slices.Equal(got, want) {
		t.Errorf("allow.eastus2 A:\n%v\nwant\n%v", got, want)
	}
	// Overlapping subnets are served once; the gateway inside them too.
	if _, got, _ := answerAddrs(t, g, "allow.overlap"+z, dns.TypeA); !slices.Equal(got, expand(t, "192.0.2.9", "192.0.2.0/28")) {
		t.Errorf("allow.overlap A: %v", got)
	}
	if _, got, _ := answerAddrs(t, g, "allow.overlap"+z, dns.TypeAAAA); len(got) != 16 {
		t.Errorf("allow.overlap AAAA: %d addresses, want the 16 of a /124", len(got))
	}
	// A /16 is served in TXT and APL only.
	if _, got, _ := answerAddrs(t, g, "allow.wide"+z, dns.TypeA); !slices.Equal(got, []string{"198.51.100.1"}) {
		t.Errorf("allow.wide A: %v, want only the gateway", got)
	}
	_, _, resp := answerAddrs(t, g, "allow.wide"+z, dns.TypeTXT)
	if got := strings.Join(resp.Answer[0].(*dns.TXT).Txt, ""); got != "v=spf1 ip4:10.0.0.0/16 ip4:198.51.100.1 -all" {
		t.Errorf("allow.wide TXT %q", got)
	}
	_, _, resp = answerAddrs(t, g, "allow.overlap"+z, dns.TypeAPL)
	if got := resp.Answer[0].String(); !strings.HasSuffix(got, "APL\t1:192.0.2.0/28 2:2001:db8::/124") {
		t.Errorf("allow.overlap APL %q: the /29 and the gateway lie inside the /28", got)
	}
	_, _, resp = answerAddrs(t, g, "allow.eastus2"+z, dns.TypeTXT)
	spf := strings.Join(resp.Answer[0].(*dns.TXT).Txt, "")
	if spf != "v=spf1 ip4:20.62.58.128/27 ip4:40.70.144.38 ip4:40.70.144.192/29 ip4:52.167.104.192/29 ip4:52.167.105.38 ip4:52.177.185.181 ip4:104.208.150.192/29 -all" {
		t.Errorf("allow.eastus2 TXT %q", spf)
	}
	for _, s := range resp.Answer[0].(*dns.TXT).Txt {
		if len(s) > 255 {
			t.Errorf("a TXT string of %d bytes", len(s))
		}
	}
	// all is the union of every region's allow set.
	union := expand(t, "52.167.105.38", "40.70.144.38", "52.177.185.181", "104.208.150.192/29", "40.70.144.192/29", "52.167.104.192/29", "20.62.58.128/27", "192.0.2.9", "192.0.2.0/28", "198.51.100.1")
	if _, got, _ := answerAddrs(t, g, "all"+z, dns.TypeA); !slices.Equal(got, union) {
		t.Errorf("all A: %d addresses, want %d", len(got), len(union))
	}
	// The region's own name still answers its gateways only.
	if _, got, _ := answerAddrs(t, g, "eastus2"+z, dns.TypeA); !slices.Equal(got, []string{"52.167.105.38", "40.70.144.38"}) {
		t.Errorf("eastus2 A: %v", got)
	}
}

// TestShards: every address name is split into shards that a 32-address,
// 512-byte consumer takes whole, and whose union is the name's set.
func TestShards(t *testing.T) {
	for _, extra := range []string{"", "shard 10"} {
		g := allowPlugin(t, extra)
		for _, name := range []string{"all", "allow.eastus2", "allow.overlap", "allow.wide"} {
			name += ".gateway.mysql.local."
			for _, qtype := range []uint16{dns.TypeA, dns.TypeAAAA} {
				_, full, _ := answerAddrs(t, g, name, qtype)
				_, _, resp := answerAddrs(t, g, "shards."+name, dns.TypeTXT)
				count, err := strconv.Atoi(resp.Answer[0].(*dns.TXT).Txt[0])
				if err != nil {
					t.Fatal(err)
				}
				var union []string
				for k := 1; k <= count; k++ {
					shard := fmt.Sprintf("%d.%s", k, name)
					rcode, got, resp := answerAddrs(t, g, shard, qtype)
					if rcode != dns.RcodeSuccess || len(got) > 32 || (extra != "" && len(got) > 10) {
						t.Errorf("%s: rcode %d, %d addresses", shard, rcode, len(got))
					}
					resp.Compress = true
					if wire, err := resp.Pack(); err != nil || len(wire) > 512 {
						t.Errorf("%s %s: %d bytes, want at most 512", shard, dns.TypeToString[qtype], len(wire))
					}
					union = append(union, got...)
				}
				if !slices.Equal(union, full) {
					t.Errorf("%s %s (%s): shards hold %d addresses, the name %d", name, dns.TypeToString[qtype], extra, len(union), len(full))
				}
				rcode, _, resp := answerAddrs(t, g, fmt.Sprintf("%d.%s", count+1, name), qtype)
				if rcode != dns.RcodeNameError || len(resp.Ns) != 1 {
					t.Errorf("the shard past the last of %s: rcode %d, want NXDOMAIN with the SOA", name, rcode)
				}
			}
		}
	}
}

// TestShardSizes: the default size is the largest that fits the zone's
// longest shard name; a Corefile size that does not fit is an error naming
// its line.
func TestShardSizes(t *testing.T) {
	sz, err := fitShards("99.allow.australiasoutheast.gateway.mysql.local.", 0)
	if err != nil || sz.a != 27 || sz.aaaa != 15 {
		t.Errorf("fit %+v %v, want 27 A and 15 AAAA", sz, err)
	}
	long := strings.Repeat("x", 60) + "." + strings.Repeat("y", 60) + "." + strings.Repeat("z", 60)
	c := "mysqlgw " + long + " {\n regions " + loopbackTable(t, allowTable) + "\n reload 0\n shard 32\n}"
	g, err := parse(caddy.NewTestController("dns", c))
	if err == nil {
		err = g.load()
	}
	if err == nil || !strings.Contains(err.Error(), "Testfile:4: shard 32 does not fit in 512 bytes") {
		t.Errorf("error %v, want shard 32 refused naming Testfile:4", err)
	}
}

// TestWidePrefixLoggedOnce: a subnet too wide to enumerate is said once per
// load, not once per name or zone.
func TestWidePrefixLoggedOnce(t *testing.T) {
	l := captureLog(t)
	newTestPlugin(t, "mysqlgw gateway.mysql.local other.example {\n regions "+loopbackTable(t, allowTable)+"\n reload 0\n}")
	if n := strings.Count(l.String(), "served in TXT and APL only"); n != 1 || !strings.Contains(l.String(), "10.0.0.0/16") {
		t.Errorf("%d log lines about wide subnets, want one naming 10.0.0.0/16:\n%s", n, l.String())
	}
}

// redirectTable: a region of both sets, one of gateways alone, and one of a
// Redirect set alone (with a long name, so that its redirect shard names are
// the zone's longest).
const redirectTable = `$SERIAL 9
eastus2 52.167.105.38 subnets 20.62.58.128/27 redirect 20.62.58.128/27 20.42.64.0/24 2603:1030:40c::/120
lab 198.51.100.1
sqlonlyregion redirect 203.0.113.0/25
`

// TestRedirectNames: redirect.REGION answers a region's Redirect set as
// allow.REGION does its allow set (addresses, SPF, APL, shards); a region
// without one has no redirect name; a region of a Redirect set alone has no
// allow name and adds nothing to all.
func TestRedirectNames(t *testing.T) {
	g := newTestPlugin(t, "mysqlgw {\n regions "+loopbackTable(t, redirectTable)+"\n reload 0\n}")
	z := ".gateway.mysql.local."
	if _, got, _ := answerAddrs(t, g, "redirect.eastus2"+z, dns.TypeA); !slices.Equal(got, expand(t, "20.62.58.128/27", "20.42.64.0/24")) {
		t.Errorf("redirect.eastus2 A: %d addresses", len(got))
	}
	if _, got, _ := answerAddrs(t, g, "redirect.eastus2"+z, dns.TypeAAAA); len(got) != 256 {
		t.Errorf("redirect.eastus2 AAAA: %d addresses, want the 256 of a /120", len(got))
	}
	_, _, resp := answerAddrs(t, g, "redirect.eastus2"+z, dns.TypeTXT)
	if got := strings.Join(resp.Answer[0].(*dns.TXT).Txt, ""); got != "v=spf1 ip4:20.42.64.0/24 ip4:20.62.58.128/27 ip6:2603:1030:40c::/120 -all" {
		t.Errorf("redirect.eastus2 TXT %q", got)
	}
	_, _, resp = answerAddrs(t, g, "redirect.eastus2"+z, dns.TypeAPL)
	if got := resp.Answer[0].String(); !strings.HasSuffix(got, "APL\t1:20.42.64.0/24 1:20.62.58.128/27 2:2603:1030:40c::/120") {
		t.Errorf("redirect.eastus2 APL %q", got)
	}
	// Its shards, sized for the zone's longest shard name: of
	// redirect.sqlonlyregion.
	_, _, resp = answerAddrs(t, g, "shards.redirect.eastus2"+z, dns.TypeTXT)
	count, _ := strconv.Atoi(resp.Answer[0].(*dns.TXT).Txt[0])
	var shards []string
	for k := 1; k <= count; k++ {
		_, a, resp := answerAddrs(t, g, fmt.Sprintf("%d.redirect.eastus2%s", k, z), dns.TypeA)
		resp.Compress = true
		if wire, _ := resp.Pack(); len(wire) > 512 {
			t.Errorf("shard %d: %d bytes", k, len(wire))
		}
		shards = append(shards, a...)
	}
	if want := expand(t, "20.62.58.128/27", "20.42.64.0/24"); !slices.Equal(shards, want) {
		t.Errorf("the redirect shards hold %d addresses, want %d", len(shards), len(want))
	}
	for _, tc := range []struct {
		name  string
		rcode int
	}{
		{"redirect.lab", dns.RcodeNameError},
		{"allow.sqlonlyregion", dns.RcodeNameError},
		{"redirect.sqlonlyregion", dns.RcodeSuccess},
		{"sqlonlyregion", dns.RcodeSuccess}, // its region= TXT
	} {
		if rcode, _, _ := answerAddrs(t, g, tc.name+z, dns.TypeTXT); rcode != tc.rcode {
			t.Errorf("%s TXT: rcode %d, want %d", tc.name, rcode, tc.rcode)
		}
	}
	if _, got, _ := answerAddrs(t, g, "all"+z, dns.TypeA); !slices.Equal(got, expand(t, "20.62.58.128/27", "52.167.105.38", "198.51.100.1")) {
		t.Errorf("all A holds %d addresses: the Redirect sets are not part of it", len(got))
	}
}

// A Corefile region line replaces the whole region, its Redirect set
// included: one that gives none leaves the region without one, and one
// that gives one serves it.
func TestRegionLineReplacesRedirect(t *testing.T) {
	file := loopbackTable(t, redirectTable)
	z := ".gateway.mysql.local."
	g := newTestPlugin(t, "mysqlgw {\n regions "+file+"\n reload 0\n region eastus2 192.0.2.1\n}")
	if _, _, resp := answerAddrs(t, g, "redirect.eastus2"+z, dns.TypeA); resp.Rcode != dns.RcodeNameError {
		t.Errorf("redirect.eastus2 after a region line without redirect: %s, want NXDOMAIN", dns.RcodeToString[resp.Rcode])
	}
	g = newTestPlugin(t, "mysqlgw {\n regions "+file+"\n reload 0\n region eastus2 192.0.2.1 redirect 198.51.100.0/30\n}")
	if _, got, _ := answerAddrs(t, g, "redirect.eastus2"+z, dns.TypeA); !slices.Equal(got, expand(t, "198.51.100.0/30")) {
		t.Errorf("redirect.eastus2 after a region line with redirect: %v", got)
	}
}

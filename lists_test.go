package mysqlgw

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"

	"github.com/miekg/dns"
)

func prefixes(s ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(s))
	for i, x := range s {
		out[i] = netip.MustParsePrefix(x)
	}
	return out
}

func TestMerge(t *testing.T) {
	tests := []struct{ in, want []netip.Prefix }{
		{nil, nil},
		// halves join, and the joined prefix joins its own sibling
		{prefixes("10.0.0.2/32", "10.0.0.0/31", "10.0.0.3/32"), prefixes("10.0.0.0/30")},
		// neighbours that are not halves of one prefix stay apart
		{prefixes("10.0.0.1/32", "10.0.0.2/32"), prefixes("10.0.0.1/32", "10.0.0.2/32")},
		// IPv4 first, each family in address order
		{prefixes("2001:db8::1/128", "10.0.0.9/32", "2001:db8::/128", "9.0.0.0/8"),
			prefixes("9.0.0.0/8", "10.0.0.9/32", "2001:db8::/127")},
		// ::/1 and 128.0.0.0/1 are not halves of one prefix across families
		{prefixes("0.0.0.0/1", "128.0.0.0/1", "::/1", "8000::/1"), prefixes("0.0.0.0/0", "::/0")},
	}
	for _, tc := range tests {
		if got := merge(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("merge(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// TestListsMatchDNS checks that the addresses each list covers are exactly
// the DNS side's: the union of the name's shards plus the subnets too wide to
// serve address by address.
func TestListsMatchDNS(t *testing.T) {
	file := filepath.Join(t.TempDir(), "regions")
	os.WriteFile(file, []byte(`lab 10.0.0.1 10.0.0.2 subnets 10.0.0.0/27 10.1.0.0/16 2001:db8::/120 2001:db8:1::/64 decommissioning 10.0.0.40 2001:db8::ff
lab2 10.0.0.33 subnets 10.0.0.32/29 10.0.0.40/29 10.0.0.48/28 2001:db8::100/121 2001:db8::180/121
`), 0o644)
	for _, corefile := range []string{
		"mysqlgw {\n http 127.0.0.1:18053\n}",
		"mysqlgw {\n http 127.0.0.1:18053\n regions " + file + "\n}",
	} {
		g := newTestPlugin(t, corefile)
		n := g.answers.Load()
		names := map[string]*familyLists{"all": &n.http.all}
		for _, r := range n.regions {
			names[allowLabel+"."+r.Name] = n.http.lookupRegion(r.Name)
		}
		sets, _ := allowSets(n.regions)
		for name, lists := range names {
			qname := name + "." + defaultZone
			shardAddrs := map[netip.Addr]bool{}
			shards := shardCount(t, n, qname)
			for k := 1; k <= shards; k++ {
				for _, a := range addrsAt(t, n, strconv.Itoa(k)+"."+qname) {
					shardAddrs[a] = true
				}
			}
			var wide []netip.Prefix
			if name == "all" {
				wide = sets[len(sets)-1].wide
			} else {
				wide = sets[slices.IndexFunc(n.regions, func(r gwtable.Region) bool { return allowLabel+"."+r.Name == name })].wide
			}
			list := parseList(t, lists.both.data)
			for a := range shardAddrs {
				if !slices.ContainsFunc(list, func(p netip.Prefix) bool { return p.Contains(a) }) {
					t.Errorf("%s: shard address %s is in no line of the list", name, a)
				}
			}
			for _, w := range wide {
				if !slices.ContainsFunc(list, func(p netip.Prefix) bool { return p.Bits() <= w.Bits() && p.Contains(w.Addr()) }) {
					t.Errorf("%s: wide subnet %s is in no line of the list", name, w)
				}
			}
			for _, p := range list {
				if !coveredBy(p, shardAddrs, wide) {
					t.Errorf("%s: list line %s covers addresses that neither a shard nor a wide subnet has", name, p)
				}
			}
			// the families split the list and keep its order
			v4, v6 := parseList(t, lists.v4.data), parseList(t, lists.v6.data)
			if !slices.Equal(append(v4, v6...), list) {
				t.Errorf("%s: family 4 %v and 6 %v are not the list %v", name, v4, v6, list)
			}
		}
	}
}

// coveredBy reports whether every address of p is in addrs or inside one of
// wide, halving p where neither holds it whole.
func coveredBy(p netip.Prefix, addrs map[netip.Addr]bool, wide []netip.Prefix) bool {
	for _, w := range wide {
		if w.Bits() <= p.Bits() && w.Contains(p.Addr()) {
			return true
		}
	}
	if p.IsSingleIP() {
		return addrs[p.Addr()]
	}
	lo := netip.PrefixFrom(p.Addr(), p.Bits()+1)
	b := lo.Addr().AsSlice()
	bit := p.Bits() // the bit that tells the halves apart
	b[bit/8] |= 0x80 >> (bit % 8)
	hi, _ := netip.AddrFromSlice(b)
	return coveredBy(lo, addrs, wide) && coveredBy(netip.PrefixFrom(hi, p.Bits()+1), addrs, wide)
}

func parseList(t *testing.T, data []byte) []netip.Prefix {
	t.Helper()
	var out []netip.Prefix
	for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if line == "" {
			continue
		}
		p, err := netip.ParsePrefix(line)
		if err != nil {
			t.Fatalf("list line %q: %v", line, err)
		}
		out = append(out, p)
	}
	return out
}

func shardCount(t *testing.T, n *answers, qname string) int {
	t.Helper()
	nd := n.nodes[shardsLabel+"."+qname]
	if nd == nil {
		t.Fatalf("no %s", shardsLabel+"."+qname)
	}
	k, err := strconv.Atoi(findSet(nd.rrsets, dns.TypeTXT).answer[0].(*dns.TXT).Txt[0])
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func addrsAt(t *testing.T, n *answers, qname string) []netip.Addr {
	t.Helper()
	nd := n.nodes[qname]
	if nd == nil {
		t.Fatalf("no %s", qname)
	}
	var out []netip.Addr
	for _, set := range nd.rrsets {
		for _, rr := range set.answer {
			switch rr := rr.(type) {
			case *dns.A:
				a, _ := netip.AddrFromSlice(rr.A.To4())
				out = append(out, a)
			case *dns.AAAA:
				a, _ := netip.AddrFromSlice(rr.AAAA)
				out = append(out, a)
			}
		}
	}
	return out
}

func TestRegionsJSON(t *testing.T) {
	table := gwtable.Table{Serial: 7, Source: "https://example.com/x", Regions: []gwtable.Region{
		{Name: "lab", Aliases: []string{"lab1"}, Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")}},
	}}
	got := string(regionsJSON(table.Regions, table))
	want := `{"serial":7,"source":"https://example.com/x","published":null,"regions":[{"name":"lab","names":["lab","lab1"],"gateways":[{"role":"primary","address":"10.0.0.1"},{"role":"secondary","address":"10.0.0.2"}],"subnets":[],"decommissioning":[]}]}` + "\n"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	var v any
	if err := json.Unmarshal([]byte(got), &v); err != nil {
		t.Error(err)
	}
}

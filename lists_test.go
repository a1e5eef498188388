package mysqlgw

import (
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
	"github.com/mysqlgw/mysqlgw/internal/testutil"

	"github.com/miekg/dns"
)

// TestListsMatchDNS checks that the addresses each list covers are exactly
// the DNS side's: the union of the name's shards plus the subnets too wide to
// serve address by address.
func TestListsMatchDNS(t *testing.T) {
	file := filepath.Join(t.TempDir(), "regions")
	os.WriteFile(file, []byte(`lab 10.0.0.1 10.0.0.2 subnets 10.0.0.0/27 10.1.0.0/16 2001:db8::/120 2001:db8:1::/64 decommissioning 10.0.0.40 2001:db8::ff
lab2 10.0.0.33 subnets 10.0.0.32/29 10.0.0.40/29 10.0.0.48/28 2001:db8::100/121 2001:db8::180/121
`), 0o644)
	for _, table := range []string{"", " regions " + file} {
		addr := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
		g := newTestPlugin(t, "mysqlgw {\n http "+addr+"\n"+table+"\n}")
		if err := g.http.Open(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { g.http.Close(); g.http.Release() })
		n := g.answers.Load()
		sets := newTableSets(n.regions)
		paths := map[string]string{"all": "/all"}
		for _, r := range n.regions {
			paths[allowLabel+"."+r.Name] = "/allow/" + r.Name
		}
		for name, path := range paths {
			qname := name + "." + defaultZone
			shardAddrs := map[netip.Addr]bool{}
			shards := shardCount(t, n, qname)
			for k := 1; k <= shards; k++ {
				for _, a := range addrsAt(t, n, strconv.Itoa(k)+"."+qname) {
					shardAddrs[a] = true
				}
			}
			wide := sets.all.Wide
			if name != "all" {
				wide = sets.regions[slices.IndexFunc(n.regions, func(r gwtable.Region) bool { return allowLabel+"."+r.Name == name })].Wide
			}
			list := parseList(t, fetchList(t, addr, path))
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
			v4, v6 := parseList(t, fetchList(t, addr, path+"?family=4")), parseList(t, fetchList(t, addr, path+"?family=6"))
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

// fetchList GETs a list from the listener at addr.
func fetchList(t *testing.T, addr, path string) []byte {
	t.Helper()
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", path, resp.StatusCode, err)
	}
	return body
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

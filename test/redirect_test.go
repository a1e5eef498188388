package test

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
)

// redirectCorefile serves a table with Redirect sets as examples/azure-sql
// does: the gateways' port 1433, and the HTTP lists.
const redirectCorefile = `gateway.mysql.local:{PORT} {
    bind 127.0.0.1
    mysqlgw {
        regions azure-sql.regions
        reload 0
        port 1433
        http 127.0.0.1:%d
    }
}
`

// TestFetchRedirectServed is the Redirect policy end to end: one fetch
// -redirect from Microsoft's real include and Service Tags file (a stand-in
// on loopback), one server, and for every region with both sets the
// gateway set is the include's ranges and the Redirect set is its
// Sql.<Region> tag, address for address: over DNS as a firewall reads the
// shards (allow.REGION, redirect.REGION) and over HTTP (/allow/REGION,
// /redirect/REGION); /regions.json gives the ports of both.
func TestFetchRedirectServed(t *testing.T) {
	requireTool(t, "curl")
	bin := buildRegionsCmd(t)
	microsoft, _, _ := newRedirectMicrosoft(t)
	dir := t.TempDir()
	run := runRegions(t, bin, dir, "", "fetch", "-redirect", "-url", microsoft.URL+"/include.md", "-tags-url", microsoft.URL+"/details.aspx?id=56519", "-o", "azure-sql.regions")
	if run.status != 0 {
		t.Fatalf("fetch -redirect: %d\n%s%s", run.status, run.stdout, run.stderr)
	}
	content, err := os.ReadFile(filepath.Join(dir, "azure-sql.regions"))
	if err != nil {
		t.Fatal(err)
	}
	table, err := gwtable.Parse(content, "azure-sql.regions")
	if err != nil {
		t.Fatal(err)
	}

	httpPort := freePort(t)
	s := startServer(t, map[string]string{"Corefile": fmt.Sprintf(redirectCorefile, httpPort), "azure-sql.regions": string(content)})
	base := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	waitHTTP(t, base+"/regions.json")

	both := 0
	for _, r := range table.Regions {
		if len(r.Subnets) == 0 || len(r.Redirect) == 0 {
			continue
		}
		both++
		for _, set := range []struct {
			name     string
			prefixes []netip.Prefix
		}{{"allow", r.Subnets}, {"redirect", r.Redirect}} {
			want := ranges(slices.Clone(set.prefixes))
			kept, _, _ := readShards(t, s.addr, fmt.Sprintf("%s.%s.gateway.mysql.local.", set.name, r.Name))
			var addrs []addrRange
			for a := range kept {
				ip := netip.MustParseAddr(a)
				addrs = append(addrs, addrRange{ip, ip})
			}
			if got := joinRanges(addrs); !slices.Equal(got, want) {
				t.Errorf("%s.%s's shards hold %v, want %v", set.name, r.Name, got, want)
			}
			if got := ranges(fetchList(t, base+"/"+set.name+"/"+r.Name)); !slices.Equal(got, want) {
				t.Errorf("/%s/%s is %v, want %v", set.name, r.Name, got, want)
			}
		}
	}
	if both != 3 {
		t.Errorf("%d regions with both sets, want the 3 of the Service Tags file", both)
	}

	var regions struct {
		Ports struct {
			Gateway  int    `json:"gateway"`
			Redirect string `json:"redirect"`
		} `json:"ports"`
	}
	if err := json.Unmarshal([]byte(curl(t, base+"/regions.json").body), &regions); err != nil {
		t.Fatal(err)
	}
	if regions.Ports.Gateway != 1433 || regions.Ports.Redirect != "11000-11999" {
		t.Errorf("/regions.json ports %+v, want gateway 1433 and redirect 11000-11999", regions.Ports)
	}
}

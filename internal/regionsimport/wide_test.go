package regionsimport

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestImportWidePrefix: a range of Microsoft's hand-edited table changed to
// a /8, and halves of the address space, are errors naming the line or the
// JSON path, in both readers; the widest prefixes a table holds, an IPv4
// /16 and an IPv6 /32, import.
func TestImportWidePrefix(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(fixtures, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	include, serviceTags := read("sql-2026-include.md"), read("servicetags.json")
	const head = "| Region name | Gateway IP addresses | Gateway IP address subnets |\n|---|---|---|\n"
	for _, tc := range []struct {
		name, source, from, to, want string
	}{
		{"include: a /8", include, "| East US | 20.42.65.64/29,", "| East US | 20.0.0.0/8,",
			`include.md:73: "Gateway IP address ranges" cell "20.0.0.0/8, 20.42.73.0/29, 20.62.132.160/27, 52.168.116.64/29": prefix 20.0.0.0/8 is wider than /16, the widest IPv4 subnet a table may hold`},
		{"include: a /28 typed /8", include, "52.168.116.64/29", "52.168.116.64/8", `include.md:73: "Gateway IP address ranges" cell "20.42.65.64/29, 20.42.73.0/29, 20.62.132.160/27, 52.168.116.64/8": prefix 52.168.116.64/8 is wider than /16, the widest IPv4 subnet a table may hold`},
		{"page: 128.0.0.0/1", head + "| East US 2 | 192.0.2.1 | 128.0.0.0/1 |\n", "", "", `include.md:3: "Gateway IP address subnets": prefix 128.0.0.0/1 is wider than /16, the widest IPv4 subnet a table may hold`},
		{"page: 8000::/1", head + "| East US 2 | 192.0.2.1 | 8000::/1 |\n", "", "", `include.md:3: "Gateway IP address subnets": prefix 8000::/1 is wider than /32, the widest IPv6 subnet a table may hold`},
		{"service tags: a /28 typed /8", serviceTags, `"52.167.111.144/28"`, `"52.0.0.0/8"`, `include.md: values[3].properties.addressPrefixes[14]: prefix 52.0.0.0/8 is wider than /16, the widest IPv4 subnet a table may hold`},
		{"service tags: 2000::/3", serviceTags, `"52.167.111.144/28"`, `"2000::/3"`, `include.md: values[3].properties.addressPrefixes[14]: prefix 2000::/3 is wider than /32, the widest IPv6 subnet a table may hold`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			source := tc.source
			if tc.from != "" {
				if !strings.Contains(source, tc.from) {
					t.Fatalf("the fixture lacks %q", tc.from)
				}
				source = strings.Replace(source, tc.from, tc.to, 1)
			}
			res, err := Import(strings.NewReader(source), "include.md", Options{})
			if err == nil || err.Error() != tc.want {
				t.Fatalf("error %v\nwant  %s", err, tc.want)
			}
			if len(res.Table.Regions) != 0 {
				t.Errorf("an error came with regions")
			}
		})
	}
	res, err := importText(head+"| East US 2 | 192.0.2.1 | 10.0.0.0/16 2001:db8::/32 |\n", Options{})
	if err != nil || len(res.Table.Regions) != 1 || len(res.Table.Regions[0].Subnets) != 2 {
		t.Errorf("the widest prefixes: %+v %v", res.Table, err)
	}
}

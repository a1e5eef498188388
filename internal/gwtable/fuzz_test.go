package gwtable

import (
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// fuzzLineError is the shape of a content error: the source, a line, a reason.
var fuzzLineError = regexp.MustCompile(`^FILE:([0-9]+): .`)

// FuzzRegionsFile feeds arbitrary content to the regions file parser. It must
// not panic, every error names the file and where it can, the line, and every
// table it accepts survives a round trip through Format.
func FuzzRegionsFile(f *testing.F) {
	for _, seed := range []string{
		"eastus2 191.239.224.107 40.79.84.180 52.167.104.0\nwestus 23.99.34.75 104.42.238.205 # two\n\n# comment\nv6 2001:db8::1\n",
		"a\t192.0.2.1\r\nb  192.0.2.2\t\t2001:db8::2\r\n",
		"v6 2001:db8::1 ::ffff:192.0.2.1\r\n",
		"a ::ffff:192.0.2.1 64:ff9b::192.0.2.1\n",
		"EastUS 192.0.2.1\n",
		"a\u00a0192.0.2.1\u2003192.0.2.2\u0085\n",
		"",
		"# only a comment\n\n",
		"# a\n   # b\n",
		"a 192.0.2.1\nA 192.0.2.2\n", // a region twice
		"a 1.2.3.4\na 5.6.7.8\n",
		"all 1.2.3.4\n", // reserved names
		"dns 192.0.2.1\n",
		"x fe80::1%eth0\n",
		"a 224.0.0.1\n",
		"a ::\n",
		"x 1.2.3.4 1.2.3.4\n",
		"a 192.0.2.1 ::ffff:192.0.2.1\n",
		"x 1.2.3.4 5.6.7.8 9.10.11.12 13.14.15.16\n",
		"a\n",
		"eastus2 191.239.2",
		"a 192.0.2.1\nb 198.51",
		"-a 192.0.2.1\n",
		strings.Repeat("x", 64) + " 192.0.2.1\n",
		"a\x00 192.0.2.1\rb 192.0.2.2\n",
		// The extended syntax.
		"$SERIAL 2023030901\neastus2 52.167.105.38 40.70.144.38 subnets 104.208.150.192/29 20.62.58.128/27 decommissioning 52.177.185.181\n",
		"sqlonly subnets 20.62.58.128/27 40.70.144.192/29 2001:db8::/64\n",
		"a decommissioning 192.0.2.1\n",
		"a subnets ::ffff:192.0.2.0/120 192.0.2.0/24\n",
		"a 1.2.3.4 subnets 1.2.3.0/24 decommissioning 1.2.3.4\n",
		"a subnets 1.2.3.1/24\n",
		"a subnets\n",
		"a 1.2.3.0/24\n",
		"a decommissioning 1.2.3.4 subnets 1.2.3.0/24\n",
		"a 1.2.3.4\n$SERIAL 5\n",
		"$SERIAL 1\n$SERIAL 2\na 1.2.3.4\n",
		"$SERIAL 4294967296\na 1.2.3.4\n",
		"$ORIGIN x.\n",
		"$SOURCE https://example.com/x.md#frag\n$PUBLISHED 2026-05-18\n$SERIAL 2026051801\na subnets 192.0.2.0/29\n",
		"$SOURCE\t a \t b \na 1.2.3.4\n",
		"$SOURCEx 1\na 1.2.3.4\n",
		"$PUBLISHED 2026-13-01\na 1.2.3.4\n",
		// Redirect sets.
		"$REDIRECT-SOURCE https://example.com/ServiceTags_Public_20261207.json\n$REDIRECT-PUBLISHED 2026-12-07\na subnets 192.0.2.0/29 redirect 192.0.2.0/29 2001:db8::/48\n",
		"a redirect 192.0.2.0/24\nb 192.0.2.1 decommissioning 192.0.2.2 redirect 10.0.0.0/16\n",
		"a redirect 192.0.2.0/24 subnets 192.0.2.0/24\n",
		"s 192.0.2.1 192.0.2.2 192.0.2.3 192.0.2.4 192.0.2.5 192.0.2.6 192.0.2.7 192.0.2.8 192.0.2.9 192.0.2.10 192.0.2.11 192.0.2.12 192.0.2.13 192.0.2.14 192.0.2.15 192.0.2.16 192.0.2.17\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, content []byte) {
		table, err := Parse(content, "FILE")
		if err != nil {
			msg := err.Error()
			if m := fuzzLineError.FindStringSubmatch(msg); m != nil {
				n, _ := strconv.Atoi(m[1])
				if lines := strings.Count(string(content), "\n") + 1; n < 1 || n > lines {
					t.Fatalf("error names line %d of a %d-line file: %s", n, lines, msg)
				}
				return
			}
			if !strings.HasPrefix(msg, "FILE: ") {
				t.Fatalf("error names neither the file nor a line: %q", msg)
			}
			return
		}
		if len(table.Regions) == 0 {
			t.Fatal("accepted a table with no regions")
		}
		for _, r := range table.Regions {
			if err := CheckRegionName(r.Name); err != nil {
				t.Fatalf("accepted a bad region name: %v", err)
			}
			if len(r.Addrs) > MaxRoles || !r.HasAllow() && len(r.Redirect) == 0 {
				t.Fatalf("accepted region %s with %d gateways, %d subnets, %d decommissioning, %d redirect", r.Name, len(r.Addrs), len(r.Subnets), len(r.Decommissioning), len(r.Redirect))
			}
			for _, p := range append(slices.Clone(r.Subnets), r.Redirect...) {
				if p != p.Masked() || p.Addr().Is4() && p.Bits() < WidestBits4 || p.Addr().Is6() && p.Bits() < WidestBits6 {
					t.Fatalf("accepted prefix %s with host bits or too wide", p)
				}
			}
		}
		text := table.Format()
		again, err := Parse(text, "FILE")
		if err != nil {
			t.Fatalf("Format wrote what Parse refuses: %v\n%s", err, text)
		}
		if table.HasSerial && !reflect.DeepEqual(table, again) || !reflect.DeepEqual(table.Regions, again.Regions) ||
			table.Source != again.Source || !table.Published.Equal(again.Published) ||
			table.RedirectSource != again.RedirectSource || !table.RedirectPublished.Equal(again.RedirectPublished) {
			t.Fatalf("round trip changed the table:\n%v\n%v", table, again)
		}
	})
}

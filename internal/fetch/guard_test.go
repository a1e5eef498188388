package fetch

import (
	"math"
	"strings"
	"testing"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
)

// TestMeasure counts what a new table stops and starts covering, per
// family, exactly.
func TestMeasure(t *testing.T) {
	for _, tc := range []struct {
		old, new         string
		lost4, lost6     string
		gained4, gained6 string
		had4, had6       string
		removedRegions   int
	}{
		{"a 192.0.2.1 subnets 198.51.100.0/29\n", "a subnets 198.51.100.0/29 192.0.2.0/30\n", "0", "0", "3", "0", "9", "0", 0},
		{"a subnets 198.51.100.0/29 198.51.100.8/29\n", "a subnets 198.51.100.0/28\n", "0", "0", "0", "0", "16", "0", 0},
		{"a subnets 198.51.100.0/28\n", "a subnets 198.51.100.4/30\n", "12", "0", "0", "0", "16", "0", 0},
		{"a 192.0.2.1\nb 192.0.2.2\n", "b 192.0.2.2 192.0.2.1\n", "0", "0", "0", "0", "2", "0", 1},
		{"a subnets 2001:db8::/32 198.51.100.0/24\n", "a subnets 2001:db8::/33 198.51.100.128/25\n", "128", "39614081257132168796771975168", "0", "0", "256", "79228162514264337593543950336", 0},
		// A /28 typed as a /16, within the width bound: 65,536 addresses
		// where 16 were.
		{"a subnets 198.51.100.0/28\n", "a subnets 198.51.0.0/16\n", "0", "0", "65520", "0", "16", "0", 0},
		// A family the old table did not cover.
		{"a subnets 198.51.100.0/28\n", "a subnets 198.51.100.0/28 2001:db8::/126\n", "0", "0", "0", "4", "16", "0", 0},
		// Moved: as much lost as gained.
		{"a subnets 198.51.100.0/28\n", "a subnets 203.0.113.0/28\n", "16", "0", "16", "0", "16", "0", 0},
	} {
		old, new := parseTable(t, tc.old), parseTable(t, tc.new)
		c := measure(old, new, gatewaySet, gwtable.Diff("old", old, "new", new))
		if count(c.v4.lost) != tc.lost4 || count(c.v6.lost) != tc.lost6 || count(c.v4.gained) != tc.gained4 || count(c.v6.gained) != tc.gained6 ||
			count(c.v4.had) != tc.had4 || count(c.v6.had) != tc.had6 || len(c.regions) != tc.removedRegions {
			t.Errorf("%q → %q: v4 -%.0f +%.0f of %.0f, v6 -%.0f +%.0f of %.0f, regions %v", tc.old, tc.new, c.v4.lost, c.v4.gained, c.v4.had, c.v6.lost, c.v6.gained, c.v6.had, c.regions)
		}
	}
}

func parseTable(t *testing.T, content string) gwtable.Table {
	t.Helper()
	table, err := gwtable.Parse([]byte(content), "test")
	if err != nil {
		t.Fatal(err)
	}
	return table
}

// TestRefuse: each limit is a bound on its own side, growth from nothing is
// refused at any -max-grow, and a NaN limit refuses rather than lets
// everything through.
func TestRefuse(t *testing.T) {
	had := family{had: 1000}
	for _, tc := range []struct {
		name             string
		c                change
		maxDrop, maxGrow float64
		want             string // "" when allowed
	}{
		{"shrink within", change{v4: family{lost: 100, had: 1000}}, 10, 100, ""},
		{"shrink past", change{v4: family{lost: 101, had: 1000}}, 10, 100, "it would stop covering 101 of 1000 IPv4 addresses (10.1%, more than -max-drop 10%)"},
		{"growth within", change{v4: family{gained: 1000, had: 1000}}, 10, 100, ""},
		{"growth past", change{v4: family{gained: 1001, had: 1000}}, 10, 100, "it would start covering 1001 IPv4 addresses beyond FILE's 1000 (+100.1%, more than -max-grow 100%)"},
		{"growth from nothing", change{v4: had, v6: family{gained: 4}}, 10, 1e9, "it would start covering 4 IPv6 addresses, where FILE covers none (more than -max-grow 1e+09%)"},
		{"no growth, none covered", change{v4: family{gained: 10, had: 1000}}, 0, 1, ""},
		{"NaN -max-drop", change{v4: had}, math.NaN(), 100, "more than -max-drop NaN%"},
		{"NaN -max-grow", change{v4: had}, 10, math.NaN(), "more than -max-grow NaN%"},
	} {
		got := strings.Join(tc.c.refuse(tc.maxDrop, tc.maxGrow, false), "; ")
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestCheckLimits: NaN, infinities, negative numbers and a drop past 100%
// are errors naming the flag.
func TestCheckLimits(t *testing.T) {
	for _, tc := range []struct {
		drop, grow float64
		want       string
	}{
		{10, 100, ""},
		{0, 0, ""},
		{100, 1e6, ""},
		{math.NaN(), 100, "-max-drop must be a percentage from 0 to 100, got NaN"},
		{-1, 100, "-max-drop must be"},
		{101, 100, "-max-drop must be"},
		{math.Inf(1), 100, "-max-drop must be"},
		{10, math.NaN(), "-max-grow must be a finite percentage, 0 or more, got NaN"},
		{10, math.Inf(1), "-max-grow must be"},
		{10, math.Inf(-1), "-max-grow must be"},
		{10, -0.5, "-max-grow must be"},
	} {
		err := CheckLimits(tc.drop, tc.grow)
		if (err == nil) != (tc.want == "") || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CheckLimits(%g, %g) = %v, want %q", tc.drop, tc.grow, err, tc.want)
		}
	}
}

package fetch

import (
	"testing"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
)

// TestMeasure counts what a new table stops covering, per family, exactly.
func TestMeasure(t *testing.T) {
	for _, tc := range []struct {
		old, new       string
		lost4, lost6   string
		had4, had6     string
		removedRegions int
	}{
		{"a 192.0.2.1 subnets 198.51.100.0/29\n", "a subnets 198.51.100.0/29 192.0.2.0/30\n", "0", "0", "9", "0", 0},
		{"a subnets 198.51.100.0/29 198.51.100.8/29\n", "a subnets 198.51.100.0/28\n", "0", "0", "16", "0", 0},
		{"a subnets 198.51.100.0/28\n", "a subnets 198.51.100.4/30\n", "12", "0", "16", "0", 0},
		{"a 192.0.2.1\nb 192.0.2.2\n", "b 192.0.2.2 192.0.2.1\n", "0", "0", "2", "0", 1},
		{"a subnets 2001:db8::/32 198.51.100.0/24\n", "a subnets 2001:db8::/33 198.51.100.128/25\n", "128", "39614081257132168796771975168", "256", "79228162514264337593543950336", 0},
	} {
		old, _ := gwtable.Parse([]byte(tc.old), "old")
		new, _ := gwtable.Parse([]byte(tc.new), "new")
		s := measure(old, new)
		if count(s.v4.lost) != tc.lost4 || count(s.v6.lost) != tc.lost6 || count(s.v4.had) != tc.had4 || count(s.v6.had) != tc.had6 || len(s.regions) != tc.removedRegions {
			t.Errorf("%q → %q: v4 %.0f of %.0f, v6 %.0f of %.0f, regions %v", tc.old, tc.new, s.v4.lost, s.v4.had, s.v6.lost, s.v6.had, s.regions)
		}
	}
}

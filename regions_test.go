package mysqlgw

import (
	"testing"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
)

// TestBuiltinNames: every built-in region's title maps to its name the way
// the importer maps Microsoft's tables, so an imported 2019 page and the
// built-in table name their regions alike.
func TestBuiltinNames(t *testing.T) {
	aliases := 0
	for _, r := range builtinRegions {
		if got := gwtable.AzureRegionName(r.Title); got != r.Name {
			t.Errorf("%q imports as %q, the built-in table names it %q", r.Title, got, r.Name)
		}
		aliases += len(r.Aliases)
	}
	if aliases != 7 {
		t.Errorf("%d aliases, want the 7 old spellings (eastus1, westus1, …)", aliases)
	}
}

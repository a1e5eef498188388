package gwtable

import "testing"

func TestAzureRegionName(t *testing.T) {
	for title, want := range map[string]string{
		"East US 1": "eastus", "India Central": "centralindia", "South East Asia": "southeastasia",
		"East US 2": "eastus2", "  West  US ": "westus", "Sweden Central": "swedencentral", "China North 1": "chinanorth",
	} {
		if got := AzureRegionName(title); got != want {
			t.Errorf("%q: %q, want %q", title, got, want)
		}
	}
}

package gwtable

import "strings"

// oldSpellings maps the region names Azure's gateway tables spelled their own
// way (the title with its spaces removed) to Azure's region names. The
// built-in table answers to both; the importer writes Azure's.
var oldSpellings = map[string]string{
	"chinaeast1":   "chinaeast",
	"chinanorth1":  "chinanorth",
	"eastus1":      "eastus",
	"indiacentral": "centralindia",
	"indiasouth":   "southindia",
	"indiawest":    "westindia",
	"westus1":      "westus",
}

// Spelling is a region title as a label: lower case, spaces removed
// ("East US 1" → "eastus1").
func Spelling(title string) string {
	return strings.ToLower(strings.Join(strings.Fields(title), ""))
}

// AzureRegionName turns a region as Azure's tables spell it ("East US 1",
// "India Central", "South East Asia") into Azure's region name: its
// Spelling, with the tables' old spellings mapped (eastus1 → eastus,
// indiacentral → centralindia).
func AzureRegionName(title string) string {
	name := Spelling(title)
	if azure, ok := oldSpellings[name]; ok {
		return azure
	}
	return name
}

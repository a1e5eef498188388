package mysqlgw

import (
	"net/netip"
	"strings"
)

// builtinRegions is the Azure Database for MySQL gateway table, one entry per
// region. Name is Azure's own region name; the table's spelling with its spaces
// removed is an alias where it differs, so both "eastus" and "eastus1" answer.
// Addresses are listed by role: primary (live), secondary (listens only once a
// failover activates it) and, for East US 2 alone, a tertiary.
var builtinRegions = []Region{
	region("australiaeast", "Australia East", nil, "13.75.149.87", "40.79.161.1"),
	region("australiasoutheast", "Australia South East", nil, "191.239.192.109", "13.73.109.251"),
	region("brazilsouth", "Brazil South", nil, "104.41.11.5"),
	region("canadacentral", "Canada Central", nil, "40.85.224.249"),
	region("canadaeast", "Canada East", nil, "40.86.226.166"),
	region("centralus", "Central US", nil, "23.99.160.139", "13.67.215.62"),
	region("chinaeast", "China East 1", []string{"chinaeast1"}, "139.219.130.35"),
	region("chinaeast2", "China East 2", nil, "40.73.82.1"),
	region("chinanorth", "China North 1", []string{"chinanorth1"}, "139.219.15.17"),
	region("chinanorth2", "China North 2", nil, "40.73.50.0"),
	region("eastasia", "East Asia", nil, "191.234.2.139", "52.175.33.150"),
	region("eastus", "East US 1", []string{"eastus1"}, "191.238.6.43", "40.121.158.30"),
	region("eastus2", "East US 2", nil, "191.239.224.107", "40.79.84.180", "52.167.104.0"),
	region("francecentral", "France Central", nil, "40.79.137.0", "40.79.129.1"),
	region("germanycentral", "Germany Central", nil, "51.4.144.100"),
	region("centralindia", "India Central", []string{"indiacentral"}, "104.211.96.159"),
	region("southindia", "India South", []string{"indiasouth"}, "104.211.224.146"),
	region("westindia", "India West", []string{"indiawest"}, "104.211.160.80"),
	region("japaneast", "Japan East", nil, "191.237.240.43", "13.78.61.196"),
	region("japanwest", "Japan West", nil, "191.238.68.11", "104.214.148.156"),
	region("koreacentral", "Korea Central", nil, "52.231.32.42"),
	region("koreasouth", "Korea South", nil, "52.231.200.86"),
	region("northcentralus", "North Central US", nil, "23.98.55.75", "23.96.178.199"),
	region("northeurope", "North Europe", nil, "191.235.193.75", "40.113.93.91"),
	region("southcentralus", "South Central US", nil, "23.98.162.75", "13.66.62.124"),
	region("southeastasia", "South East Asia", nil, "23.100.117.95", "104.43.15.0"),
	region("uksouth", "UK South", nil, "51.140.184.11"),
	region("ukwest", "UK West", nil, "51.141.8.11"),
	region("westeurope", "West Europe", nil, "191.237.232.75", "40.68.37.158"),
	region("westus", "West US 1", []string{"westus1"}, "23.99.34.75", "104.42.238.205"),
	region("westus2", "West US 2", nil, "13.66.226.202"),
}

// region builds one built-in entry; the literals above are fixed, so a parse
// failure is a programming error caught by the first test run.
func region(name, title string, aliases []string, addrs ...string) Region {
	r := Region{Name: name, Title: title, Aliases: aliases}
	for _, a := range addrs {
		r.Addrs = append(r.Addrs, netip.MustParseAddr(a))
	}
	return r
}

// AzureRegionName turns a region as Azure's tables spell it ("East US 1",
// "India Central", "South East Asia") into Azure's region name: lower case,
// spaces removed, and the table's old spellings mapped as the built-in table
// maps them (eastus1 → eastus, indiacentral → centralindia).
func AzureRegionName(title string) string {
	name := strings.ToLower(strings.Join(strings.Fields(title), ""))
	for _, r := range builtinRegions {
		for _, alias := range r.Aliases {
			if alias == name {
				return r.Name
			}
		}
	}
	return name
}

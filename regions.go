package mysqlgw

import (
	"net/netip"
	"time"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
)

// builtinRegions is the Azure Database for MySQL gateway table of Microsoft's
// page of 22 May 2019, one entry per region. Name is Azure's own region name;
// the table's spelling with its spaces removed is an alias where it differs,
// so both "eastus" and "eastus1" answer. Addresses are listed by role:
// primary (live), secondary (listens only once a failover activates it) and,
// for East US 2 alone, a tertiary.
var builtinRegions = []gwtable.Region{
	region("australiaeast", "Australia East", "13.75.149.87", "40.79.161.1"),
	region("australiasoutheast", "Australia South East", "191.239.192.109", "13.73.109.251"),
	region("brazilsouth", "Brazil South", "104.41.11.5"),
	region("canadacentral", "Canada Central", "40.85.224.249"),
	region("canadaeast", "Canada East", "40.86.226.166"),
	region("centralus", "Central US", "23.99.160.139", "13.67.215.62"),
	region("chinaeast", "China East 1", "139.219.130.35"),
	region("chinaeast2", "China East 2", "40.73.82.1"),
	region("chinanorth", "China North 1", "139.219.15.17"),
	region("chinanorth2", "China North 2", "40.73.50.0"),
	region("eastasia", "East Asia", "191.234.2.139", "52.175.33.150"),
	region("eastus", "East US 1", "191.238.6.43", "40.121.158.30"),
	region("eastus2", "East US 2", "191.239.224.107", "40.79.84.180", "52.167.104.0"),
	region("francecentral", "France Central", "40.79.137.0", "40.79.129.1"),
	region("germanycentral", "Germany Central", "51.4.144.100"),
	region("centralindia", "India Central", "104.211.96.159"),
	region("southindia", "India South", "104.211.224.146"),
	region("westindia", "India West", "104.211.160.80"),
	region("japaneast", "Japan East", "191.237.240.43", "13.78.61.196"),
	region("japanwest", "Japan West", "191.238.68.11", "104.214.148.156"),
	region("koreacentral", "Korea Central", "52.231.32.42"),
	region("koreasouth", "Korea South", "52.231.200.86"),
	region("northcentralus", "North Central US", "23.98.55.75", "23.96.178.199"),
	region("northeurope", "North Europe", "191.235.193.75", "40.113.93.91"),
	region("southcentralus", "South Central US", "23.98.162.75", "13.66.62.124"),
	region("southeastasia", "South East Asia", "23.100.117.95", "104.43.15.0"),
	region("uksouth", "UK South", "51.140.184.11"),
	region("ukwest", "UK West", "51.141.8.11"),
	region("westeurope", "West Europe", "191.237.232.75", "40.68.37.158"),
	region("westus", "West US 1", "23.99.34.75", "104.42.238.205"),
	region("westus2", "West US 2", "13.66.226.202"),
}

// builtinSerial is the built-in table's serial: the date of the page it
// comes from, 22 May 2019, as YYYYMMDDnn.
const builtinSerial = 2019052201

// builtinTable is the built-in table with its provenance: Microsoft's page
// for Azure Database for MySQL Single Server, a service retired on
// 2024-09-16; several of its primaries were switched off on 2021-03-15.
func builtinTable() gwtable.Table {
	return gwtable.Table{
		Serial: builtinSerial, HasSerial: true,
		Source:    "Connectivity architecture in Azure Database for MySQL",
		Published: time.Date(2019, 5, 22, 0, 0, 0, 0, time.UTC),
		Regions:   builtinRegions,
	}
}

// region builds one built-in entry, aliased by the table's spelling of its
// title where that is not Azure's name. The literals above are fixed, so a
// parse failure is a programming error caught by the first test run.
func region(name, title string, addrs ...string) gwtable.Region {
	r := gwtable.Region{Name: name, Title: title}
	if s := gwtable.Spelling(title); s != name {
		r.Aliases = []string{s}
	}
	for _, a := range addrs {
		r.Addrs = append(r.Addrs, netip.MustParseAddr(a))
	}
	return r
}

package regionsimport

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
)

// fixtures is the folder of verbatim pages and Service Tags.
const fixtures = "../../testdata/import"

// importFile imports a fixture as the command does.
func importFile(t *testing.T, name string, opt Options) (Result, error) {
	t.Helper()
	f, err := os.Open(filepath.Join(fixtures, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return Import(f, name, opt)
}

// importText imports a page given as text.
func importText(text string, opt Options) (Result, error) {
	return Import(strings.NewReader(text), "page.md", opt)
}

// body is the regions file without its comment lines.
func body(r Result) string {
	var lines []string
	for _, l := range strings.SplitAfter(string(r.Bytes()), "\n") {
		if !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "")
}

func warningTexts(r Result) []string {
	var s []string
	for _, w := range r.Warnings {
		s = append(s, w.String())
	}
	return s
}

// TestImportFixtures imports every Markdown fixture and compares the regions file
// and the warnings with what the page says, row by row.
func TestImportFixtures(t *testing.T) {
	for _, tc := range []struct {
		file     string
		want     string
		warnings []string
		header   string // one of the comment lines
	}{
		{"mysql-2019.md", `$SERIAL 2019052201
$PUBLISHED 2019-05-22
brazilsouth 104.41.11.5
chinaeast 139.219.130.35
eastus 191.238.6.43 40.121.158.30
eastus2 191.239.224.107 40.79.84.180 52.167.104.0
centralindia 104.211.96.159
koreasouth 52.231.200.86
westeurope 191.237.232.75 40.68.37.158
`, []string{"mysql-2019.md:25: an empty row; skipped"},
			"line 28: tertiary 52.167.104.0 for eastus2"},
		{"mysql-2022.md", `$SERIAL 2022062001
$PUBLISHED 2022-06-20
australiacentral 20.36.105.32 decommissioning 20.36.105.0
brazilsouth 191.233.201.8 191.233.200.16
canadacentral 13.71.168.32
chinaeast2 40.73.82.1 52.130.120.89
eastasia 13.75.33.20 52.175.33.150 13.75.33.21
eastus 40.71.8.203 40.71.83.113 decommissioning 40.121.158.30
eastus2 40.70.144.38 52.167.105.38 decommissioning 52.177.185.181
centralindia 20.192.96.33 decommissioning 104.211.96.159
koreasouth 52.231.145.3 52.231.151.97 decommissioning 52.231.200.86
westeurope 13.69.105.208 104.40.169.187 decommissioning 40.68.37.158
`, []string{
			"mysql-2022.md:19: brazilsouth: 104.41.11.5 left out, decommissioned",
			`mysql-2022.md:20: '||' read as an empty "Gateway IP addresses (decommissioning)" cell, and "40.85.224.249, 52.228.35.221" as "Gateway IP addresses (decommissioned)", which is left out`,
			"mysql-2022.md:20: canadacentral: 40.85.224.249 left out, decommissioned",
			"mysql-2022.md:20: canadacentral: 52.228.35.221 left out, decommissioned",
			"mysql-2022.md:21: the row has 2 of the header's 4 cells; the missing ones are read as empty",
			"mysql-2022.md:22: eastasia: gateway 13.75.33.20 is listed twice; kept once",
			"mysql-2022.md:23: eastus: 191.238.6.43 left out, decommissioned",
			"mysql-2022.md:27: westeurope: 191.237.232.75 left out, decommissioned",
		}, "5 decommissioned addresses left out"},
		{"mysql-subnets.md", `$SERIAL 2022062001
$PUBLISHED 2022-06-20
australiacentral 20.36.105.32 subnets 20.36.105.32/29 20.53.48.96/27
australiaeast 13.70.112.32 subnets 13.70.112.32/29 40.79.160.32/29 40.79.168.32/29 20.53.46.128/27
brazilsoutheast 191.233.48.2 subnets 191.233.48.32/29 191.233.15.160/27
chinanorth2 40.73.50.0 subnets 52.130.40.64/29 52.130.21.160/27
eastus2 52.167.105.38 40.70.144.38 subnets 104.208.150.192/29 40.70.144.192/29 52.167.104.192/29 20.62.58.128/27
centralindia 20.192.96.33 subnets 40.80.48.32/29 104.211.86.32/29 20.192.96.32/29 20.192.43.160/27
westeurope 13.69.105.208 104.40.169.187 subnets 104.40.169.32/29 13.69.112.168/29 52.236.184.32/29 20.61.99.192/27
westus3 20.150.184.2 subnets 20.150.168.32/29 20.150.176.32/29 20.150.184.32/29 20.150.241.128/27
`, []string{"mysql-subnets.md:19: australiaeast: subnet 40.79.160.32/29 is listed twice; kept once"},
			"the table on line 16, in the MySQL subnets form (Region name | Current Gateway IP address | Gateway IP address subnets): 8 regions"},
		{"postgresql.md", `$SERIAL 2023030901
$PUBLISHED 2023-03-09
australiacentral subnets 20.36.105.32/29
canadacentral 40.85.224.249 52.228.35.221 subnets 13.71.168.32/29 20.38.144.32/29 52.246.152.32/29
eastasia 13.75.33.20 52.175.33.150 13.75.33.21 subnets 13.75.32.192/29 13.75.33.192/29
eastus2 40.70.144.38 52.167.105.38 subnets 104.208.150.192/29 40.70.144.192/29 52.167.104.192/29
centralindia subnets 104.211.86.32/29 20.192.96.32/29
koreacentral 52.231.17.13 subnets 20.194.64.32/29 20.44.24.32/29 52.231.16.32/29
koreasouth 52.231.145.3
uksouth 51.140.184.11 51.140.144.32 51.105.64.0 subnets 51.105.64.32/29 51.105.72.32/29 51.140.144.32/29
westus2 13.66.226.202 13.66.136.192 13.66.136.195 subnets 13.66.136.192/29 40.78.240.192/29 40.78.248.192/29
`, []string{
			`postgresql.md:18: australiacentral: empty "Gateway IP addresses" cell in the middle of the row; the region has no gateway`,
			"postgresql.md:20: eastasia: gateway 13.75.33.20 is listed twice; kept once",
			`postgresql.md:22: '||' read as an empty "Gateway IP addresses" cell, and "104.211.86.32/29, 20.192.96.32/29" as "Gateway IP address subnets"`,
		}, "$SERIAL 2023030901 from ms.date on line 9"},
		{"sql-2022.md", `$SERIAL 2021012501
$PUBLISHED 2021-01-25
australiacentral 20.36.105.0 20.36.104.6 20.36.104.7 subnets 20.36.105.32/29
canadaeast 40.86.226.166 52.242.30.154 40.69.105.9 40.69.105.10 subnets 40.69.105.32/29
eastus2 40.79.84.180 52.177.185.181 52.167.104.0 191.239.224.107 104.208.150.3 40.70.144.193 subnets 104.208.150.192/29 40.70.144.192/29 52.167.104.192/29
francesouth 40.79.177.0 40.79.177.10 40.79.177.12 subnets 40.79.176.40/29 40.79.177.32/29
japaneast 13.78.61.196 40.79.184.8 13.78.106.224 40.79.192.5 13.78.104.32 40.79.184.32 subnets 13.78.104.32/29 40.79.184.32/29 40.79.192.32/29
koreasouth 52.231.200.86 52.231.151.96
southeastasia 104.43.15.0 40.78.232.3 13.67.16.193 subnets 13.67.16.192/29 23.98.80.192/29 40.78.232.192/29
`, []string{"sql-2022.md:31: an empty row; skipped"},
			"the table on line 22, in the Azure SQL 2022 form (Region name | Gateway IP addresses | Gateway IP address subnets): 7 regions"},
		{"sql-2026.md", `$SERIAL 2026022601
$PUBLISHED 2026-02-26
eastasia subnets 13.75.32.192/29 13.75.33.192/29 20.195.72.32/27 20.205.77.176/29 20.205.77.200/29 20.205.83.224/29
southeastasia subnets 13.67.16.192/29 20.195.65.32/27 23.98.80.192/29 40.78.232.192/29
israelnorthwest subnets 51.4.136.96/27 51.4.162.136/29
eastus2 subnets 20.62.58.128/27 40.70.144.192/29 52.167.104.192/29 104.208.150.192/29 172.210.216.24/29
eastus3 subnets 134.138.83.32/27 134.138.96.48/29
westus3 subnets 4.236.112.48/29 20.150.168.32/29 20.150.176.32/29 20.150.184.32/29 20.150.241.128/27
`, []string{
			"sql-2026.md:24: israelnorthwest: subnet 51.4.136.96/27 is listed twice; kept once",
			"sql-2026.md:24: israelnorthwest: subnet 51.4.162.136/29 is listed twice; kept once",
			"sql-2026.md:26: eastus3: subnet 134.138.83.32/27 is listed twice; kept once",
			"sql-2026.md:26: eastus3: subnet 134.138.96.48/29 is listed twice; kept once",
		}, "Imported by mysqlgw-regions from sql-2026.md"},
		{"odd-cells.md", `eastus2 40.70.144.38 52.167.105.38 decommissioning 52.177.185.181
eastus 40.71.8.203 40.71.83.113 decommissioning 40.121.158.30
japanwest 191.238.68.11 40.74.96.6 40.74.96.7 decommissioning 104.214.148.156
northeurope decommissioning 40.113.93.91
westus2 13.66.226.202
`, []string{
			`odd-cells.md:11: Japanese-style separators in "40.70.144.38、52.167.105.38" read as commas`,
			"odd-cells.md:12: a doubled '||' is read as one separator",
			"odd-cells.md:12: eastus: 191.238.6.43 left out, decommissioned",
			"odd-cells.md:13: japanwest: 40.74.96.6 is both a gateway and decommissioning; kept as a gateway",
			`odd-cells.md:14: northeurope: empty "Gateway IP addresses" cell in the middle of the row; the region has no gateway`,
			"odd-cells.md:14: northeurope: 191.235.193.75 left out, decommissioned",
			"odd-cells.md:15: the row has 3 of the header's 4 cells; the missing ones are read as empty",
		}, "no $SERIAL: the source has none and -serial was not given; the server uses a hash of the content"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			res, err := importFile(t, tc.file, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := body(res); got != tc.want {
				t.Errorf("regions file:\n%s\nwant:\n%s", got, tc.want)
			}
			if got := warningTexts(res); !slices.Equal(got, tc.warnings) {
				t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.warnings, "\n"))
			}
			if !slices.Contains(res.Header, tc.header) {
				t.Errorf("header %q lacks %q", res.Header, tc.header)
			}
			back, err := gwtable.Parse(res.Bytes(), tc.file)
			if err != nil || back.Serial != res.Table.Serial || back.HasSerial != res.Table.HasSerial {
				t.Errorf("the file reads back as serial %d (%v), want %d (%v): %v", back.Serial, back.HasSerial, res.Table.Serial, res.Table.HasSerial, err)
			}
		})
	}
}

// TestImportHeaders recognises each form whatever the case, bold marks and
// spacing of its header, and skips other tables.
func TestImportHeaders(t *testing.T) {
	for _, tc := range []struct{ header, row, want string }{
		{"| Region Name | Primary IP Address | Secondary IP Address |", "| East US 2 | 192.0.2.1 | 192.0.2.2 |", "eastus2 192.0.2.1 192.0.2.2\n"},
		{"|**REGION NAME**|**primary   ip address**|__Secondary IP Address__|", "|East US 2|192.0.2.1|192.0.2.2|", "eastus2 192.0.2.1 192.0.2.2\n"},
		{"Region name | Gateway IP addresses | Gateway IP addresses (decommissioning) | Gateway IP addresses (decommissioned)", "East US 2 | 192.0.2.1 | 192.0.2.9 | 192.0.2.8", "eastus2 192.0.2.1 decommissioning 192.0.2.9\n"},
		{"| **Region name** | **Current Gateway IP address** | **Gateway IP address subnets** |", "| East US 2 | 192.0.2.1 | 192.0.2.0/29 |", "eastus2 192.0.2.1 subnets 192.0.2.0/29\n"},
		{"| region name | gateway ip addresses | gateway ip address subnets |", "| East US 2 | 192.0.2.1, 2001:db8::1 | 2001:db8::/64 |", "eastus2 192.0.2.1 2001:db8::1 subnets 2001:db8::/64\n"},
		{"| Region name | Gateway IP address ranges |", "| East US 2 | 192.0.2.0/29, 198.51.100.0/24 |", "eastus2 subnets 192.0.2.0/29 198.51.100.0/24\n"},
	} {
		page := "| Other | Table |\n|---|---|\n| a | b |\n\n" + tc.header + "\n|:---|---:|:---:|---|\n" + tc.row + "\n"
		res, err := importText(page, Options{})
		if err != nil {
			t.Errorf("%s: %v", tc.header, err)
			continue
		}
		if got := body(res); got != tc.want {
			t.Errorf("%s\n%s: got %q, want %q", tc.header, tc.row, got, tc.want)
		}
	}
}

// TestImportMarkdownCells covers how cells and rows are read, one case a branch.
func TestImportMarkdownCells(t *testing.T) {
	const head = "| Region name | Gateway IP addresses | Gateway IP addresses (decommissioning) | Gateway IP addresses (decommissioned) |\n|---|---|---|---|\n"
	const head2019 = "| Region Name | Primary IP Address | Secondary IP Address |\n|---|---|---|\n"
	for _, tc := range []struct {
		name, page, want string
		warnings         []string
	}{
		{"<br> and bold", head + "| East US 2 | 40.79.84.180<br><br>191.239.224.107<br/>**40.70.144.38** | | |\n",
			"eastus2 40.79.84.180 191.239.224.107 40.70.144.38\n", nil},
		{"full-width comma", head + "| East US 2 | 192.0.2.1，192.0.2.2 | | |\n",
			"eastus2 192.0.2.1 192.0.2.2\n", []string{`page.md:3: Japanese-style separators in "192.0.2.1，192.0.2.2" read as commas`}},
		{"blank separators and code marks", head + "| East US 2 | `192.0.2.1` 192.0.2.2 ,,192.0.2.3 | | |\n",
			"eastus2 192.0.2.1 192.0.2.2 192.0.2.3\n", nil},
		{"no outer bars", head + "East US 2 | 192.0.2.1 | 192.0.2.9 | 192.0.2.8\n",
			"eastus2 192.0.2.1 decommissioning 192.0.2.9\n", []string{"page.md:3: eastus2: 192.0.2.8 left out, decommissioned"}},
		{"lines counted from the first, blank or not", "\n\n" + head + "| East US 2 | 192.0.2.1 | | | | |\n",
			"eastus2 192.0.2.1\n", []string{"page.md:5: 2 empty cells past the last column; ignored"}},
		{"CRLF", strings.ReplaceAll(head+"| East US 2 | 192.0.2.1 | | |\n", "\n", "\r\n"),
			"eastus2 192.0.2.1\n", nil},
		{"leading doubled bar", head + "|| East US 2 | 192.0.2.1 | | |\n",
			"eastus2 192.0.2.1\n", []string{"page.md:3: a doubled '||' is read as one separator"}},
		{"empty cells past the last column", head + "| East US 2 | 192.0.2.1 | | | | |\n",
			"eastus2 192.0.2.1\n", []string{"page.md:3: 2 empty cells past the last column; ignored"}},
		{"trailing doubled bar", head2019 + "| Korea South | 52.231.200.86 ||\n",
			"koreasouth 52.231.200.86\n", []string{`page.md:3: '||' read as an empty "Secondary IP Address" cell`}},
		{"empty primary", head2019 + "| East US 2 | | 192.0.2.2 |\n",
			"eastus2 192.0.2.2\n", []string{`page.md:3: eastus2: empty "Primary IP Address" cell in the middle of the row; the next gateway column's first address becomes the primary`}},
		{"a row with only its name", head + "| West US | | | 192.0.2.8 |\n| East US 2 | 192.0.2.1 | | |\n",
			"eastus2 192.0.2.1\n", []string{"page.md:3: westus: 192.0.2.8 left out, decommissioned", "page.md:3: westus has no gateway, subnet or decommissioning address; left out"}},
		{"repeated decommissioning", head + "| East US 2 | 192.0.2.1 | 192.0.2.9, 192.0.2.9 | |\n",
			"eastus2 192.0.2.1 decommissioning 192.0.2.9\n", []string{"page.md:3: eastus2: decommissioning 192.0.2.9 is listed twice; kept once"}},
		{"IPv4-mapped", head + "| East US 2 | ::ffff:192.0.2.1 | | |\n",
			"eastus2 192.0.2.1\n", nil},
		{"table in a code fence is not read", "~~~\n" + head + "| West US | 192.0.2.7 | | |\n~~~\n" + head + "| East US 2 | 192.0.2.1 | | |\n",
			"eastus2 192.0.2.1\n", []string{"page.md:4: 192.0.2.7 is outside the gateway table; not imported"}},
		{"old spellings", head2019 + "| East US 1 | 192.0.2.1 | |\n| India Central | 192.0.2.2 | |\n| South East Asia | 192.0.2.3 | |\n",
			"eastus 192.0.2.1\ncentralindia 192.0.2.2\nsoutheastasia 192.0.2.3\n", nil},
		{"a line with dashes under a header is not a delimiter row", "| Region name | Gateway IP address ranges |\n| x-y | 192.0.2.0/29 |\n\n" + head + "| East US 2 | 192.0.2.1 | | |\n",
			"eastus2 192.0.2.1\n", []string{"page.md:2: 192.0.2.0/29 is outside the gateway table; not imported"}},
		{"prose addresses", head + "| East US 2 | 192.0.2.1 | | |\n\nConnect to 192.0.2.1 or 2001:db8::5 (see 198.51.100.0/24), not at 10:30 or v1.2.\n",
			"eastus2 192.0.2.1\n", []string{"page.md:5: 2001:db8::5 is outside the gateway table; not imported", "page.md:5: 198.51.100.0/24 is outside the gateway table; not imported"}},
		{"doubled bar without outer bars", "Region name | Gateway IP address ranges\n--- | ---\nEast US 2 || 192.0.2.0/29\n",
			"eastus2 subnets 192.0.2.0/29\n", []string{"page.md:3: a doubled '||' is read as one separator"}},
		{"hyphenated and long names", head + "| East-US | 192.0.2.1 | | |\n| " + strings.Repeat("a", 63) + " | 192.0.2.2 | | |\n",
			"east-us 192.0.2.1\n" + strings.Repeat("a", 63) + " 192.0.2.2\n", nil},
		{"front matter never closed", "---\ntitle: x\n" + head + "| East US 2 | 192.0.2.1 | | |\n",
			"eastus2 192.0.2.1\n", nil},
		{"tertiary note without code marks", head2019 + "| East US 2 | 192.0.2.1 | 192.0.2.2 |\n\nEast US 2 has also a tertiary IP address of 192.0.2.3.\n",
			"eastus2 192.0.2.1 192.0.2.2 192.0.2.3\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := importText(tc.page, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := body(res); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if got := warningTexts(res); !slices.Equal(got, tc.warnings) {
				t.Errorf("warnings %q, want %q", got, tc.warnings)
			}
		})
	}
}

// TestImportMoreThanSixteenGateways keeps sixteen as gateways and the rest
// allowed, as /32 subnets.
func TestImportMoreThanSixteenGateways(t *testing.T) {
	var addrs []string
	for i := 1; i <= 18; i++ {
		addrs = append(addrs, fmt.Sprintf("192.0.2.%d", 100+i))
	}
	page := "| Region name | Gateway IP addresses | Gateway IP address subnets |\n|---|---|---|\n| East US 2 | " + strings.Join(addrs, ", ") + " | 2001:db8::/48 |\n"
	res, err := importText(page, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := res.Table.Regions[0]
	if len(r.Addrs) != 16 || r.Addrs[15].String() != "192.0.2.116" {
		t.Errorf("gateways %v, want the first 16", r.Addrs)
	}
	want := []string{"2001:db8::/48", "192.0.2.117/32", "192.0.2.118/32"}
	var got []string
	for _, p := range r.Subnets {
		got = append(got, p.String())
	}
	if !slices.Equal(got, want) {
		t.Errorf("subnets %v, want %v", got, want)
	}
	if len(res.Warnings) != 2 || !strings.Contains(res.Warnings[0].Text, "more than 16 gateways; 192.0.2.117 is kept as a subnet") {
		t.Errorf("warnings %v", res.Warnings)
	}
}

// TestImportMarkdownErrors: what cannot be read is an error naming the line and
// the cell, and no table comes back.
func TestImportMarkdownErrors(t *testing.T) {
	const head = "| Region name | Gateway IP addresses | Gateway IP address subnets |\n|---|---|---|\n"
	for _, tc := range []struct{ name, page, want string }{
		{"empty", "", "page.md: empty input"},
		{"blank", " \n\n", "page.md: empty input"},
		{"no gateway table", "| a | b |\n|---|---|\n| 1 | 2 |\n", "page.md: no gateway table: no table has one of the known headers (region name | primary ip address | secondary ip address;"},
		{"typo'd address", head + "| East US 2 | 52.167.105.388 | |\n", `page.md:3: "Gateway IP addresses": "52.167.105.388" is not an IPv4 or IPv6 address`},
		{"prefix among addresses", head + "| East US 2 | 192.0.2.0/29 | |\n", `page.md:3: "Gateway IP addresses": "192.0.2.0/29" is a prefix, not an address`},
		{"address among subnets", head + "| East US 2 | | 192.0.2.1 |\n", `page.md:3: "Gateway IP address subnets": "192.0.2.1" is an address; a subnet is a prefix such as 104.208.150.192/29`},
		{"host bits", head + "| East US 2 | | 192.0.2.1/29 |\n", `page.md:3: "Gateway IP address subnets": prefix 192.0.2.1/29 has host bits set; the subnet is 192.0.2.0/29`},
		{"bad prefix", head + "| East US 2 | | 192.0.2.0/33 |\n", `"192.0.2.0/33" is not an IPv4 or IPv6 prefix`},
		{"multicast prefix", head + "| East US 2 | | 224.0.0.0/24 |\n", `prefix 224.0.0.0/24 is not a subnet of host addresses`},
		{"multicast address", head + "| East US 2 | 224.0.0.1 | |\n", `"224.0.0.1" is not a host address`},
		{"zone", head + "| East US 2 | fe80::1%eth0 | |\n", `"fe80::1%eth0" has a zone`},
		{"another separator", head + "| East US 2 | 192.0.2.1; 192.0.2.2 | |\n", `page.md:3: "Gateway IP addresses" cell "192.0.2.1; 192.0.2.2": "192.0.2.1;" is not an IPv4 or IPv6 address`},
		{"translated region name", head + "| 米国東部 2 | 192.0.2.1 | |\n", `page.md:3: cell "米国東部 2": region name "米国東部2": only letters, digits and inner hyphens are allowed`},
		{"long region name", head + "| " + strings.Repeat("a", 64) + " | 192.0.2.1 | |\n", `must be 1 to 63 characters`},
		{"hyphen first", head + "| -East | 192.0.2.1 | |\n", `region name "-east": only letters, digits and inner hyphens are allowed`},
		{"reserved region name", head + "| All | 192.0.2.1 | |\n", `page.md:3: cell "All": region name "all" is reserved`},
		{"no region name", head + "| | 192.0.2.1 | |\n", "page.md:3: a row with addresses but no region name"},
		{"a cell past the header", head + "| East US 2 | 192.0.2.1 | | 192.0.2.2 |\n", `page.md:3: the row has 4 cells, the header 3: cell "192.0.2.2" has no column`},
		{"region twice", head + "| East US 1 | 192.0.2.1 | |\n| East US | 192.0.2.2 | |\n", "page.md:4: region eastus is already on page.md:3"},
		{"two gateway tables", head + "| East US 2 | 192.0.2.1 | |\n\n" + head + "| West US | 192.0.2.2 | |\n", "page.md:5: a second gateway table; the first is on line 1"},
		{"note before the table", "East US 2 has also a tertiary IP address of `192.0.2.3`.\n\n" + head + "| East US 2 | 192.0.2.1 | |\n", `page.md:1: the note gives a tertiary address for "East US 2", which no row above it has`},
		{"note with a bad address", head + "| East US 2 | 192.0.2.1 | |\n\n> *East US 2* has also a tertiary IP address of `192.0.2`.\n", `page.md:5: the note's tertiary address: "192.0.2" is not an IPv4 or IPv6 address`},
		{"bad ms.date", "---\ntitle: x\nms.date: 22/05/2019\n---\n" + head + "| East US 2 | 192.0.2.1 | |\n", `page.md:3: ms.date "22/05/2019" is not a date MM/DD/YYYY`},
		{"ms.date past 4294", "---\nms.date: 01/01/4295\n---\n" + head + "| East US 2 | 192.0.2.1 | |\n", `page.md:2: ms.date "01/01/4295" is too late for a serial YYYYMMDD01`},
		{"no region left", head + "| East US 2 | | |\n", "page.md: no regions to import"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := importText(tc.page, Options{})
			if err == nil {
				t.Fatalf("no error; imported:\n%s", res.Bytes())
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to contain %q", err, tc.want)
			}
			if len(res.Table.Regions) != 0 || len(res.Bytes()) > 100 {
				t.Errorf("an error came with a table: %q", res.Bytes())
			}
		})
	}
}

// TestImportSerial: ms.date in the front matter, quoted or not, or nothing; -serial
// wins over the page.
func TestImportSerial(t *testing.T) {
	const table = "| Region name | Gateway IP address ranges |\n|---|---|\n| East US 2 | 192.0.2.0/29 |\n"
	for _, tc := range []struct {
		page      string
		opt       Options
		serial    uint32
		hasSerial bool
		header    string
	}{
		{"---\nms.date: 2/3/2026\n---\n" + table, Options{}, 2026020301, true, "$SERIAL 2026020301 from ms.date on line 2"},
		{"---\ntitle: x\nMS.DATE: \"12/31/2025\"\n---\n" + table, Options{}, 2025123101, true, "$SERIAL 2025123101 from ms.date on line 3"},
		{"---\ntitle: x\n---\nms.date: 01/01/2020\n" + table, Options{}, 0, false, "no $SERIAL: the source has none and -serial was not given; the server uses a hash of the content"},
		{"\uFEFF---\nms.date: 05/22/2019\n---\n" + table, Options{}, 2019052201, true, "$SERIAL 2019052201 from ms.date on line 2"},
		{"---\nms.date: 05/22/2019\n---\n" + table, Options{Serial: 2019052202, HasSerial: true}, 2019052202, true, "$SERIAL 2019052202 from -serial, not 2019052201 from ms.date on line 2"},
		{table, Options{Serial: 7, HasSerial: true}, 7, true, "$SERIAL 7 from -serial"},
	} {
		res, err := importText(tc.page, tc.opt)
		if err != nil {
			t.Errorf("%q: %v", tc.page, err)
			continue
		}
		if res.Table.HasSerial != tc.hasSerial || (tc.hasSerial && res.Table.Serial != tc.serial) {
			t.Errorf("%q: serial %d (%v), want %d (%v)", tc.page, res.Table.Serial, res.Table.HasSerial, tc.serial, tc.hasSerial)
		}
		if res.Header[len(res.Header)-1] != tc.header {
			t.Errorf("%q: header ends %q, want %q", tc.page, res.Header[len(res.Header)-1], tc.header)
		}
		back, err := gwtable.Parse(res.Bytes(), "out")
		if err != nil || back.Serial != res.Table.Serial {
			t.Errorf("%q: reads back with serial %d, want %d: %v", tc.page, back.Serial, res.Table.Serial, err)
		}
	}
}

// TestImportNoteForms: the 2019 page's revisions write the tertiary note
// as a quote or as a bold NOTE; both give East US 2 its third gateway.
func TestImportNoteForms(t *testing.T) {
	for _, file := range []string{"mysql-2019.md", "mysql-2019-note.md"} {
		res, err := importFile(t, file, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res.Table.Regions {
			if r.Name == "eastus2" && (len(r.Addrs) != 3 || r.Addrs[2].String() != "52.167.104.0") {
				t.Errorf("%s: eastus2 gateways %v, want the tertiary 52.167.104.0 third", file, r.Addrs)
			}
		}
	}
}

// TestImportProvenance: the source's name becomes $SOURCE, and a Service
// Tags file's dated name its $PUBLISHED.
func TestImportProvenance(t *testing.T) {
	res, err := importFile(t, "servicetags.json", Options{Source: "https://download.example/ServiceTags_Public_20260511.json"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Table.Source != "https://download.example/ServiceTags_Public_20260511.json" || res.Table.Published.Format(gwtable.DateLayout) != "2026-05-11" {
		t.Errorf("source %q published %v", res.Table.Source, res.Table.Published)
	}
	res, err = importFile(t, "mysql-2019.md", Options{Source: "bad\tname"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Table.Source != "" || len(res.Warnings) == 0 || !strings.Contains(res.Warnings[len(res.Warnings)-1].Text, "no $SOURCE written: $SOURCE: byte 4 is 0x09") {
		t.Errorf("source %q warnings %v", res.Table.Source, res.Warnings)
	}
	// A Redirect import's source is $REDIRECT-SOURCE, and so named.
	res, err = importFile(t, "servicetags.json", Options{Redirect: true, Source: "bad\tname"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Table.RedirectSource != "" || len(res.Warnings) == 0 || !strings.Contains(res.Warnings[0].Text, "no $REDIRECT-SOURCE written: $REDIRECT-SOURCE: byte 4 is 0x09") {
		t.Errorf("redirect source %q warnings %v", res.Table.RedirectSource, res.Warnings)
	}
}

// TestImportMarkdownQuotesInputShort: an error or warning quotes at most
// gwtable.MaxQuoted bytes of a cell, with control bytes escaped, and quotes
// it once: a 1 MB cell makes a message of a few hundred bytes at most.
func TestImportMarkdownQuotesInputShort(t *testing.T) {
	const head = "| Region name | Gateway IP addresses | Gateway IP address subnets |\n|---|---|---|\n"
	big := "1\x00\x1b[2J" + strings.Repeat("x", 1<<20)
	for _, tc := range []struct {
		name, page, want string
		quotes           int // how many cut quotes the message has
	}{
		{"address", head + "| East US 2 | " + big + " | |\n", `page.md:3: "Gateway IP addresses": "1\x00\x1b[2Jxxx`, 1},
		{"address in a longer cell", head + "| East US 2 | 192.0.2.1, " + big + " | |\n", `page.md:3: "Gateway IP addresses" cell "192.0.2.1, 1\x00\x1b[2Jxxx`, 2},
		{"subnet", head + "| East US 2 | | " + big + " |\n", `page.md:3: "Gateway IP address subnets": "1\x00\x1b[2Jxxx`, 1},
		{"region name", head + "| " + big + " | 192.0.2.1 | |\n", `page.md:3: region name "1\x00\x1b[2jxxx`, 1},
		{"cell past the header", head + "| East US 2 | 192.0.2.1 | | " + big + " |\n", `page.md:3: the row has 4 cells, the header 3: cell "1\x00\x1b[2Jxxx`, 1},
		{"note", head + "| East US 2 | 192.0.2.1 | |\n\n*East US 2* has also a tertiary IP address of `" + big + "`.\n", `page.md:5: the note's tertiary address: "1\x00\x1b[2Jxxx`, 1},
		{"ms.date", "---\nms.date: " + big + "\n---\n" + head, `page.md:2: ms.date "1\x00\x1b[2Jxxx`, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := importText(tc.page, Options{})
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, tc.want) || len(msg) > 400 || strings.ContainsAny(msg, "\x00\x1b\n") || strings.Count(msg, "… (") != tc.quotes {
				t.Errorf("error %.500q (%d bytes), want it to start %q and quote the big cell once, escaped and cut", msg, len(msg), tc.want)
			}
		})
	}

	// A warning about a cell quotes it the same way.
	res, err := importText(head+"| East US 2 | 192.0.2.1、192.0.2.2"+strings.Repeat("\u200b", 1<<20)+" | |\n", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) != 1 || len(res.Warnings[0].String()) > 250 || strings.Contains(res.Warnings[0].String(), "\u200b") {
		t.Errorf("warnings %.500q, want one of under 250 bytes, escaped", res.Warnings)
	}
}

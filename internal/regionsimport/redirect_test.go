package regionsimport

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
)

// TestImportRedirectFixture reads the Service Tags fixture as Redirect sets:
// each Sql.<Region> value's prefixes, single addresses included, in the
// order listed, are its region's Redirect set; nothing else of the region
// is set, and $REDIRECT-PUBLISHED is the file name's date.
func TestImportRedirectFixture(t *testing.T) {
	content := readFixture(t, "servicetags.json")
	const url = "https://download.example/ServiceTags_Public_20260928.json"
	res, err := Import(strings.NewReader(string(content)), url, Options{Redirect: true, Source: url})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) != 0 {
		t.Errorf("warnings %q", warningTexts(res))
	}
	values := sqlValues(t, content)
	var names []string
	for _, r := range res.Table.Regions {
		names = append(names, r.Name)
		want := values[r.Name]
		if !slices.Equal(r.Redirect, want) || len(r.Addrs)+len(r.Subnets)+len(r.Decommissioning) != 0 {
			t.Errorf("%s: redirect %v, gateways %v, subnets %v; want only the redirect %v", r.Name, r.Redirect, r.Addrs, r.Subnets, want)
		}
	}
	if want := []string{"australiacentral", "eastus2", "westeurope"}; !slices.Equal(names, want) {
		t.Errorf("regions %v, want %v", names, want)
	}
	tbl := res.Table
	if tbl.RedirectSource != url || tbl.RedirectPublished.Format(gwtable.DateLayout) != "2026-09-28" || tbl.Source != "" || !tbl.Published.IsZero() || tbl.HasSerial {
		t.Errorf("provenance %q %v, source %q %v, serial %v", tbl.RedirectSource, tbl.RedirectPublished, tbl.Source, tbl.Published, tbl.HasSerial)
	}
	for _, h := range []string{
		"Redirect sets imported by mysqlgw-regions from " + url,
		`Service Tags, cloud "Public", changeNumber 329: 3 of 6 values are Sql.<Region>; each one's prefixes are its region's Redirect set`,
		"$REDIRECT-PUBLISHED 2026-09-28 from the file name ServiceTags_Public_20260928.json",
	} {
		if !slices.Contains(res.Header, h) {
			t.Errorf("header %q lacks %q", res.Header, h)
		}
	}
}

// sqlValues is the Sql.<Region> values of a Service Tags file: region name
// (the suffix in lower case) to prefixes, parsed, in the order listed.
func sqlValues(t *testing.T, content []byte) map[string][]netip.Prefix {
	t.Helper()
	values := make(map[string][]netip.Prefix)
	for _, v := range decodeValues(t, content) {
		if suffix, ok := strings.CutPrefix(v.Name, DefaultTag+"."); ok {
			var prefixes []netip.Prefix
			for _, s := range v.Properties.AddressPrefixes {
				prefixes = append(prefixes, netip.MustParsePrefix(s))
			}
			values[strings.ToLower(suffix)] = prefixes
		}
	}
	return values
}

// TestImportRedirectCases: names are Azure's region names of the tag's
// suffix whatever properties.region says; repeats are kept once and an
// empty value is left out, with warnings; a page, another tag or no
// Sql.<Region> value at all are errors.
func TestImportRedirectCases(t *testing.T) {
	for _, tc := range []struct {
		name, json, want string
		warnings         []string
	}{
		{"the suffix names the region", tags(sqlValue("Sql.FranceCentral", `["192.0.2.1/32", "2001:db8::/120"]`)),
			"francecentral redirect 192.0.2.1/32 2001:db8::/120\n", nil},
		{"Azure's name for an old spelling", tags(sqlValue("Sql.IndiaCentral", `["192.0.2.0/29"]`)),
			"centralindia redirect 192.0.2.0/29\n", nil},
		{"repeats", tags(sqlValue("Sql.WestUS", `["192.0.2.0/29", "192.0.2.1/32", "192.0.2.0/29"]`)),
			"westus redirect 192.0.2.0/29 192.0.2.1/32\n", []string{"in.json: values[0].properties.addressPrefixes[2]: westus: redirect 192.0.2.0/29 is listed twice; kept once"}},
		{"an empty value", tags(sqlValue("Sql.WestUS", `[]`), sqlValue("Sql.EastUS", `["192.0.2.0/29"]`)),
			"eastus redirect 192.0.2.0/29\n", []string{"in.json: values[0]: westus lists no prefix; no Redirect set"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Import(strings.NewReader(tc.json), "in.json", Options{Redirect: true})
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
	for _, tc := range []struct {
		name, input string
		opt         Options
		want        string
	}{
		{"a page", "| Region name | Gateway IP address ranges |\n|---|---|\n| East US | 192.0.2.0/29 |\n", Options{Redirect: true},
			"in.json: not a Service Tags file: Redirect sets come from its JSON"},
		{"another tag", tags(sqlValue("Sql.EastUS", `["192.0.2.0/29"]`)), Options{Redirect: true, Tag: "Storage"},
			`in.json: a Redirect set is a Sql.<Region> value, not "Storage.<Region>"`},
		{"no Sql.<Region> value", tags(`{"name": "Storage.EastUS", "properties": {"addressPrefixes": ["192.0.2.0/29"]}}`), Options{Redirect: true},
			"in.json: no Sql.<Region> value with a prefix: no Redirect set to import"},
		{"a name with blanks", tags(sqlValue("Sql.East US", `["192.0.2.0/29"]`)), Options{Redirect: true},
			`in.json: values[0].name: "Sql.East US": region name "east us": only letters, digits and inner hyphens are allowed`},
		{"a /8", tags(sqlValue("Sql.EastUS", `["192.0.2.0/29", "52.0.0.0/8"]`)), Options{Redirect: true},
			"in.json: values[0].properties.addressPrefixes[1]: prefix 52.0.0.0/8 is wider than /16, the widest IPv4 subnet a table may hold"},
	} {
		if _, err := Import(strings.NewReader(tc.input), "in.json", tc.opt); err == nil || err.Error() != tc.want {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestAddRedirect: each region of both sources gets its Redirect set; a
// region of one source only is kept as it is, and each source's missing
// regions are named in one warning that lists at most 20 of them.
func TestAddRedirect(t *testing.T) {
	page := "---\nms.date: 05/18/2026\n---\n| Region name | Gateway IP address ranges |\n|---|---|\n"
	for i := range 30 {
		page += fmt.Sprintf("| Gateway Only %02d | 192.0.2.%d/32 |\n", i, i)
	}
	page += "| France Central | 198.51.100.0/29 |\n"
	gateways, err := Import(strings.NewReader(page), "page.md", Options{Source: "page.md"})
	if err != nil {
		t.Fatal(err)
	}
	var values []string
	for i := range 25 {
		values = append(values, sqlValue(fmt.Sprintf("Sql.RedirectOnly%02d", i), fmt.Sprintf(`["203.0.113.%d/32"]`, i)))
	}
	values = append(values, sqlValue("Sql.FranceCentral", `["198.51.100.0/24", "2001:db8::/120"]`))
	sets, err := Import(strings.NewReader(tags(values...)), "ServiceTags_Public_20260928.json", Options{Redirect: true, Source: "ServiceTags_Public_20260928.json"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := AddRedirect(gateways, sets)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Table.Regions) != 56 {
		t.Fatalf("%d regions, want 31 + 25", len(res.Table.Regions))
	}
	france := res.Table.Regions[30]
	if france.Name != "francecentral" || fmt.Sprint(france.Subnets) != "[198.51.100.0/29]" || fmt.Sprint(france.Redirect) != "[198.51.100.0/24 2001:db8::/120]" {
		t.Errorf("francecentral %+v", france)
	}
	if r := res.Table.Regions[0]; r.Name != "gatewayonly00" || len(r.Subnets) != 1 || len(r.Redirect) != 0 {
		t.Errorf("a gateway region without a Redirect set: %+v", r)
	}
	if r := res.Table.Regions[31]; r.Name != "redirectonly00" || r.HasAllow() || fmt.Sprint(r.Redirect) != "[203.0.113.0/32]" {
		t.Errorf("a Redirect set alone: %+v", r)
	}
	tbl := res.Table
	if tbl.Source != "page.md" || tbl.Published.Format(gwtable.DateLayout) != "2026-05-18" || tbl.Serial != 2026051801 ||
		tbl.RedirectSource != "ServiceTags_Public_20260928.json" || tbl.RedirectPublished.Format(gwtable.DateLayout) != "2026-09-28" {
		t.Errorf("provenance: %q %v %d %q %v", tbl.Source, tbl.Published, tbl.Serial, tbl.RedirectSource, tbl.RedirectPublished)
	}
	want := []string{
		"ServiceTags_Public_20260928.json: 30 region(s) of the gateway table have no Sql.<Region> value here; kept without a Redirect set: " +
			"gatewayonly00 gatewayonly01 gatewayonly02 gatewayonly03 gatewayonly04 gatewayonly05 gatewayonly06 gatewayonly07 gatewayonly08 gatewayonly09 " +
			"gatewayonly10 gatewayonly11 gatewayonly12 gatewayonly13 gatewayonly14 gatewayonly15 gatewayonly16 gatewayonly17 gatewayonly18 gatewayonly19 and 10 more",
		"page.md: 25 region(s) with a Sql.<Region> value have no row here; kept with a Redirect set only, no gateways or subnets: " +
			"redirectonly00 redirectonly01 redirectonly02 redirectonly03 redirectonly04 redirectonly05 redirectonly06 redirectonly07 redirectonly08 redirectonly09 " +
			"redirectonly10 redirectonly11 redirectonly12 redirectonly13 redirectonly14 redirectonly15 redirectonly16 redirectonly17 redirectonly18 redirectonly19 and 5 more",
	}
	if got := warningTexts(res); !slices.Equal(got, want) {
		t.Errorf("warnings\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !slices.Contains(res.Header, "1 regions with both sets, 30 with the gateway set only, 25 with the Redirect set only") {
		t.Errorf("header %q", res.Header)
	}
	out := string(res.Bytes())
	if !strings.Contains(out, "\n# NAME [ADDRESS ...] [subnets PREFIX ...] [decommissioning ADDRESS ...] [redirect PREFIX ...]\n") ||
		!strings.Contains(out, "\n$REDIRECT-SOURCE ServiceTags_Public_20260928.json\n$REDIRECT-PUBLISHED 2026-09-28\n") ||
		!strings.Contains(out, "\nfrancecentral subnets 198.51.100.0/29 redirect 198.51.100.0/24 2001:db8::/120\n") {
		t.Errorf("the regions file:\n%s", out)
	}
	// The inputs are left as they were.
	if len(gateways.Table.Regions[30].Redirect) != 0 || len(gateways.Warnings) != 0 {
		t.Errorf("AddRedirect changed its input: %+v", gateways.Table.Regions[30])
	}
}

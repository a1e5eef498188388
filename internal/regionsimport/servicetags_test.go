package regionsimport

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
)

// TestImportServiceTagsFixture imports the Service Tags fixture: the three
// Sql.<Region> values become regions, /32s as gateways in the order listed,
// wider prefixes and IPv6 as subnets; Sql, SqlManagement and
// AzureResourceManager.EastUS are not Sql.<Region>.
func TestImportServiceTagsFixture(t *testing.T) {
	res, err := importFile(t, "servicetags.json", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) != 0 {
		t.Errorf("warnings: %v", res.Warnings)
	}
	if !res.Table.HasSerial || res.Table.Serial != 329 {
		t.Errorf("serial %d (%v), want changeNumber 329", res.Table.Serial, res.Table.HasSerial)
	}
	var names []string
	for _, r := range res.Table.Regions {
		names = append(names, r.Name)
	}
	if want := []string{"australiacentral", "eastus2", "westeurope"}; !slices.Equal(names, want) {
		t.Fatalf("regions %v, want %v", names, want)
	}
	au, east, west := res.Table.Regions[0], res.Table.Regions[1], res.Table.Regions[2]
	if len(au.Addrs) != 0 || len(au.Subnets) != 11 || au.Subnets[7].String() != "2603:1010:304::280/123" {
		t.Errorf("australiacentral: %v subnets %v", au.Addrs, au.Subnets)
	}
	if got := fmt.Sprint(east.Addrs); got != "[40.79.84.180 52.167.117.226 52.177.185.181 52.179.178.184 191.239.224.107 191.239.224.110]" {
		t.Errorf("eastus2 gateways %s", got)
	}
	if len(east.Subnets) != 36 || !slices.Contains(east.Subnets, netip.MustParsePrefix("191.239.224.108/31")) {
		t.Errorf("eastus2 subnets %v: want 36 with the /31", east.Subnets)
	}
	if len(west.Addrs) != 13 {
		t.Errorf("westeurope: %d gateways, want the 13 /32s", len(west.Addrs))
	}
	for _, h := range []string{
		"Imported by mysqlgw-regions from servicetags.json",
		`Service Tags, cloud "Public", changeNumber 329: 3 of 6 values are Sql.<Region>; /32 and /128 prefixes are gateways, wider ones subnets`,
		"$SERIAL 329 from changeNumber",
	} {
		if !slices.Contains(res.Header, h) {
			t.Errorf("header %q lacks %q", res.Header, h)
		}
	}
}

// TestImportServiceTagsTag: -tag picks another service, matched in any case.
func TestImportServiceTagsTag(t *testing.T) {
	res, err := importFile(t, "servicetags.json", Options{Tag: "azureresourcemanager"})
	if err != nil {
		t.Fatal(err)
	}
	if got := body(res); got != "$SERIAL 329\neastus subnets 20.62.130.0/23 40.71.13.224/28 40.79.158.0/23 2603:1030:210::180/122 2603:1030:210:402::280/122\n" {
		t.Errorf("got %q", got)
	}
	res, err = importFile(t, "servicetags.json", Options{Tag: "SQL", Serial: 5, HasSerial: true})
	if err != nil || len(res.Table.Regions) != 3 || res.Table.Serial != 5 || res.Header[len(res.Header)-1] != "$SERIAL 5 from -serial, not 329 from changeNumber" {
		t.Errorf("tag SQL with -serial 5: %d regions, serial %d, header %q: %v", len(res.Table.Regions), res.Table.Serial, res.Header, err)
	}
	if _, err := importFile(t, "servicetags.json", Options{Tag: "Storage"}); err == nil || err.Error() != "servicetags.json: no regions to import" {
		t.Errorf("a tag without values: %v", err)
	}
}

// tags is a Service Tags file with the given values.
func tags(values ...string) string {
	return `{"changeNumber": 12, "cloud": "Public", "values": [` + strings.Join(values, ",") + `]}`
}

// sqlValue is a Sql.<Region> value with the given address prefixes (JSON).
func sqlValue(name, prefixes string) string {
	return `{"name": "` + name + `", "id": "` + name + `", "properties": {"changeNumber": 1, "region": "x", "regionId": 3, "platform": "Azure", "systemService": "AzureSQL", "addressPrefixes": ` + prefixes + `, "networkFeatures": null}}`
}

// TestImportServiceTagsCases covers the reader's branches that succeed.
func TestImportServiceTagsCases(t *testing.T) {
	for _, tc := range []struct {
		name, json, want string
		warnings         []string
	}{
		{"single addresses v4 and v6, mapped", tags(sqlValue("Sql.EastUS2", `["192.0.2.1/32", "2001:db8::1/128", "::ffff:192.0.2.2/128", "2001:db8::/64"]`)),
			"$SERIAL 12\neastus2 192.0.2.1 2001:db8::1 192.0.2.2 subnets 2001:db8::/64\n", nil},
		{"keys in any order, unknown keys skipped", `{"values": [{"properties": {"extra": {"a": [1, {"b": null}]}, "addressPrefixes": ["192.0.2.0/29"]}, "name": "Sql.WestUS", "other": [true, false]}], "future": {"x": 1}, "changeNumber": 3}`,
			"$SERIAL 3\nwestus subnets 192.0.2.0/29\n", nil},
		{"no changeNumber", `{"cloud": "Public", "values": [` + sqlValue("Sql.WestUS", `["192.0.2.0/29"]`) + `]}`,
			"westus subnets 192.0.2.0/29\n", nil},
		{"repeats", tags(sqlValue("Sql.WestUS", `["192.0.2.1/32", "192.0.2.0/29", "192.0.2.1/32", "192.0.2.0/29"]`)),
			"$SERIAL 12\nwestus 192.0.2.1 subnets 192.0.2.0/29\n", []string{
				"in.json: values[0].properties.addressPrefixes[2]: westus: gateway 192.0.2.1 is listed twice; kept once",
				"in.json: values[0].properties.addressPrefixes[3]: westus: subnet 192.0.2.0/29 is listed twice; kept once",
			}},
		{"no prefixes", tags(sqlValue("Sql.WestUS", `[]`), sqlValue("Sql.EastUS", `["192.0.2.0/29"]`)),
			"$SERIAL 12\neastus subnets 192.0.2.0/29\n", []string{"in.json: values[0]: westus has no gateway, subnet or decommissioning address; left out"}},
		{"name alone is not a region", tags(`{"name": "Sql."}`, `{"name": "Sqlx.EastUS"}`, sqlValue("Sql.EastUS", `["192.0.2.0/29"]`)),
			"$SERIAL 12\neastus subnets 192.0.2.0/29\n", nil},
		{"leading blanks and byte order mark", "\uFEFF \n" + tags(sqlValue("Sql.EastUS", `["192.0.2.0/29"]`)) + "\n",
			"$SERIAL 12\neastus subnets 192.0.2.0/29\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Import(strings.NewReader(tc.json), "in.json", Options{})
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

// TestImportServiceTagsSeventeen: a value with more single addresses than a
// region has roles keeps the rest as /32 subnets.
func TestImportServiceTagsSeventeen(t *testing.T) {
	var prefixes []string
	for i := 1; i <= 17; i++ {
		prefixes = append(prefixes, fmt.Sprintf(`"192.0.2.%d/32"`, i))
	}
	res, err := Import(strings.NewReader(tags(sqlValue("Sql.WestEurope", "["+strings.Join(prefixes, ",")+"]"))), "in.json", Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := res.Table.Regions[0]
	if len(r.Addrs) != 16 || len(r.Subnets) != 1 || r.Subnets[0].String() != "192.0.2.17/32" {
		t.Errorf("gateways %v subnets %v", r.Addrs, r.Subnets)
	}
	if got := warningTexts(res); len(got) != 1 || got[0] != "in.json: values[0].properties.addressPrefixes[16]: westeurope: more than 16 gateways; 192.0.2.17 is kept as a subnet" {
		t.Errorf("warnings %q", got)
	}
}

// TestImportServiceTagsErrors: a malformed shape is an error naming the JSON
// path; nothing comes back.
func TestImportServiceTagsErrors(t *testing.T) {
	good := sqlValue("Sql.EastUS", `["192.0.2.0/29"]`)
	for _, tc := range []struct{ name, json, want string }{
		{"not an object", `[1, 2]`, "in.json: the top level: want an object, got an array"},
		{"values not an array", `{"values": {"a": 1}}`, "in.json: values: want an array, got an object"},
		{"values null", `{"values": null}`, "in.json: values: want an array, got null"},
		{"no values", `{"changeNumber": 1}`, "in.json: values: missing: this is not a Service Tags file"},
		{"values twice", `{"values": [], "values": []}`, "in.json: values: given twice"},
		{"value not an object", tags(good, `"Sql.WestUS"`), `in.json: values[1]: want an object, got the string "Sql.WestUS"`},
		{"name not a string", tags(`{"name": 5}`), "in.json: values[0].name: want a string, got the number 5"},
		{"no name", tags(`{"id": "Sql.WestUS"}`), "in.json: values[0]: has no name"},
		{"id not a string", tags(`{"name": "Storage", "id": []}`), "in.json: values[0].id: want a string, got an array"},
		{"no properties", tags(`{"name": "Sql.WestUS"}`), `in.json: values[0]: "Sql.WestUS" has no properties`},
		{"properties not an object", tags(`{"name": "Sql.WestUS", "properties": []}`), "in.json: values[0].properties: want an object, got an array"},
		{"prefix not a string", tags(good, sqlValue("Sql.EastUS2", `[]`), sqlValue("Sql.WestUS", `["192.0.2.0/29", "192.0.2.8/29", "192.0.2.16/29", 7]`)), "in.json: values[2].properties.addressPrefixes[3]: want a string, got the number 7"},
		{"prefixes not an array", tags(sqlValue("Sql.WestUS", `"192.0.2.0/29"`)), `in.json: values[0].properties.addressPrefixes: want an array of strings, got the string "192.0.2.0/29"`},
		{"prefixes null", tags(sqlValue("Sql.WestUS", `null`)), "in.json: values[0].properties.addressPrefixes: want an array of strings, got null"},
		{"not a prefix", tags(sqlValue("Sql.WestUS", `["192.0.2.0/29", "192.0.2.1"]`)), `in.json: values[0].properties.addressPrefixes[1]: "192.0.2.1" is an address; a subnet is a prefix such as 104.208.150.192/29`},
		{"host bits", tags(sqlValue("Sql.WestUS", `["192.0.2.1/29"]`)), `in.json: values[0].properties.addressPrefixes[0]: prefix 192.0.2.1/29 has host bits set`},
		{"multicast address", tags(sqlValue("Sql.WestUS", `["224.0.0.1/32"]`)), `in.json: values[0].properties.addressPrefixes[0]: prefix 224.0.0.1/32 is not a subnet of host addresses`},
		{"bad region name", tags(sqlValue("Sql.West_US", `["192.0.2.0/29"]`)), `in.json: values[0].name: "Sql.West_US": region name "west_us": only letters`},
		{"reserved region name", tags(sqlValue("Sql.All", `["192.0.2.0/29"]`)), `in.json: values[0].name: "Sql.All": region name "all" is reserved`},
		{"region twice", tags(good, sqlValue("Sql.eastus", `["192.0.2.8/29"]`)), "in.json: values[1].name: region eastus is already values[0]"},
		{"networkFeatures a number", tags(`{"name": "Storage", "properties": {"networkFeatures": 1}}`), "in.json: values[0].properties.networkFeatures: want an array of strings, got the number 1"},
		{"networkFeatures of numbers", tags(`{"name": "Storage", "properties": {"networkFeatures": [1]}}`), "in.json: values[0].properties.networkFeatures[0]: want a string, got the number 1"},
		{"regionId a string", tags(`{"name": "Storage", "properties": {"regionId": "3"}}`), `in.json: values[0].properties.regionId: want a number, got the string "3"`},
		{"region a number", tags(`{"name": "Storage", "properties": {"region": 3}}`), "in.json: values[0].properties.region: want a string, got the number 3"},
		{"changeNumber a string", `{"changeNumber": "329", "values": []}`, `in.json: changeNumber: want a number, got the string "329"`},
		{"changeNumber negative", `{"changeNumber": -1, "values": [` + good + `]}`, "in.json: changeNumber: -1 is not a serial"},
		{"changeNumber too large", `{"changeNumber": 4294967296, "values": [` + good + `]}`, "in.json: changeNumber: 4294967296 is not a serial"},
		{"cloud a bool", `{"cloud": true, "values": []}`, "in.json: cloud: want a string, got true"},
		{"syntax", `{"values": [` + good + `,]}`, "in.json: offset"},
		{"data after the object", tags(good) + ` {}`, "in.json: offset"},
		{"truncated in the header", tags(good)[:40], "in.json: truncated: the input ends inside the top-level object"},
		{"truncated in a value", tags(good)[:70], "in.json: truncated: the input ends inside values[0]"},
		{"truncated in a prefix list", cut(tags(sqlValue("Sql.WestUS", `["192.0.2.0/29", "192.0.2.8/29"]`)), `"192.0.2.0/29", `), "in.json: truncated: the input ends inside values[0].properties.addressPrefixes[1]"},
		{"truncated in an unknown key", `{"future": {"a": [1, `, "in.json: truncated: the input ends inside future"},
		{"truncated in a value's unknown key", `{"values": [{"name": "Storage", "tags": [`, "in.json: truncated: the input ends inside values[0].tags"},
		{"truncated in properties", `{"values": [{"name": "Storage", "properties": {"region": "x", `, "in.json: truncated: the input ends inside values[0].properties"},
		{"truncated after the values", tags(good)[:len(tags(good))-1], "in.json: truncated: the input ends inside the top-level object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Import(strings.NewReader(tc.json), "in.json", Options{})
			if err == nil {
				t.Fatalf("no error; imported:\n%s", res.Bytes())
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to contain %q", err, tc.want)
			}
			if len(res.Table.Regions) != 0 {
				t.Errorf("an error came with regions: %v", res.Table.Regions)
			}
		})
	}
}

// cut returns s up to and with the first after.
func cut(s, after string) string {
	i := strings.Index(s, after)
	return s[:i+len(after)]
}

// TestImportServiceTagsTruncated: a Service Tags file cut anywhere is an error,
// never a partial table.
func TestImportServiceTagsTruncated(t *testing.T) {
	content, err := os.ReadFile(filepath.Join(fixtures, "servicetags.json"))
	if err != nil {
		t.Fatal(err)
	}
	end := len(strings.TrimRight(string(content), "\n"))
	for n := 1; n < end; n++ {
		if res, err := Import(strings.NewReader(string(content[:n])), "cut.json", Options{}); err == nil {
			t.Fatalf("cut at byte %d of %d: no error, %d regions", n, end, len(res.Table.Regions))
		}
	}
}

// TestImportTooLarge: input past the bound is an error, for both readers.
func TestImportTooLarge(t *testing.T) {
	content, err := os.ReadFile(filepath.Join(fixtures, "servicetags.json"))
	if err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(fixtures, "mysql-2019.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range [][]byte{content, page} {
		limit := int64(len(in))
		if _, err := importLimited(bytes.NewReader(in), "in", Options{}, limit); err != nil {
			t.Errorf("%d bytes with a limit of %d: %v", len(in), limit, err)
		}
		_, err := importLimited(bytes.NewReader(in), "in", Options{}, limit-1)
		if want := fmt.Sprintf("in: larger than %d bytes", limit-1); err == nil || err.Error() != want {
			t.Errorf("%d bytes with a limit of %d: error %v, want %q", len(in), limit-1, err, want)
		}
	}
}

// failingReader returns data, then err.
type failingReader struct {
	data []byte
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

// TestImportReadErrors: an input that fails to read is an error naming it,
// at the start or in the middle of a JSON file; so is JSON past the limit
// in the middle of a token.
func TestImportReadErrors(t *testing.T) {
	broken := errors.New("disk on fire")
	for _, tc := range []struct {
		data string
		want string
	}{
		{"", "in: disk on fire"},
		{`{"values": [`, "in: in values: disk on fire"},
		{"# page\n", "in: disk on fire"},
	} {
		_, err := Import(&failingReader{[]byte(tc.data), broken}, "in", Options{})
		if err == nil || err.Error() != tc.want || !errors.Is(err, broken) {
			t.Errorf("%q: error %v, want %q", tc.data, err, tc.want)
		}
	}
	content := tags(sqlValue("Sql.EastUS", `["192.0.2.0/29"]`))
	_, err := importLimited(strings.NewReader(content), "in", Options{}, int64(len(content)/2))
	if want := fmt.Sprintf("in: larger than %d bytes", len(content)/2); err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
}

// TestImportResultBytes: the header comments, $SERIAL, the format line, then the
// regions, as gwtable.Parse reads them.
func TestImportResultBytes(t *testing.T) {
	res, err := importFile(t, "mysql-2019.md", Options{})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(res.Bytes()), "\n")
	want := []string{
		"# Imported by mysqlgw-regions from mysql-2019.md",
		"# the table on line 16, in the MySQL 2019 form (Region Name | Primary IP Address | Secondary IP Address): 7 regions",
		"# line 28: tertiary 52.167.104.0 for eastus2",
		"# $PUBLISHED 2019-05-22 from ms.date on line 8",
		"# $SERIAL 2019052201 from ms.date on line 8",
		"$SERIAL 2019052201",
		"$PUBLISHED 2019-05-22",
		"# NAME [ADDRESS ...] [subnets PREFIX ...] [decommissioning ADDRESS ...]",
		"brazilsouth 104.41.11.5",
	}
	if !slices.Equal(lines[:len(want)], want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(lines[:len(want)], "\n"), strings.Join(want, "\n"))
	}
	table, err := gwtable.Parse(res.Bytes(), "out")
	if err != nil || len(table.Regions) != 7 {
		t.Errorf("reads back as %d regions: %v", len(table.Regions), err)
	}
}

// TestImportServiceTagsKeepsBounded: selected names and prefixes past what a
// regions file may hold are an error naming where, read no further.
func TestImportServiceTagsKeepsBounded(t *testing.T) {
	in := worstServiceTags("prefixes", gwtable.MaxFileSize*5/4)
	_, err := Import(bytes.NewReader(in), "in.json", Options{})
	want := fmt.Sprintf("the Sql.<Region> values hold more than %d bytes of names and prefixes, more than a regions file the server reads", gwtable.MaxFileSize)
	if err == nil || !strings.HasPrefix(err.Error(), "in.json: values[0].properties.addressPrefixes[") || !strings.HasSuffix(err.Error(), want) {
		t.Errorf("error %v, want the path and %q", err, want)
	}
}

// TestFinishOutputBounded: a table whose regions file is larger than the
// server reads is an error, not a file that would not load.
func TestFinishOutputBounded(t *testing.T) {
	var res Result
	for i := 0; res.Table.Regions == nil || len(res.Table.Regions)*24 < gwtable.MaxFileSize; i++ {
		res.Table.Regions = append(res.Table.Regions, gwtable.Region{
			Name:    fmt.Sprintf("r%d", i),
			Subnets: []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 32)},
		})
	}
	_, err := finish(res, "in", Options{})
	if err == nil || !strings.HasSuffix(err.Error(), fmt.Sprintf("bytes, more than the %d the server reads", gwtable.MaxFileSize)) {
		t.Errorf("error %v", err)
	}
}

package fetch

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
)

// The tests of fetch -redirect: Azure SQL's include and the Service Tags
// file, served by the stand-in (newMicrosoft) from real copies, written
// as one table of both sets.

// redirectOptions fetch the include and, through the download page, the
// Service Tags file, into file.
func redirectOptions(ms *microsoft, file string) Options {
	return Options{File: file, URL: ms.URL + "/include.md", Redirect: true, TagsURL: ms.URL + "/details.aspx?id=56519"}
}

// tagsFileURL is where the stand-in's download page links to.
func tagsFileURL(ms *microsoft) string {
	return ms.URL + "/download/7/1/d/71d86715-5596-4529-9b13-da13a5de5b63/ServiceTags_Public_20260928.json"
}

// sqlValue is the addressPrefixes of the Service Tags fixture's value name,
// decoded with encoding/json and parsed by net/netip, in the order listed.
func sqlValue(t *testing.T, name string) []netip.Prefix {
	t.Helper()
	var doc struct {
		Values []struct {
			Name       string
			Properties struct{ AddressPrefixes []string }
		}
	}
	if err := json.Unmarshal(readFixture(t, "import/servicetags.json"), &doc); err != nil {
		t.Fatal(err)
	}
	for _, v := range doc.Values {
		if v.Name == name {
			var prefixes []netip.Prefix
			for _, s := range v.Properties.AddressPrefixes {
				prefixes = append(prefixes, netip.MustParsePrefix(s))
			}
			return prefixes
		}
	}
	t.Fatalf("the fixture has no value %s", name)
	return nil
}

// includeRanges is the ranges of a row of the include fixture, read by
// hand: "| East US 2 | 20.62.58.128/27, 40.70.144.192/29, … |".
func includeRanges(t *testing.T, title string) []netip.Prefix {
	t.Helper()
	for _, line := range strings.Split(string(readFixture(t, "import/sql-2026-include.md")), "\n") {
		if cells := strings.Split(line, "|"); len(cells) == 4 && strings.TrimSpace(cells[1]) == title {
			var prefixes []netip.Prefix
			for _, s := range strings.Split(cells[2], ",") {
				prefixes = append(prefixes, netip.MustParsePrefix(strings.TrimSpace(s)))
			}
			return prefixes
		}
	}
	t.Fatalf("the include has no row %q", title)
	return nil
}

func region(t *testing.T, table gwtable.Table, name string) gwtable.Region {
	t.Helper()
	for _, r := range table.Regions {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no region %s", name)
	return gwtable.Region{}
}

// sameAddresses reports whether two lists of prefixes cover exactly the
// same addresses.
func sameAddresses(a, b []netip.Prefix) bool {
	return slices.Equal(gwtable.Aggregate(a), gwtable.Aggregate(b))
}

// TestFetchRedirectSet: one run writes both sets: for each region of both
// sources its include ranges as subnets and exactly its Sql.<Region>
// prefixes, IPv4 and IPv6, as its Redirect set; $SOURCE and $PUBLISHED from
// the include, $REDIRECT-SOURCE (the file the page linked to) and
// $REDIRECT-PUBLISHED from the Service Tags file, the serial from the later
// date. The gateway regions without a Sql.<Region> value are kept, named in
// one warning. The next run finds the table unchanged.
func TestFetchRedirectSet(t *testing.T) {
	ms := newMicrosoft(t)
	file := filepath.Join(t.TempDir(), "regions")
	opt := redirectOptions(ms, file)
	out, err := run(t, opt)
	if err != nil || !out.Written {
		t.Fatalf("%+v %v", out, err)
	}
	if want := "wrote " + file + ": 71 regions, 3 with a Redirect set, serial 2026092801, from " + opt.URL + " and " + tagsFileURL(ms) + "\n"; out.Text != want {
		t.Errorf("reported %q\nwant     %q", out.Text, want)
	}
	table := parseFile(t, file)
	if table.Source != opt.URL || table.Published.Format(gwtable.DateLayout) != "2026-05-18" ||
		table.RedirectSource != tagsFileURL(ms) || table.RedirectPublished.Format(gwtable.DateLayout) != "2026-09-28" || table.Serial != 2026092801 {
		t.Errorf("provenance: %q %v, %q %v, serial %d", table.Source, table.Published, table.RedirectSource, table.RedirectPublished, table.Serial)
	}
	withSet := 0
	for _, r := range table.Regions {
		if len(r.Redirect) > 0 {
			withSet++
		}
	}
	if len(table.Regions) != 71 || withSet != 3 {
		t.Errorf("%d regions, %d with a Redirect set; want 71 and 3", len(table.Regions), withSet)
	}
	for _, tc := range []struct{ name, title, tag string }{
		{"eastus2", "East US 2", "Sql.EastUS2"},
		{"australiacentral", "Australia Central", "Sql.AustraliaCentral"},
		{"westeurope", "West Europe", "Sql.WestEurope"},
	} {
		r := region(t, table, tc.name)
		want := sqlValue(t, tc.tag)
		if !slices.Equal(r.Subnets, includeRanges(t, tc.title)) || len(r.Addrs)+len(r.Decommissioning) != 0 {
			t.Errorf("%s: subnets %v, gateways %v, decommissioning %v; want the include's %v", tc.name, r.Subnets, r.Addrs, r.Decommissioning, includeRanges(t, tc.title))
		}
		if !slices.Equal(r.Redirect, want) || !sameAddresses(r.Redirect, want) {
			t.Errorf("%s: redirect %v\nwant %s's %v", tc.name, r.Redirect, tc.tag, want)
		}
		v4, v6 := gwtable.Size(gwtable.Aggregate(r.Redirect))
		if v4 == 0 || v6 == 0 {
			t.Errorf("%s: the Redirect set covers %v IPv4 and %v IPv6 addresses; the tag has both", tc.name, v4, v6)
		}
	}
	if r := region(t, table, "eastus"); len(r.Redirect) != 0 || !slices.Equal(r.Subnets, includeRanges(t, "East US")) {
		t.Errorf("eastus, of the include only: %+v", r)
	}
	wantWarning := tagsFileURL(ms) + ": 68 region(s) of the gateway table have no Sql.<Region> value here; kept without a Redirect set: australiacentral2 australiaeast "
	if len(out.Warnings) != 5 || !strings.HasPrefix(out.Warnings[4], wantWarning) || !strings.HasSuffix(out.Warnings[4], " and 48 more") {
		t.Errorf("warnings:\n%s\nwant the include's 4 and one starting %q", strings.Join(out.Warnings, "\n"), wantWarning)
	}

	// An hour back, so that a rewrite would show in the modification time.
	past := time.Now().Add(-time.Hour)
	if err := os.Chtimes(file, past, past); err != nil {
		t.Fatal(err)
	}
	before := snap(t, file)
	if out, err := run(t, opt); err != nil || out.Written || out.Text != "unchanged\n" {
		t.Fatalf("second run: %+v %v", out, err)
	}
	before.same(t, file, "an unchanged run")

	// The file itself as -tags-url: read directly.
	direct := filepath.Join(t.TempDir(), "direct")
	opt.File, opt.TagsURL = direct, tagsFileURL(ms)
	if out, err := run(t, opt); err != nil || !out.Written {
		t.Fatalf("direct: %+v %v", out, err)
	}
	if a, b := parseFile(t, file), parseFile(t, direct); a.Hash() != b.Hash() {
		t.Error("the file read directly gives another table than through the page")
	}
}

// TestFetchRedirectOneSource: a region of one source only is kept as it
// is, each source's missing regions named in one warning; a value matches
// by its name's suffix, not by properties.region.
func TestFetchRedirectOneSource(t *testing.T) {
	ms := newMicrosoft(t)
	westEurope := "| West Europe | 13.69.112.168/29, 20.61.99.192/27, 52.236.184.32/29, 104.40.169.32/29 |\n"
	ms.serve(t, func(s string) string { return strings.Replace(s, westEurope, "", 1) })
	const france = `{"name": "Sql.FranceCentral", "id": "Sql.FranceCentral", "properties": {"changeNumber": 1, "region": "westeurope", "regionId": 5, "platform": "Azure", "systemService": "AzureSQL", "addressPrefixes": ["40.79.128.0/25", "2603:1020:805::/123"], "networkFeatures": null}},`
	ms.serveTags(t, func(s string) string { return strings.Replace(s, `"values": [`, `"values": [`+france, 1) })
	file := filepath.Join(t.TempDir(), "regions")
	out, err := run(t, redirectOptions(ms, file))
	if err != nil || !out.Written {
		t.Fatalf("%+v %v", out, err)
	}
	table := parseFile(t, file)
	if r := region(t, table, "westeurope"); r.HasAllow() || !slices.Equal(r.Redirect, sqlValue(t, "Sql.WestEurope")) {
		t.Errorf("westeurope, of the Service Tags only: %+v", r)
	}
	if r := region(t, table, "francecentral"); !slices.Equal(r.Subnets, includeRanges(t, "France Central")) || fmt.Sprint(r.Redirect) != "[40.79.128.0/25 2603:1020:805::/123]" {
		t.Errorf("francecentral: %+v", r)
	}
	want := []string{
		tagsFileURL(ms) + ": 67 region(s) of the gateway table have no Sql.<Region> value here; kept without a Redirect set: australiacentral2 australiaeast australiasoutheast austriaeast belgiumcentral brazilsouth brazilsoutheast canadacentral canadaeast centralindia centralus centraluseuap chilecentral denmarkeast eastasia eastus eastus2euap eastus3 francesouth germanynorth and 47 more",
		ms.URL + "/include.md: 1 region(s) with a Sql.<Region> value have no row here; kept with a Redirect set only, no gateways or subnets: westeurope",
	}
	if len(out.Warnings) != 6 || !slices.Equal(out.Warnings[4:], want) {
		t.Errorf("warnings:\n%s\nwant the include's 4 and\n%s", strings.Join(out.Warnings, "\n"), strings.Join(want, "\n"))
	}
}

// TestFetchRedirectGuard: the guard measures each set on its own. A
// Redirect set that shrinks past -max-drop, loses a region or grows past
// -max-grow is refused, naming the Redirect set, while the gateway set is
// unchanged; a gateway set refused names the gateway set alone; FILE keeps
// its bytes and modification time, and -force writes.
func TestFetchRedirectGuard(t *testing.T) {
	ms := newMicrosoft(t)
	file := filepath.Join(t.TempDir(), "regions")
	opt := redirectOptions(ms, file)
	if _, err := run(t, opt); err != nil {
		t.Fatal(err)
	}
	unchanged := func(s string) string { return s }
	for _, tc := range []struct {
		name          string
		include, tags func(string) string
		refuse        string // in the message; "" to be written
		not           string // not in the message
	}{
		{"two /24s of Sql.EastUS2 gone", unchanged, func(s string) string {
			return strings.NewReplacer(`"20.15.12.0/24",`, "", `"104.208.198.0/24",`, "").Replace(s)
		}, "refused: " + file + " left as it is: Redirect set: it would stop covering 512 of 4555 IPv4 addresses (11.2%, more than -max-drop 10%); Redirect set: prefixes no longer listed: 20.15.12.0/24 104.208.198.0/24; review the change", "gateway set"},
		{"one /24 gone, within -max-drop", unchanged, func(s string) string { return strings.Replace(s, `"20.15.12.0/24",`, "", 1) }, "", ""},
		{"Sql.AustraliaCentral gone", unchanged, func(s string) string {
			return strings.Replace(s, `"name": "Sql.AustraliaCentral"`, `"name": "Other.AustraliaCentral"`, 1)
		}, "Redirect set: 1 region(s) would no longer have one: australiacentral;", "gateway set"},
		// 65,536 addresses, of which FILE covers the /24 typed over and a /25.
		{"a range of Sql.EastUS2 typed as a /16", unchanged, func(s string) string {
			return strings.Replace(s, `"20.15.12.0/24",`, `"20.15.0.0/16",`, 1)
		}, "Redirect set: it would start covering 65152 IPv4 addresses beyond FILE's 4555 (+1430.3%, more than -max-grow 100%); Redirect set: prefixes newly listed: 20.15.0.0/16;", "gateway set"},
		{"a gateway region gone, the Redirect sets as they were", func(s string) string {
			return strings.Replace(s, "| Norway West | 51.13.136.224/27, 51.120.217.32/29 |\n", "", 1)
		}, unchanged, "gateway set: 1 region(s) would no longer have one: norwaywest; gateway set: addresses and prefixes no longer listed: 51.13.136.224/27 51.120.217.32/29;", "Redirect set:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms.serve(t, tc.include)
			ms.serveTags(t, tc.tags)
			before := snap(t, file)
			out, err := run(t, opt)
			if err != nil {
				t.Fatal(err)
			}
			if tc.refuse == "" {
				if !out.Written || out.Refused || !strings.Contains(out.Text, "eastus2\n  - redirect 20.15.12.0/24\n") {
					t.Fatalf("not written: %+v", out)
				}
			} else {
				refusal, _, _ := strings.Cut(out.Text, "\n")
				if !out.Refused || out.Written || !strings.Contains(refusal, tc.refuse) || strings.Contains(refusal, tc.not) {
					t.Fatalf("outcome %+v, want a refusal saying %q and not %q", out, tc.refuse, tc.not)
				}
				before.same(t, file, "a refusal")
				forced := opt
				forced.Force = true
				if out, err := run(t, forced); err != nil || !out.Written {
					t.Fatalf("-force: %+v %v", out, err)
				}
			}
			ms.serve(t, unchanged)
			ms.serveTags(t, unchanged)
			forced := opt
			forced.Force = true
			if out, err := run(t, forced); err != nil || !out.Written { // back to the whole table
				t.Fatalf("restore: %+v %v", out, err)
			}
		})
	}
}

// TestFetchRedirectSwitch: the first run with -redirect over a FILE
// without Redirect sets adds them all and is no shrink or growth of the
// Redirect set; a run without -redirect over a FILE with them would remove
// them, which the guard refuses, saying why.
func TestFetchRedirectSwitch(t *testing.T) {
	ms := newMicrosoft(t)
	file := filepath.Join(t.TempDir(), "regions")
	if _, err := run(t, Options{File: file, URL: ms.URL + "/include.md"}); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, redirectOptions(ms, file))
	if err != nil || !out.Written || !strings.Contains(out.Text, "~ $REDIRECT-PUBLISHED 2026-09-28 (was (none))\n") || !strings.Contains(out.Text, "eastus2\n  + redirect 20.15.10.0/25\n") {
		t.Fatalf("switching to -redirect: %+v %v", out, err)
	}
	before := snap(t, file)
	out, err = run(t, Options{File: file, URL: ms.URL + "/include.md"})
	want := "Redirect set: 3 region(s) would no longer have one: australiacentral westeurope eastus2; "
	if err != nil || !out.Refused || !strings.Contains(out.Text, want) || !strings.Contains(out.Text, "; Redirect set: FILE has Redirect sets, which fetch writes only with -redirect;") {
		t.Fatalf("a run without -redirect: %+v %v", out, err)
	}
	before.same(t, file, "a run without -redirect")
}

// TestFetchRedirectErrors: a failed download of either source, a page
// without the link and a prefix wider than a table holds are errors naming
// the URL, and FILE stays as it was, or absent.
func TestFetchRedirectErrors(t *testing.T) {
	ms := newMicrosoft(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "regions")
	if _, err := run(t, redirectOptions(ms, file)); err != nil {
		t.Fatal(err)
	}
	before := snap(t, file)
	for _, tc := range []struct {
		name, url, tagsURL, want string
	}{
		{"the Service Tags file missing", "/include.md", "/download/ServiceTags_Public_20261005.json", ms.URL + "/download/ServiceTags_Public_20261005.json: HTTP status 404 Not Found"},
		{"the download page missing", "/include.md", "/details.aspx/gone", ms.URL + "/details.aspx/gone: HTTP status 404 Not Found"},
		{"the include missing", "/missing.md", "/details.aspx", ms.URL + "/missing.md: HTTP status 404 Not Found"},
		{"a page without the link", "/include.md", "/include.md", ms.URL + "/include.md: no link to a ServiceTags_Public_YYYYMMDD.json file on the page"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, f := range []string{file, filepath.Join(dir, "absent")} {
				opt := Options{File: f, URL: ms.URL + tc.url, Redirect: true, TagsURL: ms.URL + tc.tagsURL}
				if _, err := run(t, opt); err == nil || err.Error() != tc.want {
					t.Errorf("error %v\nwant  %s", err, tc.want)
				}
			}
			before.same(t, file, tc.name)
			if _, err := os.Stat(filepath.Join(dir, "absent")); !os.IsNotExist(err) {
				t.Errorf("a FILE absent was written: %v", err)
			}
		})
	}
	ms.serveTags(t, func(s string) string { return strings.Replace(s, `"52.167.111.144/28"`, `"52.0.0.0/8"`, 1) })
	want := tagsFileURL(ms) + ": values[3].properties.addressPrefixes[14]: prefix 52.0.0.0/8 is wider than /16, the widest IPv4 subnet a table may hold"
	if _, err := run(t, Options{File: file, URL: ms.URL + "/include.md", Redirect: true, TagsURL: ms.URL + "/details.aspx", Force: true}); err == nil || err.Error() != want {
		t.Errorf("a /8 in Sql.EastUS2: %v\nwant %s", err, want)
	}
	before.same(t, file, "a /8 in Sql.EastUS2")
}

// TestFetchRedirectTimeout: the run's timeout covers both downloads and
// both imports: when it passes in a step of the Service Tags side, Run ends
// at once saying so, and FILE is left as it was.
func TestFetchRedirectTimeout(t *testing.T) {
	ms := newMicrosoft(t)
	file := filepath.Join(t.TempDir(), "regions")
	if _, err := run(t, redirectOptions(ms, file)); err != nil {
		t.Fatal(err)
	}
	ms.serveTags(t, func(s string) string { return strings.Replace(s, `"20.15.12.0/24",`, "", 1) }) // a change the guard lets through
	before := snap(t, file)
	for _, step := range []string{
		"downloading " + ms.URL + "/details.aspx?id=56519",
		"downloading " + tagsFileURL(ms),
		"importing " + tagsFileURL(ms),
	} {
		t.Run(step, func(t *testing.T) {
			ctx := newExpiring()
			release, ended := make(chan struct{}), make(chan struct{})
			opt := redirectOptions(ms, file)
			opt.MaxDrop, opt.MaxGrow = 10, 100
			opt.hook = func(s string) {
				switch {
				case s == "ended":
					close(ended)
				case s == step:
					ctx.expire()
					<-release
				}
			}
			_, err := Run(ctx, opt)
			if want := "not done within the timeout (while " + step + "): " + file + " is left as it is"; err == nil || err.Error() != want {
				t.Errorf("error %v\nwant  %s", err, want)
			}
			close(release)
			select {
			case <-ended:
			case <-time.After(30 * time.Second):
				t.Fatal("the abandoned work did not end")
			}
			before.same(t, file, "a timeout")
		})
	}
}

// TestFetchRedirectOptions: -redirect with -source service-tags or with a
// tag, and -tags-url without -redirect, are errors naming why; nothing is
// downloaded or written.
func TestFetchRedirectOptions(t *testing.T) {
	file := filepath.Join(t.TempDir(), "regions")
	for _, tc := range []struct {
		opt  Options
		want string
	}{
		{Options{Redirect: true, Source: ServiceTags}, "-redirect adds the Service Tags file's Sql.<Region> values to Azure SQL's gateway table as Redirect sets: it takes -source azure-sql, not service-tags (which makes a tag's values the gateway set)"},
		{Options{Redirect: true, Tag: "Sql"}, "-redirect reads the Sql.<Region> values, always: -tag is for -source service-tags"},
		{Options{TagsURL: "http://127.0.0.1:1/details.aspx"}, "-tags-url is where -redirect finds the Service Tags file: give -redirect too"},
	} {
		tc.opt.File, tc.opt.URL = file, "http://127.0.0.1:1/include.md"
		if _, err := Run(context.Background(), tc.opt); err == nil || err.Error() != tc.want {
			t.Errorf("%+v: error %v\nwant %s", tc.opt, err, tc.want)
		}
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("FILE written: %v", err)
	}
}

package regionsimport

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// ipLiteral finds what a reader of the page would take for an address or
// prefix: dotted quads, and hex groups with colons, with an optional length.
var ipLiteral = regexp.MustCompile(`[0-9]{1,3}(?:\.[0-9]{1,3}){3}(?:/[0-9]{1,3})?|[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:/[0-9]{1,3})?`)

// TestNothingDroppedSilently: every address and prefix of every fixture (for
// Service Tags, of the selected tag's values) reaches the regions file, or a
// warning that names it.
func TestNothingDroppedSilently(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(fixtures, "*"))
	if err != nil || len(files) < 8 {
		t.Fatalf("fixtures %v: %v", files, err)
	}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			content, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			res, err := Import(strings.NewReader(string(content)), name, Options{})
			if err != nil {
				t.Fatal(err)
			}
			out := make(map[netip.Prefix]bool)
			for _, r := range res.Table.Regions {
				for _, a := range append(append([]netip.Addr(nil), r.Addrs...), r.Decommissioning...) {
					out[netip.PrefixFrom(a, a.BitLen())] = true
				}
				for _, p := range r.Subnets {
					out[p] = true
				}
			}
			var warned strings.Builder
			for _, w := range res.Warnings {
				warned.WriteString(w.String() + "\n")
			}
			candidates := inputLiterals(t, name, content)
			checked := 0
			for _, lit := range candidates {
				p, ok := asPrefix(lit)
				if !ok {
					continue // a time, a version: not an address
				}
				checked++
				if !out[p] && !strings.Contains(warned.String(), lit) {
					t.Errorf("%s is neither in the regions file nor in a warning", lit)
				}
			}
			if checked == 0 {
				t.Fatal("no address found in the fixture")
			}
		})
	}
}

// inputLiterals lists the literals the import must account for: every one
// on a page; a Service Tags file's selected values.
func inputLiterals(t *testing.T, name string, content []byte) []string {
	if !strings.HasSuffix(name, ".json") {
		return ipLiteral.FindAllString(string(content), -1)
	}
	var lits []string
	for _, v := range decodeValues(t, content) {
		if strings.HasPrefix(v.Name, DefaultTag+".") {
			lits = append(lits, v.Properties.AddressPrefixes...)
		}
	}
	return lits
}

// tagValue is a value of a Service Tags file, as the tests need it.
type tagValue struct {
	Name       string
	Properties struct{ AddressPrefixes []string }
}

// decodeValues decodes a Service Tags file's values with encoding/json, a
// reader of its own.
func decodeValues(t *testing.T, content []byte) []tagValue {
	t.Helper()
	var doc struct{ Values []tagValue }
	if err := json.Unmarshal(content, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Values
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	content, err := os.ReadFile(filepath.Join(fixtures, name))
	if err != nil {
		t.Fatal(err)
	}
	return content
}

// TestNothingDroppedWithRedirect: a table of both sets, from Microsoft's
// include and the Service Tags fixture (as they are, and edited so that
// each source has a region the other lacks and a prefix listed twice),
// holds every address and prefix of the include and every prefix of every
// Sql.<Region> value, or a warning names it; and every region of either
// source is in the table.
func TestNothingDroppedWithRedirect(t *testing.T) {
	include, tagsFile := readFixture(t, "sql-2026-include.md"), readFixture(t, "servicetags.json")
	edited := strings.Replace(string(include), "| West Europe | 13.69.112.168/29, 20.61.99.192/27, 52.236.184.32/29, 104.40.169.32/29 |\n", "", 1)
	editedTags := strings.Replace(string(tagsFile), `"20.15.10.0/25",`, `"20.15.10.0/25", "20.15.10.0/25", "2603:1030:40c::320/123",`, 1)
	if edited == string(include) || editedTags == string(tagsFile) {
		t.Fatal("the fixtures changed: nothing to edit")
	}
	for _, tc := range []struct{ name, include, tags string }{
		{"as recorded", string(include), string(tagsFile)},
		{"edited", edited, editedTags},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gateways, err := Import(strings.NewReader(tc.include), "include.md", Options{})
			if err != nil {
				t.Fatal(err)
			}
			sets, err := Import(strings.NewReader(tc.tags), "ServiceTags_Public_20260928.json", Options{Redirect: true})
			if err != nil {
				t.Fatal(err)
			}
			res, err := AddRedirect(gateways, sets)
			if err != nil {
				t.Fatal(err)
			}
			allow, redirect := make(map[netip.Prefix]bool), make(map[netip.Prefix]bool)
			regions := make(map[string]bool)
			for _, r := range res.Table.Regions {
				regions[r.Name] = true
				for _, a := range append(append([]netip.Addr(nil), r.Addrs...), r.Decommissioning...) {
					allow[netip.PrefixFrom(a, a.BitLen())] = true
				}
				for _, p := range r.Subnets {
					allow[p] = true
				}
				for _, p := range r.Redirect {
					redirect[p] = true
				}
			}
			var warned strings.Builder
			for _, w := range res.Warnings {
				warned.WriteString(w.String() + "\n")
			}
			for source, lits := range map[string][]string{
				"include.md":       inputLiterals(t, "include.md", []byte(tc.include)),
				"servicetags.json": inputLiterals(t, "servicetags.json", []byte(tc.tags)),
			} {
				in := allow
				if source == "servicetags.json" {
					in = redirect
				}
				checked := 0
				for _, lit := range lits {
					p, ok := asPrefix(lit)
					if !ok {
						continue
					}
					checked++
					if !in[p] && !strings.Contains(warned.String(), lit) {
						t.Errorf("%s: %s is neither in the regions file nor in a warning", source, lit)
					}
				}
				if checked < 100 {
					t.Errorf("%s: only %d addresses checked", source, checked)
				}
			}
			for _, r := range append(gateways.Table.Regions, sets.Table.Regions...) {
				if !regions[r.Name] {
					t.Errorf("region %s left out", r.Name)
				}
			}
		})
	}
}

func asPrefix(lit string) (netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(lit); err == nil {
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), true
	}
	a, err := netip.ParseAddr(lit)
	if err != nil {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), true
}

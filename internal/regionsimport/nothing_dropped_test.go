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
	var doc struct {
		Values []struct {
			Name       string
			Properties struct{ AddressPrefixes []string }
		}
	}
	if err := json.Unmarshal(content, &doc); err != nil {
		t.Fatal(err)
	}
	var lits []string
	for _, v := range doc.Values {
		if strings.HasPrefix(v.Name, DefaultTag+".") {
			lits = append(lits, v.Properties.AddressPrefixes...)
		}
	}
	return lits
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

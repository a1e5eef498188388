package regionsimport

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
)

// addFixtures seeds f with the fixtures whose names end in ext, each as it
// is and, when prose can be dropped, without its paragraphs: smaller seeds
// are minimized sooner, and the fuzzer gets to mutating them.
func addFixtures(f *testing.F, ext string) {
	paths, err := filepath.Glob(filepath.Join(fixtures, "*"+ext))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no %s fixtures: %v", ext, err)
	}
	for _, p := range paths {
		content, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(content)
		var kept [][]byte
		for _, line := range bytes.SplitAfter(content, []byte("\n")) {
			if len(line) < 100 || bytes.Contains(line, []byte("|")) {
				kept = append(kept, line)
			}
		}
		if short := bytes.Join(kept, nil); len(short) < len(content) {
			f.Add(short)
		}
	}
}

// checkImported holds any successful import to its promises: the file reads
// back with gwtable.Parse as the same regions and serial, and every
// warning names the source.
func checkImported(t *testing.T, res Result, source string) {
	t.Helper()
	back, err := gwtable.Parse(res.Bytes(), "out")
	if err != nil {
		t.Fatalf("the imported file does not load: %v\n%s", err, res.Bytes())
	}
	if len(back.Regions) != len(res.Table.Regions) || back.Serial != res.Table.Serial || back.HasSerial != res.Table.HasSerial {
		t.Fatalf("read back as %d regions serial %d, imported %d serial %d", len(back.Regions), back.Serial, len(res.Table.Regions), res.Table.Serial)
	}
	for i, r := range back.Regions {
		if r.Name != res.Table.Regions[i].Name || len(r.Addrs) != len(res.Table.Regions[i].Addrs) {
			t.Fatalf("region %d read back as %v, imported %v", i, r, res.Table.Regions[i])
		}
	}
	for _, w := range res.Warnings {
		if !strings.HasPrefix(w.Where, source+":") {
			t.Fatalf("warning %q does not name the source", w)
		}
		checkOneLine(t, "warning", w.String())
	}
}

// checkOneLine fails t when a message could start a line of its own or
// move a terminal's cursor: the input is always quoted, control bytes
// escaped.
func checkOneLine(t *testing.T, what, msg string) {
	t.Helper()
	if strings.ContainsAny(msg, "\n\r\x1b\x00\u2028\u2029") {
		t.Fatalf("%s %q holds a control character", what, msg)
	}
}

// lineError matches an error of the Markdown reader: the source, then a
// line number unless it is about the whole page.
var lineError = regexp.MustCompile(`^page\.md(:[1-9][0-9]*)?: `)

// FuzzImportMarkdown feeds the Markdown reader any page: no panic; an error
// names the source and, for a line, its number, on one line; a table comes back only
// with no error, and it loads.
func FuzzImportMarkdown(f *testing.F) {
	addFixtures(f, ".md")
	f.Add([]byte("| Region name | Gateway IP addresses | Gateway IP address subnets |\n|---|---|---|\n| East US 2 || 192.0.2.0/29 |\n"))
	f.Add([]byte("|a|\n|-|\n||||\n> *x* has also a tertiary IP address of `1.2.3.4`.\n"))
	f.Fuzz(func(t *testing.T, page []byte) {
		if bytes.HasPrefix(bytes.TrimLeft(page, " \t\r\n\xEF\xBB\xBF"), []byte("{")) || bytes.HasPrefix(bytes.TrimLeft(page, " \t\r\n\xEF\xBB\xBF"), []byte("[")) {
			page = append([]byte("# page\n"), page...) // stay with the Markdown reader
		}
		res, err := Import(bytes.NewReader(page), "page.md", Options{})
		if err != nil {
			if !lineError.MatchString(err.Error()) {
				t.Fatalf("error %q does not name the page", err)
			}
			checkOneLine(t, "error", err.Error())
			if len(res.Table.Regions) != 0 {
				t.Fatalf("an error came with %d regions", len(res.Table.Regions))
			}
			return
		}
		checkImported(t, res, "page.md")
	})
}

// FuzzImportServiceTags feeds the JSON reader any input that starts like
// JSON: no panic; input that is not valid JSON (truncated, for one) is
// always an error, one line naming the input; a table comes back only from valid JSON, and it loads.
func FuzzImportServiceTags(f *testing.F) {
	addFixtures(f, ".json")
	f.Add([]byte(`{"changeNumber": 1, "values": [{"name": "Sql.EastUS2", "properties": {"addressPrefixes": ["192.0.2.1/32", "2001:db8::/64"], "networkFeatures": null}}]}`))
	f.Add([]byte(`{"values": [{"properties": {"addressPrefixes": ["::ffff:192.0.2.1/128"]}, "name": "sql.x"}], "values": []}`))
	f.Fuzz(func(t *testing.T, content []byte) {
		res, err := Import(bytes.NewReader(content), "in.json", Options{})
		trimmed := bytes.TrimLeft(content, " \t\r\n\xEF\xBB\xBF")
		if len(trimmed) == 0 || (trimmed[0] != '{' && trimmed[0] != '[') {
			return // the Markdown reader's input
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "in.json: ") {
				t.Fatalf("error %q does not name the input", err)
			}
			checkOneLine(t, "error", err.Error())
			if len(res.Table.Regions) != 0 {
				t.Fatalf("an error came with %d regions", len(res.Table.Regions))
			}
			return
		}
		if !json.Valid(bytes.TrimPrefix(bytes.TrimLeft(content, " \t\r\n"), []byte("\xEF\xBB\xBF"))) && !json.Valid(trimmed) {
			t.Fatalf("imported %d regions from input that is not JSON", len(res.Table.Regions))
		}
		checkImported(t, res, "in.json")
	})
}

// FuzzImportRedirect reads any JSON input as Redirect sets and adds them to
// the include's gateway table: no panic; an error is one line naming the
// input and comes without a table; otherwise the table of both sets loads,
// holds every region of either source, each with its Redirect set as read
// and its gateway ranges as they were, and every warning is one line.
func FuzzImportRedirect(f *testing.F) {
	addFixtures(f, ".json")
	f.Add([]byte(`{"values": [{"name": "Sql.EastUS2", "properties": {"addressPrefixes": ["192.0.2.1/32", "2001:db8::/64", "192.0.2.1/32"]}}, {"name": "sql.Nowhere", "properties": {"addressPrefixes": []}}]}`))
	include, err := os.ReadFile(filepath.Join(fixtures, "sql-2026-include.md"))
	if err != nil {
		f.Fatal(err)
	}
	gateways, err := Import(bytes.NewReader(include), "include.md", Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, content []byte) {
		sets, err := Import(bytes.NewReader(content), "in.json", Options{Redirect: true})
		if err != nil {
			if !strings.HasPrefix(err.Error(), "in.json: ") {
				t.Fatalf("error %q does not name the input", err)
			}
			checkOneLine(t, "error", err.Error())
			if len(sets.Table.Regions) != 0 {
				t.Fatalf("an error came with %d regions", len(sets.Table.Regions))
			}
			return
		}
		res, err := AddRedirect(gateways, sets)
		if err != nil {
			t.Fatalf("AddRedirect: %v", err)
		}
		back, err := gwtable.Parse(res.Bytes(), "out")
		if err != nil {
			t.Fatalf("the table of both sets does not load: %v", err)
		}
		byName := make(map[string]gwtable.Region)
		for _, r := range back.Regions {
			byName[r.Name] = r
		}
		for _, r := range gateways.Table.Regions {
			if got, ok := byName[r.Name]; !ok || !slices.Equal(got.Subnets, r.Subnets) {
				t.Fatalf("gateway region %s read back as %+v", r.Name, got)
			}
		}
		for _, r := range sets.Table.Regions {
			if got, ok := byName[r.Name]; !ok || !slices.Equal(got.Redirect, r.Redirect) {
				t.Fatalf("Redirect set of %s read back as %+v, read %v", r.Name, got, r.Redirect)
			}
		}
		for _, w := range res.Warnings {
			checkOneLine(t, "warning", w.String())
		}
	})
}

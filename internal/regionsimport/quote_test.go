package regionsimport

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
)

// forged is what a hostile string tries: a line of its own that looks like
// fetch -every's log, and an escape sequence that clears the terminal.
const forged = "\n2026-01-01T00:00:00Z wrote regions: 71 regions\x1b[2J"

// jsonString is s as a JSON string.
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestImportServiceTagsQuotesInputShort: every string of a Service Tags file
// that an error or the header echoes, a value's name, a key, a string where
// something else is due, changeNumber, cloud, is quoted as Markdown cells
// are: at most gwtable.MaxQuoted bytes, control bytes escaped. A 10 MB name
// makes a message of a few hundred bytes, and no name starts a line.
func TestImportServiceTagsQuotesInputShort(t *testing.T) {
	big := strings.Repeat("x", 10<<20)
	for _, tc := range []struct {
		name, json, want string
	}{
		{"a 10 MB region name", tags(`{"name": ` + jsonString("Sql."+big+forged) + `, "properties": {"addressPrefixes": ["192.0.2.0/29"]}}`), `in.json: values[0].name: "Sql.xxxx`},
		{"a forged line in a region name", tags(`{"name": ` + jsonString("Sql.x"+forged) + `, "properties": {"addressPrefixes": ["192.0.2.0/29"]}}`), `in.json: values[0].name: "Sql.x\n2026-01-01T00:00:00Z wrote regions: 71 regions\x1b[2J": region name`},
		{"a 10 MB name without properties", tags(`{"name": ` + jsonString("Sql."+big+forged) + `}`), `in.json: values[0]: "Sql.xxxx`},
		{"a key given twice", `{"values": [], ` + jsonString(forged) + `: 1, ` + jsonString(forged) + `: 2}`, `in.json: ["\n2026-01-01T00:00:00Z wrote regions: 71 regions\x1b[2J"]: given twice`},
		{"a 10 MB key, cut short", `{"values": [], ` + jsonString(big+forged) + `: [1, `, `in.json: truncated: the input ends inside ["xxxx`},
		{"a key of a value, cut short", `{"values": [{"name": "Storage", ` + jsonString(forged) + `: [`, `in.json: truncated: the input ends inside values[0]["\n2026-01-01T00:00:00Z wrote regions: 71 regions\x1b[2J"]`},
		{"a key of properties, cut short", `{"values": [{"name": "Storage", "properties": {` + jsonString(big) + `: [`, `in.json: truncated: the input ends inside values[0].properties["xxxx`},
		{"a 10 MB string for an object", tags(jsonString(big + forged)), `in.json: values[0]: want an object, got the string "xxxx`},
		{"a string for a number", `{"changeNumber": ` + jsonString(forged+big) + `, "values": []}`, `in.json: changeNumber: want a number, got the string "\n2026-01-01T00:00:00Z wrote regions: 71 regions\x1b[2Jxxx`},
		{"a 10 MB changeNumber", `{"changeNumber": 1` + strings.Repeat("0", 10<<20) + `, "values": [` + sqlValue("Sql.EastUS", `["192.0.2.0/29"]`) + `]}`, `in.json: changeNumber: "1000`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Import(strings.NewReader(tc.json), "in.json", Options{})
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, tc.want) || len(msg) > 400 || strings.ContainsAny(msg, "\n\x1b") {
				t.Errorf("error %.500q (%d bytes), want it to start %q, short, with no newline or ESC", msg, len(msg), tc.want)
			}
		})
	}
}

// TestImportHeaderOneLineEach: what the header comments echo, the cloud, a
// source named by a URL a download found, any header line, stays on its
// comment line: the file has the table's regions and nothing more.
func TestImportHeaderOneLineEach(t *testing.T) {
	json := `{"changeNumber": 7, "cloud": ` + jsonString("Public"+forged+"\neastus2 192.0.2.9\n"+strings.Repeat("y", 10<<20)) + `, "values": [` + sqlValue("Sql.EastUS", `["192.0.2.0/29"]`) + `]}`
	res, err := Import(strings.NewReader(json), "https://example.net/x\neastus2 192.0.2.10\x1b[2J", Options{Source: "https://example.net/x\neastus2 192.0.2.11"})
	if err != nil {
		t.Fatal(err)
	}
	out := res.Bytes()
	if len(out) > 2000 {
		t.Errorf("the file is %d bytes", len(out))
	}
	table, err := gwtable.Parse(out, "out")
	if err != nil || len(table.Regions) != 1 || table.Regions[0].Name != "eastus" || table.Source != "" {
		t.Errorf("the file reads as %+v, %v:\n%.2000s", table, err, out)
	}
	for _, line := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		if !strings.HasPrefix(line, "# ") && !strings.HasPrefix(line, "$") && !strings.HasPrefix(line, "eastus ") || strings.Contains(line, "\x1b") {
			t.Errorf("line %q", line)
		}
	}
	if !strings.Contains(string(out), `# Imported by mysqlgw-regions from "https://example.net/x\neastus2 192.0.2.10\x1b[2J"`+"\n") ||
		!strings.Contains(string(out), `cloud "Public\n2026-01-01T00:00:00Z wrote regions: 71 regions\x1b[2J\neastus2 192.0.2.9\nyy`) {
		t.Errorf("the header does not quote the source and the cloud:\n%.2000s", out)
	}
	// Any header line, whatever put it there, is one comment line.
	res.Header = append(res.Header, "a\neastus2 192.0.2.12\r\u2028\x1b")
	if out := string(res.Bytes()); strings.Contains(out, "\neastus2") || !strings.Contains(out, `# a\neastus2 192.0.2.12\r\u2028\x1b`+"\n") {
		t.Errorf("a header line with a newline:\n%s", out)
	}
}

package regionsimport

import (
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
)

// column is what a column of a gateway table holds.
type column int

const (
	colName            column = iota // the region as the page spells it
	colGateways                      // gateway addresses, in role order across columns
	colSubnets                       // prefixes
	colDecommissioning               // addresses to keep allowed
	colDecommissioned                // addresses gone: left out
)

// form is one published layout of the gateway table, known by its header.
type form struct {
	name    string
	header  []string // normalised header cells (see normalHeader)
	columns []column
}

// forms are the layouts Microsoft has published.
var forms = []form{
	{"MySQL 2019",
		[]string{"region name", "primary ip address", "secondary ip address"},
		[]column{colName, colGateways, colGateways}},
	{"MySQL 2022",
		[]string{"region name", "gateway ip addresses", "gateway ip addresses (decommissioning)", "gateway ip addresses (decommissioned)"},
		[]column{colName, colGateways, colDecommissioning, colDecommissioned}},
	{"MySQL subnets",
		[]string{"region name", "current gateway ip address", "gateway ip address subnets"},
		[]column{colName, colGateways, colSubnets}},
	{"Azure SQL 2022",
		[]string{"region name", "gateway ip addresses", "gateway ip address subnets"},
		[]column{colName, colGateways, colSubnets}},
	{"Azure SQL 2026",
		[]string{"region name", "gateway ip address ranges"},
		[]column{colName, colSubnets}},
}

// Replacers, built once: they hold no state.
var (
	headerMarks = strings.NewReplacer("**", "", "__", "", "*", "")
	nameMarks   = strings.NewReplacer("*", "", "`", "")
	cellMarks   = strings.NewReplacer("<br />", ",", "<br/>", ",", "<br>", ",", "<BR>", ",", "*", " ", "`", " ")
	japanese    = strings.NewReplacer("、", ",", "，", ",")
)

// normalHeader is a header cell as forms lists it: bold and emphasis marks
// gone, lower case, single spaces.
func normalHeader(cell string) string {
	cell = headerMarks.Replace(cell)
	return strings.ToLower(strings.Join(strings.Fields(cell), " "))
}

// findForm returns the form whose header the cells are, or nil.
func findForm(cells []string) *form {
	for i := range forms {
		f := &forms[i]
		if len(cells) != len(f.header) {
			continue
		}
		match := true
		for j, c := range cells {
			if normalHeader(c) != f.header[j] {
				match = false
				break
			}
		}
		if match {
			return f
		}
	}
	return nil
}

// delimiterCell matches a cell of a table's delimiter row: ---, :--, --:.
var delimiterCell = regexp.MustCompile(`^:?-+:?$`)

func isDelimiterRow(line string) bool {
	if !strings.Contains(line, "|") || !strings.Contains(line, "-") {
		return false
	}
	cells, _ := splitRow(line)
	for _, c := range cells {
		if !delimiterCell.MatchString(strings.ReplaceAll(c, " ", "")) {
			return false
		}
	}
	return true
}

// splitRow splits a table row into trimmed cells; the leading and trailing
// bars are optional, as in GitHub's Markdown. doubledAt is the index of the
// cell that the row's first "||" makes empty (with an outer bar doubled, 0 or
// len(cells)-1), or -1 when the row has no "||".
func splitRow(line string) (cells []string, doubledAt int) {
	s := strings.TrimSpace(line)
	doubledAt = -1
	if i := strings.Index(s, "||"); i >= 0 {
		doubledAt = strings.Count(s[:i], "|")
		if !strings.HasPrefix(s, "|") {
			doubledAt++
		}
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "|"), "|")
	for _, c := range strings.Split(s, "|") {
		cells = append(cells, strings.TrimSpace(c))
	}
	doubledAt = min(doubledAt, len(cells)-1)
	return cells, doubledAt
}

// tertiaryNote matches the 2019 page's note under the table in the forms
// its revisions used, the region in italics after any lead-in:
// "> *East US 2* has also a tertiary IP address of `52.167.104.0`." and
// "\\* **NOTE:** *East US 2* has also a tertiary IP address of `52.167.104.0`."
var tertiaryNote = regexp.MustCompile("(?i)(?:^|[>\\s*:])\\*?([A-Za-z][A-Za-z0-9 ]*?)\\*?\\s+has\\s+also\\s+a\\s+tertiary\\s+ip\\s+address\\s+of\\s+`?([^`\\s]+?)`?\\.?\\s*$")

// matchNote returns tertiaryNote's match in line, or nil; most lines do not
// say "tertiary" and skip the expression.
func matchNote(line string) []string {
	if !strings.Contains(strings.ToLower(line), "tertiary") {
		return nil
	}
	return tertiaryNote.FindStringSubmatch(line)
}

// markdownTable is the gateway table found on a page.
type markdownTable struct {
	form   *form
	line   int      // of the header
	header []string // as the page spells it, without bold marks
}

// readMarkdown imports the gateway table of a connectivity architecture
// page. Lines are numbered from 1; every error and warning names one.
func readMarkdown(content []byte, source string) (Result, error) {
	lines := strings.Split(strings.ReplaceAll(string(content), "\r\n", "\n"), "\n")
	var (
		res     Result
		warn    warnings
		table   *markdownTable
		regions []*regionBuilder
		byName  = make(map[string]*regionBuilder)
		notes   []string
		// tableLines are the lines the table and its notes were read from.
		tableLines = make(map[int]bool)
		fence      = false
		dropped    = 0
	)
	at := func(i int) string { return fmt.Sprintf("%s:%d", source, i+1) }
	published, serialLine, err := frontMatterDate(lines, source)
	if err != nil {
		return Result{}, err
	}
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~") {
			fence = !fence
			continue
		}
		if fence {
			continue
		}
		if m := matchNote(line); m != nil {
			if err := applyNote(m[1], m[2], at(i), byName); err != nil {
				return Result{}, err
			}
			notes = append(notes, fmt.Sprintf("line %d: tertiary %s for %s", i+1, m[2], gwtable.AzureRegionName(m[1])))
			tableLines[i] = true
			continue
		}
		if !strings.Contains(line, "|") || i+1 >= len(lines) || !isDelimiterRow(lines[i+1]) {
			continue
		}
		cells, _ := splitRow(line)
		f := findForm(cells)
		if f == nil {
			continue // some other table
		}
		if table != nil {
			return Result{}, fmt.Errorf("%s: a second gateway table; the first is on line %d", at(i), table.line)
		}
		table = &markdownTable{form: f, line: i + 1}
		for _, c := range cells {
			table.header = append(table.header, strings.Join(strings.Fields(strings.ReplaceAll(c, "*", "")), " "))
		}
		tableLines[i], tableLines[i+1] = true, true
		i += 2
		for ; i < len(lines) && strings.Contains(lines[i], "|"); i++ {
			tableLines[i] = true
			r, n, err := readRow(lines[i], at(i), table, &warn)
			if err != nil {
				return Result{}, err
			}
			dropped += n
			if r == nil {
				continue
			}
			if prev, ok := byName[r.name]; ok {
				return Result{}, fmt.Errorf("%s: region %s is already on %s", at(i), r.name, prev.where)
			}
			byName[r.name] = r
			regions = append(regions, r)
		}
		i-- // the line that ended the table may be a note
	}
	if table == nil {
		var known []string
		for _, f := range forms {
			known = append(known, strings.Join(f.header, " | "))
		}
		return Result{}, fmt.Errorf("%s: no gateway table: no table has one of the known headers (%s)", source, strings.Join(known, "; "))
	}
	for _, b := range regions {
		if r, ok := b.build(warn.add); ok {
			res.Table.Regions = append(res.Table.Regions, r)
		}
	}
	res.Warnings = warn.sorted()
	res.Header = []string{
		"Imported by mysqlgw-regions from " + source,
		fmt.Sprintf("the table on line %d, in the %s form (%s): %d regions", table.line, table.form.name, strings.Join(table.header, " | "), len(res.Table.Regions)),
	}
	res.Header = append(res.Header, notes...)
	if dropped > 0 {
		res.Header = append(res.Header, fmt.Sprintf("%d decommissioned addresses left out", dropped))
	}
	if serialLine > 0 {
		serial := uint32(published.Year()*1000000 + int(published.Month())*10000 + published.Day()*100 + 1)
		res.Table.Serial, res.Table.HasSerial, res.Table.Published = serial, true, published
		res.Header = append(res.Header,
			fmt.Sprintf("$PUBLISHED %s from ms.date on line %d", published.Format(gwtable.DateLayout), serialLine),
			fmt.Sprintf("$SERIAL %d from ms.date on line %d", serial, serialLine))
	}
	res.Warnings = append(res.Warnings, strayLiterals(lines, source, tableLines, res.Table)...)
	res.Warnings = warnings(res.Warnings).sorted()
	return res, nil
}

// frontMatterDate reads ms.date from the page's front matter (between "---"
// lines at the top), the date of the serial YYYYMMDD01; line is 0 when there
// is none.
func frontMatterDate(lines []string, source string) (date time.Time, line int, err error) {
	if len(lines) == 0 || strings.TrimSpace(strings.TrimPrefix(lines[0], "\uFEFF")) != "---" {
		return time.Time{}, 0, nil
	}
	for i := 1; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		if l == "---" {
			return time.Time{}, 0, nil
		}
		key, value, ok := strings.Cut(l, ":")
		if !ok || !strings.EqualFold(strings.TrimSpace(key), "ms.date") {
			continue
		}
		value = strings.Trim(strings.TrimSpace(value), `"'`)
		d, err := time.Parse("1/2/2006", value)
		if err != nil {
			return time.Time{}, 0, fmt.Errorf("%s:%d: ms.date %s is not a date MM/DD/YYYY", source, i+1, gwtable.Quote(value))
		}
		n := uint64(d.Year())*1000000 + uint64(d.Month())*10000 + uint64(d.Day())*100 + 1
		if n > math.MaxUint32 {
			return time.Time{}, 0, fmt.Errorf("%s:%d: ms.date %s is too late for a serial YYYYMMDD01", source, i+1, gwtable.Quote(value))
		}
		return d, i + 1, nil
	}
	return time.Time{}, 0, nil
}

// applyNote adds the tertiary address a note gives to its region.
func applyNote(title, address, where string, byName map[string]*regionBuilder) error {
	name := gwtable.AzureRegionName(title)
	b, ok := byName[name]
	if !ok {
		return fmt.Errorf("%s: the note gives a tertiary address for %s, which no row above it has", where, gwtable.Quote(title))
	}
	a, err := gwtable.ParseAddress(address)
	if err != nil {
		return fmt.Errorf("%s: the note's tertiary address: %w", where, err)
	}
	b.gateways = append(b.gateways, entry[netip.Addr]{a, where})
	return nil
}

// readRow reads one row of the table. It returns nil for a row to skip, and
// how many decommissioned addresses it left out.
func readRow(line, where string, t *markdownTable, warn *warnings) (*regionBuilder, int, error) {
	cells, doubledAt := splitRow(line)
	want := len(t.form.columns)
	switch {
	case allEmpty(cells):
		warn.add(where, "an empty row; skipped")
		return nil, 0, nil
	case doubledAt >= 0 && len(cells) > want:
		cells, _ = splitRow(strings.Replace(strings.TrimSpace(line), "||", "|", len(cells)-want))
		warn.add(where, "a doubled '||' is read as one separator")
	case doubledAt >= 0 && doubledAt < want:
		next := ""
		if k := doubledAt + 1; k < len(cells) && k < want && cells[k] != "" {
			next = fmt.Sprintf(", and %s as %q", gwtable.Quote(cells[k]), t.header[k])
			if t.form.columns[k] == colDecommissioned {
				next += ", which is left out"
			}
		}
		warn.add(where, "'||' read as an empty %q cell%s", t.header[doubledAt], next)
	}
	if len(cells) > want {
		for _, c := range cells[want:] {
			if c != "" {
				return nil, 0, fmt.Errorf("%s: the row has %d cells, the header %d: cell %s has no column", where, len(cells), want, gwtable.Quote(c))
			}
		}
		warn.add(where, "%d empty cells past the last column; ignored", len(cells)-want)
		cells = cells[:want]
	}
	if len(cells) < want {
		warn.add(where, "the row has %d of the header's %d cells; the missing ones are read as empty", len(cells), want)
		for len(cells) < want {
			cells = append(cells, "")
		}
	}
	title := strings.Join(strings.Fields(nameMarks.Replace(cells[0])), " ")
	if title == "" {
		return nil, 0, fmt.Errorf("%s: a row with addresses but no region name", where)
	}
	b := &regionBuilder{name: gwtable.AzureRegionName(title), where: where}
	if err := gwtable.CheckRegionName(b.name); err != nil {
		// The error quotes the name; the cell it came from adds to that
		// only when it differs and is short enough to show whole.
		if cells[0] == b.name || len(cells[0]) > gwtable.MaxQuoted {
			return nil, 0, fmt.Errorf("%s: %w", where, err)
		}
		return nil, 0, fmt.Errorf("%s: cell %s: %w", where, gwtable.Quote(cells[0]), err)
	}
	firstGateway := true
	dropped := 0
	for j, c := range cells[1:] {
		j++
		kind := t.form.columns[j]
		if kind == colGateways && firstGateway {
			firstGateway = false
			if c == "" && j != doubledAt && servedAfter(cells, t.form.columns, j) {
				if slices.Contains(t.form.columns[j+1:], colGateways) {
					warn.add(where, "%s: empty %q cell in the middle of the row; the next gateway column's first address becomes the primary", b.name, t.header[j])
				} else {
					warn.add(where, "%s: empty %q cell in the middle of the row; the region has no gateway", b.name, t.header[j])
				}
			}
		}
		for _, tok := range splitCell(c, where, warn) {
			if kind == colSubnets {
				p, err := gwtable.ParseSubnet(tok)
				if err != nil {
					return nil, 0, cellError(where, t.header[j], c, tok, err)
				}
				b.subnets = append(b.subnets, entry[netip.Prefix]{p, where})
				continue
			}
			a, err := gwtable.ParseAddress(tok)
			if err != nil {
				return nil, 0, cellError(where, t.header[j], c, tok, err)
			}
			switch kind {
			case colGateways:
				b.gateways = append(b.gateways, entry[netip.Addr]{a, where})
			case colDecommissioning:
				b.decommissioning = append(b.decommissioning, entry[netip.Addr]{a, where})
			case colDecommissioned:
				warn.add(where, "%s: %s left out, decommissioned", b.name, a)
				dropped++
			}
		}
	}
	return b, dropped, nil
}

// cellError is the error err about token, read from cell in the column named
// header. err quotes the token, so the cell is quoted only when it holds
// more: no input is quoted twice.
func cellError(where, header, cell, token string, err error) error {
	if cell == token {
		return fmt.Errorf("%s: %q: %w", where, header, err)
	}
	return fmt.Errorf("%s: %q cell %s: %w", where, header, gwtable.Quote(cell), err)
}

// servedAfter reports whether a cell after cells[j] lists something the
// regions file keeps (not decommissioned addresses).
func servedAfter(cells []string, columns []column, j int) bool {
	for k := j + 1; k < len(cells); k++ {
		if cells[k] != "" && columns[k] != colDecommissioned {
			return true
		}
	}
	return false
}

func allEmpty(cells []string) bool {
	for _, c := range cells {
		if c != "" {
			return false
		}
	}
	return true
}

// splitCell splits a cell into addresses or prefixes: separated by commas,
// blanks or <br>, with footnote (*), bold (**) and code (`) marks removed.
// Japanese-style separators (、 and ，) are read as commas, with a warning.
func splitCell(cell, where string, warn *warnings) []string {
	if cell == "" {
		return nil
	}
	s := cellMarks.Replace(cell)
	if strings.ContainsAny(s, "、，") {
		warn.add(where, "Japanese-style separators in %s read as commas", gwtable.Quote(cell))
		s = japanese.Replace(s)
	}
	return strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || unicode.IsSpace(r) || r == '\u200b' || r == '\ufeff'
	})
}

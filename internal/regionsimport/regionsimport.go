// Package regionsimport turns the gateway tables Microsoft publishes into a
// mysqlgw regions file.
//
// Import reads either form of source: the Markdown of a connectivity
// architecture page (markdown.go), whose table it recognises by its header
// cells, or the weekly Service Tags JSON (servicetags.go). Odd cells Microsoft's
// hand-edited tables are known for are handled and reported as warnings; what
// cannot be read is an error naming the input line or JSON path, and no table
// comes back. Comparing two regions files is gwtable.Diff.
package regionsimport

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
)

// DefaultTag is the service tag whose <tag>.<Region> values become regions.
const DefaultTag = "Sql"

// maxInput bounds what Import reads: the Service Tags file is about 5 MB,
// a page well under 1 MB.
const maxInput = 64 << 20

// Options are the choices of one import.
type Options struct {
	// Tag selects the service tag (DefaultTag when empty); Markdown ignores it.
	Tag string
	// Serial, when HasSerial, is the $SERIAL to write whatever the source
	// says: a page's ms.date is not always changed when its table is.
	Serial    uint32
	HasSerial bool
	// Source is the $SOURCE to write: the input's file name or URL; empty
	// for none. With Redirect, it is the $REDIRECT-SOURCE.
	Source string
	// Redirect reads a Service Tags file's Sql.<Region> values as Redirect
	// sets (redirect.go): the tag is always DefaultTag, so Tag must be empty
	// or DefaultTag, and a page is an error.
	Redirect bool
}

// serviceTagsName is the weekly Service Tags file's name, which carries the
// date it was published.
var serviceTagsName = regexp.MustCompile(`ServiceTags_[A-Za-z]+_(\d{8})\.json`)

// Warning is odd input that the import handled: where it is (source:line,
// or source: JSON path) and what was done about it.
type Warning struct {
	Where string
	Text  string
	line  int // the input line, to list a page's warnings in order
}

func (w Warning) String() string { return w.Where + ": " + w.Text }

// Result is an imported table, with the comment lines that say where it came
// from and the warnings met on the way.
type Result struct {
	Table    gwtable.Table
	Header   []string // comment lines, without the leading "# "
	Warnings []Warning
	// Name is the input as the header, warnings and errors name it.
	Name string
}

// Bytes is the regions file: the header as comments, then the table in the
// format gwtable.Parse reads, a comment naming its fields before the first
// region. A header line is one comment line whatever it holds: a newline in
// it would start a line of its own, a region line among them.
func (r Result) Bytes() []byte {
	var b bytes.Buffer
	for _, line := range r.Header {
		b.WriteString("# " + gwtable.EscapeControls(line) + "\n")
	}
	table := r.Table.Format()
	for len(table) > 0 && table[0] == '$' { // the table's header lines
		i := bytes.IndexByte(table, '\n') + 1
		b.Write(table[:i])
		table = table[i:]
	}
	b.WriteString("# NAME [ADDRESS ...] [subnets PREFIX ...] [decommissioning ADDRESS ...]")
	if slices.ContainsFunc(r.Table.Regions, gwtable.Region.HasRedirect) {
		b.WriteString(" [redirect PREFIX ...]")
	}
	b.WriteString("\n")
	b.Write(table)
	return b.Bytes()
}

// Import reads a Markdown page or a Service Tags JSON file (told apart by
// their first character: '{' or '[' is JSON) and returns the regions file it
// describes. source names the input in the header, warnings and errors: as
// it is when it could be a $SOURCE (printable ASCII, at most
// gwtable.MaxSourceLen bytes), else quoted short, since it may be a URL a
// download found. The result has been checked with gwtable.Parse.
func Import(r io.Reader, source string, opt Options) (Result, error) {
	return importLimited(r, gwtable.QuoteUnlessPlain(source, gwtable.MaxSourceLen), opt, maxInput)
}

// importLimited is Import with the bound on the input's size as a parameter.
func importLimited(r io.Reader, source string, opt Options, limit int64) (Result, error) {
	in := bufio.NewReader(io.LimitReader(r, limit+1))
	first, blanks, err := firstByte(in)
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w", source, err)
	}
	if opt.Redirect {
		return importRedirect(in, first, int64(len(blanks)), source, opt, limit)
	}
	var res Result
	if startsJSON(first) {
		res, err = readServiceTags(&limitCheck{r: in, n: int64(len(blanks)), limit: limit, source: source}, source, opt)
	} else {
		var content []byte
		content, err = io.ReadAll(in)
		content = append(blanks, content...) // the page's lines, counted from its first
		switch {
		case err != nil:
			err = fmt.Errorf("%s: %w", source, err)
		case int64(len(content)) > limit:
			err = &tooLarge{source, limit}
		}
		if err == nil {
			res, err = readMarkdown(content, source)
		}
	}
	if err != nil {
		return Result{}, err
	}
	res.Name = source
	return finish(res, source, opt)
}

// IsJSON reports whether body is what Import reads as JSON (a Service Tags
// file) rather than Markdown: its first byte past blanks and a byte order
// mark opens an object or an array.
func IsJSON(body []byte) bool {
	first, _, err := firstByte(bufio.NewReader(bytes.NewReader(body)))
	return err == nil && startsJSON(first)
}

func startsJSON(first byte) bool { return first == '{' || first == '[' }

// firstByte returns the first byte of in that is not blank or part of a
// UTF-8 byte order mark, leaving it unread, and the bytes before it.
func firstByte(in *bufio.Reader) (first byte, blanks []byte, err error) {
	for {
		c, err := in.ReadByte()
		if err == io.EOF {
			return 0, nil, errors.New("empty input")
		}
		if err != nil {
			return 0, nil, err
		}
		switch c {
		case ' ', '\t', '\r', '\n', 0xEF, 0xBB, 0xBF:
			blanks = append(blanks, c)
			continue
		}
		return c, blanks, in.UnreadByte()
	}
}

// limitCheck is the input of the JSON reader: it turns reading past the
// limit into an error rather than a silent end.
type limitCheck struct {
	r        io.Reader
	n, limit int64
	source   string
}

func (l *limitCheck) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.n > l.limit {
		return n, &tooLarge{l.source, l.limit}
	}
	return n, err
}

// tooLarge is the error of input past the limit.
type tooLarge struct {
	source string
	limit  int64
}

func (e *tooLarge) Error() string { return fmt.Sprintf("%s: larger than %d bytes", e.source, e.limit) }

// finish applies the serial rules, writes the header's last line and checks
// that the file reads back as the same table.
func finish(res Result, source string, opt Options) (Result, error) {
	if len(res.Table.Regions) == 0 {
		return Result{}, fmt.Errorf("%s: no regions to import", source)
	}
	if opt.Source != "" {
		if err := gwtable.CheckSource("$SOURCE", opt.Source); err != nil {
			res.Warnings = append(res.Warnings, Warning{Where: source, Text: fmt.Sprintf("no $SOURCE written: %v", err)})
		} else {
			res.Table.Source = opt.Source
		}
	}
	if d, name, ok := fileDate(opt.Source + " " + source); ok && res.Table.Published.IsZero() {
		res.Table.Published = d
		res.Header = append(res.Header, "$PUBLISHED "+d.Format(gwtable.DateLayout)+" from the file name "+name)
	}
	switch {
	case opt.HasSerial:
		res.SetSerial(opt.Serial, "-serial")
	case !res.Table.HasSerial:
		res.Header = append(res.Header, "no $SERIAL: the source has none and -serial was not given; the server uses a hash of the content")
	}
	return check(res, source)
}

// check makes sure res is a regions file the server reads: no larger than
// it reads, and read back by its own parser. A table without $SERIAL gets
// the serial the server would give it.
func check(res Result, source string) (Result, error) {
	out := res.Bytes()
	if len(out) > gwtable.MaxFileSize {
		return Result{}, fmt.Errorf("%s: the regions file written would be %d bytes, more than the %d the server reads", source, len(out), gwtable.MaxFileSize)
	}
	back, err := gwtable.Parse(out, "output")
	if err != nil {
		return Result{}, fmt.Errorf("%s: the regions file written would not load (a bug in the importer): %w", source, err)
	}
	if !res.Table.HasSerial {
		res.Table.Serial = back.Serial
	}
	return res, nil
}

// fileDate is the date a Service Tags file's name in names carries
// (ServiceTags_Public_20260928.json), and that name.
func fileDate(names string) (date time.Time, name string, ok bool) {
	m := serviceTagsName.FindStringSubmatch(names)
	if m == nil {
		return time.Time{}, "", false
	}
	d, err := time.Parse("20060102", m[1])
	return d, m[0], err == nil
}

// SetSerial gives the table serial, saying in the header where it comes from
// and what the source's own serial was.
func (r *Result) SetSerial(serial uint32, from string) {
	line := fmt.Sprintf("$SERIAL %d from %s", serial, from)
	i := slices.IndexFunc(r.Header, func(h string) bool { return strings.HasPrefix(h, "$SERIAL ") })
	switch {
	case i >= 0 && r.Table.HasSerial && r.Table.Serial == serial:
		// the source's own serial stands, and its line says so
	case i >= 0 && r.Table.HasSerial:
		r.Header[i] = line + ", not " + strings.TrimPrefix(r.Header[i], "$SERIAL ")
	default:
		r.Header = append(r.Header, line)
	}
	r.Table.Serial, r.Table.HasSerial = serial, true
}

// entry is one address or prefix of a region, with where it was read.
type entry[T comparable] struct {
	value T
	where string
}

// regionBuilder gathers one region's entries as the source lists them;
// build drops repeats and settles conflicts, with a warning for each.
type regionBuilder struct {
	name            string
	where           string // where the region's row or value is
	gateways        []entry[netip.Addr]
	subnets         []entry[netip.Prefix]
	decommissioning []entry[netip.Addr]
	redirect        []entry[netip.Prefix]
	redirectSet     bool // a Service Tags value read as a Redirect set
}

// build returns the region, or ok false (with a warning) when it has nothing
// to serve.
func (b *regionBuilder) build(warn func(where, format string, args ...any)) (gwtable.Region, bool) {
	r := gwtable.Region{Name: b.name}
	kind := make(map[netip.Addr]string)
	for _, e := range b.gateways {
		if _, ok := kind[e.value]; ok {
			warn(e.where, "%s: gateway %s is listed twice; kept once", b.name, e.value)
			continue
		}
		if len(r.Addrs) == gwtable.MaxRoles {
			warn(e.where, "%s: more than %d gateways; %s is kept as a subnet", b.name, gwtable.MaxRoles, e.value)
			b.subnets = append(b.subnets, entry[netip.Prefix]{netip.PrefixFrom(e.value, e.value.BitLen()), e.where})
			kind[e.value] = "gateway"
			continue
		}
		kind[e.value] = "gateway"
		r.Addrs = append(r.Addrs, e.value)
	}
	for _, e := range b.decommissioning {
		switch kind[e.value] {
		case "gateway":
			warn(e.where, "%s: %s is both a gateway and decommissioning; kept as a gateway", b.name, e.value)
			continue
		case "decommissioning":
			warn(e.where, "%s: decommissioning %s is listed twice; kept once", b.name, e.value)
			continue
		}
		kind[e.value] = "decommissioning"
		r.Decommissioning = append(r.Decommissioning, e.value)
	}
	r.Subnets = uniquePrefixes(b.name, "subnet", b.subnets, warn)
	r.Redirect = uniquePrefixes(b.name, "redirect", b.redirect, warn)
	switch {
	case b.redirectSet && len(r.Redirect) == 0:
		warn(b.where, "%s lists no prefix; no Redirect set", b.name)
		return r, false
	case !r.HasAllow() && !r.HasRedirect():
		warn(b.where, "%s has no gateway, subnet or decommissioning address; left out", b.name)
		return r, false
	}
	return r, true
}

// uniquePrefixes is entries' prefixes, each once, with a warning for each
// repeat naming the region and the set (kind).
func uniquePrefixes(region, kind string, entries []entry[netip.Prefix], warn func(where, format string, args ...any)) []netip.Prefix {
	var prefixes []netip.Prefix
	seen := make(map[netip.Prefix]bool)
	for _, e := range entries {
		if seen[e.value] {
			warn(e.where, "%s: %s %s is listed twice; kept once", region, kind, e.value)
			continue
		}
		seen[e.value] = true
		prefixes = append(prefixes, e.value)
	}
	return prefixes
}

// warnings collects warnings; add has the signature build wants.
type warnings []Warning

func (w *warnings) add(where, format string, args ...any) {
	line := 0
	if i := strings.LastIndexByte(where, ':'); i >= 0 {
		line, _ = strconv.Atoi(where[i+1:])
	}
	*w = append(*w, Warning{Where: where, Text: fmt.Sprintf(format, args...), line: line})
}

// sorted returns the warnings in input order: by line for a page, as met
// for JSON.
func (w warnings) sorted() []Warning {
	slices.SortStableFunc(w, func(a, b Warning) int { return a.line - b.line })
	return w
}

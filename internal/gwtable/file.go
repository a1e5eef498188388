package gwtable

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Table is a regions file: the zone serial it gives, where its data comes
// from, and its regions.
type Table struct {
	// Serial is the SOA serial: the file's $SERIAL, or, without one, a
	// number derived from the content (see contentSerial).
	Serial    uint32
	HasSerial bool // the file has a $SERIAL line
	// Source says where the table comes from ($SOURCE): a page's name or a
	// URL; empty when unknown.
	Source string
	// Published is the date its source was published ($PUBLISHED), midnight
	// UTC; zero when unknown.
	Published time.Time
	// RedirectSource and RedirectPublished are the same of the regions'
	// Redirect sets ($REDIRECT-SOURCE, $REDIRECT-PUBLISHED): the Service
	// Tags file they come from.
	RedirectSource    string
	RedirectPublished time.Time
	Regions           []Region
}

// MaxSourceLen bounds $SOURCE: it is served in a TXT string and logged.
const MaxSourceLen = 200

// DateLayout is how $PUBLISHED and every view of it write a date.
const DateLayout = "2006-01-02"

// Parse parses the regions file format:
//
//	$SERIAL 2023030901
//	$SOURCE https://example.com/page.md
//	$PUBLISHED 2023-03-09
//	$REDIRECT-SOURCE https://example.com/ServiceTags_Public_20230306.json
//	$REDIRECT-PUBLISHED 2023-03-06
//	NAME [ADDRESS ...] [subnets PREFIX ...] [decommissioning ADDRESS ...] [redirect PREFIX ...]
//
// one region a line, fields separated by blanks, '#' starting a comment,
// blank lines ignored. The header lines, each at most once, come before the
// first region; $SOURCE and $REDIRECT-SOURCE take the rest of their line
// verbatim, '#' included.
// Errors name source and the line. An empty table is an error: serving no
// regions is never what the author of a file meant.
func Parse(content []byte, source string) (Table, error) {
	var t Table
	seen := make(map[string]int) // region name -> line that defined it
	scanner := bufio.NewScanner(bytes.NewReader(content))
	scanner.Buffer(make([]byte, 0, 4096), MaxFileSize)
	line := 0
	for scanner.Scan() {
		line++
		text := scanner.Text()
		if rest, ok := cutDirective(text, "$SOURCE"); ok {
			if err := t.source("$SOURCE", &t.Source, rest, seen); err != nil {
				return Table{}, fmt.Errorf("%s:%d: %w", source, line, err)
			}
			continue
		}
		if rest, ok := cutDirective(text, "$REDIRECT-SOURCE"); ok {
			if err := t.source("$REDIRECT-SOURCE", &t.RedirectSource, rest, seen); err != nil {
				return Table{}, fmt.Errorf("%s:%d: %w", source, line, err)
			}
			continue
		}
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		fields := strings.Fields(text)
		if len(fields) == 0 {
			continue
		}
		if strings.HasPrefix(fields[0], "$") {
			if err := t.directive(fields, seen); err != nil {
				return Table{}, fmt.Errorf("%s:%d: %w", source, line, err)
			}
			continue
		}
		r, err := ParseRegion(fields)
		if err != nil {
			return Table{}, fmt.Errorf("%s:%d: %w", source, line, err)
		}
		if prev, ok := seen[r.Name]; ok {
			return Table{}, fmt.Errorf("%s:%d: region %q is already defined on line %d", source, line, r.Name, prev)
		}
		seen[r.Name] = line
		t.Regions = append(t.Regions, r)
	}
	if err := scanner.Err(); err != nil {
		return Table{}, fmt.Errorf("%s:%d: %w", source, line+1, err)
	}
	if len(t.Regions) == 0 {
		return Table{}, fmt.Errorf("%s: no regions", source)
	}
	if !t.HasSerial {
		t.Serial = contentSerial(content)
	}
	return t, nil
}

// cutDirective returns the rest of text after name, a header line's first
// field, and whether text is that header line.
func cutDirective(text, name string) (string, bool) {
	text = strings.TrimLeft(text, " \t")
	rest, ok := strings.CutPrefix(text, name)
	if !ok || rest != "" && rest[0] != ' ' && rest[0] != '\t' {
		return "", false
	}
	return strings.TrimSpace(rest), true
}

// header checks what every header line shares: given once, before the
// regions.
func header(name string, given bool, regions map[string]int) error {
	switch {
	case given:
		return fmt.Errorf("%s is given twice", name)
	case len(regions) > 0:
		return fmt.Errorf("%s must come before the first region", name)
	}
	return nil
}

// source reads $SOURCE TEXT or $REDIRECT-SOURCE TEXT (name) into field:
// printable ASCII, at most MaxSourceLen bytes.
func (t *Table) source(name string, field *string, text string, regions map[string]int) error {
	if err := header(name, *field != "", regions); err != nil {
		return err
	}
	if err := CheckSource(name, text); err != nil {
		return err
	}
	*field = text
	return nil
}

// CheckSource reports why text cannot follow the header name ($SOURCE or
// $REDIRECT-SOURCE): printable ASCII, at most MaxSourceLen bytes; nil when
// it can.
func CheckSource(name, text string) error {
	switch {
	case text == "":
		return fmt.Errorf("want %s TEXT, got nothing after it", name)
	case len(text) > MaxSourceLen:
		return fmt.Errorf("%s is %d bytes; at most %d", name, len(text), MaxSourceLen)
	}
	for i := 0; i < len(text); i++ {
		if c := text[i]; c < ' ' || c > '~' {
			return fmt.Errorf("%s: byte %d is 0x%02x; only printable ASCII is allowed", name, i+1, c)
		}
	}
	return nil
}

// directive reads a $ line other than $SOURCE: $SERIAL N or
// $PUBLISHED YYYY-MM-DD, each once, before the regions.
func (t *Table) directive(fields []string, regions map[string]int) error {
	switch fields[0] {
	case "$SERIAL":
		if err := header("$SERIAL", t.HasSerial, regions); err != nil {
			return err
		}
		if len(fields) != 2 {
			return fmt.Errorf("want $SERIAL NUMBER, got %d field(s)", len(fields))
		}
		n, err := strconv.ParseUint(fields[1], 10, 32)
		if err != nil {
			return fmt.Errorf("$SERIAL %s is not a number from 0 to 4294967295", Quote(fields[1]))
		}
		t.Serial, t.HasSerial = uint32(n), true
	case "$PUBLISHED":
		return published(fields, &t.Published, regions)
	case "$REDIRECT-PUBLISHED":
		return published(fields, &t.RedirectPublished, regions)
	default:
		return fmt.Errorf("unknown directive %s; the header lines are $SERIAL, $SOURCE, $PUBLISHED, $REDIRECT-SOURCE and $REDIRECT-PUBLISHED", Quote(fields[0]))
	}
	return nil
}

// published reads $PUBLISHED or $REDIRECT-PUBLISHED (fields[0]) YYYY-MM-DD
// into field.
func published(fields []string, field *time.Time, regions map[string]int) error {
	name := fields[0]
	if err := header(name, !field.IsZero(), regions); err != nil {
		return err
	}
	if len(fields) != 2 {
		return fmt.Errorf("want %s YYYY-MM-DD, got %d field(s)", name, len(fields))
	}
	d, err := time.Parse(DateLayout, fields[1])
	if err != nil {
		return fmt.Errorf("%s %s is not a date YYYY-MM-DD", name, Quote(fields[1]))
	}
	*field = d
	return nil
}

// SerialAfter reports whether serial a comes after b in RFC 1982's serial
// number arithmetic, as secondaries compare SOA serials.
func SerialAfter(a, b uint32) bool { return int32(a-b) > 0 }

// contentSerial is the serial of a file without $SERIAL: the first four
// bytes of the content's SHA-256. Every replica serving the same file reports
// the same serial, across restarts too, but a new version's serial is not
// larger, so secondaries that compare serials miss changes: files meant for
// zone transfer should carry $SERIAL.
func contentSerial(content []byte) uint32 {
	sum := sha256.Sum256(content)
	return binary.BigEndian.Uint32(sum[:4])
}

// Format writes t in the format Parse reads: the header lines the table
// has, then a region a line.
func (t Table) Format() []byte {
	var b bytes.Buffer
	if t.HasSerial {
		fmt.Fprintf(&b, "$SERIAL %d\n", t.Serial)
	}
	if t.Source != "" {
		fmt.Fprintf(&b, "$SOURCE %s\n", t.Source)
	}
	if !t.Published.IsZero() {
		fmt.Fprintf(&b, "$PUBLISHED %s\n", t.Published.Format(DateLayout))
	}
	if t.RedirectSource != "" {
		fmt.Fprintf(&b, "$REDIRECT-SOURCE %s\n", t.RedirectSource)
	}
	if !t.RedirectPublished.IsZero() {
		fmt.Fprintf(&b, "$REDIRECT-PUBLISHED %s\n", t.RedirectPublished.Format(DateLayout))
	}
	b.Write(formatRegions(t.Regions))
	return b.Bytes()
}

// Hash identifies the table's content: what Diff compares (its provenance
// and its regions, whatever their order), not its serial or comments. Two
// tables Diff finds unchanged have the same Hash.
func (t Table) Hash() [32]byte {
	byName := slices.Clone(t.Regions)
	slices.SortFunc(byName, func(a, b Region) int { return strings.Compare(a.Name, b.Name) })
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%s\n%s\n", t.Source, t.Published.Format(DateLayout), t.RedirectSource, t.RedirectPublished.Format(DateLayout))
	h.Write(formatRegions(byName))
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

// formatRegions writes regions a line each, as Parse reads them.
func formatRegions(regions []Region) []byte {
	var b bytes.Buffer
	for _, r := range regions {
		b.WriteString(r.Name)
		for _, a := range r.Addrs {
			b.WriteByte(' ')
			b.WriteString(a.String())
		}
		if len(r.Subnets) > 0 {
			b.WriteString(" subnets")
			for _, p := range r.Subnets {
				b.WriteByte(' ')
				b.WriteString(p.String())
			}
		}
		if len(r.Decommissioning) > 0 {
			b.WriteString(" decommissioning")
			for _, a := range r.Decommissioning {
				b.WriteByte(' ')
				b.WriteString(a.String())
			}
		}
		if len(r.Redirect) > 0 {
			b.WriteString(" redirect")
			for _, p := range r.Redirect {
				b.WriteByte(' ')
				b.WriteString(p.String())
			}
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

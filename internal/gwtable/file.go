package gwtable

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// Table is a regions file: the zone serial it gives and its regions.
type Table struct {
	// Serial is the SOA serial: the file's $SERIAL, or, without one, a
	// number derived from the content (see contentSerial).
	Serial    uint32
	HasSerial bool // the file has a $SERIAL line
	Regions   []Region
}

// Parse parses the regions file format:
//
//	$SERIAL 2023030901
//	NAME [ADDRESS ...] [subnets PREFIX ...] [decommissioning ADDRESS ...]
//
// one region a line, fields separated by blanks, '#' starting a comment,
// blank lines ignored; $SERIAL, if present, comes before the first region.
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

// directive reads a $ line: only $SERIAL N, once, before the regions.
func (t *Table) directive(fields []string, regions map[string]int) error {
	if fields[0] != "$SERIAL" {
		return fmt.Errorf("unknown directive %s; the only one is $SERIAL", Quote(fields[0]))
	}
	switch {
	case t.HasSerial:
		return fmt.Errorf("$SERIAL is given twice")
	case len(regions) > 0:
		return fmt.Errorf("$SERIAL must come before the first region")
	case len(fields) != 2:
		return fmt.Errorf("want $SERIAL NUMBER, got %d field(s)", len(fields))
	}
	n, err := strconv.ParseUint(fields[1], 10, 32)
	if err != nil {
		return fmt.Errorf("$SERIAL %s is not a number from 0 to 4294967295", Quote(fields[1]))
	}
	t.Serial, t.HasSerial = uint32(n), true
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

// Format writes t in the format Parse reads: $SERIAL when the table has
// one, then a region a line.
func (t Table) Format() []byte {
	var b bytes.Buffer
	if t.HasSerial {
		fmt.Fprintf(&b, "$SERIAL %d\n", t.Serial)
	}
	b.Write(formatRegions(t.Regions))
	return b.Bytes()
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
		b.WriteByte('\n')
	}
	return b.Bytes()
}

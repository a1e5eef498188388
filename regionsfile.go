package mysqlgw

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// parseRegions parses the regions file format: one region a line,
// NAME PRIMARY [SECONDARY [TERTIARY]], fields separated by blanks, '#' starting
// a comment, blank lines ignored. An empty table is an error: serving no
// regions is never what the author of a file meant.
func parseRegions(content []byte, source string) ([]Region, error) {
	var regions []Region
	seen := make(map[string]int) // region name -> line that defined it
	scanner := bufio.NewScanner(bytes.NewReader(content))
	scanner.Buffer(make([]byte, 0, 4096), maxRegionsFileSize)
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
		r, err := newRegion(fields)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", source, line, err)
		}
		if prev, ok := seen[r.Name]; ok {
			return nil, fmt.Errorf("%s:%d: region %q is already defined on line %d", source, line, r.Name, prev)
		}
		seen[r.Name] = line
		regions = append(regions, r)
	}
	if err := scanner.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", source, line+1, err)
	}
	if len(regions) == 0 {
		return nil, fmt.Errorf("%s: no regions", source)
	}
	return regions, nil
}

// formatRegions writes regions in the file format parseRegions reads.
func formatRegions(regions []Region) []byte {
	var b bytes.Buffer
	for _, r := range regions {
		b.WriteString(r.Name)
		for _, a := range r.Addrs {
			b.WriteByte(' ')
			b.WriteString(a.String())
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

package mysqlgw

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
)

// maxRegionsFileSize bounds what a reload reads, so a runaway file cannot
// exhaust memory; 16 MiB holds hundreds of thousands of regions.
const maxRegionsFileSize = 16 << 20

// readRegionsFile reads and parses FILE, returning the content it parsed.
// Errors name the file and, for content errors, the line.
func readRegionsFile(path string) ([]Region, []byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	content, err := io.ReadAll(io.LimitReader(f, maxRegionsFileSize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	regions, err := parseRegionsContent(content, path)
	return regions, content, err
}

// parseRegionsContent parses a file's content, refusing one over the size
// limit rather than reading part of it.
func parseRegionsContent(content []byte, path string) ([]Region, error) {
	if len(content) > maxRegionsFileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxRegionsFileSize)
	}
	return parseRegions(content, path)
}

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

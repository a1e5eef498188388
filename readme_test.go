package mysqlgw

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coredns/caddy"
)

// TestReadmeCorefiles runs the mysqlgw block of every Corefile example in
// the README through setup, so the README cannot show a syntax the plugin
// no longer takes.
func TestReadmeCorefiles(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	regions := filepath.Join(t.TempDir(), "regions")
	if err := os.WriteFile(regions, []byte("eastus2 191.239.224.107 40.79.84.180\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	blocks := 0
	for _, example := range fencedBlocks(string(readme), "~~~ corefile") {
		for _, block := range mysqlgwBlocks(example) {
			blocks++
			block = strings.ReplaceAll(block, "/etc/coredns/regions", regions)
			c := caddy.NewTestController("dns", block)
			g, err := parse(c)
			if err == nil {
				err = g.load()
			}
			if err != nil {
				t.Errorf("README example:\n%s\n%v", block, err)
			}
		}
	}
	if blocks < 2 {
		t.Errorf("found %d mysqlgw blocks in the README's corefile examples", blocks)
	}
}

// fencedBlocks returns the text of every block opened by fence.
func fencedBlocks(text, fence string) []string {
	var blocks []string
	for {
		i := strings.Index(text, fence+"\n")
		if i < 0 {
			return blocks
		}
		text = text[i+len(fence)+1:]
		end := strings.Index(text, "~~~")
		if end < 0 {
			return blocks
		}
		blocks = append(blocks, text[:end])
		text = text[end+3:]
	}
}

// mysqlgwBlocks cuts the mysqlgw directives, with their blocks, out of a
// Corefile.
func mysqlgwBlocks(corefile string) []string {
	var blocks []string
	lines := strings.Split(corefile, "\n")
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		if line != "mysqlgw" && !strings.HasPrefix(line, "mysqlgw ") {
			continue
		}
		block := []string{line}
		if strings.HasSuffix(line, "{") {
			for i++; i < len(lines); i++ {
				block = append(block, lines[i])
				if strings.TrimSpace(lines[i]) == "}" {
					break
				}
			}
		}
		blocks = append(blocks, strings.Join(block, "\n"))
	}
	return blocks
}

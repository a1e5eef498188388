// Command memgen writes a synthetic regions file of one of the table shapes
// bench/memory.sh measures (internal/shapes describes them), with a given
// number of regions. -variant 1 writes a table of the same shape and size
// with none of variant 0's addresses or prefixes, so that a reload from one
// to the other rebuilds everything. The file is written beside -o and
// renamed over it. memgen prints "REGIONS ADDRESSES PREFIXES BYTES" on
// standard output: the gateway and decommissioning addresses, and the
// subnets and Redirect prefixes.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/mysqlgw/mysqlgw/internal/shapes"
)

func main() {
	shape := flag.String("shape", "ipv4-24", "table shape: "+strings.Join(shapes.Names, ", "))
	regions := flag.Int("regions", 100, "number of regions")
	variant := flag.Int("variant", 0, "0 or 1: the two variants share no address")
	out := flag.String("o", "", "regions file to write")
	flag.Parse()
	if *out == "" || *regions < 1 || *variant < 0 || *variant > 1 || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	addrs, prefixes, size, err := writeFile(*out, *shape, *regions, *variant)
	if err != nil {
		fmt.Fprintln(os.Stderr, "memgen:", err)
		os.Exit(1)
	}
	fmt.Println(*regions, addrs, prefixes, size)
}

// writeFile writes the table to a file beside path, then renames it over
// path, so that the server never reads half a table.
func writeFile(path, shape string, n, variant int) (addrs, prefixes int, size int64, err error) {
	f, err := os.CreateTemp(filepath.Dir(path), ".memgen-*")
	if err != nil {
		return 0, 0, 0, err
	}
	defer os.Remove(f.Name()) // after the rename, a no-op
	addrs, prefixes, err = shapes.Write(f, shape, n, variant)
	if err == nil {
		size, err = f.Seek(0, 1)
	}
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, 0, 0, err
	}
	return addrs, prefixes, size, os.Rename(f.Name(), path)
}

// Command mysqlgw-regions writes mysqlgw regions files from Microsoft's
// published gateway tables and compares two regions files:
//
//	mysqlgw-regions import [-tag NAME] [-serial N] FILE   # FILE "-" is standard input
//	mysqlgw-regions diff OLD NEW
//	mysqlgw-regions fetch [-source azure-sql|service-tags] [-url URL] [-tag NAME] [-redirect [-tags-url URL]] [-max-drop PERCENT] [-max-grow PERCENT] [-force] [-timeout DURATION] [-every DURATION] -o FILE
//	mysqlgw-regions seed -o FILE SRC
//
// import reads a connectivity architecture page's Markdown or a Service Tags
// JSON file and writes the regions file on standard output, warnings on
// standard error; on an error it writes nothing and exits 2. diff prints what
// NEW adds to and removes from OLD, region by region, and exits 1 when
// anything changed, 0 when nothing did and 2 on an error, as diff(1) does.
// fetch keeps a regions file current from Microsoft's published table (see
// internal/fetch), within -timeout for the whole run: it exits 0 when the
// file is current (written or unchanged), 3 when its guard kept the file (a
// region removed, more than -max-drop percent of a family's addresses no
// longer covered or more than -max-grow percent newly covered, without
// -force), and 2 on an error, a bad flag or a run past -timeout, with the
// file untouched; with -every it runs until stopped and exits 0. With
// -redirect it also downloads the Service Tags file (Microsoft's download
// page, or -tags-url) and writes each region's Sql.<Region> prefixes as its
// Redirect set beside the gateway ranges, in one table; the guard measures
// the gateway set and the Redirect set each on its own, and a failed
// download of either source is an error (2). -redirect takes -source
// azure-sql and no -tag; -tags-url needs -redirect. seed copies
// the regions file SRC to FILE, after checking that it parses, unless FILE
// exists already: a pod's init container gives fetch's file a first table
// that way (deploy/kubernetes); 0, or 2 on an error.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
	"github.com/mysqlgw/mysqlgw/internal/regionsimport"
)

const usage = `usage: mysqlgw-regions import [-tag NAME] [-serial N] FILE
       mysqlgw-regions diff OLD NEW
       mysqlgw-regions fetch [-source azure-sql|service-tags] [-url URL] [-tag NAME] [-redirect [-tags-url URL]] [-max-drop PERCENT] [-max-grow PERCENT] [-force] [-timeout DURATION] [-every DURATION] -o FILE
       mysqlgw-regions seed -o FILE SRC
`

// maxWarnings bounds the warnings import and fetch print: a page has a
// handful, and a cell repeating one address a million times must not print
// a million.
const maxWarnings = 100

// printWarnings prints warnings, each after prefix, up to maxWarnings, and
// then how many more there are.
func printWarnings[W any](stderr io.Writer, prefix string, warnings []W) {
	for i, w := range warnings {
		if i == maxWarnings {
			fmt.Fprintf(stderr, "%swarning: %d more warnings not shown\n", prefix, len(warnings)-i)
			return
		}
		fmt.Fprintf(stderr, "%swarning: %v\n", prefix, w)
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is the command, with its exit status: 0, 1 (diff found changes), 2 or
// 3 (fetch's guard kept FILE).
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	status := 0
	switch args[0] {
	case "import":
		err = runImport(args[1:], stdin, stdout, stderr)
	case "diff":
		status, err = runDiff(args[1:], stdout, stderr)
	case "fetch":
		status, err = runFetch(args[1:], stdout, stderr)
	case "seed":
		err = runSeed(args[1:], stdout, stderr)
	default:
		err = fmt.Errorf("unknown command %q\n%s", args[0], usage)
	}
	if err != nil {
		fmt.Fprintln(stderr, "mysqlgw-regions:", err)
		return 2
	}
	return status
}

func runImport(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("import", flag.ContinueOnError)
	flags.SetOutput(stderr)
	tag := flags.String("tag", regionsimport.DefaultTag, "Service Tags: the tag whose TAG.<Region> values become regions")
	serial := flags.Uint("serial", 0, "the $SERIAL to write, whatever the source says")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if flags.NArg() != 1 {
		return fmt.Errorf("import takes one FILE (or - for standard input), got %d\n%s", flags.NArg(), usage)
	}
	opt := regionsimport.Options{Tag: *tag}
	flags.Visit(func(f *flag.Flag) {
		if f.Name == "serial" {
			opt.HasSerial = true
		}
	})
	if *serial > 1<<32-1 {
		return fmt.Errorf("-serial %d: a serial is at most 4294967295", *serial)
	}
	opt.Serial = uint32(*serial)

	in, source := stdin, flags.Arg(0)
	if source == "-" {
		source = "standard input"
	} else {
		opt.Source = filepath.Base(source)
		f, err := os.Open(source)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	res, err := regionsimport.Import(in, source, opt)
	printWarnings(stderr, "", res.Warnings)
	if err != nil {
		return err
	}
	_, err = stdout.Write(res.Bytes())
	return err
}

func runDiff(args []string, stdout, stderr io.Writer) (int, error) {
	if len(args) != 2 {
		return 2, fmt.Errorf("diff takes two regions files, OLD and NEW, got %d\n%s", len(args), usage)
	}
	var tables [2]gwtable.Table
	for i, path := range args {
		content, err := readFile(path)
		if err != nil {
			return 2, err
		}
		if tables[i], err = gwtable.Parse(content, path); err != nil {
			return 2, err
		}
	}
	res := gwtable.Diff(args[0], tables[0], args[1], tables[1])
	if _, err := io.WriteString(stdout, res.Text); err != nil {
		return 2, err
	}
	if res.Warning != "" {
		fmt.Fprintln(stderr, "warning:", res.Warning)
	}
	if res.Changed {
		return 1, nil
	}
	return 0, nil
}

// readFile reads a regions file with the server's bound: diff takes what the
// server would take and refuses /dev/zero at once.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return gwtable.ReadAll(f, path)
}

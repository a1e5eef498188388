package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/mysqlgw/mysqlgw/internal/fetch"
	"github.com/mysqlgw/mysqlgw/internal/gwtable"
)

// runSeed is `seed -o FILE SRC`: it gives FILE a first table, SRC's, so the
// server can start before any fetch has run (a pod's init container; the
// distroless image has no cp). An existing FILE is left alone: after a
// container restart within the pod it holds what fetch wrote since.
func runSeed(args []string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("seed", flag.ContinueOnError)
	flags.SetOutput(stderr)
	file := flags.String("o", "", "the regions file to create when it does not exist (required)")
	if err := flags.Parse(args); err != nil {
		return err
	}
	switch {
	case flags.NArg() != 1:
		return fmt.Errorf("seed takes one regions file SRC, got %d\n%s", flags.NArg(), usage)
	case *file == "":
		return fmt.Errorf("seed needs -o FILE\n%s", usage)
	}
	src := flags.Arg(0)
	switch _, err := os.Stat(*file); {
	case err == nil:
		fmt.Fprintf(stdout, "%s exists; left as it is\n", *file)
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	content, err := gwtable.ReadFile(src)
	if err != nil {
		return err
	}
	table, err := gwtable.Parse(content, src)
	if err != nil {
		return err
	}
	if err := fetch.WriteFile(*file, content); err != nil {
		return fmt.Errorf("%s: %w", *file, err)
	}
	fmt.Fprintf(stdout, "wrote %s from %s: %d regions, serial %d\n", *file, src, len(table.Regions), table.Serial)
	return nil
}

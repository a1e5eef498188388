package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/signal"
	"syscall"
	"time"

	"github.com/mysqlgw/mysqlgw/internal/fetch"
	"github.com/mysqlgw/mysqlgw/internal/gwtable"
	"github.com/mysqlgw/mysqlgw/internal/regionsimport"
)

// runFetch is `fetch`: 0 when FILE is current (written or unchanged), 3 when
// the guard kept it, 2 on an error or a run past -timeout. With -every it runs until stopped, and
// each run's outcome is logged.
func runFetch(args []string, stdout, stderr io.Writer) (int, error) {
	flags := flag.NewFlagSet("fetch", flag.ContinueOnError)
	flags.SetOutput(stderr)
	var opt fetch.Options
	flags.StringVar(&opt.Source, "source", fetch.AzureSQL, "azure-sql (Azure SQL Database's gateway table) or service-tags (the weekly Service Tags file)")
	flags.StringVar(&opt.URL, "url", "", "where to download from instead of Microsoft's location (a mirror, a proxy, a test)")
	flags.StringVar(&opt.Tag, "tag", regionsimport.DefaultTag, "service-tags: the tag whose TAG.<Region> values become regions")
	flags.BoolVar(&opt.Redirect, "redirect", false, "azure-sql: also download the Service Tags file and write each region's Sql.<Region> prefixes as its Redirect set")
	flags.StringVar(&opt.TagsURL, "tags-url", "", "-redirect: where to find the Service Tags file instead of Microsoft's download page (the page or the file)")
	flags.Float64Var(&opt.MaxDrop, "max-drop", 10, "refuse to write when a family would lose more than this percent of the addresses FILE covers")
	flags.Float64Var(&opt.MaxGrow, "max-grow", 100, "refuse to write when a family would gain more than this percent of the addresses FILE covers")
	flags.BoolVar(&opt.Force, "force", false, "write even when the guard refuses")
	flags.StringVar(&opt.File, "o", "", "the regions file to keep current (required)")
	timeout := flags.Duration("timeout", 60*time.Second, "the most one run may take, all of it: download, import, comparison, guard and write")
	every := flags.Duration("every", 0, "run again at this interval until stopped (for a sidecar); 0: once")
	if err := flags.Parse(args); err != nil {
		return 2, err
	}
	if opt.Redirect && !given(flags, "tag") {
		opt.Tag = "" // -tag's default is for -source service-tags; fetch.Run refuses a -tag given with -redirect
	}
	switch {
	case flags.NArg() != 0:
		return 2, fmt.Errorf("fetch takes no arguments, got %q\n%s", flags.Args(), usage)
	case opt.File == "":
		return 2, fmt.Errorf("fetch needs -o FILE\n%s", usage)
	case *timeout <= 0:
		return 2, fmt.Errorf("-timeout must be above 0")
	case *every < 0 || *every > 0 && *every < time.Minute:
		return 2, fmt.Errorf("-every must be 0 (once) or at least 1m, got %s", *every)
	}
	if err := fetch.CheckOptions(opt); err != nil {
		return 2, err
	}
	if *every == 0 {
		return fetchOnce(context.Background(), opt, *timeout, stdout, stderr, "")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	fetchEvery(ctx, opt, *timeout, *every, stdout, stderr)
	return 0, nil
}

// given reports whether the flag name was set on the command line.
func given(flags *flag.FlagSet, name string) bool {
	set := false
	flags.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// fetchEvery runs fetch at every interval until ctx ends (SIGTERM), each
// outcome on a line with its time; an error waits for the next run.
func fetchEvery(ctx context.Context, opt fetch.Options, timeout, every time.Duration, stdout, stderr io.Writer) {
	for {
		stamp := time.Now().UTC().Format(time.RFC3339) + " "
		status, err := fetchOnce(ctx, opt, timeout, stdout, stderr, stamp)
		if err != nil {
			fmt.Fprintf(stderr, "%smysqlgw-regions: %v (exit status %d; trying again in %s)\n", stamp, err, status, every)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// fetchOnce runs one fetch within timeout and reports it, each line after
// prefix. Warnings and errors are one line each: fetch quotes what the
// network sent, and any control character left is escaped here, so that
// nothing starts a line of -every's log that looks like its own.
func fetchOnce(ctx context.Context, opt fetch.Options, timeout time.Duration, stdout, stderr io.Writer, prefix string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out, err := fetch.Run(ctx, opt)
	warnings := make([]string, len(out.Warnings))
	for i, w := range out.Warnings {
		warnings[i] = gwtable.EscapeControls(w)
	}
	printWarnings(stderr, prefix, warnings)
	if err != nil {
		return 2, errors.New(gwtable.EscapeControls(err.Error()))
	}
	fmt.Fprint(stdout, prefix+out.Text)
	if out.Refused {
		return 3, nil
	}
	return 0, nil
}

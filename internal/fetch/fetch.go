// Package fetch keeps a regions file current from Microsoft's published
// gateway tables: download, import, compare with the file, guard against a
// suspicious shrink or growth, and replace the file atomically when the
// table changed.
package fetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
	"github.com/mysqlgw/mysqlgw/internal/regionsimport"
	"golang.org/x/net/http/httpproxy"
)

// The sources fetch knows, and where Microsoft publishes them.
const (
	AzureSQL    = "azure-sql"
	ServiceTags = "service-tags"

	// AzureSQLURL is the raw Markdown of Azure SQL Database's gateway table,
	// the include Microsoft's pipeline regenerates.
	AzureSQLURL = "https://raw.githubusercontent.com/MicrosoftDocs/sql-docs/live/azure-sql/database/includes/gateway-ip-addresses.md"
	// ServiceTagsURL is the download page of the weekly Service Tags file,
	// "Azure IP Ranges and Service Tags – Public Cloud".
	ServiceTagsURL = "https://www.microsoft.com/en-us/download/details.aspx?id=56519"
)

// Options are the choices of one run.
type Options struct {
	File    string  // the regions file to keep current
	Source  string  // AzureSQL (when empty) or ServiceTags
	URL     string  // replaces the source's default location
	Tag     string  // the service tag, for ServiceTags
	MaxDrop float64 // the most of a family's addresses a run may stop covering, in percent of FILE's, per set
	MaxGrow float64 // the most a run may add to a family's addresses, in percent of FILE's, per set
	Force   bool    // write whatever the guard says
	Client  *http.Client
	Now     func() time.Time // today's date, for a table without a published one

	// Redirect adds to AzureSQL's gateway table each region's Redirect set:
	// its Sql.<Region> value of the Service Tags file, found at TagsURL
	// (ServiceTagsURL when empty) as ServiceTags finds the file.
	Redirect bool
	TagsURL  string

	// hook, when set, is called with each step of a run as it begins, and
	// with "ended" once the work is over (tests).
	hook func(step string)
}

// Outcome is what a run did: Text for standard output, Warnings for
// standard error.
type Outcome struct {
	Written  bool
	Refused  bool // the guard kept FILE: exit status 3
	Text     string
	Warnings []string
}

// Run fetches the table once, the whole run within ctx: download, import,
// comparison, guard and write. When ctx ends first (its deadline, or a
// stop), Run returns at once with an error saying what the run was doing,
// and FILE is left as it is: the abandoned work stops at its next step and
// can no longer replace FILE. Any other error also leaves FILE untouched
// and names the URL or FILE and the cause.
func Run(ctx context.Context, opt Options) (Outcome, error) {
	if err := CheckOptions(opt); err != nil {
		return Outcome{}, err
	}
	r := &runner{opt: opt}
	r.stage.Store("starting")
	type result struct {
		out Outcome
		err error
	}
	done := make(chan result, 1) // the work never blocks on sending
	go func() {
		out, err := r.run(ctx)
		done <- result{out, err}
		if opt.hook != nil {
			opt.hook("ended")
		}
	}()
	select {
	case res := <-done:
		if res.err != nil && ctx.Err() != nil {
			return Outcome{}, r.late(ctx)
		}
		return res.out, res.err
	case <-ctx.Done():
		if r.gate.CompareAndSwap(gateOpen, gateAbandoned) {
			return Outcome{}, r.late(ctx)
		}
		res := <-done // FILE was being renamed into place when ctx ended: that stands
		return res.out, res.err
	}
}

// The states of a run's gate: the one rename that replaces FILE and the
// end of ctx race for it, so a run that has returned its timeout never
// writes afterwards.
const (
	gateOpen int32 = iota
	gateCommitted
	gateAbandoned
)

// runner is one run: its options, what it is doing (for the timeout's
// message) and its gate.
type runner struct {
	opt   Options
	stage atomic.Value // string
	gate  atomic.Int32
}

// step records what the run does next and reports whether ctx has ended,
// so that work Run has given up on stops there.
func (r *runner) step(ctx context.Context, stage string) error {
	r.stage.Store(stage)
	if r.opt.hook != nil {
		r.opt.hook(stage)
	}
	return ctx.Err()
}

// late is the error of a run that ctx ended.
func (r *runner) late(ctx context.Context) error {
	stage := r.stage.Load().(string)
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("not done within the timeout (while %s): %s is left as it is", stage, r.opt.File)
	}
	return fmt.Errorf("stopped (while %s): %s is left as it is", stage, r.opt.File)
}

// commit claims the gate for the rename that replaces FILE: false when Run
// has already returned because ctx ended.
func (r *runner) commit() bool {
	r.step(context.Background(), "renaming the new table over "+r.opt.File)
	return r.gate.CompareAndSwap(gateOpen, gateCommitted)
}

// run is the work of Run.
func (r *runner) run(ctx context.Context) (Outcome, error) {
	var out Outcome
	opt := r.opt
	from := opt.URL
	if opt.Source == ServiceTags {
		from = cmpOr(from, ServiceTagsURL)
	} else {
		from = cmpOr(from, AzureSQLURL)
	}
	client := opt.Client
	if client == nil {
		// Proxies from the environment, read at each run (net/http's
		// ProxyFromEnvironment reads it once per process).
		proxy := httpproxy.FromEnvironment().ProxyFunc()
		client = &http.Client{Transport: &http.Transport{
			Proxy: func(r *http.Request) (*url.URL, error) { return proxy(r.URL) },
		}}
	}
	// from becomes the URL the table came from, after redirects: the
	// $SOURCE written and the name of what was downloaded.
	body, from, err := r.get(ctx, client, from, opt.Source == ServiceTags)
	if err != nil {
		return out, err
	}
	var tagsBody []byte
	var tagsFrom string
	if opt.Redirect {
		if tagsBody, tagsFrom, err = r.get(ctx, client, cmpOr(opt.TagsURL, ServiceTagsURL), true); err != nil {
			return out, err
		}
	}

	if err := r.step(ctx, "reading "+opt.File); err != nil {
		return out, err
	}
	old, exists, err := readOld(opt.File, opt.Force)
	if err != nil {
		return out, err
	}
	now := time.Now
	if opt.Now != nil {
		now = opt.Now
	}
	// The import's own serial (ms.date, changeNumber) is replaced by one
	// that only grows: the date as YYYYMMDD01, past FILE's serial.
	if err := r.step(ctx, "importing "+shown(from)); err != nil {
		return out, err
	}
	res, err := regionsimport.Import(ctxReader{ctx, bytes.NewReader(body)}, from, regionsimport.Options{Tag: opt.Tag, Source: from})
	if err != nil {
		return out, err
	}
	if opt.Redirect {
		if err := r.step(ctx, "importing "+shown(tagsFrom)); err != nil {
			return out, err
		}
		sets, err := regionsimport.Import(ctxReader{ctx, bytes.NewReader(tagsBody)}, tagsFrom, regionsimport.Options{Redirect: true, Source: tagsFrom})
		if err != nil {
			return out, err
		}
		if res, err = regionsimport.AddRedirect(res, sets); err != nil {
			return out, err
		}
	}
	sources := shown(from) // where the table came from, as messages name it
	if opt.Redirect {
		sources += " and " + shown(tagsFrom)
	}
	serial, why := nextSerial(res.Table, now(), old, exists)
	res.SetSerial(serial, why)
	// Warnings are for a table about to be written: an unchanged one
	// repeats the last run's.
	var warnings []string
	for _, w := range res.Warnings {
		warnings = append(warnings, w.String())
	}
	if !exists {
		if err := r.step(ctx, "writing "+opt.File); err != nil {
			return out, err
		}
		if err := writeFile(opt.File, res.Bytes(), r.commit); err != nil {
			return out, err
		}
		regions := fmt.Sprintf("%d regions", len(res.Table.Regions))
		if opt.Redirect {
			withSet := 0
			for _, region := range res.Table.Regions {
				if region.HasRedirect() {
					withSet++
				}
			}
			regions += fmt.Sprintf(", %d with a Redirect set", withSet)
		}
		out.Written, out.Warnings = true, warnings
		out.Text = fmt.Sprintf("wrote %s: %s, serial %d, from %s\n", opt.File, regions, serial, sources)
		return out, nil
	}
	if err := r.step(ctx, "comparing the table with "+opt.File); err != nil {
		return out, err
	}
	diff := gwtable.Diff(opt.File, old, sources, res.Table)
	if !diff.Changed {
		out.Text = "unchanged\n"
		return out, nil
	}
	if err := r.step(ctx, "measuring what the table would remove and add"); err != nil {
		return out, err
	}
	if why := guard(old, res.Table, diff, opt); why != "" && !opt.Force {
		out.Refused, out.Warnings = true, warnings
		out.Text = fmt.Sprintf("refused: %s left as it is: %s; review the change, then run again with -force to write it\n%s", opt.File, why, diff.Text)
		return out, nil
	}
	if err := r.step(ctx, "writing "+opt.File); err != nil {
		return out, err
	}
	if err := writeFile(opt.File, res.Bytes(), r.commit); err != nil {
		return out, err
	}
	out.Written, out.Warnings = true, warnings
	out.Text = diff.Text
	return out, nil
}

// get downloads rawURL, each step named for the timeout's message, and
// returns the body and the URL it came from, after redirects. With
// serviceTags, a body that is not JSON is Microsoft's download page, and
// the Service Tags file it links to is downloaded in its place.
func (r *runner) get(ctx context.Context, client *http.Client, rawURL string, serviceTags bool) (body []byte, from string, err error) {
	if err := r.step(ctx, "downloading "+shown(rawURL)); err != nil {
		return nil, "", err
	}
	if body, from, err = download(ctx, client, rawURL); err != nil {
		return nil, "", err
	}
	if !serviceTags || regionsimport.IsJSON(body) {
		return body, from, nil
	}
	link := serviceTagsLink.Find(body)
	if link == nil {
		return nil, "", fmt.Errorf("%s: no link to a ServiceTags_Public_YYYYMMDD.json file on the page", shown(from))
	}
	if strings.HasPrefix(from, "https:") && !bytes.HasPrefix(link, []byte("https:")) {
		return nil, "", &downgradeError{from: from, how: "links to", to: string(link)}
	}
	if err := r.step(ctx, "downloading "+shown(string(link))); err != nil {
		return nil, "", err
	}
	return download(ctx, client, string(link))
}

// CheckOptions reports why opt cannot run, before any download: the
// source, the options of -redirect, the guard's limits. A command checks
// them at once, so that fetch -every does not find out at every run.
func CheckOptions(opt Options) error {
	switch opt.Source {
	case AzureSQL, "", ServiceTags:
	default:
		return fmt.Errorf("-source %q: want %s or %s", opt.Source, AzureSQL, ServiceTags)
	}
	if err := checkRedirectSet(opt); err != nil {
		return err
	}
	return CheckLimits(opt.MaxDrop, opt.MaxGrow)
}

// checkRedirectSet reports why opt's -redirect, -tag and -tags-url do not go
// together, or nil.
func checkRedirectSet(opt Options) error {
	switch {
	case opt.Redirect && opt.Source == ServiceTags:
		return fmt.Errorf("-redirect adds the Service Tags file's %s.<Region> values to Azure SQL's gateway table as Redirect sets: it takes -source %s, not %s (which makes a tag's values the gateway set)", regionsimport.DefaultTag, AzureSQL, ServiceTags)
	case opt.Redirect && opt.Tag != "":
		return fmt.Errorf("-redirect reads the %s.<Region> values, always: -tag is for -source %s", regionsimport.DefaultTag, ServiceTags)
	case !opt.Redirect && opt.TagsURL != "":
		return fmt.Errorf("-tags-url is where -redirect finds the Service Tags file: give -redirect too")
	}
	return nil
}

// ctxReader reads r until ctx ends, so that the import of a large body
// stops there.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// CheckLimits reports why maxDrop or maxGrow cannot bound the guard, or
// nil: each is a number of percent, -max-drop from 0 to 100, -max-grow 0 or
// more and finite. NaN, which every comparison fails, would turn the guard
// off.
func CheckLimits(maxDrop, maxGrow float64) error {
	switch {
	case !(maxDrop >= 0 && maxDrop <= 100):
		return fmt.Errorf("-max-drop must be a percentage from 0 to 100, got %g", maxDrop)
	case !(maxGrow >= 0) || math.IsInf(maxGrow, 1):
		return fmt.Errorf("-max-grow must be a finite percentage, 0 or more, got %g", maxGrow)
	}
	return nil
}

// readOld reads FILE; exists is false when there is none. A file that does
// not parse is an error unless force says to replace it anyway.
func readOld(path string, force bool) (old gwtable.Table, exists bool, err error) {
	content, err := gwtable.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return gwtable.Table{}, false, nil
	}
	if err != nil {
		return gwtable.Table{}, false, err
	}
	old, err = gwtable.Parse(content, path)
	if err != nil {
		if force {
			return gwtable.Table{}, false, nil
		}
		return gwtable.Table{}, false, fmt.Errorf("%w (FILE is left as it is; -force replaces it)", err)
	}
	return old, true, nil
}

// nextSerial is the serial to write: t's published date (with a Redirect
// set, the later of $PUBLISHED and $REDIRECT-PUBLISHED; today's when the
// sources give none) as YYYYMMDD01, raised past FILE's serial when that is
// not before it in RFC 1982 order. A FILE without $SERIAL imposes nothing.
func nextSerial(t gwtable.Table, now time.Time, old gwtable.Table, exists bool) (uint32, string) {
	date, from := t.Published, "the published date"
	if t.RedirectPublished.After(date) {
		date, from = t.RedirectPublished, "the Service Tags file's date"
	}
	if date.IsZero() {
		date, from = now.UTC(), "today's date"
	}
	serial := uint32(date.Year()*1000000 + int(date.Month())*10000 + date.Day()*100 + 1)
	if exists && old.HasSerial && !gwtable.SerialAfter(serial, old.Serial) {
		return old.Serial + 1, "FILE's serial + 1"
	}
	return serial, from
}

func cmpOr(a, b string) string {
	if strings.TrimSpace(a) != "" {
		return a
	}
	return b
}

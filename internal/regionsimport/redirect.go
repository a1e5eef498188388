package regionsimport

import (
	"bufio"
	"fmt"
	"slices"
	"strings"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
)

// A region's Redirect set is every Azure SQL address of the region, which
// clients under the Redirect connection policy reach besides its gateways:
// Microsoft publishes it as the Sql.<Region> service tag of the weekly
// Service Tags file. importRedirect reads those values into a table of
// Redirect sets alone, and AddRedirect gives them to the regions of a
// gateway table.

// importRedirect reads a Service Tags file's Sql.<Region> values (in, its
// first byte first unread, read bytes before it) as Redirect sets: every
// prefix of a value, single addresses included, is its region's Redirect
// set, named by Azure's name of the tag's suffix. The table has
// $REDIRECT-SOURCE (opt.Source) and $REDIRECT-PUBLISHED (the file name's
// date) and no serial of its own: it is the gateway table's.
func importRedirect(in *bufio.Reader, first byte, read int64, source string, opt Options, limit int64) (Result, error) {
	switch {
	case opt.Tag != "" && !strings.EqualFold(opt.Tag, DefaultTag):
		return Result{}, fmt.Errorf("%s: a Redirect set is a %s.<Region> value, not %s", source, DefaultTag, gwtable.Quote(opt.Tag+".<Region>"))
	case !startsJSON(first):
		return Result{}, fmt.Errorf("%s: not a Service Tags file: Redirect sets come from its JSON", source)
	}
	opt.Tag = DefaultTag
	res, err := readServiceTags(&limitCheck{r: in, n: read, limit: limit, source: source}, source, opt)
	if err != nil {
		return Result{}, err
	}
	if len(res.Table.Regions) == 0 {
		return Result{}, fmt.Errorf("%s: no %s.<Region> value with a prefix: no Redirect set to import", source, DefaultTag)
	}
	res.Name = source
	if opt.Source != "" {
		if err := gwtable.CheckSource("$REDIRECT-SOURCE", opt.Source); err != nil {
			res.Warnings = append(res.Warnings, Warning{Where: source, Text: fmt.Sprintf("no $REDIRECT-SOURCE written: %v", err)})
		} else {
			res.Table.RedirectSource = opt.Source
		}
	}
	if d, name, ok := fileDate(opt.Source + " " + source); ok {
		res.Table.RedirectPublished = d
		res.Header = append(res.Header, "$REDIRECT-PUBLISHED "+d.Format(gwtable.DateLayout)+" from the file name "+name)
	} else {
		res.Header = append(res.Header, "no $REDIRECT-PUBLISHED: the file's name carries no date")
	}
	return check(res, source)
}

// AddRedirect is the gateway table gateways with the Redirect sets of
// redirect (an import with Options.Redirect), matched by region name. A
// region of one of them only is kept as it is: a gateway region without a
// Redirect set, or a region with a Redirect set alone (after the gateway
// table's regions, in redirect's order). One warning for each source names
// the regions the other lacks, sorted, at most gwtable.MaxListed of them and
// a count of the rest: the Service Tags file lists a few dozen Sql.<Region>
// values, the gateway table seventy regions, and most of each are in both.
// The table keeps gateways' serial, $SOURCE and $PUBLISHED, and takes
// $REDIRECT-SOURCE and $REDIRECT-PUBLISHED from redirect; the header is
// both headers and a line that counts the regions of each kind.
func AddRedirect(gateways, redirect Result) (Result, error) {
	sets := make(map[string]gwtable.Region, len(redirect.Table.Regions))
	for _, r := range redirect.Table.Regions {
		sets[r.Name] = r
	}
	res := gateways
	res.Table.Regions = slices.Clone(gateways.Table.Regions)
	res.Table.RedirectSource, res.Table.RedirectPublished = redirect.Table.RedirectSource, redirect.Table.RedirectPublished
	inGateways := make(map[string]bool, len(gateways.Table.Regions))
	var gatewayOnly, redirectOnly []string
	for i, r := range res.Table.Regions {
		inGateways[r.Name] = true
		set, ok := sets[r.Name]
		if !ok {
			gatewayOnly = append(gatewayOnly, r.Name)
			continue
		}
		res.Table.Regions[i].Redirect = set.Redirect
	}
	for _, r := range redirect.Table.Regions {
		if !inGateways[r.Name] {
			res.Table.Regions = append(res.Table.Regions, gwtable.Region{Name: r.Name, Redirect: r.Redirect})
			redirectOnly = append(redirectOnly, r.Name)
		}
	}
	both := len(gateways.Table.Regions) - len(gatewayOnly)
	res.Header = append(slices.Clone(gateways.Header), redirect.Header...)
	res.Header = append(res.Header, fmt.Sprintf("%d regions with both sets, %d with the gateway set only, %d with the Redirect set only", both, len(gatewayOnly), len(redirectOnly)))
	res.Warnings = append(slices.Clone(gateways.Warnings), redirect.Warnings...)
	if len(gatewayOnly) > 0 {
		slices.Sort(gatewayOnly)
		res.Warnings = append(res.Warnings, Warning{Where: redirect.Name, Text: fmt.Sprintf(
			"%d region(s) of the gateway table have no %s.<Region> value here; kept without a Redirect set: %s", len(gatewayOnly), DefaultTag, gwtable.Listed(gatewayOnly))})
	}
	if len(redirectOnly) > 0 {
		slices.Sort(redirectOnly)
		res.Warnings = append(res.Warnings, Warning{Where: gateways.Name, Text: fmt.Sprintf(
			"%d region(s) with a %s.<Region> value have no row here; kept with a Redirect set only, no gateways or subnets: %s", len(redirectOnly), DefaultTag, gwtable.Listed(redirectOnly))})
	}
	return check(res, gateways.Name)
}

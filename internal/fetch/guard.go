package fetch

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
)

// set is one of a table's two sets of addresses, which the guard measures
// each on its own: the gateway set a firewall opens under the Proxy
// connection policy, and the Redirect set it opens besides under Redirect.
type set struct {
	name  string                            // as a refusal names it
	of    func(gwtable.Region) *gwtable.Set // a region's addresses in the set
	has   func(gwtable.Region) bool         // whether a region has the set
	items func(gwtable.Delta) []string      // what of a Diff delta is in the set, as text
	what  string                            // what those items are
}

var (
	gatewaySet  = set{"gateway set", gwtable.Region.Allow, gwtable.Region.HasAllow, listed, "addresses and prefixes"}
	redirectSet = set{"Redirect set", gwtable.Region.RedirectSet, gwtable.Region.HasRedirect, redirectListed, "prefixes"}
)

// anyHas reports whether a region of t has the set s.
func anyHas(t gwtable.Table, s set) bool { return slices.ContainsFunc(t.Regions, s.has) }

// guard reports why new is more than an unattended run may change of old,
// or "": each set measured on its own (see change.refuse). A set old has in
// no region is not measured, as a FILE absent is not: there is nothing to
// measure it by (the first run with -redirect adds every Redirect set).
// When either table has a Redirect set, each reason names its set.
func guard(old, new gwtable.Table, diff gwtable.DiffResult, opt Options) string {
	labelled := anyHas(old, redirectSet) || anyHas(new, redirectSet)
	var why []string
	for _, s := range []set{gatewaySet, redirectSet} {
		if !anyHas(old, s) {
			continue
		}
		reasons := measure(old, new, s, diff).refuse(opt.MaxDrop, opt.MaxGrow, labelled)
		if len(reasons) > 0 && s.name == redirectSet.name && !opt.Redirect {
			reasons = append(reasons, "FILE has Redirect sets, which fetch writes only with -redirect")
		}
		for _, r := range reasons {
			if labelled {
				r = s.name + ": " + r
			}
			why = append(why, r)
		}
	}
	return strings.Join(why, "; ")
}

// change is what a new table would do to one set of an old one: the
// regions that had the set and no longer do, per family how many addresses
// it stops and starts covering, and the set's items it no longer and newly
// lists.
type change struct {
	set        set
	regions    []string
	v4, v6     family
	gone, come []string
}

// family counts, for one address family, what an old table covered (had),
// what a new one no longer covers (lost) and what it covers that the old
// one did not (gained).
type family struct {
	lost, gained, had float64
}

// lostPercent is the share of had that is lost.
func (f family) lostPercent() float64 {
	if f.had == 0 {
		return 0
	}
	return 100 * f.lost / f.had
}

// gainedPercent is the share of had that is gained: infinite when the old
// table covered none of the family and the new one covers some.
func (f family) gainedPercent() float64 {
	switch {
	case f.gained == 0:
		return 0
	case f.had == 0:
		return math.Inf(1)
	}
	return 100 * f.gained / f.had
}

// measure compares what old and new cover of the set s (gwtable's prefix
// arithmetic), and takes the set's items of diff's deltas. An address that
// moves between regions, roles or kinds, or prefixes merged into a wider
// one, take nothing away and add nothing.
func measure(old, new gwtable.Table, s set, diff gwtable.DiffResult) change {
	c := change{set: s, gone: s.items(diff.Removed), come: s.items(diff.Added)}
	names := make(map[string]bool, len(new.Regions))
	for _, r := range new.Regions {
		if s.has(r) {
			names[r.Name] = true
		}
	}
	for _, r := range old.Regions {
		if s.has(r) && !names[r.Name] {
			c.regions = append(c.regions, r.Name)
		}
	}
	was, now := covered(old, s), covered(new, s)
	had4, had6 := gwtable.Size(was)
	has4, has6 := gwtable.Size(now)
	kept4, kept6 := gwtable.Overlap(was, now)
	c.v4 = family{lost: had4 - kept4, gained: has4 - kept4, had: had4}
	c.v6 = family{lost: had6 - kept6, gained: has6 - kept6, had: had6}
	return c
}

// covered is every address of t in the set s, aggregated.
func covered(t gwtable.Table, s set) []netip.Prefix {
	sets := make([]*gwtable.Set, len(t.Regions))
	for i, r := range t.Regions {
		sets[i] = s.of(r)
	}
	return gwtable.Union(sets).Prefixes
}

// refuse says why c is more than an unattended run may change, a reason
// each, or nothing: a region that no longer has the set, more than maxDrop
// percent of a family's addresses no longer covered, or more than maxGrow
// percent newly covered. labelled words a region's loss for a table of two
// sets, whose regions may keep the other. The comparisons are written so
// that a NaN limit refuses.
func (c change) refuse(maxDrop, maxGrow float64, labelled bool) []string {
	var why []string
	switch {
	case len(c.regions) > 0 && labelled:
		why = append(why, fmt.Sprintf("%d region(s) would no longer have one: %s", len(c.regions), gwtable.Listed(c.regions)))
	case len(c.regions) > 0:
		why = append(why, fmt.Sprintf("it would remove %d region(s): %s", len(c.regions), gwtable.Listed(c.regions)))
	}
	shrinks, grows := false, false
	for _, f := range []struct {
		name string
		f    family
	}{{"IPv4", c.v4}, {"IPv6", c.v6}} {
		if p := f.f.lostPercent(); !(p <= maxDrop) {
			shrinks = true
			why = append(why, fmt.Sprintf("it would stop covering %s of %s %s addresses (%.1f%%, more than -max-drop %g%%)", count(f.f.lost), count(f.f.had), f.name, p, maxDrop))
		}
		switch p := f.f.gainedPercent(); {
		case p <= maxGrow:
		case f.f.had == 0:
			grows = true
			why = append(why, fmt.Sprintf("it would start covering %s %s addresses, where FILE covers none (more than -max-grow %g%%)", count(f.f.gained), f.name, maxGrow))
		default:
			grows = true
			why = append(why, fmt.Sprintf("it would start covering %s %s addresses beyond FILE's %s (+%.1f%%, more than -max-grow %g%%)", count(f.f.gained), f.name, count(f.f.had), p, maxGrow))
		}
	}
	if len(why) == 0 {
		return nil
	}
	if (len(c.regions) > 0 || shrinks) && len(c.gone) > 0 {
		why = append(why, c.set.what+" no longer listed: "+gwtable.Listed(c.gone))
	}
	if grows && len(c.come) > 0 {
		why = append(why, c.set.what+" newly listed: "+gwtable.Listed(c.come))
	}
	return why
}

// listed is d's addresses, then its prefixes (subnets), as text: the
// gateway set's items.
func listed(d gwtable.Delta) []string {
	var items []string
	for _, a := range d.Addresses {
		items = append(items, a.String())
	}
	for _, p := range d.Prefixes {
		items = append(items, p.String())
	}
	return items
}

// redirectListed is d's Redirect prefixes, as text.
func redirectListed(d gwtable.Delta) []string {
	var items []string
	for _, p := range d.Redirect {
		items = append(items, p.String())
	}
	return items
}

// count writes an address count as a whole number: 128, or
// 39614081257132168796771975168 for an IPv6 /33.
func count(n float64) string { return strconv.FormatFloat(n, 'f', 0, 64) }

package fetch

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
)

// change is what a new table would do to an old one's coverage: the regions
// it drops, and per family how many addresses it stops and starts covering.
type change struct {
	regions []string
	v4, v6  family
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

// measure compares what old and new cover (gwtable's prefix arithmetic). An
// address that moves between regions, roles or kinds, or prefixes merged
// into a wider one, take nothing away and add nothing.
func measure(old, new gwtable.Table) change {
	var c change
	names := make(map[string]bool, len(new.Regions))
	for _, r := range new.Regions {
		names[r.Name] = true
	}
	for _, r := range old.Regions {
		if !names[r.Name] {
			c.regions = append(c.regions, r.Name)
		}
	}
	was, now := covered(old), covered(new)
	had4, had6 := gwtable.Size(was)
	has4, has6 := gwtable.Size(now)
	kept4, kept6 := gwtable.Overlap(was, now)
	c.v4 = family{lost: had4 - kept4, gained: has4 - kept4, had: had4}
	c.v6 = family{lost: had6 - kept6, gained: has6 - kept6, had: had6}
	return c
}

// covered is every address t allows (gateways, decommissioning addresses,
// subnets), aggregated.
func covered(t gwtable.Table) []netip.Prefix {
	sets := make([]*gwtable.Set, len(t.Regions))
	for i, r := range t.Regions {
		sets[i] = r.Allow()
	}
	return gwtable.Union(sets).Prefixes
}

// refuse reports why c is more than an unattended run may change, or "":
// a region removed, more than maxDrop percent of a family's addresses no
// longer covered, or more than maxGrow percent newly covered. The
// comparisons are written so that a NaN limit refuses.
func (c change) refuse(maxDrop, maxGrow float64, added, removed gwtable.Delta) string {
	var why []string
	if len(c.regions) > 0 {
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
		return ""
	}
	if len(c.regions) > 0 || shrinks {
		if gone := listed(removed); len(gone) > 0 {
			why = append(why, "addresses and prefixes no longer listed: "+gwtable.Listed(gone))
		}
	}
	if grows {
		if come := listed(added); len(come) > 0 {
			why = append(why, "addresses and prefixes newly listed: "+gwtable.Listed(come))
		}
	}
	return strings.Join(why, "; ")
}

// listed is d's addresses, then its prefixes, as text.
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

// count writes an address count as a whole number: 128, or
// 39614081257132168796771975168 for an IPv6 /33.
func count(n float64) string { return strconv.FormatFloat(n, 'f', 0, 64) }

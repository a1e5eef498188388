package fetch

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
)

// shrink is what a new table would take away from an old one: the regions
// it drops, and per family how many of the old table's addresses it no
// longer covers.
type shrink struct {
	regions []string
	v4, v6  loss
}

// loss counts addresses an old table covered and a new one does not.
type loss struct {
	lost, had float64
}

// percent is the share of had that is lost.
func (l loss) percent() float64 {
	if l.had == 0 {
		return 0
	}
	return 100 * l.lost / l.had
}

// measure compares what old and new cover (gwtable's prefix arithmetic). An
// address that moves between regions, roles or kinds, or prefixes merged
// into a wider one, take nothing away.
func measure(old, new gwtable.Table) shrink {
	var s shrink
	names := make(map[string]bool, len(new.Regions))
	for _, r := range new.Regions {
		names[r.Name] = true
	}
	for _, r := range old.Regions {
		if !names[r.Name] {
			s.regions = append(s.regions, r.Name)
		}
	}
	was, now := covered(old), covered(new)
	had4, had6 := gwtable.Size(was)
	kept4, kept6 := gwtable.Overlap(was, now)
	s.v4, s.v6 = loss{had4 - kept4, had4}, loss{had6 - kept6, had6}
	return s
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

// refuse reports why s is more than an unattended run may take away, or "".
func (s shrink) refuse(maxDrop float64, removed gwtable.Delta) string {
	var why []string
	if len(s.regions) > 0 {
		why = append(why, fmt.Sprintf("it would remove %d region(s): %s", len(s.regions), list(s.regions)))
	}
	for _, f := range []struct {
		name string
		l    loss
	}{{"IPv4", s.v4}, {"IPv6", s.v6}} {
		if p := f.l.percent(); p > maxDrop {
			why = append(why, fmt.Sprintf("it would stop covering %s of %s %s addresses (%.1f%%, more than -max-drop %g%%)", count(f.l.lost), count(f.l.had), f.name, p, maxDrop))
		}
	}
	if len(why) == 0 {
		return ""
	}
	var gone []string
	for _, a := range removed.Addresses {
		gone = append(gone, a.String())
	}
	for _, p := range removed.Prefixes {
		gone = append(gone, p.String())
	}
	if len(gone) > 0 {
		why = append(why, "addresses and prefixes no longer listed: "+list(gone))
	}
	return strings.Join(why, "; ")
}

// list joins items, at most 20 of them, saying how many more there are.
func list(items []string) string {
	const most = 20
	if len(items) <= most {
		return strings.Join(items, " ")
	}
	return strings.Join(items[:most], " ") + fmt.Sprintf(" and %d more", len(items)-most)
}

// count writes an address count as a whole number: 128, or
// 39614081257132168796771975168 for an IPv6 /33.
func count(n float64) string { return strconv.FormatFloat(n, 'f', 0, 64) }

package gwtable

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// DiffResult is what changed from one regions file to another.
type DiffResult struct {
	// Text lists a changed $SOURCE or $PUBLISHED, then, region by region in
	// name order, what the new file adds (+) and removes (-), and addresses
	// that changed kind (~); empty when nothing changed.
	Text    string
	Changed bool
	// Added and Removed are the regions, addresses (gateway or
	// decommissioning), subnets and Redirect prefixes one table has and the
	// other lacks, across the whole table: an address that moves between
	// regions, roles or kinds is in neither, and a prefix in both sets
	// that leaves one is a change of that set.
	Added, Removed Delta
	// Warning is set when the regions changed but the serial did not
	// increase: secondaries comparing serials would not see the change.
	Warning string
}

// Delta is what one table has and another lacks.
type Delta struct {
	Regions   []string
	Addresses []netip.Addr
	Prefixes  []netip.Prefix // subnets
	Redirect  []netip.Prefix // Redirect sets' prefixes
}

// Diff compares two tables. A table changes when its regions, their names,
// gateways (with roles), subnets, decommissioning addresses or Redirect sets,
// or its provenance ($SOURCE, $PUBLISHED, $REDIRECT-SOURCE,
// $REDIRECT-PUBLISHED) change; the serial alone and comments are no change.
// diff, fetch and the server's reload all use this one meaning.
func Diff(oldName string, old Table, newName string, new Table) DiffResult {
	oldByName := make(map[string]Region, len(old.Regions))
	newByName := make(map[string]Region, len(new.Regions))
	var names []string
	for _, r := range old.Regions {
		oldByName[r.Name] = r
		names = append(names, r.Name)
	}
	for _, r := range new.Regions {
		newByName[r.Name] = r
		if _, ok := oldByName[r.Name]; !ok {
			names = append(names, r.Name)
		}
	}
	slices.Sort(names)
	var b strings.Builder
	if old.Source != new.Source {
		fmt.Fprintf(&b, "~ $SOURCE %s (was %s)\n", orNone(new.Source), orNone(old.Source))
	}
	if !old.Published.Equal(new.Published) {
		fmt.Fprintf(&b, "~ $PUBLISHED %s (was %s)\n", dateOrNone(new.Published), dateOrNone(old.Published))
	}
	if old.RedirectSource != new.RedirectSource {
		fmt.Fprintf(&b, "~ $REDIRECT-SOURCE %s (was %s)\n", orNone(new.RedirectSource), orNone(old.RedirectSource))
	}
	if !old.RedirectPublished.Equal(new.RedirectPublished) {
		fmt.Fprintf(&b, "~ $REDIRECT-PUBLISHED %s (was %s)\n", dateOrNone(new.RedirectPublished), dateOrNone(old.RedirectPublished))
	}
	for _, name := range names {
		o, inOld := oldByName[name]
		n, inNew := newByName[name]
		var lines []string
		switch {
		case !inOld:
			lines = regionLines(Region{}, n)
			b.WriteString("+ " + name + " (new region)\n")
		case !inNew:
			lines = regionLines(o, Region{})
			b.WriteString("- " + name + " (region removed)\n")
		default:
			lines = regionLines(o, n)
			if len(lines) > 0 {
				b.WriteString(name + "\n")
			}
		}
		for _, l := range lines {
			b.WriteString("  " + l + "\n")
		}
	}
	res := DiffResult{Text: b.String(), Changed: b.Len() > 0}
	if !res.Changed {
		return res
	}
	res.Added, res.Removed = delta(new, old), delta(old, new)
	res.Text = fmt.Sprintf("--- %s (serial %d)\n+++ %s (serial %d)\n", oldName, old.Serial, newName, new.Serial) + res.Text
	if !SerialAfter(new.Serial, old.Serial) {
		res.Warning = fmt.Sprintf("%s changes the table but its serial %d does not come after %s's %d: secondaries that compare serials will not see the change", newName, new.Serial, oldName, old.Serial)
		if !new.HasSerial {
			res.Warning += " (it has no $SERIAL)"
		}
	}
	return res
}

// regionLines lists what changed in one region, gateways, then subnets,
// then decommissioning addresses, then its Redirect set. Lists are compared as sorted copies
// (newIn), so a region of n subnets costs n log n, not n².
func regionLines(o, n Region) []string {
	oldKind, newKind := kindsOf(o), kindsOf(n)
	lines := gatewayLines("+", n.Addrs, oldKind, "decommissioning -> gateway")
	lines = append(lines, gatewayLines("-", o.Addrs, newKind, "gateway -> decommissioning")...)
	if len(lines) == 0 && !slices.Equal(o.Addrs, n.Addrs) {
		lines = append(lines, fmt.Sprintf("~ gateways in role order: %s (was %s)", joinAddrs(n.Addrs), joinAddrs(o.Addrs)))
	}
	lines = appendLines(lines, "+ subnet ", newIn(n.Subnets, o.Subnets, comparePrefixes))
	lines = appendLines(lines, "- subnet ", newIn(o.Subnets, n.Subnets, comparePrefixes))
	lines = appendLines(lines, "+ decommissioning ", newIn(n.Decommissioning, o.addresses(), netip.Addr.Compare))
	lines = appendLines(lines, "- decommissioning ", newIn(o.Decommissioning, n.addresses(), netip.Addr.Compare))
	lines = appendLines(lines, "+ redirect ", newIn(n.Redirect, o.Redirect, comparePrefixes))
	lines = appendLines(lines, "- redirect ", newIn(o.Redirect, n.Redirect, comparePrefixes))
	return lines
}

// gatewayLines says, with sign, each gateway the other version lacks, and
// which one it holds as decommissioning instead (moved).
func gatewayLines(sign string, gateways []netip.Addr, other kinds, moved string) []string {
	var lines []string
	for _, a := range gateways {
		switch other.of(a) {
		case "":
			lines = append(lines, sign+" gateway "+a.String())
		case "decommissioning":
			lines = append(lines, "~ "+a.String()+": "+moved)
		}
	}
	return lines
}

// appendLines appends a line for each item, after prefix.
func appendLines[T fmt.Stringer](lines []string, prefix string, items []T) []string {
	for _, x := range items {
		lines = append(lines, prefix+x.String())
	}
	return lines
}

// kinds are a region's gateway and decommissioning addresses, sorted, to
// tell an address's kind.
type kinds struct{ gateways, decommissioning []netip.Addr }

func kindsOf(r Region) kinds {
	return kinds{sortedClone(r.Addrs, netip.Addr.Compare), sortedClone(r.Decommissioning, netip.Addr.Compare)}
}

// of is "gateway", "decommissioning" or "" for an address the region lacks.
func (k kinds) of(a netip.Addr) string {
	if _, ok := slices.BinarySearchFunc(k.decommissioning, a, netip.Addr.Compare); ok {
		return "decommissioning"
	}
	if _, ok := slices.BinarySearchFunc(k.gateways, a, netip.Addr.Compare); ok {
		return "gateway"
	}
	return ""
}

// addresses are the region's gateway and decommissioning addresses.
func (r Region) addresses() []netip.Addr {
	return append(slices.Clone(r.Addrs), r.Decommissioning...)
}

func sortedClone[T any](xs []T, cmp func(a, b T) int) []T {
	s := slices.Clone(xs)
	slices.SortFunc(s, cmp)
	return s
}

// newIn is the items of xs that ys lacks, each once, in xs' order. Sorted
// copies of both are merged, which costs n log n and reads memory in order;
// only the items found missing go into a set, to keep xs' order.
func newIn[T comparable](xs, ys []T, cmp func(a, b T) int) []T {
	sx, sy := sortedClone(xs, cmp), sortedClone(ys, cmp)
	var missing map[T]bool
	for i, j := 0, 0; i < len(sx); {
		c := -1
		if j < len(sy) {
			c = cmp(sx[i], sy[j])
		}
		switch {
		case c < 0:
			if missing == nil {
				missing = make(map[T]bool)
			}
			missing[sx[i]] = true
			i++
		case c == 0:
			i++
		default:
			j++
		}
	}
	if len(missing) == 0 {
		return nil
	}
	out := make([]T, 0, len(missing))
	for _, x := range xs {
		if missing[x] {
			out = append(out, x)
			delete(missing, x)
		}
	}
	return out
}

func joinAddrs(addrs []netip.Addr) string {
	s := make([]string, len(addrs))
	for i, a := range addrs {
		s[i] = a.String()
	}
	return strings.Join(s, " ")
}

// Sizes are how many distinct addresses (gateway or decommissioning),
// subnets and Redirect prefixes a table holds.
type Sizes struct{ Addresses, Prefixes, Redirect int }

// Count is how many distinct addresses, subnets and Redirect prefixes
// regions hold.
func Count(regions []Region) Sizes {
	na, np, nr := 0, 0, 0
	for _, r := range regions {
		na, np, nr = na+len(r.Addrs)+len(r.Decommissioning), np+len(r.Subnets), nr+len(r.Redirect)
	}
	addrs, ps, rs := make([]netip.Addr, 0, na), make([]netip.Prefix, 0, np), make([]netip.Prefix, 0, nr)
	for _, r := range regions {
		addrs = append(append(addrs, r.Addrs...), r.Decommissioning...)
		ps = append(ps, r.Subnets...)
		rs = append(rs, r.Redirect...)
	}
	slices.SortFunc(addrs, netip.Addr.Compare)
	slices.SortFunc(ps, comparePrefixes)
	slices.SortFunc(rs, comparePrefixes)
	return Sizes{len(slices.Compact(addrs)), len(slices.Compact(ps)), len(slices.Compact(rs))}
}

// delta is what table a has and b lacks, in a's order.
func delta(a, b Table) Delta {
	return Delta{
		Regions:   newIn(a.names(), b.names(), strings.Compare),
		Addresses: newIn(a.addresses(), b.addresses(), netip.Addr.Compare),
		Prefixes:  newIn(a.prefixes(), b.prefixes(), comparePrefixes),
		Redirect:  newIn(a.redirect(), b.redirect(), comparePrefixes),
	}
}

// names, addresses and prefixes list the table's region names, addresses
// (gateway and decommissioning) and subnets in table order, repeats
// included.
func (t Table) names() []string {
	names := make([]string, len(t.Regions))
	for i, r := range t.Regions {
		names[i] = r.Name
	}
	return names
}

func (t Table) addresses() []netip.Addr {
	var addrs []netip.Addr
	for _, r := range t.Regions {
		addrs = append(append(addrs, r.Addrs...), r.Decommissioning...)
	}
	return addrs
}

func (t Table) prefixes() []netip.Prefix {
	var prefixes []netip.Prefix
	for _, r := range t.Regions {
		prefixes = append(prefixes, r.Subnets...)
	}
	return prefixes
}

func (t Table) redirect() []netip.Prefix {
	var prefixes []netip.Prefix
	for _, r := range t.Regions {
		prefixes = append(prefixes, r.Redirect...)
	}
	return prefixes
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func dateOrNone(t time.Time) string {
	if t.IsZero() {
		return "(none)"
	}
	return t.Format(DateLayout)
}

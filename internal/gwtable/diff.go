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
	// decommissioning) and prefixes one table has and the other lacks,
	// across the whole table: an address that moves between regions, roles
	// or kinds is in neither.
	Added, Removed Delta
	// Warning is set when the regions changed but the serial did not
	// increase: secondaries comparing serials would not see the change.
	Warning string
}

// Delta is what one table has and another lacks.
type Delta struct {
	Regions   []string
	Addresses []netip.Addr
	Prefixes  []netip.Prefix
}

// Diff compares two tables. A table changes when its regions, their names,
// gateways (with roles), subnets or decommissioning addresses, or its
// provenance ($SOURCE, $PUBLISHED) change; the serial alone and comments are
// no change. diff, fetch and the server's reload all use this one meaning.
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
// then decommissioning addresses.
func regionLines(o, n Region) []string {
	oldKind, newKind := kinds(o), kinds(n)
	lines := gatewayLines("+", n.Addrs, oldKind, "decommissioning -> gateway")
	lines = append(lines, gatewayLines("-", o.Addrs, newKind, "gateway -> decommissioning")...)
	if len(lines) == 0 && !slices.Equal(o.Addrs, n.Addrs) {
		lines = append(lines, fmt.Sprintf("~ gateways in role order: %s (was %s)", joinAddrs(n.Addrs), joinAddrs(o.Addrs)))
	}
	lines = append(lines, missing("+ subnet ", n.Subnets, func(p netip.Prefix) bool { return slices.Contains(o.Subnets, p) })...)
	lines = append(lines, missing("- subnet ", o.Subnets, func(p netip.Prefix) bool { return slices.Contains(n.Subnets, p) })...)
	lines = append(lines, missing("+ decommissioning ", n.Decommissioning, func(a netip.Addr) bool { return oldKind[a] != "" })...)
	lines = append(lines, missing("- decommissioning ", o.Decommissioning, func(a netip.Addr) bool { return newKind[a] != "" })...)
	return lines
}

// gatewayLines says, with sign, each gateway the other version lacks, and
// which one it holds as decommissioning instead (moved).
func gatewayLines(sign string, gateways []netip.Addr, otherKind map[netip.Addr]string, moved string) []string {
	var lines []string
	for _, a := range gateways {
		switch otherKind[a] {
		case "":
			lines = append(lines, sign+" gateway "+a.String())
		case "decommissioning":
			lines = append(lines, "~ "+a.String()+": "+moved)
		}
	}
	return lines
}

// missing lists, after prefix, each item the other version lacks.
func missing[T fmt.Stringer](prefix string, items []T, inOther func(T) bool) []string {
	var lines []string
	for _, x := range items {
		if !inOther(x) {
			lines = append(lines, prefix+x.String())
		}
	}
	return lines
}

// kinds maps each address of r to "gateway" or "decommissioning".
func kinds(r Region) map[netip.Addr]string {
	m := make(map[netip.Addr]string, len(r.Addrs)+len(r.Decommissioning))
	for _, a := range r.Addrs {
		m[a] = "gateway"
	}
	for _, a := range r.Decommissioning {
		m[a] = "decommissioning"
	}
	return m
}

func joinAddrs(addrs []netip.Addr) string {
	s := make([]string, len(addrs))
	for i, a := range addrs {
		s[i] = a.String()
	}
	return strings.Join(s, " ")
}

// Contents lists every region name, address (gateway or decommissioning)
// and subnet of regions once, in table order.
func Contents(regions []Region) Delta {
	var d Delta
	addrs := make(map[netip.Addr]bool)
	prefixes := make(map[netip.Prefix]bool)
	for _, r := range regions {
		d.Regions = append(d.Regions, r.Name)
		for _, a := range append(append([]netip.Addr(nil), r.Addrs...), r.Decommissioning...) {
			if !addrs[a] {
				addrs[a] = true
				d.Addresses = append(d.Addresses, a)
			}
		}
		for _, p := range r.Subnets {
			if !prefixes[p] {
				prefixes[p] = true
				d.Prefixes = append(d.Prefixes, p)
			}
		}
	}
	return d
}

// delta is what table a has and b lacks.
func delta(a, b Table) Delta {
	have := Contents(b.Regions)
	return Contents(a.Regions).without(have)
}

// without is d less what other lists.
func (d Delta) without(other Delta) Delta {
	return Delta{
		Regions:   missingFrom(d.Regions, other.Regions),
		Addresses: missingFrom(d.Addresses, other.Addresses),
		Prefixes:  missingFrom(d.Prefixes, other.Prefixes),
	}
}

// missingFrom is the items of xs that other lacks, in order.
func missingFrom[T comparable](xs, other []T) []T {
	set := make(map[T]bool, len(other))
	for _, x := range other {
		set[x] = true
	}
	var out []T
	for _, x := range xs {
		if !set[x] {
			out = append(out, x)
		}
	}
	return out
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

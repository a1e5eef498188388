// Package gwtable is the gateway table: regions, their gateways by role,
// subnets and decommissioning addresses; the regions file that holds them;
// the checks every name, address and prefix passes; the difference between
// two tables; and Azure's region names. It imports nothing from CoreDNS, so
// the importer and other commands link it alone.
package gwtable

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Role is an address's place in a region's failover order.
type Role int

const (
	Primary   Role = iota // live now
	Secondary             // listens only once a failover activates it
	Tertiary              // East US 2 only, in Azure's table
)

// MaxRoles bounds a region's gateway addresses. Azure's tables have up to
// three for MySQL and six for Azure SQL; its service tags have thirteen
// single addresses for Sql.WestEurope.
const MaxRoles = 16

// String is the label of the role's names, as in primary.eastus2.Z: primary,
// secondary, tertiary, then gateway4 to gateway16.
func (r Role) String() string {
	switch r {
	case Primary:
		return "primary"
	case Secondary:
		return "secondary"
	case Tertiary:
		return "tertiary"
	}
	return fmt.Sprintf("gateway%d", int(r)+1)
}

// Region is one row of the gateway table.
type Region struct {
	Name    string       // DNS label, lower case: "eastus2"
	Title   string       // as Azure's table spells it ("East US 2"); empty for regions from a file
	Aliases []string     // further labels that answer for this region
	Addrs   []netip.Addr // gateway addresses by Role: Addrs[Primary], Addrs[Secondary], ...
	// Subnets are the prefixes Microsoft asks customers to allow for the
	// region's gateways.
	Subnets []netip.Prefix
	// Decommissioning are addresses to keep allowed until Microsoft removes
	// them; never gateways to connect to.
	Decommissioning []netip.Addr
	// Redirect is the region's Redirect set: every Azure SQL address of
	// the region (its Sql.<Region> service tag), which clients under the
	// Redirect connection policy reach on ports 11000 to 11999 besides the
	// gateways. It is not part of the region's allow set.
	Redirect []netip.Prefix
}

// DisplayName is what the region= TXT record says.
func (r Region) DisplayName() string {
	if r.Title != "" {
		return r.Title
	}
	return r.Name
}

// Names are the labels the region answers to: its name, then its aliases.
func (r Region) Names() []string {
	return append([]string{r.Name}, r.Aliases...)
}

// reservedLabels cannot name a region: they are names of their own under the zone.
var reservedLabels = map[string]string{
	"all":      "the all-regions name",
	"allow":    "the allowlist names",
	"redirect": "the Redirect sets' names",
	"dns":      "the name server's own names",
}

// CheckRegionName reports why s cannot be a region name or alias, or nil.
// Labels are letters, digits and hyphens (RFC 952/1123 host names), so every
// name that answers is one a person can type and a firewall can store.
func CheckRegionName(s string) error {
	if s == "" || len(s) > 63 {
		return fmt.Errorf("region name %s must be 1 to 63 characters", Quote(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-' && i > 0 && i < len(s)-1:
		default:
			return fmt.Errorf("region name %s: only letters, digits and inner hyphens are allowed", Quote(s))
		}
	}
	if what, ok := reservedLabels[s]; ok {
		return fmt.Errorf("region name %q is reserved for %s", s, what)
	}
	return nil
}

// ParseAddress parses one gateway or decommissioning address. IPv4-mapped IPv6 addresses are taken
// as the IPv4 address they carry, so one host never answers as both A and AAAA.
func ParseAddress(s string) (netip.Addr, error) {
	if strings.Contains(s, "/") {
		return netip.Addr{}, fmt.Errorf("%s is a prefix, not an address", Quote(s))
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%s is not an IPv4 or IPv6 address", Quote(s))
	}
	a = a.Unmap()
	switch {
	case a.Zone() != "":
		return netip.Addr{}, fmt.Errorf("address %s has a zone; only global addresses can be published", Quote(s))
	case a.IsUnspecified(), a.IsMulticast():
		return netip.Addr{}, fmt.Errorf("address %s is not a host address", Quote(s))
	}
	return a, nil
}

// regionSyntax is a region line's form, for errors.
const regionSyntax = "NAME [ADDRESS ...] [subnets PREFIX ...] [decommissioning ADDRESS ...] [redirect PREFIX ...]"

// sections are the parts of a region line after its gateway addresses, in
// the order they come.
var sections = []string{"gateway", "subnets", "decommissioning", "redirect"}

// ParseRegion validates one row, of a regions file or a Corefile's region
// line: NAME [ADDRESS ...] [subnets PREFIX ...] [decommissioning ADDRESS ...]
// [redirect PREFIX ...], the sections in that order, each at most once.
// Gateway addresses come first, in role order.
func ParseRegion(fields []string) (Region, error) {
	if len(fields) < 2 {
		return Region{}, fmt.Errorf("want %s, got %d field(s)", regionSyntax, len(fields))
	}
	r := Region{Name: strings.ToLower(fields[0])}
	if err := CheckRegionName(r.Name); err != nil {
		return Region{}, err
	}
	section := "gateway"
	seenAddr := make(map[netip.Addr]string)
	seenPrefix := make(map[netip.Prefix]bool)
	for i, f := range fields[1:] {
		switch f {
		case "subnets", "decommissioning", "redirect":
			if err := checkSection(section, f, fields[1:i+1]); err != nil {
				return Region{}, err
			}
			if f == "redirect" {
				clear(seenPrefix) // a prefix may be in both sets
			}
			section = f
			continue
		}
		if section == "subnets" || section == "redirect" {
			p, err := ParseSubnet(f)
			if err != nil {
				return Region{}, fmt.Errorf("%s: %w", section, err)
			}
			if seenPrefix[p] {
				return Region{}, fmt.Errorf("%s: %s is listed twice", section, p)
			}
			seenPrefix[p] = true
			if section == "subnets" {
				r.Subnets = append(r.Subnets, p)
			} else {
				r.Redirect = append(r.Redirect, p)
			}
			continue
		}
		what := section
		if section == "gateway" {
			if len(r.Addrs) == MaxRoles {
				return Region{}, fmt.Errorf("more than %d gateway addresses", MaxRoles)
			}
			what = Role(len(r.Addrs)).String()
		}
		if strings.Contains(f, "/") {
			return Region{}, fmt.Errorf("%s address: %s is a prefix; prefixes go after \"subnets\"", what, Quote(f))
		}
		a, err := ParseAddress(f)
		if err != nil {
			return Region{}, fmt.Errorf("%s address: %w", what, err)
		}
		if prev, ok := seenAddr[a]; ok {
			return Region{}, fmt.Errorf("%s address %s repeats the %s address", what, a, prev)
		}
		seenAddr[a] = what
		if section == "gateway" {
			r.Addrs = append(r.Addrs, a)
		} else {
			r.Decommissioning = append(r.Decommissioning, a)
		}
	}
	if section != "gateway" && fields[len(fields)-1] == section {
		return Region{}, fmt.Errorf("%q needs at least one entry after it", section)
	}
	return r, nil
}

// checkSection reports why keyword cannot start a section after the section
// current (which holds the fields before it), or nil.
func checkSection(current, keyword string, before []string) error {
	switch {
	case current == keyword:
		return fmt.Errorf("%q is given twice", keyword)
	case slices.Index(sections, current) > slices.Index(sections, keyword):
		return fmt.Errorf("%q must come before %q", keyword, current)
	case current != "gateway" && len(before) > 0 && before[len(before)-1] == current:
		return fmt.Errorf("%q needs at least one entry after it", current)
	}
	return nil
}

// WidestBits4 and WidestBits6 bound a subnet's width: no prefix of a table
// is wider than an IPv4 /16 (65,536 addresses) or an IPv6 /32. Microsoft's
// ranges for a region's gateways are /24 to /29 and /120 to /123; a /8
// typed for a /28 in a hand-edited table would open every firewall that
// pulls the lists to a sixteenth of the Internet.
const (
	WidestBits4 = 16
	WidestBits6 = 32
)

// ParseSubnet parses one subnet: an IPv4 or IPv6 prefix without host bits,
// no wider than WidestBits4 or WidestBits6.
func ParseSubnet(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		return netip.Prefix{}, fmt.Errorf("%s is an address; a subnet is a prefix such as 104.208.150.192/29", Quote(s))
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%s is not an IPv4 or IPv6 prefix", Quote(s))
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	// The width first: "has host bits set; the subnet is 13.0.0.0/8" would
	// suggest a prefix that is refused too.
	switch {
	case p.Addr().Is4() && p.Bits() < WidestBits4:
		return netip.Prefix{}, fmt.Errorf("prefix %s is wider than /%d, the widest IPv4 subnet a table may hold", s, WidestBits4)
	case p.Addr().Is6() && p.Bits() < WidestBits6:
		return netip.Prefix{}, fmt.Errorf("prefix %s is wider than /%d, the widest IPv6 subnet a table may hold", s, WidestBits6)
	case p != p.Masked():
		return netip.Prefix{}, fmt.Errorf("prefix %s has host bits set; the subnet is %s", s, p.Masked())
	case p.Addr().IsUnspecified(), p.Addr().IsMulticast():
		return netip.Prefix{}, fmt.Errorf("prefix %s is not a subnet of host addresses", s)
	}
	return p, nil
}

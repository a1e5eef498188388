package regionsimport

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
)

// strayLiterals warns of every address or prefix written on a line of the
// page the import did not read (prose, another table, a note in a form it
// does not know) and missing from the table: nothing that looks like an
// address is dropped without a word.
func strayLiterals(lines []string, source string, read map[int]bool, table gwtable.Table) []Warning {
	have := make(map[netip.Prefix]bool)
	for _, r := range table.Regions {
		for _, a := range append(append([]netip.Addr(nil), r.Addrs...), r.Decommissioning...) {
			have[netip.PrefixFrom(a, a.BitLen())] = true
		}
		for _, p := range r.Subnets {
			have[p] = true
		}
	}
	var warn warnings
	for i, line := range lines {
		if read[i] {
			continue
		}
		for _, tok := range literals(line) {
			if !have[tok.prefix] {
				warn.add(fmt.Sprintf("%s:%d", source, i+1), "%s is outside the gateway table; not imported", tok.text)
			}
		}
	}
	return warn
}

// literal is an address or prefix found in text, as written and as read.
type literal struct {
	text   string
	prefix netip.Prefix // an address as a /32 or /128
}

// literals finds the IPv4 and IPv6 addresses and prefixes in text: runs of
// hex digits, dots, colons and slashes that parse as one.
func literals(text string) []literal {
	var found []literal
	for _, tok := range strings.FieldsFunc(text, func(r rune) bool {
		return !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F' || r == '.' || r == ':' || r == '/')
	}) {
		tok = strings.TrimRight(strings.TrimLeft(tok, ".:/"), ".:/")
		if !strings.ContainsAny(tok, ".:") {
			continue
		}
		if p, err := netip.ParsePrefix(tok); err == nil {
			found = append(found, literal{tok, p.Masked()})
		} else if a, err := netip.ParseAddr(tok); err == nil {
			a = a.Unmap()
			found = append(found, literal{tok, netip.PrefixFrom(a, a.BitLen())})
		}
	}
	return found
}

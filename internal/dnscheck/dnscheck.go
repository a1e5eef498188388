// Package dnscheck reduces a reply from mysqlgw to what the robustness
// checkers compare: its addresses, wherever in the reply they stand.
package dnscheck

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// Addresses returns every address a reply carries: A and AAAA records,
// role=ADDR texts and SPF ip4:/ip6: terms in TXT, and SRV targets' glue in
// the additional section; sorted, each once, joined by spaces.
func Addresses(r *dns.Msg) string {
	var addrs []string
	add := func(s string) {
		if a, err := netip.ParseAddr(s); err == nil {
			addrs = append(addrs, a.String())
		}
	}
	for _, rr := range append(slices.Clone(r.Answer), r.Extra...) {
		switch rr := rr.(type) {
		case *dns.A:
			add(rr.A.String())
		case *dns.AAAA:
			add(rr.AAAA.String())
		case *dns.TXT:
			for _, term := range strings.Fields(strings.Join(rr.Txt, "")) {
				if _, v, ok := strings.Cut(term, "="); ok {
					add(v)
				} else if _, v, ok := strings.Cut(term, ":"); ok {
					add(v)
				}
			}
		}
	}
	slices.Sort(addrs)
	return strings.Join(slices.Compact(addrs), " ")
}

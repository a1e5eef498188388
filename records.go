package mysqlgw

import (
	"net"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// addressRecords returns name's A and AAAA records for addrs, in table order.
func addressRecords(name string, addrs []netip.Addr, ttl uint32) (a, aaaa []dns.RR) {
	for _, addr := range addrs {
		if addr.Is4() {
			a = append(a, &dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: ttl}, A: net.IP(addr.AsSlice())})
			continue
		}
		aaaa = append(aaaa, &dns.AAAA{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: ttl}, AAAA: net.IP(addr.AsSlice())})
	}
	return a, aaaa
}

func txt(name string, ttl uint32, texts ...string) *dns.TXT {
	return &dns.TXT{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: ttl}, Txt: texts}
}

// maxTXTString is the longest character-string a TXT record can hold.
const maxTXTString = 255

// splitTXT joins terms with spaces into character-strings of at most 255
// bytes. RFC 7208 3.3 has SPF readers join them with nothing in between, so
// every cut falls just after a space.
func splitTXT(terms []string) []string {
	var strs []string
	var cur strings.Builder
	for i, t := range terms {
		if i < len(terms)-1 {
			t += " "
		}
		if cur.Len()+len(t) > maxTXTString {
			strs = append(strs, cur.String())
			cur.Reset()
		}
		cur.WriteString(t)
	}
	return append(strs, cur.String())
}

// srvPriority orders SRV targets by role: the primary first, then the
// addresses that only listen after a failover.
func srvPriority(role int) uint16 { return uint16(10 * (role + 1)) }

// srvSet is the SRV answer at name for the given roles of a region, the SRV
// records with TTL srvTTL (active's is short), and the targets' address
// records in the additional section, as their own names answer them, so a
// client needs no second query.
func srvSet(name string, addrs []netip.Addr, targets []string, opt options, srvTTL uint32, roles []int) rrset {
	set := rrset{qtype: dns.TypeSRV}
	for _, role := range roles {
		set.answer = append(set.answer, &dns.SRV{
			Hdr:      dns.RR_Header{Name: name, Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: srvTTL},
			Priority: srvPriority(role),
			Weight:   0,
			Port:     opt.port,
			Target:   targets[role],
		})
		a, aaaa := addressRecords(targets[role], addrs[role:role+1], opt.ttl)
		set.extra = append(append(set.extra, a...), aaaa...)
	}
	return set
}

func allRoles(n int) []int {
	roles := make([]int, n)
	for i := range roles {
		roles[i] = i
	}
	return roles
}

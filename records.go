package mysqlgw

import (
	"net"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// The records the answers hold, made from the values the walk hands the
// answers sink.

func hdr(name string, qtype uint16, ttl uint32) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: qtype, Class: dns.ClassINET, Ttl: ttl}
}

// addressRecords returns name's A and AAAA records for addrs, in order.
func addressRecords(name string, addrs []netip.Addr, ttl uint32) (a, aaaa []dns.RR) {
	for _, addr := range addrs {
		if addr.Is4() {
			a = append(a, &dns.A{Hdr: hdr(name, dns.TypeA, ttl), A: net.IP(addr.AsSlice())})
			continue
		}
		aaaa = append(aaaa, &dns.AAAA{Hdr: hdr(name, dns.TypeAAAA, ttl), AAAA: net.IP(addr.AsSlice())})
	}
	return a, aaaa
}

func txt(name string, ttl uint32, texts ...string) *dns.TXT {
	return &dns.TXT{Hdr: hdr(name, dns.TypeTXT, ttl), Txt: texts}
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

// spfTerms renders prefixes as SPF mechanisms: ip4:52.167.105.38,
// ip4:104.208.150.192/29, ip6:….
func spfTerms(prefixes []netip.Prefix) []string {
	terms := make([]string, len(prefixes))
	for i, p := range prefixes {
		mech, s := "ip4:", p.String()
		if p.Addr().Is6() {
			mech = "ip6:"
		}
		if p.IsSingleIP() {
			s = p.Addr().String()
		}
		terms[i] = mech + s
	}
	return terms
}

// apl is the prefixes as one APL record (RFC 3123).
func apl(name string, ttl uint32, prefixes []netip.Prefix) *dns.APL {
	rr := &dns.APL{Hdr: hdr(name, dns.TypeAPL, ttl)}
	for _, p := range prefixes {
		rr.Prefixes = append(rr.Prefixes, dns.APLPrefix{Network: net.IPNet{
			IP:   net.IP(p.Addr().AsSlice()),
			Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen()),
		}})
	}
	return rr
}

// srvTarget is one SRV record of a set: the role's priority, its name and
// the address that name answers, for the additional section.
type srvTarget struct {
	priority uint16
	target   string
	addr     netip.Addr
}

// srvPriority orders SRV targets by role: the primary first, then the
// addresses that only listen after a failover.
func srvPriority(role int) uint16 { return uint16(10 * (role + 1)) }

// srvSet is the SRV answer at name: the SRV records with TTL ttl (active's
// is short), and the targets' address records in the additional section with
// addrTTL, as their own names answer them, so a client needs no second query.
func srvSet(name string, ttl uint32, port uint16, targets []srvTarget, addrTTL uint32) rrset {
	set := rrset{qtype: dns.TypeSRV}
	for _, t := range targets {
		set.answer = append(set.answer, &dns.SRV{Hdr: hdr(name, dns.TypeSRV, ttl), Priority: t.priority, Port: port, Target: t.target})
		a, aaaa := addressRecords(t.target, []netip.Addr{t.addr}, addrTTL)
		set.extra = append(append(set.extra, a...), aaaa...)
	}
	return set
}

package mysqlgw

import (
	"context"
	"net"

	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/request"

	"github.com/miekg/dns"
)

// ServeDNS implements plugin.Handler.
func (g *MysqlGW) ServeDNS(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	// The table is class IN data for standard queries; anything else is
	// another plugin's to answer.
	if len(r.Question) != 1 || r.Opcode != dns.OpcodeQuery || r.Question[0].Qclass != dns.ClassINET {
		if g.Next == nil {
			return notOurs(r), nil
		}
		return plugin.NextOrFailure(g.Name(), g.Next, ctx, w, r)
	}
	// The question is read directly rather than through request.Request,
	// whose QName re-escapes the name: an unpacked name is already in
	// presentation form.
	qname, qtype := r.Question[0].Name, r.Question[0].Qtype
	ans := g.answers.Load()
	key := lowerASCII(qname) // names compare case-insensitively, ASCII only (RFC 4343)
	nd := ans.nodes[key]
	if nd == nil {
		zone := ans.zoneOf(key)
		if zone == nil {
			if g.Next == nil {
				return notOurs(r), nil
			}
			return plugin.NextOrFailure(g.Name(), g.Next, ctx, w, r)
		}
		if g.Fall.Through(key) {
			g.count(ctx, zone.name, qtype, kindFallthrough)
			return plugin.NextOrFailure(g.Name(), g.Next, ctx, w, r)
		}
		return g.negative(ctx, w, r, zone, dns.RcodeNameError)
	}

	var set *rrset
	switch {
	case qtype == dns.TypeANY:
		// RFC 8482: a name that exists gets one small synthesised record
		// instead of everything it has.
		return g.write(ctx, w, r, nd.zone, []dns.RR{rfc8482(qname, g.opt.ttl)}, nil)
	case nd.isNS && (qtype == dns.TypeA || qtype == dns.TypeAAAA):
		if rr := localAddress(request.Request{W: w, Req: r}, qtype, g.opt.ttl); rr != nil {
			return g.write(ctx, w, r, nd.zone, []dns.RR{rr}, nil)
		}
	default:
		set = findSet(nd.sets(), qtype)
	}
	if set == nil {
		return g.negative(ctx, w, r, nd.zone, dns.RcodeSuccess)
	}
	return g.write(ctx, w, r, nd.zone, set.answer, set.extra)
}

// write sends a positive answer: the question as asked, and records the
// table holds, handed out as they are (a plugin after mysqlgw that edits a
// reply copies it first, as CoreDNS's plugin.md asks).
func (g *MysqlGW) write(ctx context.Context, w dns.ResponseWriter, r *dns.Msg, zone *zoneInfo, answer, extra []dns.RR) (int, error) {
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	m.Answer, m.Extra = answer, extra
	w.WriteMsg(m)
	g.count(ctx, zone.name, r.Question[0].Qtype, kindAnswer)
	return dns.RcodeSuccess, nil
}

// negative sends NXDOMAIN or NODATA, authoritative and with the zone's SOA in
// the authority section so that resolvers can cache it (RFC 2308).
func (g *MysqlGW) negative(ctx context.Context, w dns.ResponseWriter, r *dns.Msg, zone *zoneInfo, rcode int) (int, error) {
	m := new(dns.Msg)
	m.SetRcode(r, rcode)
	m.Authoritative = true
	m.Ns = zone.current().ns
	w.WriteMsg(m)
	k := kindNoData
	if rcode == dns.RcodeNameError {
		k = kindNXDomain
	}
	g.count(ctx, zone.name, r.Question[0].Qtype, k)
	return rcode, nil
}

// notOurs is the error the server sends for a query mysqlgw does not take
// when no plugin follows it: NOTIMP for an opcode other than QUERY (RFC 1996
// has a NOTIFY for an unknown zone answered so), REFUSED otherwise, rather than
// the SERVFAIL of an empty chain, which would read as a failure of this server.
func notOurs(r *dns.Msg) int {
	if r.Opcode != dns.OpcodeQuery {
		return dns.RcodeNotImplemented
	}
	return dns.RcodeRefused
}

// rfc8482 is the minimal answer to ANY (RFC 8482 section 4.2).
func rfc8482(name string, ttl uint32) dns.RR {
	return &dns.HINFO{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeHINFO, Class: dns.ClassINET, Ttl: ttl}, Cpu: "RFC8482"}
}

// localAddress answers ns.dns.Z with the address the query arrived on: the
// zone's name server is whichever server answered.
func localAddress(state request.Request, qtype uint16, ttl uint32) dns.RR {
	ip := net.ParseIP(state.LocalIP())
	hdr := dns.RR_Header{Name: state.QName(), Rrtype: qtype, Class: dns.ClassINET, Ttl: ttl}
	if v4 := ip.To4(); v4 != nil && qtype == dns.TypeA {
		return &dns.A{Hdr: hdr, A: v4}
	}
	if ip != nil && ip.To4() == nil && qtype == dns.TypeAAAA {
		return &dns.AAAA{Hdr: hdr, AAAA: ip}
	}
	return nil
}

// lowerASCII lower-cases s, allocating only when s has an upper-case letter.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; c >= 'A' && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

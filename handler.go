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
	// The question is read directly rather than through request.Request:
	// its QName re-escapes the name on every call, a tenth of this handler's
	// cost, and an unpacked name is already in presentation form.
	qname, qtype := r.Question[0].Name, r.Question[0].Qtype
	table := g.names.Load()
	key := qname
	var nd *node
	if hasUpperASCII(qname) {
		// Look up through a stack buffer: Go does not allocate for a map
		// index by string(bytes), so only a miss pays for the string.
		var buf [256]byte
		lower := appendLowerASCII(buf[:0], qname)
		if nd = table.nodes[string(lower)]; nd == nil {
			key = string(lower)
		}
	} else {
		nd = table.nodes[qname]
	}
	if nd == nil {
		zone := table.zoneOf(key)
		if zone == nil {
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
		return g.write(ctx, w, r, nd.zone, []dns.RR{rfc8482(qname, g.opt.ttl)})
	case nd.isNS && (qtype == dns.TypeA || qtype == dns.TypeAAAA):
		if rr := localAddress(request.Request{W: w, Req: r}, qtype, g.opt.ttl); rr != nil {
			return g.write(ctx, w, r, nd.zone, []dns.RR{rr})
		}
	default:
		set = findSet(nd.sets(), qtype)
	}
	if set == nil {
		return g.negative(ctx, w, r, nd.zone, dns.RcodeSuccess)
	}
	return g.writeSet(ctx, w, r, nd.zone, set)
}

// write sends a positive answer.
func (g *MysqlGW) write(ctx context.Context, w dns.ResponseWriter, r *dns.Msg, zone *zoneInfo, answer []dns.RR) (int, error) {
	resp := new(response)
	resp.init(r, dns.RcodeSuccess)
	resp.msg.Answer = answer
	w.WriteMsg(&resp.msg)
	g.count(ctx, zone.name, r.Question[0].Qtype, kindAnswer)
	return dns.RcodeSuccess, nil
}

// writeSet sends the records of set, renamed to the question's name.
func (g *MysqlGW) writeSet(ctx context.Context, w dns.ResponseWriter, r *dns.Msg, zone *zoneInfo, set *rrset) (int, error) {
	if fitsSRVResponse(set) {
		resp := new(srvResponse)
		resp.init(r, dns.RcodeSuccess)
		resp.msg.Answer, resp.msg.Extra = resp.copySRV(set, r.Question[0].Name)
		w.WriteMsg(&resp.msg)
		g.count(ctx, zone.name, r.Question[0].Qtype, kindAnswer)
		return dns.RcodeSuccess, nil
	}
	resp := new(answerResponse)
	resp.init(r, dns.RcodeSuccess)
	resp.msg.Answer = resp.copyAnswer(set, r.Question[0].Name)
	resp.msg.Extra = copyRecords(set.extra, "")
	w.WriteMsg(&resp.msg)
	g.count(ctx, zone.name, r.Question[0].Qtype, kindAnswer)
	return dns.RcodeSuccess, nil
}

// negative sends NXDOMAIN or NODATA, authoritative and with the zone's SOA in
// the authority section so that resolvers can cache it (RFC 2308).
func (g *MysqlGW) negative(ctx context.Context, w dns.ResponseWriter, r *dns.Msg, zone *zoneInfo, rcode int) (int, error) {
	resp := new(negativeResponse)
	resp.init(r, rcode)
	resp.setSOA(zone.soa)
	w.WriteMsg(&resp.msg)
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
// DNS names compare case-insensitively for ASCII only (RFC 4343).
func lowerASCII(s string) string {
	if !hasUpperASCII(s) {
		return s
	}
	return string(appendLowerASCII(make([]byte, 0, len(s)), s))
}

func hasUpperASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return true
		}
	}
	return false
}

// appendLowerASCII appends s to b, lower-cased.
func appendLowerASCII(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return b
}

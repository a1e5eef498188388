package mysqlgw

import (
	"github.com/miekg/dns"
)

// smallAnswer is how many address records fit in a response without a
// further allocation: a region has at most three addresses.
const smallAnswer = maxRoles

// response is one reply with room for the common answers inside it, so that
// a region's or a role's addresses, or a negative answer's SOA, cost a single
// allocation. Every record is a fresh copy: plugins after mysqlgw (rewrite,
// loadbalance, cache) may edit what they are handed, and must never edit
// the table.
type response struct {
	msg dns.Msg
	q   [1]dns.Question
}

// answerResponse has room for a small answer.
type answerResponse struct {
	response
	list [smallAnswer]dns.RR
	a    [smallAnswer]dns.A
	ip   [smallAnswer][4]byte
}

// negativeResponse has room for the SOA.
type negativeResponse struct {
	response
	soa dns.SOA
	ns  [1]dns.RR
}

// init starts the reply to r, as dns.Msg.SetReply does, authoritative.
func (resp *response) init(r *dns.Msg, rcode int) {
	m := &resp.msg
	m.Id = r.Id
	m.Response = true
	m.Authoritative = true
	m.Opcode = r.Opcode
	m.RecursionDesired = r.RecursionDesired
	m.CheckingDisabled = r.CheckingDisabled
	m.Rcode = rcode
	resp.q[0] = r.Question[0]
	m.Question = resp.q[:]
}

// setSOA puts a copy of soa in the authority section.
func (resp *negativeResponse) setSOA(soa *dns.SOA) {
	resp.soa = *soa
	resp.ns[0] = &resp.soa
	resp.msg.Ns = resp.ns[:]
}

// srvResponse has room for a region's SRV answer and its targets' addresses.
type srvResponse struct {
	response
	list  [smallAnswer]dns.RR
	srv   [smallAnswer]dns.SRV
	extra [smallAnswer]dns.RR
	a     [smallAnswer]dns.A
	ip    [smallAnswer][4]byte
}

// fitsSRVResponse reports whether set's records fit a srvResponse: up to
// three SRV records whose targets are IPv4.
func fitsSRVResponse(set *rrset) bool {
	if set.qtype != dns.TypeSRV || len(set.answer) > smallAnswer || len(set.extra) > smallAnswer {
		return false
	}
	for _, rr := range set.extra {
		if _, ok := rr.(*dns.A); !ok {
			return false
		}
	}
	return true
}

// copySRV copies set's SRV records, renamed to owner, and their targets'
// address records, keeping those records' own names.
func (resp *srvResponse) copySRV(set *rrset, owner string) (answer, extra []dns.RR) {
	for i, rr := range set.answer {
		resp.srv[i] = *rr.(*dns.SRV)
		resp.srv[i].Hdr.Name = owner
		resp.list[i] = &resp.srv[i]
	}
	copyAsInto(resp.a[:], resp.ip[:], resp.extra[:], set.extra, "")
	return resp.list[:len(set.answer)], resp.extra[:len(set.extra)]
}

// copyAsInto copies A records into room the caller provides; a non-empty
// owner renames them.
func copyAsInto(rrs []dns.A, ips [][4]byte, list []dns.RR, src []dns.RR, owner string) []dns.RR {
	for i, rr := range src {
		a := rr.(*dns.A)
		rrs[i] = dns.A{Hdr: a.Hdr}
		if owner != "" {
			rrs[i].Hdr.Name = owner
		}
		copy(ips[i][:], a.A)
		rrs[i].A = ips[i][:len(a.A)]
		list[i] = &rrs[i]
	}
	return list[:len(src)]
}

// copyAnswer copies set's records, renamed to owner: the name as the client
// spelled it.
func (resp *answerResponse) copyAnswer(set *rrset, owner string) []dns.RR {
	switch {
	case set.qtype == dns.TypeA && len(set.answer) <= smallAnswer:
		return copyAsInto(resp.a[:], resp.ip[:], resp.list[:], set.answer, owner)
	case set.qtype == dns.TypeA:
		return copyAs(set.answer, owner)
	case set.qtype == dns.TypeTXT:
		return copyTXTs(set.answer, owner)
	}
	return copyRecords(set.answer, owner)
}

// copyAs copies a large A set in three allocations, whatever its size.
func copyAs(records []dns.RR, owner string) []dns.RR {
	rrs := make([]dns.A, len(records))
	ips := make([]byte, 4*len(records))
	out := make([]dns.RR, len(records))
	for i, rr := range records {
		src := rr.(*dns.A)
		rrs[i] = dns.A{Hdr: src.Hdr}
		rrs[i].Hdr.Name = owner
		ip := ips[4*i : 4*i+4 : 4*i+4]
		copy(ip, src.A.To4())
		rrs[i].A = ip
		out[i] = &rrs[i]
	}
	return out
}

// copyTXTs copies a TXT set in three allocations, whatever its size.
func copyTXTs(records []dns.RR, owner string) []dns.RR {
	n := 0
	for _, rr := range records {
		n += len(rr.(*dns.TXT).Txt)
	}
	rrs := make([]dns.TXT, len(records))
	strs := make([]string, n)
	out := make([]dns.RR, len(records))
	for i, rr := range records {
		src := rr.(*dns.TXT)
		k := copy(strs, src.Txt)
		rrs[i] = dns.TXT{Hdr: src.Hdr, Txt: strs[:k:k]}
		rrs[i].Hdr.Name = owner
		strs = strs[k:]
		out[i] = &rrs[i]
	}
	return out
}

// copyRecords copies any records, one allocation or two each; for the rarer
// answers (SRV, PTR, SOA, NS and additional sections). A non-empty owner
// renames them.
func copyRecords(records []dns.RR, owner string) []dns.RR {
	if len(records) == 0 {
		return nil
	}
	out := make([]dns.RR, len(records))
	for i, rr := range records {
		out[i] = dns.Copy(rr)
		if owner != "" {
			out[i].Header().Name = owner
		}
	}
	return out
}

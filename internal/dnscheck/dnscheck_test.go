package dnscheck

import (
	"testing"

	"github.com/miekg/dns"
)

// The model's answers for the two tables, written out by hand.
func TestExpect(t *testing.T) {
	a, b := Tables(3)
	for _, tc := range []struct {
		table Table
		q     Question
		want  Outcome
	}{
		{a, Question{"r01." + Zone, dns.TypeA}, Outcome{dns.RcodeSuccess, "192.0.2.1 198.51.100.1"}},
		{b, Question{"r01." + Zone, dns.TypeA}, Outcome{dns.RcodeSuccess, "203.0.113.1"}},
		{b, Question{"r02." + Zone, dns.TypeAAAA}, Outcome{dns.RcodeSuccess, "2001:db8::2"}},
		{a, Question{"secondary.r03." + Zone, dns.TypeAAAA}, Outcome{dns.RcodeSuccess, ""}}, // NODATA
		{a, Question{"active.r03." + Zone, dns.TypeTXT}, Outcome{dns.RcodeSuccess, "192.0.2.3"}},
		{b, Question{"_mysql._tcp.r03." + Zone, dns.TypeSRV}, Outcome{dns.RcodeSuccess, "2001:db8::3 203.0.113.3"}},
		{a, Question{"secondary.onlya." + Zone, dns.TypeA}, Outcome{dns.RcodeNameError, ""}},
		{a, Question{"onlyb." + Zone, dns.TypeA}, Outcome{dns.RcodeNameError, ""}},
		{b, Question{"all." + Zone, dns.TypeAAAA}, Outcome{dns.RcodeSuccess, "2001:db8::1 2001:db8::2 2001:db8::3"}},
	} {
		if got := tc.table.Expect(tc.q); got != tc.want {
			t.Errorf("table %s, %s: %v, want %v", tc.table.Name, tc.q, got, tc.want)
		}
	}
}

// A reply counts for the table whose addresses it carries, wherever they
// stand, and for neither when it mixes the two.
func TestWhich(t *testing.T) {
	a, b := Tables(2)
	q := Question{"r01." + Zone, dns.TypeTXT}
	reply := func(txt ...string) *dns.Msg {
		m := new(dns.Msg)
		m.SetQuestion(q.Name, q.Qtype)
		for _, s := range txt {
			m.Answer = append(m.Answer, &dns.TXT{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET}, Txt: []string{s}})
		}
		return m
	}
	for _, tc := range []struct {
		reply *dns.Msg
		want  string
	}{
		{reply("primary=192.0.2.1", "secondary=198.51.100.1", "v=spf1 ip4:192.0.2.1 ip4:198.51.100.1 -all"), "A"},
		{reply("primary=203.0.113.1", "secondary=2001:db8::1"), "B"},
		{reply("primary=192.0.2.1", "secondary=2001:db8::1"), ""},
		{reply("primary=192.0.2.1"), ""},
	} {
		if got, _ := Which(a, b, q, tc.reply); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.reply.Answer, got, tc.want)
		}
	}
	onlyA := Question{"onlya." + Zone, dns.TypeA}
	nx := new(dns.Msg)
	nx.SetRcode(new(dns.Msg).SetQuestion(onlyA.Name, onlyA.Qtype), dns.RcodeNameError)
	if got, _ := Which(a, b, onlyA, nx); got != "B" {
		t.Errorf("NXDOMAIN for onlya: %q, want B", got)
	}
	if got, _ := Which(a, b, Question{"nope." + Zone, dns.TypeA}, nx); got != "AB" {
		t.Errorf("NXDOMAIN for a name in neither table: %q, want AB", got)
	}
}

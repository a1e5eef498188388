package mysqlgw

import (
	"context"
	"strings"
	"testing"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"

	"github.com/miekg/dns"
)

// soaRR is the built-in table's SOA: its serial (builtinSerial) and the
// default timers (defaultSOA) with the default TTL as the minimum. check
// compares every field of it; test.SortAndCheck alone compares only Ns.
const soaRR = "gateway.mysql.local. 300 IN SOA ns.dns.gateway.mysql.local. hostmaster.dns.gateway.mysql.local. 2019052201 14400 3600 1209600 300"

// serve sends one query through g and returns the reply and ServeDNS's rcode.
func serve(t *testing.T, g *MysqlGW, m *dns.Msg) (*dns.Msg, int) {
	t.Helper()
	rec := dnstest.NewRecorder(&test.ResponseWriter{})
	rcode, err := g.ServeDNS(context.Background(), rec, m)
	if err != nil {
		t.Fatalf("%s %s: error %v", m.Question[0].Name, dns.TypeToString[m.Question[0].Qtype], err)
	}
	return rec.Msg, rcode
}

// check runs cases against g, asserting sections, rcode, every field of the
// SOA records and, for every answer mysqlgw writes, the AA bit.
func check(t *testing.T, g *MysqlGW, cases []test.Case) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.Qname+"/"+dns.TypeToString[tc.Qtype], func(t *testing.T) {
			resp, _ := serve(t, g, tc.Msg())
			if resp == nil {
				t.Fatal("no reply written")
			}
			if !resp.Authoritative {
				t.Error("AA bit not set")
			}
			if len(resp.Question) != 1 || resp.Question[0].Name != tc.Qname {
				t.Errorf("question %v, want %s echoed as asked", resp.Question, tc.Qname)
			}
			if err := test.SortAndCheck(resp, tc); err != nil {
				t.Error(err)
			}
			checkSOA(t, "answer", resp.Answer, tc.Answer)
			checkSOA(t, "authority", resp.Ns, tc.Ns)
		})
	}
}

// checkSOA compares the SOA records of a section whole, in their text form:
// test.SortAndCheck compares an SOA by its Ns only, so a wrong serial or
// timer would pass it.
func checkSOA(t *testing.T, section string, got, want []dns.RR) {
	t.Helper()
	soas := func(rrs []dns.RR) []string {
		var s []string
		for _, rr := range rrs {
			if rr.Header().Rrtype == dns.TypeSOA {
				s = append(s, rr.String())
			}
		}
		return s
	}
	if g, w := soas(got), soas(want); strings.Join(g, "\n") != strings.Join(w, "\n") {
		t.Errorf("%s SOA\n got %q\nwant %q", section, g, w)
	}
}

func TestRegionNames(t *testing.T) {
	g := newTestPlugin(t, "mysqlgw")
	check(t, g, []test.Case{
		{
			Qname: "eastus2.gateway.mysql.local.", Qtype: dns.TypeA,
			Answer: []dns.RR{
				test.A("eastus2.gateway.mysql.local. 300 IN A 191.239.224.107"),
				test.A("eastus2.gateway.mysql.local. 300 IN A 40.79.84.180"),
				test.A("eastus2.gateway.mysql.local. 300 IN A 52.167.104.0"),
			},
		},
		{
			Qname: "eastus2.gateway.mysql.local.", Qtype: dns.TypeTXT,
			Answer: []dns.RR{
				// SortAndCheck compares in sorted order.
				test.TXT(`eastus2.gateway.mysql.local. 300 IN TXT "primary=191.239.224.107"`),
				test.TXT(`eastus2.gateway.mysql.local. 300 IN TXT "region=East US 2"`),
				test.TXT(`eastus2.gateway.mysql.local. 300 IN TXT "secondary=40.79.84.180"`),
				test.TXT(`eastus2.gateway.mysql.local. 300 IN TXT "tertiary=52.167.104.0"`),
			},
		},
		{
			Qname: "primary.eastus2.gateway.mysql.local.", Qtype: dns.TypeA,
			Answer: []dns.RR{test.A("primary.eastus2.gateway.mysql.local. 300 IN A 191.239.224.107")},
		},
		{
			Qname: "secondary.eastus2.gateway.mysql.local.", Qtype: dns.TypeA,
			Answer: []dns.RR{test.A("secondary.eastus2.gateway.mysql.local. 300 IN A 40.79.84.180")},
		},
		{
			Qname: "tertiary.eastus2.gateway.mysql.local.", Qtype: dns.TypeTXT,
			Answer: []dns.RR{test.TXT(`tertiary.eastus2.gateway.mysql.local. 300 IN TXT "tertiary=52.167.104.0"`)},
		},
		{
			// A region with one address: its other roles do not exist.
			Qname: "secondary.westus2.gateway.mysql.local.", Qtype: dns.TypeA, Rcode: dns.RcodeNameError,
			Ns: []dns.RR{test.SOA(soaRR)},
		},
		{
			Qname: "tertiary.eastus.gateway.mysql.local.", Qtype: dns.TypeA, Rcode: dns.RcodeNameError,
			Ns: []dns.RR{test.SOA(soaRR)},
		},
		{
			// Addresses ending in .0 are hosts here.
			Qname: "chinanorth2.gateway.mysql.local.", Qtype: dns.TypeA,
			Answer: []dns.RR{test.A("chinanorth2.gateway.mysql.local. 300 IN A 40.73.50.0")},
		},
	})
}

func TestRegionSpellings(t *testing.T) {
	g := newTestPlugin(t, "mysqlgw")
	// Azure's region names and the table's own spellings, each answering the
	// same primary; mixed case is matched, and the question echoed as asked.
	for _, tc := range []struct{ name, primary string }{
		{"eastus", "191.238.6.43"}, {"eastus1", "191.238.6.43"}, {"EastUS1", "191.238.6.43"},
		{"westus", "23.99.34.75"}, {"westus1", "23.99.34.75"},
		{"centralindia", "104.211.96.159"}, {"indiacentral", "104.211.96.159"},
		{"southindia", "104.211.224.146"}, {"indiasouth", "104.211.224.146"},
		{"westindia", "104.211.160.80"}, {"indiawest", "104.211.160.80"},
		{"chinaeast", "139.219.130.35"}, {"chinaeast1", "139.219.130.35"},
		{"chinanorth", "139.219.15.17"}, {"chinanorth1", "139.219.15.17"},
		{"australiasoutheast", "191.239.192.109"}, {"southeastasia", "23.100.117.95"},
		{"UKSouth", "51.140.184.11"},
	} {
		qname := "primary." + tc.name + ".Gateway.MySQL.local."
		m := new(dns.Msg)
		m.SetQuestion(qname, dns.TypeA)
		resp, _ := serve(t, g, m)
		if len(resp.Answer) != 1 {
			t.Errorf("%s: %d answers, want 1", qname, len(resp.Answer))
			continue
		}
		a := resp.Answer[0].(*dns.A)
		if a.A.String() != tc.primary || !strings.EqualFold(a.Hdr.Name, qname) || resp.Question[0].Name != qname {
			t.Errorf("%s: got %s %s, want %s %s", qname, a.Hdr.Name, a.A, qname, tc.primary)
		}
	}
}

func TestBuiltinTableCounts(t *testing.T) {
	g := newTestPlugin(t, "mysqlgw")
	regions := g.answers.Load().regions
	if n := gwtable.Count(regions).Addresses; len(regions) != 31 || n != 47 {
		t.Errorf("built-in table has %d regions and %d addresses, want 31 and 47", len(regions), n)
	}
}

func TestAllName(t *testing.T) {
	g := newTestPlugin(t, "mysqlgw")
	m := new(dns.Msg)
	m.SetQuestion("all.gateway.mysql.local.", dns.TypeA)
	resp, _ := serve(t, g, m)
	seen := map[string]bool{}
	for _, rr := range resp.Answer {
		ip := rr.(*dns.A).A.String()
		if seen[ip] {
			t.Errorf("address %s listed twice", ip)
		}
		seen[ip] = true
	}
	var want []string
	for _, r := range builtinRegions {
		for _, a := range r.Addrs {
			want = append(want, a.String())
		}
	}
	for _, ip := range want {
		if !seen[ip] {
			t.Errorf("all.Z lacks %s", ip)
		}
	}
	if len(seen) != 47 {
		t.Errorf("all.Z has %d addresses, want 47", len(seen))
	}

	m.SetQuestion("all.gateway.mysql.local.", dns.TypeTXT)
	resp, _ = serve(t, g, m)
	if len(resp.Answer) != 1 {
		t.Fatalf("all.Z TXT: %d records, want 1", len(resp.Answer))
	}
	strs := resp.Answer[0].(*dns.TXT).Txt
	for _, s := range strs {
		if len(s) > 255 {
			t.Errorf("TXT string of %d bytes", len(s))
		}
	}
	if len(strs) < 2 {
		t.Errorf("SPF record of 47 addresses in %d string(s), want it split", len(strs))
	}
	// RFC 7208 3.3: strings are joined with nothing in between.
	spf := strings.Join(strs, "")
	terms := strings.Split(spf, " ")
	if terms[0] != "v=spf1" || terms[len(terms)-1] != "-all" || len(terms) != 47+2 {
		t.Fatalf("SPF record %q", spf)
	}
	for _, ip := range want {
		if !strings.Contains(spf, " ip4:"+ip+" ") {
			t.Errorf("SPF record lacks ip4:%s", ip)
		}
	}
}

func TestApexAndNegativeAnswers(t *testing.T) {
	g := newTestPlugin(t, "mysqlgw")
	soa := test.SOA(soaRR)
	check(t, g, []test.Case{
		{Qname: "gateway.mysql.local.", Qtype: dns.TypeSOA, Answer: []dns.RR{soa}},
		{Qname: "gateway.mysql.local.", Qtype: dns.TypeNS, Answer: []dns.RR{test.NS("gateway.mysql.local. 300 IN NS ns.dns.gateway.mysql.local.")}},
		{Qname: "gateway.mysql.local.", Qtype: dns.TypeA, Ns: []dns.RR{soa}},
		// NODATA: the name exists, the type does not.
		{Qname: "eastus2.gateway.mysql.local.", Qtype: dns.TypeAAAA, Ns: []dns.RR{soa}},
		{Qname: "eastus2.gateway.mysql.local.", Qtype: dns.TypeMX, Ns: []dns.RR{soa}},
		{Qname: "primary.eastus2.gateway.mysql.local.", Qtype: dns.TypeSRV, Ns: []dns.RR{soa}},
		{Qname: "all.gateway.mysql.local.", Qtype: dns.TypeAAAA, Ns: []dns.RR{soa}},
		// Empty non-terminals exist: NODATA, not NXDOMAIN.
		{Qname: "dns.gateway.mysql.local.", Qtype: dns.TypeA, Ns: []dns.RR{soa}},
		{Qname: "_tcp.eastus2.gateway.mysql.local.", Qtype: dns.TypeSRV, Ns: []dns.RR{soa}},
		// NXDOMAIN.
		{Qname: "nowhere.gateway.mysql.local.", Qtype: dns.TypeA, Rcode: dns.RcodeNameError, Ns: []dns.RR{soa}},
		{Qname: "x.primary.eastus2.gateway.mysql.local.", Qtype: dns.TypeA, Rcode: dns.RcodeNameError, Ns: []dns.RR{soa}},
		{Qname: "a.b.c.d.e.f.g.gateway.mysql.local.", Qtype: dns.TypeTXT, Rcode: dns.RcodeNameError, Ns: []dns.RR{soa}},
		// RFC 8482: ANY gets one synthesised HINFO.
		{Qname: "eastus2.gateway.mysql.local.", Qtype: dns.TypeANY, Answer: []dns.RR{test.HINFO(`eastus2.gateway.mysql.local. 300 IN HINFO "RFC8482" ""`)}},
		{Qname: "nowhere.gateway.mysql.local.", Qtype: dns.TypeANY, Rcode: dns.RcodeNameError, Ns: []dns.RR{soa}},
	})
}

// TestNegativeTTL checks the SOA that resolvers cache negative answers by
// (RFC 2308: the minimum of its TTL and MINIMUM) follows the ttl setting.
func TestNegativeTTL(t *testing.T) {
	g := newTestPlugin(t, "mysqlgw {\n ttl 60\n}")
	m := new(dns.Msg)
	m.SetQuestion("nowhere.gateway.mysql.local.", dns.TypeA)
	resp, _ := serve(t, g, m)
	soa := resp.Ns[0].(*dns.SOA)
	if soa.Hdr.Ttl != 60 || soa.Minttl != 60 {
		t.Errorf("SOA TTL %d MINIMUM %d, want 60 and 60", soa.Hdr.Ttl, soa.Minttl)
	}
	m.SetQuestion("eastus2.gateway.mysql.local.", dns.TypeA)
	resp, _ = serve(t, g, m)
	if resp.Answer[0].Header().Ttl != 60 {
		t.Errorf("answer TTL %d, want 60", resp.Answer[0].Header().Ttl)
	}
}

func TestNSAddress(t *testing.T) {
	g := newTestPlugin(t, "mysqlgw")
	// test.ResponseWriter's local address is 127.0.0.1.
	check(t, g, []test.Case{
		{Qname: "ns.dns.gateway.mysql.local.", Qtype: dns.TypeA, Answer: []dns.RR{test.A("ns.dns.gateway.mysql.local. 300 IN A 127.0.0.1")}},
		{Qname: "ns.dns.gateway.mysql.local.", Qtype: dns.TypeAAAA, Ns: []dns.RR{test.SOA(soaRR)}},
	})
}

func TestOutsideZone(t *testing.T) {
	g := newTestPlugin(t, "mysqlgw")
	for _, m := range []*dns.Msg{
		new(dns.Msg).SetQuestion("example.org.", dns.TypeA),
		new(dns.Msg).SetQuestion("mysql.local.", dns.TypeA),
		new(dns.Msg).SetQuestion("eastus2.gateway.mysql.local.", dns.TypeA).SetQuestion("eastus2.gateway.mysql.local.", dns.TypeA),
	} {
		if m.Question[0].Name == "eastus2.gateway.mysql.local." {
			m.Question[0].Qclass = dns.ClassCHAOS // not class IN: not ours
		}
		if _, rcode := serve(t, g, m); rcode != dnsRcodeNextMarker {
			t.Errorf("%s class %d: rcode %d, want it passed to the next plugin", m.Question[0].Name, m.Question[0].Qclass, rcode)
		}
	}
}

func TestFallthrough(t *testing.T) {
	g := newTestPlugin(t, "mysqlgw {\n fallthrough\n}")
	m := new(dns.Msg)
	m.SetQuestion("nowhere.gateway.mysql.local.", dns.TypeA)
	if _, rcode := serve(t, g, m); rcode != dnsRcodeNextMarker {
		t.Errorf("unknown name with fallthrough: rcode %d, want it passed on", rcode)
	}
	// Names the table has are still answered, and NODATA stays ours.
	m.SetQuestion("eastus2.gateway.mysql.local.", dns.TypeAAAA)
	if resp, rcode := serve(t, g, m); rcode == dnsRcodeNextMarker || resp.Rcode != dns.RcodeSuccess {
		t.Errorf("NODATA with fallthrough: rcode %d", rcode)
	}

	g = newTestPlugin(t, "mysqlgw {\n fallthrough other.zone\n}")
	m.SetQuestion("nowhere.gateway.mysql.local.", dns.TypeA)
	if resp, rcode := serve(t, g, m); rcode == dnsRcodeNextMarker || resp.Rcode != dns.RcodeNameError {
		t.Errorf("fallthrough limited to other zones: rcode %d, want NXDOMAIN", rcode)
	}
}

func TestZones(t *testing.T) {
	// Two forward zones: both answer. A root server block maps to the
	// default zone rather than publishing eastus2. at the top.
	g := newTestPlugin(t, "mysqlgw gateway.mysql.local db.example.com")
	for _, name := range []string{"eastus2.gateway.mysql.local.", "eastus2.db.example.com."} {
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeA)
		if resp, _ := serve(t, g, m); len(resp.Answer) != 3 {
			t.Errorf("%s: %d answers, want 3", name, len(resp.Answer))
		}
	}
	g = newTestPlugin(t, "mysqlgw .")
	m := new(dns.Msg)
	m.SetQuestion("eastus2.gateway.mysql.local.", dns.TypeA)
	if resp, _ := serve(t, g, m); len(resp.Answer) != 3 {
		t.Errorf("root block: %d answers, want 3", len(resp.Answer))
	}
	m.SetQuestion("eastus2.", dns.TypeA)
	if _, rcode := serve(t, g, m); rcode != dnsRcodeNextMarker {
		t.Errorf("eastus2. with a root block: rcode %d, want it passed on", rcode)
	}
}

func TestFileRegionsAndIPv6(t *testing.T) {
	g := newTestPlugin(t, `mysqlgw {
		region lab 2001:db8::1 192.0.2.7
		alias LabAlias lab
	}`)
	check(t, g, []test.Case{
		{Qname: "lab.gateway.mysql.local.", Qtype: dns.TypeAAAA, Answer: []dns.RR{test.AAAA("lab.gateway.mysql.local. 300 IN AAAA 2001:db8::1")}},
		{Qname: "lab.gateway.mysql.local.", Qtype: dns.TypeA, Answer: []dns.RR{test.A("lab.gateway.mysql.local. 300 IN A 192.0.2.7")}},
		{Qname: "primary.labalias.gateway.mysql.local.", Qtype: dns.TypeAAAA, Answer: []dns.RR{test.AAAA("primary.labalias.gateway.mysql.local. 300 IN AAAA 2001:db8::1")}},
		{Qname: "primary.lab.gateway.mysql.local.", Qtype: dns.TypeA, Ns: []dns.RR{test.SOA(soaRR)}},
		{Qname: "lab.gateway.mysql.local.", Qtype: dns.TypeTXT, Answer: []dns.RR{
			test.TXT(`lab.gateway.mysql.local. 300 IN TXT "primary=2001:db8::1"`),
			test.TXT(`lab.gateway.mysql.local. 300 IN TXT "region=lab"`),
			test.TXT(`lab.gateway.mysql.local. 300 IN TXT "secondary=192.0.2.7"`),
		}},
	})
	m := new(dns.Msg)
	m.SetQuestion("all.gateway.mysql.local.", dns.TypeTXT)
	resp, _ := serve(t, g, m)
	if spf := strings.Join(resp.Answer[0].(*dns.TXT).Txt, ""); !strings.Contains(spf, " ip6:2001:db8::1 ") {
		t.Errorf("SPF record lacks ip6:2001:db8::1: %q", spf)
	}
}

func TestSRV(t *testing.T) {
	g := newTestPlugin(t, "mysqlgw")
	check(t, g, []test.Case{
		{
			Qname: "_mysql._tcp.eastus2.gateway.mysql.local.", Qtype: dns.TypeSRV,
			Answer: []dns.RR{
				test.SRV("_mysql._tcp.eastus2.gateway.mysql.local. 300 IN SRV 10 0 3306 primary.eastus2.gateway.mysql.local."),
				test.SRV("_mysql._tcp.eastus2.gateway.mysql.local. 300 IN SRV 20 0 3306 secondary.eastus2.gateway.mysql.local."),
				test.SRV("_mysql._tcp.eastus2.gateway.mysql.local. 300 IN SRV 30 0 3306 tertiary.eastus2.gateway.mysql.local."),
			},
			Extra: []dns.RR{
				test.A("primary.eastus2.gateway.mysql.local. 300 IN A 191.239.224.107"),
				test.A("secondary.eastus2.gateway.mysql.local. 300 IN A 40.79.84.180"),
				test.A("tertiary.eastus2.gateway.mysql.local. 300 IN A 52.167.104.0"),
			},
		},
		{
			// Without health checks the active name is the primary, at the short TTL.
			Qname: "_mysql._tcp.active.westus2.gateway.mysql.local.", Qtype: dns.TypeSRV,
			Answer: []dns.RR{test.SRV("_mysql._tcp.active.westus2.gateway.mysql.local. 5 IN SRV 10 0 3306 primary.westus2.gateway.mysql.local.")},
			Extra:  []dns.RR{test.A("primary.westus2.gateway.mysql.local. 300 IN A 13.66.226.202")},
		},
		{Qname: "_tcp.eastus2.gateway.mysql.local.", Qtype: dns.TypeA, Ns: []dns.RR{test.SOA(soaRR)}},
		{Qname: "_tcp.active.eastus2.gateway.mysql.local.", Qtype: dns.TypeSRV, Ns: []dns.RR{test.SOA(soaRR)}},
		{Qname: "_mysql._tcp.eastus2.gateway.mysql.local.", Qtype: dns.TypeA, Ns: []dns.RR{test.SOA(soaRR)}},
		{Qname: "_ldap._tcp.eastus2.gateway.mysql.local.", Qtype: dns.TypeSRV, Rcode: dns.RcodeNameError, Ns: []dns.RR{test.SOA(soaRR)}},
	})
	g = newTestPlugin(t, "mysqlgw {\n port 3307\n}")
	check(t, g, []test.Case{{
		Qname: "_mysql._tcp.westus2.gateway.mysql.local.", Qtype: dns.TypeSRV,
		Answer: []dns.RR{test.SRV("_mysql._tcp.westus2.gateway.mysql.local. 300 IN SRV 10 0 3307 primary.westus2.gateway.mysql.local.")},
		Extra:  []dns.RR{test.A("primary.westus2.gateway.mysql.local. 300 IN A 13.66.226.202")},
	}})
}

func TestActiveWithoutHealthChecks(t *testing.T) {
	g := newTestPlugin(t, "mysqlgw {\n active_ttl 2\n}")
	check(t, g, []test.Case{
		{Qname: "active.eastus2.gateway.mysql.local.", Qtype: dns.TypeA, Answer: []dns.RR{test.A("active.eastus2.gateway.mysql.local. 2 IN A 191.239.224.107")}},
		{Qname: "active.eastus2.gateway.mysql.local.", Qtype: dns.TypeTXT, Answer: []dns.RR{test.TXT(`active.eastus2.gateway.mysql.local. 2 IN TXT "primary=191.239.224.107"`)}},
		{Qname: "active.eastus2.gateway.mysql.local.", Qtype: dns.TypeAAAA, Ns: []dns.RR{test.SOA(soaRR)}},
		{Qname: "x.active.eastus2.gateway.mysql.local.", Qtype: dns.TypeA, Rcode: dns.RcodeNameError, Ns: []dns.RR{test.SOA(soaRR)}},
	})
}

func TestPTR(t *testing.T) {
	g := newTestPlugin(t, "mysqlgw gateway.mysql.local in-addr.arpa ip6.arpa {\n region lab 2001:db8::1 191.239.224.107\n}")
	// Every address of the table answers PTR with each region and role it serves.
	for _, r := range g.answers.Load().regions {
		for role, a := range r.Addrs {
			rev, _ := dns.ReverseAddr(a.String())
			m := new(dns.Msg)
			m.SetQuestion(rev, dns.TypePTR)
			resp, _ := serve(t, g, m)
			want := gwtable.Role(role).String() + "." + r.Name + ".gateway.mysql.local."
			found := false
			for _, rr := range resp.Answer {
				found = found || rr.(*dns.PTR).Ptr == want
			}
			if !found || !resp.Authoritative {
				t.Errorf("%s PTR: %v, want %s", rev, resp.Answer, want)
			}
		}
	}
	inaddrSOA := test.SOA("in-addr.arpa. 300 IN SOA ns.dns.gateway.mysql.local. hostmaster.dns.gateway.mysql.local. 2019052201 14400 3600 1209600 300")
	check(t, g, []test.Case{
		{
			// An address serving two regions names both.
			Qname: "107.224.239.191.in-addr.arpa.", Qtype: dns.TypePTR,
			Answer: []dns.RR{
				test.PTR("107.224.239.191.in-addr.arpa. 300 IN PTR primary.eastus2.gateway.mysql.local."),
				test.PTR("107.224.239.191.in-addr.arpa. 300 IN PTR secondary.lab.gateway.mysql.local."),
			},
		},
		{Qname: "1.2.0.192.in-addr.arpa.", Qtype: dns.TypePTR, Rcode: dns.RcodeNameError, Ns: []dns.RR{inaddrSOA}},
		{Qname: "224.239.191.in-addr.arpa.", Qtype: dns.TypePTR, Ns: []dns.RR{inaddrSOA}},
		{Qname: "107.224.239.191.in-addr.arpa.", Qtype: dns.TypeA, Ns: []dns.RR{inaddrSOA}},
	})
	g = newTestPlugin(t, "mysqlgw gateway.mysql.local in-addr.arpa {\n fallthrough in-addr.arpa\n}")
	m := new(dns.Msg)
	m.SetQuestion("1.2.0.192.in-addr.arpa.", dns.TypePTR)
	if _, rcode := serve(t, g, m); rcode != dnsRcodeNextMarker {
		t.Errorf("address outside the table with fallthrough: rcode %d, want it passed on", rcode)
	}
}

// TestSRVTargetsResolve checks a client that ignores the additional section
// (or gets it cut by a small buffer) resolves every SRV target by itself, to
// the address the additional section gave.
func TestSRVTargetsResolve(t *testing.T) {
	g := newTestPlugin(t, "mysqlgw")
	for _, name := range []string{"_mysql._tcp.eastus2.gateway.mysql.local.", "_mysql._tcp.active.eastus2.gateway.mysql.local."} {
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeSRV)
		resp, _ := serve(t, g, m)
		if len(resp.Answer) == 0 || len(resp.Extra) != len(resp.Answer) {
			t.Fatalf("%s: %d SRV, %d additional", name, len(resp.Answer), len(resp.Extra))
		}
		for i, rr := range resp.Answer {
			target := rr.(*dns.SRV).Target
			q := new(dns.Msg)
			q.SetQuestion(target, dns.TypeA)
			a, _ := serve(t, g, q)
			if len(a.Answer) != 1 || a.Answer[0].(*dns.A).A.String() != resp.Extra[i].(*dns.A).A.String() {
				t.Errorf("%s: target %s resolves to %v, additional says %v", name, target, a.Answer, resp.Extra[i])
			}
		}
	}
}

// TestNotOursWithoutNext: with no plugin after mysqlgw, a query it does not
// take gets NOTIMP or REFUSED for the server to send, not SERVFAIL.
func TestNotOursWithoutNext(t *testing.T) {
	g := newTestPlugin(t, "mysqlgw")
	g.Next = nil
	notify := new(dns.Msg).SetNotify("gateway.mysql.local.")
	chaos := new(dns.Msg).SetQuestion("eastus2.gateway.mysql.local.", dns.TypeTXT)
	chaos.Question[0].Qclass = dns.ClassCHAOS
	for _, tc := range []struct {
		m    *dns.Msg
		want int
	}{{notify, dns.RcodeNotImplemented}, {chaos, dns.RcodeRefused}} {
		rec := dnstest.NewRecorder(&test.ResponseWriter{})
		rcode, _ := g.ServeDNS(context.Background(), rec, tc.m)
		if rcode != tc.want || rec.Msg != nil {
			t.Errorf("opcode %d class %d: rcode %d (wrote %v), want %d for the server to write", tc.m.Opcode, tc.m.Question[0].Qclass, rcode, rec.Msg != nil, tc.want)
		}
	}
}

// TestExtendedTable serves Microsoft's newer rows: subnets and
// decommissioning addresses in TXT, decommissioning names and PTR, a region
// with no gateway, and roles past tertiary.
func TestExtendedTable(t *testing.T) {
	path := loopbackTable(t,
		"$SERIAL 2023030901",
		"eastus2 52.167.105.38 40.70.144.38 subnets 104.208.150.192/29 20.62.58.128/27 decommissioning 52.177.185.181",
		"sqlonly subnets 20.62.58.128/27",
		"six 192.0.2.1 192.0.2.2 192.0.2.3 192.0.2.4 192.0.2.5 192.0.2.6")
	g := newTestPlugin(t, "mysqlgw gateway.mysql.local in-addr.arpa {\n regions "+path+"\n reload 0\n}")
	z := "gateway.mysql.local."
	soa := test.SOA(z + " 300 IN SOA ns.dns.gateway.mysql.local. hostmaster.dns.gateway.mysql.local. 2023030901 14400 3600 1209600 300")
	check(t, g, []test.Case{
		{
			Qname: "eastus2." + z, Qtype: dns.TypeA,
			Answer: []dns.RR{test.A("eastus2." + z + " 300 IN A 40.70.144.38"), test.A("eastus2." + z + " 300 IN A 52.167.105.38")},
		},
		{
			Qname: "eastus2." + z, Qtype: dns.TypeTXT,
			Answer: []dns.RR{
				test.TXT(`eastus2.` + z + ` 300 IN TXT "decommissioning=52.177.185.181"`),
				test.TXT(`eastus2.` + z + ` 300 IN TXT "primary=52.167.105.38"`),
				test.TXT(`eastus2.` + z + ` 300 IN TXT "region=eastus2"`),
				test.TXT(`eastus2.` + z + ` 300 IN TXT "secondary=40.70.144.38"`),
				test.TXT(`eastus2.` + z + ` 300 IN TXT "subnet=104.208.150.192/29"`),
				test.TXT(`eastus2.` + z + ` 300 IN TXT "subnet=20.62.58.128/27"`),
			},
		},
		{
			Qname: "decommissioning.eastus2." + z, Qtype: dns.TypeA,
			Answer: []dns.RR{test.A("decommissioning.eastus2." + z + " 300 IN A 52.177.185.181")},
		},
		{
			Qname: "decommissioning.eastus2." + z, Qtype: dns.TypeTXT,
			Answer: []dns.RR{test.TXT(`decommissioning.eastus2.` + z + ` 300 IN TXT "decommissioning=52.177.185.181"`)},
		},
		{
			Qname: "181.185.177.52.in-addr.arpa.", Qtype: dns.TypePTR,
			Answer: []dns.RR{test.PTR("181.185.177.52.in-addr.arpa. 300 IN PTR decommissioning.eastus2." + z)},
		},
		// A region with no gateway: NODATA for addresses, its TXT, no
		// roles, active or SRV.
		{Qname: "sqlonly." + z, Qtype: dns.TypeA, Ns: []dns.RR{soa}},
		{
			Qname: "sqlonly." + z, Qtype: dns.TypeTXT,
			Answer: []dns.RR{
				test.TXT(`sqlonly.` + z + ` 300 IN TXT "region=sqlonly"`),
				test.TXT(`sqlonly.` + z + ` 300 IN TXT "subnet=20.62.58.128/27"`),
			},
		},
		{Qname: "active.sqlonly." + z, Qtype: dns.TypeA, Rcode: dns.RcodeNameError, Ns: []dns.RR{soa}},
		{Qname: "_mysql._tcp.sqlonly." + z, Qtype: dns.TypeSRV, Rcode: dns.RcodeNameError, Ns: []dns.RR{soa}},
		// Roles past tertiary.
		{
			Qname: "gateway6.six." + z, Qtype: dns.TypeA,
			Answer: []dns.RR{test.A("gateway6.six." + z + " 300 IN A 192.0.2.6")},
		},
	})
	m := new(dns.Msg)
	m.SetQuestion("_mysql._tcp.six."+z, dns.TypeSRV)
	resp, _ := serve(t, g, m)
	if len(resp.Answer) != 6 {
		t.Fatalf("six SRV: %v", resp.Answer)
	}
	if srv := resp.Answer[5].(*dns.SRV); srv.Priority != 60 || srv.Target != "gateway6.six."+z {
		t.Errorf("the sixth SRV record is %v, want priority 60 for gateway6", srv)
	}
	m.SetQuestion(z, dns.TypeSOA)
	resp, _ = serve(t, g, m)
	if s := resp.Answer[0].(*dns.SOA); s.Serial != 2023030901 {
		t.Errorf("SOA serial %d, want the file's $SERIAL 2023030901", s.Serial)
	}
}

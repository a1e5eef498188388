package mysqlgw

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"

	"github.com/miekg/dns"
)

// fuzzCorefile is the plugin FuzzServeDNS queries: the built-in table in a
// forward zone, a reverse zone holding some of its addresses, and a region
// override with an IPv6 address so that AAAA and ip6.arpa have answers too.
const fuzzCorefile = `mysqlgw gateway.mysql.local. 191.in-addr.arpa. ip6.arpa. {
	region fuzzland 192.0.2.1 2001:db8::1
	alias fl fuzzland
}`

// fuzzQuery packs a query for name and qtype with id 0x1234 after edit (if
// any) has changed it: a seed for FuzzServeDNS.
func fuzzQuery(f *testing.F, name string, qtype uint16, edit func(*dns.Msg)) []byte {
	f.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.Id = 0x1234
	if edit != nil {
		edit(m)
	}
	wire, err := m.Pack()
	if err != nil {
		f.Fatal(err)
	}
	return wire
}

// FuzzServeDNS feeds every message the fuzzer can unpack through ServeDNS.
// The handler must not panic, must pass on exactly what is not its own, and
// every reply must be a well-formed answer to the question asked.
func FuzzServeDNS(f *testing.F) {
	// The seeds reach every branch checkServeDNS tells apart. An odd id
	// makes the query arrive over IPv6.
	const z = "gateway.mysql.local."
	odd := func(id uint16) func(*dns.Msg) { return func(m *dns.Msg) { m.Id = id } }
	for _, q := range []struct {
		name  string
		qtype uint16
		edit  func(*dns.Msg)
	}{
		{"eastus2." + z, dns.TypeA, nil},
		{"EastUS2.Gateway.MySQL.Local.", dns.TypeTXT, func(m *dns.Msg) { m.SetEdns0(1232, true) }},
		{"PrImArY.EastUS2.GATEWAY.mysql.LOCAL.", dns.TypeTXT, nil},
		{"active.fuzzland." + z, dns.TypeAAAA, odd(0x1235)},
		{"active.fl." + z, dns.TypeAAAA, func(m *dns.Msg) { m.SetEdns0(1232, true) }},
		{"all." + z, dns.TypeTXT, func(m *dns.Msg) { m.SetEdns0(4096, true) }},
		{"_mysql._tcp.eastus2." + z, dns.TypeSRV, func(m *dns.Msg) { m.SetEdns0(1232, true) }},
		{"_mysql._tcp.active.fl." + z, dns.TypeSRV, nil},
		{z, dns.TypeANY, nil},
		{"ns.dns." + z, dns.TypeA, func(m *dns.Msg) { m.SetEdns0(1232, true) }},
		{"ns.dns." + z, dns.TypeAAAA, odd(0x1237)},
		{"nope." + z, dns.TypeA, nil},
		{"_tcp.eastus2." + z, dns.TypeA, nil}, // NODATA at an empty non-terminal
		{"107.224.239.191.in-addr.arpa.", dns.TypePTR, nil},
		{"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.", dns.TypePTR, nil},
		{`eastus2\.gateway.mysql.local.` + z, dns.TypeA, nil},
		{`\000\255\.\\.` + z, dns.TypeA, nil},
		{"example.org.", dns.TypeA, nil},
		{"eastus2." + z, dns.TypeTXT, func(m *dns.Msg) { m.Question[0].Qclass = dns.ClassCHAOS }},
		{"eastus2." + z, dns.TypeA, func(m *dns.Msg) { m.Question[0].Qclass = dns.ClassANY }},
		{z, dns.TypeSOA, func(m *dns.Msg) { m.Opcode = dns.OpcodeNotify }},
		{"eastus2." + z, dns.TypeA, func(m *dns.Msg) {
			m.Question = append(m.Question, dns.Question{Name: "westus." + z, Qtype: dns.TypeA, Qclass: dns.ClassINET})
		}},
		{"eastus2." + z, dns.TypeA, func(m *dns.Msg) { m.Question = nil }},
		{"eastus2." + z, dns.TypeA, func(m *dns.Msg) { m.Response = true }},
		{strings.Repeat(strings.Repeat("a", 63)+".", 3) + strings.Repeat("b", 40) + "." + z, dns.TypeA, nil}, // 255 bytes
		{"eastus2." + z, 0, nil},
		{z, dns.TypeAXFR, nil},
	} {
		f.Add(fuzzQuery(f, q.name, q.qtype, q.edit))
	}
	wire := fuzzQuery(f, "eastus2."+z, dns.TypeA, nil)
	f.Add(wire[:len(wire)-4]) // a question without type and class

	g := newTestPlugin(f, fuzzCorefile)
	f.Fuzz(func(t *testing.T, wire []byte) {
		r := new(dns.Msg)
		if err := r.Unpack(wire); err != nil {
			return
		}
		checkServeDNS(t, g, r)
	})
}

// checkServeDNS runs one query through g and checks what it wrote.
func checkServeDNS(t *testing.T, g *MysqlGW, r *dns.Msg) {
	t.Helper()
	// Keep an untouched copy: the handler must answer the question as sent.
	query := r.Copy()
	var w dns.ResponseWriter = &test.ResponseWriter{}
	if r.Id%2 == 1 {
		w = &test.ResponseWriter6{}
	}
	rec := dnstest.NewRecorder(w)
	rcode, err := g.ServeDNS(context.Background(), rec, r)

	inZone := ""
	if len(query.Question) == 1 && query.Opcode == dns.OpcodeQuery && query.Question[0].Qclass == dns.ClassINET {
		inZone = plugin.Zones(g.allZones()).Matches(lowerASCII(query.Question[0].Name))
	}
	if inZone == "" {
		// Not ours: passed on untouched, nothing written.
		if rec.Msg != nil || rcode != dnsRcodeNextMarker || err != nil {
			t.Fatalf("query outside the plugin's remit %v was answered (rcode %d, err %v):\n%v", query.Question, rcode, err, rec.Msg)
		}
		return
	}
	if key := lowerASCII(query.Question[0].Name); rec.Msg == nil && g.answers.Load().nodes[key] == nil && g.Fall.Through(key) {
		if rcode != dnsRcodeNextMarker || err != nil {
			t.Fatalf("fallthrough for %v returned rcode %d, err %v", query.Question, rcode, err)
		}
		return
	}
	if rec.Msg == nil {
		t.Fatalf("query for %v in zone %s got no reply (rcode %d, err %v)", query.Question, inZone, rcode, err)
	}
	if err != nil {
		t.Fatalf("ServeDNS wrote a reply but returned error %v", err)
	}

	// Whatever was written packs and unpacks back into the same message.
	wire, perr := rec.Msg.Pack()
	if perr != nil {
		t.Fatalf("reply does not pack: %v\n%v", perr, rec.Msg)
	}
	m := new(dns.Msg)
	if err := m.Unpack(wire); err != nil {
		t.Fatalf("reply does not unpack: %v\n%v", err, rec.Msg)
	}

	q := query.Question[0]
	switch {
	case !m.Response || m.Id != query.Id || m.Opcode != query.Opcode:
		t.Fatalf("reply header does not match the query: %v", m.MsgHdr)
	case len(m.Question) != 1 || m.Question[0] != q:
		t.Fatalf("reply question %v, want %v", m.Question, q)
	case !m.Authoritative:
		t.Fatalf("reply for %s in zone %s is not authoritative", q.Name, inZone)
	case m.Rcode != rcode:
		t.Fatalf("reply rcode %d, handler returned %d", m.Rcode, rcode)
	}

	switch {
	case m.Rcode == dns.RcodeNameError || (m.Rcode == dns.RcodeSuccess && len(m.Answer) == 0):
		// NXDOMAIN or NODATA: no answer, the zone's SOA alone in authority.
		if len(m.Answer) != 0 {
			t.Fatalf("negative reply with answers: %v", m)
		}
		if len(m.Ns) != 1 {
			t.Fatalf("negative reply wants exactly the SOA in authority, got %v", m.Ns)
		}
		soa, ok := m.Ns[0].(*dns.SOA)
		if !ok || soa.Hdr.Name != inZone {
			t.Fatalf("negative reply for %s carries %v, want the SOA of %s", q.Name, m.Ns[0], inZone)
		}
		if soa.Minttl != soa.Hdr.Ttl {
			t.Fatalf("SOA minimum %d differs from its TTL %d", soa.Minttl, soa.Hdr.Ttl)
		}
	case m.Rcode == dns.RcodeSuccess:
		// A positive answer: every record answers the name and the type asked.
		if q.Qtype == dns.TypeANY {
			if len(m.Answer) != 1 || m.Answer[0].Header().Rrtype != dns.TypeHINFO {
				t.Fatalf("ANY wants one HINFO (RFC 8482), got %v", m.Answer)
			}
		}
		for _, rr := range m.Answer {
			h := rr.Header()
			if !strings.EqualFold(h.Name, q.Name) || h.Class != dns.ClassINET {
				t.Fatalf("answer %v does not answer %s", rr, q.Name)
			}
			if q.Qtype != dns.TypeANY && h.Rrtype != q.Qtype {
				t.Fatalf("answer %v is not of the type asked, %s", rr, dns.TypeToString[q.Qtype])
			}
		}
		if len(m.Ns) != 0 {
			t.Fatalf("positive reply with authority records: %v", m.Ns)
		}
	default:
		t.Fatalf("reply rcode %s for %s", dns.RcodeToString[m.Rcode], q.Name)
	}
}

// FuzzSetup feeds arbitrary text to the mysqlgw block and loads whatever
// parses; neither may panic. A configuration that loads must answer queries.
func FuzzSetup(f *testing.F) {
	root := f.TempDir()
	if err := os.WriteFile(filepath.Join(root, "regions.txt"), []byte("fuzzland 192.0.2.1 2001:db8::1\nother 192.0.2.2\n"), 0o644); err != nil {
		f.Fatal(err)
	}
	for _, seed := range [][2]string{ // the zones, the block
		{"", ""},
		{"example.org 10.in-addr.arpa", "ttl 30\nactive_ttl 1\nport 3307\nfailover closed"},
		{"", "regions regions.txt\nreload 1s"},
		{"", "regions /dev/zero"},
		{"", "region eastus2 192.0.2.9\nalias e2 eastus2\nfallthrough"},
		{"", "region eastus2 192.0.2.9\nalias e2 eastus2\nfallthrough example.org"},
		{".", "healthcheck 1s 500ms\nrise 1\nfall 2\nfailover closed"},
		{"", "alias x nowhere"},
		{"", "ttl -1\nreload 1ms\n}\nmysqlgw {"},
		{"ip6.arpa", "region all 1.2.3.4\nregion dns ::"},
		{"gateway.mysql.local sub.gateway.mysql.local eastus2.gateway.mysql.local", ""},
		{"\"a b\" {", "region \"x y\" 1.2.3.4\n{\n}\n\\"},
		{"{$HOME}", "import nothing\nregion {$USER} 1.2.3.4"},
		{"", "ttl 99999999999999999999\nport 0\nreload 9999999h\nhealthcheck 100ms 100ms"},
		{"\"", "0"}, // a quoted zone that runs to the end, found by the fuzzer
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, args, body string) {
		c := caddy.NewTestController("dns", "mysqlgw "+args+" {\n"+body+"\n}\n")
		dnsserver.GetConfig(c).Root = root
		g, err := parse(c)
		if err != nil {
			return
		}
		// Never read outside the fuzzer's folder: a device or FIFO there
		// could block the run.
		if g.file != "" {
			if rel, err := filepath.Rel(root, filepath.Clean(g.file)); err != nil || strings.HasPrefix(rel, "..") {
				return
			}
		}
		if err := g.load(); err != nil {
			return
		}
		g.Next = test.NextHandler(dnsRcodeNextMarker, nil)
		ans := g.answers.Load()
		if ans == nil {
			t.Fatal("load succeeded without answers")
		}
		for _, z := range append(append([]string{}, g.opt.zones...), g.opt.reverse...) {
			for _, name := range []string{z, "all." + z, "nope." + z, "_mysql._tcp.active.fuzzland." + z} {
				for _, qtype := range []uint16{dns.TypeA, dns.TypeTXT, dns.TypeSRV, dns.TypeANY} {
					// Through the wire and back, as the server would
					// receive it: a zone with blanks or quotes in it is
					// then asked for in its escaped form.
					m := new(dns.Msg)
					m.SetQuestion(name, qtype)
					wire, err := m.Pack()
					if err != nil {
						continue
					}
					if err := m.Unpack(wire); err != nil {
						t.Fatalf("a packed query does not unpack: %v", err)
					}
					checkServeDNS(t, g, m)
				}
			}
		}
	})
}

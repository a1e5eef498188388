package mysqlgw

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
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

// FuzzServeDNS feeds every message the fuzzer can unpack through ServeDNS.
// The handler must not panic, must pass on exactly what is not its own, and
// every reply must be a well-formed answer to the question asked.
func FuzzServeDNS(f *testing.F) {
	for _, q := range []struct {
		name  string
		qtype uint16
	}{
		{"eastus2.gateway.mysql.local.", dns.TypeA},
		{"EastUS2.Gateway.MySQL.Local.", dns.TypeTXT},
		{"all.gateway.mysql.local.", dns.TypeTXT},
		{"_mysql._tcp.eastus2.gateway.mysql.local.", dns.TypeSRV},
		{"active.fl.gateway.mysql.local.", dns.TypeAAAA},
		{"ns.dns.gateway.mysql.local.", dns.TypeA},
		{"gateway.mysql.local.", dns.TypeANY},
		{"nope.gateway.mysql.local.", dns.TypeA},
		{"107.224.239.191.in-addr.arpa.", dns.TypePTR},
		{"example.org.", dns.TypeA},
	} {
		m := new(dns.Msg)
		m.SetQuestion(q.name, q.qtype)
		m.SetEdns0(1232, true)
		wire, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(wire)
	}

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
		inZone = g.names.Load().zones.Matches(lowerASCII(query.Question[0].Name))
	}
	if inZone == "" {
		// Not ours: passed on untouched, nothing written.
		if rec.Msg != nil || rcode != dnsRcodeNextMarker || err != nil {
			t.Fatalf("query outside the plugin's remit %v was answered (rcode %d, err %v):\n%v", query.Question, rcode, err, rec.Msg)
		}
		return
	}
	if key := lowerASCII(query.Question[0].Name); rec.Msg == nil && g.names.Load().nodes[key] == nil && g.Fall.Through(key) {
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

// fuzzLineError is the shape of a content error: the source, a line, a reason.
var fuzzLineError = regexp.MustCompile(`^FILE:([0-9]+): .`)

// FuzzRegionsFile feeds arbitrary content to the regions file parser. It must
// not panic, every error names the file and where it can, the line, and every
// table it accepts survives a round trip through formatRegions.
func FuzzRegionsFile(f *testing.F) {
	f.Add([]byte("eastus2 191.239.224.107 40.79.84.180 52.167.104.0\nwestus 23.99.34.75 # comment\n"))
	f.Add([]byte("# only a comment\n\n"))
	f.Add([]byte("v6 2001:db8::1 ::ffff:192.0.2.1\r\n"))
	f.Add([]byte("a 1.2.3.4\na 5.6.7.8\n"))
	f.Add([]byte("all 1.2.3.4\n"))
	f.Add([]byte("x fe80::1%eth0\n"))
	f.Add([]byte("x 1.2.3.4 1.2.3.4\n"))
	f.Add([]byte("x 1.2.3.4 5.6.7.8 9.10.11.12 13.14.15.16\n"))
	f.Add([]byte("eastus2 191.239.2"))
	f.Fuzz(func(t *testing.T, content []byte) {
		regions, err := parseRegions(content, "FILE")
		if err != nil {
			msg := err.Error()
			if m := fuzzLineError.FindStringSubmatch(msg); m != nil {
				n, _ := strconv.Atoi(m[1])
				if lines := strings.Count(string(content), "\n") + 1; n < 1 || n > lines {
					t.Fatalf("error names line %d of a %d-line file: %s", n, lines, msg)
				}
				return
			}
			if !strings.HasPrefix(msg, "FILE: ") {
				t.Fatalf("error names neither the file nor a line: %q", msg)
			}
			return
		}
		if len(regions) == 0 {
			t.Fatal("accepted a table with no regions")
		}
		for _, r := range regions {
			if err := checkLabel(r.Name); err != nil {
				t.Fatalf("accepted a bad region name: %v", err)
			}
			if len(r.Addrs) < 1 || len(r.Addrs) > maxRoles {
				t.Fatalf("accepted region %s with %d addresses", r.Name, len(r.Addrs))
			}
		}
		text := formatRegions(regions)
		again, err := parseRegions(text, "FILE")
		if err != nil {
			t.Fatalf("formatRegions wrote what parseRegions refuses: %v\n%s", err, text)
		}
		if !reflect.DeepEqual(regions, again) {
			t.Fatalf("round trip changed the table:\n%v\n%v", regions, again)
		}
	})
}

// FuzzSetup feeds arbitrary text to the mysqlgw block and loads whatever
// parses; neither may panic. A configuration that loads must answer queries.
func FuzzSetup(f *testing.F) {
	root := f.TempDir()
	if err := os.WriteFile(filepath.Join(root, "regions.txt"), []byte("fuzzland 192.0.2.1 2001:db8::1\nother 192.0.2.2\n"), 0o644); err != nil {
		f.Fatal(err)
	}
	f.Add("", "")
	f.Add("example.org 10.in-addr.arpa", "ttl 30\nactive_ttl 1\nport 3307")
	f.Add("", "regions regions.txt\nreload 1s")
	f.Add("", "region eastus2 192.0.2.9\nalias e2 eastus2\nfallthrough")
	f.Add(".", "healthcheck 1s 500ms\nrise 1\nfall 2\nfailover closed")
	f.Add("", "alias x nowhere")
	f.Add("", "ttl -1\nreload 1ms\n}\nmysqlgw {")
	f.Add("ip6.arpa", "region all 1.2.3.4\nregion dns ::")
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
		table := g.names.Load()
		if table == nil {
			t.Fatal("load succeeded without a table")
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

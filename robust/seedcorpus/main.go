// Command seedcorpus writes the seed corpora of the fuzz targets into
// testdata/fuzz: small, readable inputs that reach every branch the targets
// check. Run from the module root: go run ./robust/seedcorpus testdata/fuzz
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

func write(dir, name string, vals ...any) {
	os.MkdirAll(dir, 0o755)
	var b strings.Builder
	b.WriteString("go test fuzz v1\n")
	for _, v := range vals {
		switch v := v.(type) {
		case []byte:
			fmt.Fprintf(&b, "[]byte(%s)\n", strconv.Quote(string(v)))
		case string:
			fmt.Fprintf(&b, "string(%s)\n", strconv.Quote(v))
		}
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644); err != nil {
		panic(err)
	}
}

func q(name string, qtype uint16, edit func(*dns.Msg)) []byte {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.Id = 0x1234
	if edit != nil {
		edit(m)
	}
	b, err := m.Pack()
	if err != nil {
		panic(err)
	}
	return b
}

func main() {
	root := os.Args[1]
	sd := filepath.Join(root, "FuzzServeDNS")
	z := "gateway.mysql.local."
	write(sd, "a-region", q("eastus2."+z, dns.TypeA, nil))
	write(sd, "aaaa-active-v6", q("active.fuzzland."+z, dns.TypeAAAA, func(m *dns.Msg) { m.Id = 0x1235 }))
	write(sd, "txt-all-edns", q("all."+z, dns.TypeTXT, func(m *dns.Msg) { m.SetEdns0(4096, true) }))
	write(sd, "srv-alias", q("_mysql._tcp.active.fl."+z, dns.TypeSRV, nil))
	write(sd, "any-apex", q(z, dns.TypeANY, nil))
	write(sd, "ns-self-v6", q("ns.dns."+z, dns.TypeAAAA, func(m *dns.Msg) { m.Id = 0x1237 }))
	write(sd, "nxdomain", q("nope."+z, dns.TypeA, nil))
	write(sd, "nodata-empty-nonterminal", q("_tcp.eastus2."+z, dns.TypeA, nil))
	write(sd, "ptr", q("107.224.239.191.in-addr.arpa.", dns.TypePTR, nil))
	write(sd, "ptr-v6-nxdomain", q("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.", dns.TypePTR, nil))
	write(sd, "mixed-case", q("PrImArY.EastUS2.GATEWAY.mysql.LOCAL.", dns.TypeTXT, nil))
	write(sd, "escaped-dot", q(`eastus2\.gateway.mysql.local.`+z, dns.TypeA, nil))
	write(sd, "escaped-bytes", q(`\000\255\.\\.`+z, dns.TypeA, nil))
	write(sd, "outside-zone", q("example.org.", dns.TypeA, nil))
	write(sd, "class-chaos", q("eastus2."+z, dns.TypeTXT, func(m *dns.Msg) { m.Question[0].Qclass = dns.ClassCHAOS }))
	write(sd, "class-any", q("eastus2."+z, dns.TypeA, func(m *dns.Msg) { m.Question[0].Qclass = dns.ClassANY }))
	write(sd, "opcode-notify", q(z, dns.TypeSOA, func(m *dns.Msg) { m.Opcode = dns.OpcodeNotify }))
	write(sd, "qdcount-2", q("eastus2."+z, dns.TypeA, func(m *dns.Msg) {
		m.Question = append(m.Question, dns.Question{Name: "westus." + z, Qtype: dns.TypeA, Qclass: dns.ClassINET})
	}))
	write(sd, "qdcount-0", q("eastus2."+z, dns.TypeA, func(m *dns.Msg) { m.Question = nil }))
	write(sd, "response-bit", q("eastus2."+z, dns.TypeA, func(m *dns.Msg) { m.Response = true }))
	long := strings.Repeat(strings.Repeat("a", 63)+".", 3) + strings.Repeat("b", 40) + "." + z
	write(sd, "name-255-bytes", q(long, dns.TypeA, nil))
	trunc := q("eastus2."+z, dns.TypeA, nil)
	write(sd, "question-without-type", trunc[:len(trunc)-4])
	write(sd, "type-zero", q("eastus2."+z, 0, nil))
	write(sd, "type-axfr", q(z, dns.TypeAXFR, nil))

	rd := filepath.Join(root, "FuzzRegionsFile")
	write(rd, "full-table", []byte("eastus2 191.239.224.107 40.79.84.180 52.167.104.0\nwestus 23.99.34.75 104.42.238.205 # two\n\n# comment\nv6 2001:db8::1\n"))
	write(rd, "crlf-and-tabs", []byte("a\t192.0.2.1\r\nb  192.0.2.2\t\t2001:db8::2\r\n"))
	write(rd, "mapped-v4", []byte("a ::ffff:192.0.2.1 64:ff9b::192.0.2.1\n"))
	write(rd, "upper-case-name", []byte("EastUS 192.0.2.1\n"))
	write(rd, "unicode-space", []byte("a\u00a0192.0.2.1\u2003192.0.2.2\u0085\n"))
	write(rd, "empty", []byte(""))
	write(rd, "comments-only", []byte("# a\n   # b\n"))
	write(rd, "duplicate", []byte("a 192.0.2.1\nA 192.0.2.2\n"))
	write(rd, "reserved", []byte("dns 192.0.2.1\n"))
	write(rd, "zone-address", []byte("a fe80::1%eth0\n"))
	write(rd, "multicast", []byte("a 224.0.0.1\n"))
	write(rd, "unspecified", []byte("a ::\n"))
	write(rd, "repeated-address", []byte("a 192.0.2.1 ::ffff:192.0.2.1\n"))
	write(rd, "four-addresses", []byte("a 192.0.2.1 192.0.2.2 192.0.2.3 192.0.2.4\n"))
	write(rd, "name-only", []byte("a\n"))
	write(rd, "truncated", []byte("a 192.0.2.1\nb 198.51"))
	write(rd, "hyphens", []byte("-a 192.0.2.1\n"))
	write(rd, "long-label", []byte(strings.Repeat("x", 64)+" 192.0.2.1\n"))
	write(rd, "nul-and-cr", []byte("a\x00 192.0.2.1\rb 192.0.2.2\n"))

	ss := filepath.Join(root, "FuzzSetup")
	write(ss, "defaults", "", "")
	write(ss, "options", "example.org 10.in-addr.arpa", "ttl 30\nactive_ttl 1\nport 3307\nfailover closed")
	write(ss, "regions-file", "", "regions regions.txt\nreload 1s")
	write(ss, "regions-outside", "", "regions /dev/zero")
	write(ss, "region-alias-fallthrough", "", "region eastus2 192.0.2.9\nalias e2 eastus2\nfallthrough example.org")
	write(ss, "healthcheck", ".", "healthcheck 1s 500ms\nrise 1\nfall 2")
	write(ss, "bad-alias", "", "alias x nowhere")
	write(ss, "second-block", "", "ttl -1\n}\nmysqlgw {")
	write(ss, "reserved-regions", "ip6.arpa", "region all 1.2.3.4\nregion dns ::")
	write(ss, "nested-zones", "gateway.mysql.local sub.gateway.mysql.local eastus2.gateway.mysql.local", "")
	write(ss, "quotes-and-braces", "\"a b\" {", "region \"x y\" 1.2.3.4\n{\n}\n\\")
	write(ss, "env-and-import", "{$HOME}", "import nothing\nregion {$USER} 1.2.3.4")
	write(ss, "big-numbers", "", "ttl 99999999999999999999\nport 0\nreload 9999999h\nhealthcheck 100ms 100ms")
}

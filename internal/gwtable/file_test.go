package gwtable

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseRegions(t *testing.T) {
	content := `# gateway table
eastus2 191.239.224.107 40.79.84.180 52.167.104.0   # three roles

WestUS2	13.66.226.202
v6 2001:db8::5 ::ffff:192.0.2.1
`
	table, err := Parse([]byte(content), "regions")
	if err != nil {
		t.Fatal(err)
	}
	got := string(formatRegions(table.Regions))
	want := "eastus2 191.239.224.107 40.79.84.180 52.167.104.0\nwestus2 13.66.226.202\nv6 2001:db8::5 192.0.2.1\n"
	if got != want {
		t.Errorf("parsed table formats as\n%s\nwant\n%s", got, want)
	}
	again, err := Parse([]byte(got), "regions")
	if err != nil || !reflect.DeepEqual(again.Regions, table.Regions) {
		t.Errorf("re-parse: %v, %+v", err, again)
	}
}

func TestParseRegionsErrors(t *testing.T) {
	for _, tc := range []struct{ content, err string }{
		{"", "regions: no regions"},
		{"# only a comment\n\n", "regions: no regions"},
		{"a 1.2.3.4\nb\n", "regions:2: want NAME [ADDRESS ...] [subnets PREFIX ...] [decommissioning ADDRESS ...] [redirect PREFIX ...], got 1 field(s)"},
		{"a 1.2.3.4\n\n\nb 1.2.3.5 x\n", `regions:4: secondary address: "x" is not an IPv4 or IPv6 address`},
		{"a 1.2.3.4\nA 1.2.3.5\n", `regions:2: region "a" is already defined on line 1`},
		{"a.b 1.2.3.4\n", "regions:1: region name \"a.b\""},
		{"-a 1.2.3.4\n", "regions:1: region name \"-a\""},
		{strings.Repeat("x", 64) + " 1.2.3.4\n", "regions:1: region name"},
		{"a" + strings.Repeat(" 192.0.2.1", 1) + seventeen() + "\n", "regions:1: more than 16 gateway addresses"},
		// The extended syntax: sections, prefixes, $SERIAL.
		{"a subnets\n", `regions:1: "subnets" needs at least one entry after it`},
		{"a subnets decommissioning 1.2.3.4\n", `regions:1: "subnets" needs at least one entry after it`},
		{"a 1.2.3.4 decommissioning\n", `regions:1: "decommissioning" needs at least one entry after it`},
		{"a subnets 10.0.0.0/16 subnets 10.1.0.0/16\n", `regions:1: "subnets" is given twice`},
		{"a decommissioning 1.2.3.4 decommissioning 1.2.3.5\n", `regions:1: "decommissioning" is given twice`},
		{"a decommissioning 1.2.3.4 subnets 10.0.0.0/16\n", `regions:1: "subnets" must come before "decommissioning"`},
		{"a 1.2.3.0/24\n", `regions:1: primary address: "1.2.3.0/24" is a prefix; prefixes go after "subnets"`},
		{"a decommissioning 1.2.3.0/24\n", `regions:1: decommissioning address: "1.2.3.0/24" is a prefix`},
		{"a subnets 1.2.3.4\n", `regions:1: subnets: "1.2.3.4" is an address; a subnet is a prefix`},
		{"a subnets 104.208.150.193/29\n", "regions:1: subnets: prefix 104.208.150.193/29 has host bits set; the subnet is 104.208.150.192/29"},
		{"a subnets 2001:db8::1/64\n", "regions:1: subnets: prefix 2001:db8::1/64 has host bits set; the subnet is 2001:db8::/64"},
		{"a subnets 1.2.3.0/33\n", `regions:1: subnets: "1.2.3.0/33" is not an IPv4 or IPv6 prefix`},
		{"a subnets 0.0.0.0/16\n", "regions:1: subnets: prefix 0.0.0.0/16 is not a subnet of host addresses"},
		{"a subnets 0.0.0.0/0\n", "regions:1: subnets: prefix 0.0.0.0/0 is wider than /16"},
		{"a subnets 13.66.136.192/8\n", "regions:1: subnets: prefix 13.66.136.192/8 is wider than /16"},
		{"a subnets 10.0.0.0/16 10.0.0.0/16\n", "regions:1: subnets: 10.0.0.0/16 is listed twice"},
		// Prefixes wider than WidestBits4 or WidestBits6: a /8 typed for a
		// /28, and halves of the address space.
		{"a subnets 52.167.104.192/29\nb subnets 13.0.0.0/8\n", "regions:2: subnets: prefix 13.0.0.0/8 is wider than /16, the widest IPv4 subnet a table may hold"},
		{"a subnets 128.0.0.0/1\n", "regions:1: subnets: prefix 128.0.0.0/1 is wider than /16"},
		{"a subnets 10.0.0.0/15\n", "regions:1: subnets: prefix 10.0.0.0/15 is wider than /16"},
		{"a subnets ::ffff:13.0.0.0/104\n", "regions:1: subnets: prefix ::ffff:13.0.0.0/104 is wider than /16, the widest IPv4 subnet"},
		{"a subnets 8000::/1\n", "regions:1: subnets: prefix 8000::/1 is wider than /32, the widest IPv6 subnet a table may hold"},
		{"a subnets 2000::/3\n", "regions:1: subnets: prefix 2000::/3 is wider than /32"},
		{"a subnets 2001:db8::/31\n", "regions:1: subnets: prefix 2001:db8::/31 is wider than /32"},
		{"a 1.2.3.4 decommissioning 1.2.3.4\n", "regions:1: decommissioning address 1.2.3.4 repeats the primary address"},
		{"a 1.2.3.4 1.2.3.5 decommissioning 1.2.3.6 1.2.3.6\n", "regions:1: decommissioning address 1.2.3.6 repeats the decommissioning address"},
		{"$SERIAL\na 1.2.3.4\n", "regions:1: want $SERIAL NUMBER, got 1 field(s)"},
		{"$SERIAL 4294967296\na 1.2.3.4\n", `regions:1: $SERIAL "4294967296" is not a number from 0 to 4294967295`},
		{"$SERIAL -1\na 1.2.3.4\n", `regions:1: $SERIAL "-1" is not a number`},
		{"$SERIAL 1\n$SERIAL 2\na 1.2.3.4\n", "regions:2: $SERIAL is given twice"},
		{"a 1.2.3.4\n$SERIAL 1\n", "regions:2: $SERIAL must come before the first region"},
		{"$ORIGIN x.\na 1.2.3.4\n", `regions:1: unknown directive "$ORIGIN"; the header lines are $SERIAL, $SOURCE, $PUBLISHED, $REDIRECT-SOURCE and $REDIRECT-PUBLISHED`},
		{"$SOURCE\na 1.2.3.4\n", "regions:1: want $SOURCE TEXT, got nothing after it"},
		{"$SOURCE a\n$SOURCE b\na 1.2.3.4\n", "regions:2: $SOURCE is given twice"},
		{"a 1.2.3.4\n$SOURCE b\n", "regions:2: $SOURCE must come before the first region"},
		{"$SOURCE " + strings.Repeat("x", 201) + "\na 1.2.3.4\n", "regions:1: $SOURCE is 201 bytes; at most 200"},
		{"$SOURCE caf\u00e9\na 1.2.3.4\n", "regions:1: $SOURCE: byte 4 is 0xc3; only printable ASCII is allowed"},
		{"$PUBLISHED 2026-02-30\na 1.2.3.4\n", `regions:1: $PUBLISHED "2026-02-30" is not a date YYYY-MM-DD`},
		{"$PUBLISHED 05/18/2026\na 1.2.3.4\n", `regions:1: $PUBLISHED "05/18/2026" is not a date`},
		{"$PUBLISHED\na 1.2.3.4\n", "regions:1: want $PUBLISHED YYYY-MM-DD, got 1 field(s)"},
		{"$PUBLISHED 2026-05-18\n$PUBLISHED 2026-05-19\na 1.2.3.4\n", "regions:2: $PUBLISHED is given twice"},
		{"$SERIAL 1\n", "regions: no regions"},
		{"a 224.0.0.1\n", "regions:1: primary address: address \"224.0.0.1\" is not a host address"},
	} {
		_, err := Parse([]byte(tc.content), "regions")
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%q: error %v, want %q", tc.content, err, tc.err)
		}
	}
}

// seventeen is seventeen distinct gateway addresses after the first.
func seventeen() string {
	var b strings.Builder
	for i := 2; i <= 17; i++ {
		fmt.Fprintf(&b, " 192.0.2.%d", i)
	}
	return b.String()
}

// TestParseTableExtended reads Microsoft's newer rows: subnets,
// decommissioning addresses, regions with no gateway or many, $SERIAL.
func TestParseTableExtended(t *testing.T) {
	content := `$SERIAL 2023030901   # from the page of 9 March 2023
# NAME [ADDRESS ...] [subnets PREFIX ...] [decommissioning ADDRESS ...]
eastus2 52.167.105.38 40.70.144.38 subnets 104.208.150.192/29 40.70.144.192/29 52.167.104.192/29 20.62.58.128/27 decommissioning 52.177.185.181
sqlonly subnets 20.62.58.128/27 40.70.144.192/29
six 192.0.2.1 192.0.2.2 192.0.2.3 192.0.2.4 192.0.2.5 192.0.2.6 subnets 2001:db8:1::/48 ::ffff:198.51.100.0/120
inside 40.70.144.193 subnets 40.70.144.192/29
`
	table, err := Parse([]byte(content), "regions")
	if err != nil {
		t.Fatal(err)
	}
	if !table.HasSerial || table.Serial != 2023030901 {
		t.Errorf("serial %d (%v), want 2023030901", table.Serial, table.HasSerial)
	}
	want := `$SERIAL 2023030901
eastus2 52.167.105.38 40.70.144.38 subnets 104.208.150.192/29 40.70.144.192/29 52.167.104.192/29 20.62.58.128/27 decommissioning 52.177.185.181
sqlonly subnets 20.62.58.128/27 40.70.144.192/29
six 192.0.2.1 192.0.2.2 192.0.2.3 192.0.2.4 192.0.2.5 192.0.2.6 subnets 2001:db8:1::/48 198.51.100.0/24
inside 40.70.144.193 subnets 40.70.144.192/29
`
	if got := string(table.Format()); got != want {
		t.Errorf("formats as\n%s\nwant\n%s", got, want)
	}
	again, err := Parse(table.Format(), "regions")
	if err != nil || !reflect.DeepEqual(again, table) {
		t.Errorf("re-parse: %v, %+v", err, again)
	}
	if r := table.Regions[2]; Role(len(r.Addrs)-1).String() != "gateway6" {
		t.Errorf("the sixth role is %q, want gateway6", Role(len(r.Addrs)-1))
	}
}

// TestContentSerial: a file without $SERIAL gets a serial from its content,
// the same for the same content wherever it is loaded.
func TestContentSerial(t *testing.T) {
	a, _ := Parse([]byte("lab 192.0.2.1\n"), "one")
	b, _ := Parse([]byte("lab 192.0.2.1\n"), "two")
	c, _ := Parse([]byte("lab 192.0.2.2\n"), "one")
	if a.HasSerial || a.Serial != b.Serial || a.Serial == c.Serial {
		t.Errorf("serials %d %d %d: want the same for the same content, another for other content", a.Serial, b.Serial, c.Serial)
	}
}

// TestProvenance: $SOURCE keeps the rest of its line, '#' included, and
// $PUBLISHED a date; both survive Format.
func TestProvenance(t *testing.T) {
	content := "# header\n  $SOURCE  https://example.com/a.md#gateway-ip-addresses (2026)  \n$PUBLISHED 2026-05-18 # ms.date\n$SERIAL 2026051801\neastus2 subnets 20.62.58.128/27\n"
	table, err := Parse([]byte(content), "regions")
	if err != nil {
		t.Fatal(err)
	}
	if want := "https://example.com/a.md#gateway-ip-addresses (2026)"; table.Source != want {
		t.Errorf("source %q, want %q", table.Source, want)
	}
	if got := table.Published.Format(DateLayout); got != "2026-05-18" || table.Published.Location() != time.UTC {
		t.Errorf("published %v", table.Published)
	}
	want := "$SERIAL 2026051801\n$SOURCE https://example.com/a.md#gateway-ip-addresses (2026)\n$PUBLISHED 2026-05-18\neastus2 subnets 20.62.58.128/27\n"
	if got := string(table.Format()); got != want {
		t.Errorf("formats as\n%s\nwant\n%s", got, want)
	}
	again, err := Parse(table.Format(), "regions")
	if err != nil || !reflect.DeepEqual(again, table) {
		t.Errorf("re-parse: %v, %+v", err, again)
	}
}

// TestParseErrorsQuoteTokensShort: whatever a token holds, the error quotes
// at most MaxQuoted bytes of it with its control bytes escaped, so a 10 MB
// token still makes a short message of one line.
func TestParseErrorsQuoteTokensShort(t *testing.T) {
	token := "\x00\x1b[2j" + strings.Repeat("x", 10<<20)
	for _, tc := range []struct{ content, err string }{
		{"a" + token + " 1.2.3.4\n", `regions:1: region name "a\x00\x1b[2jxxx`},
		{"a 1.2.3.4 1" + token + "\n", `regions:1: secondary address: "1\x00\x1b[2jxxx`},
		{"a 1.2.3.4/" + token + "\n", `regions:1: primary address: "1.2.3.4/\x00\x1b[2jxxx`},
		{"a subnets 1" + token + "\n", `regions:1: subnets: "1\x00\x1b[2jxxx`},
		{"a subnets 1/" + token + "\n", `regions:1: subnets: "1/\x00\x1b[2jxxx`},
		{"a decommissioning 1" + token + "\n", `regions:1: decommissioning address: "1\x00\x1b[2jxxx`},
		{"$SERIAL 1" + token + "\na 1.2.3.4\n", `regions:1: $SERIAL "1\x00\x1b[2jxxx`},
		{"$" + token + "\na 1.2.3.4\n", `regions:1: unknown directive "$\x00\x1b[2jxxx`},
	} {
		_, err := Parse([]byte(tc.content), "regions")
		if err == nil {
			t.Errorf("%.30q: no error", tc.content)
			continue
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, tc.err) || len(msg) > 250 || strings.ContainsAny(msg, "\x00\x1b") || !strings.Contains(msg, "… (10485") {
			t.Errorf("%.30q: error %.300q (%d bytes), want it to start %q, quote the token cut with its length, escaped, in under 250 bytes", tc.content, msg, len(msg), tc.err)
		}
	}
}

// TestParseSubnetWidest: the widest prefixes a table holds, an IPv4 /16 and
// an IPv6 /32 (also written IPv4-mapped), parse.
func TestParseSubnetWidest(t *testing.T) {
	for _, s := range []string{"10.0.0.0/16", "::ffff:10.0.0.0/112", "2001:db8::/32"} {
		p, err := ParseSubnet(s)
		if err != nil || p.Bits() != map[bool]int{true: WidestBits4, false: WidestBits6}[p.Addr().Is4()] {
			t.Errorf("%s: %v %v", s, p, err)
		}
	}
}

// TestRedirectLine: a region's Redirect set follows its other parts, is
// validated like subnets (width included) and may repeat a subnet; the
// header lines round-trip; a region of a Redirect set alone has nothing to
// allow.
func TestRedirectLine(t *testing.T) {
	content := "$SERIAL 5\n$REDIRECT-SOURCE https://example.com/ServiceTags_Public_20261207.json\n$REDIRECT-PUBLISHED 2026-12-07\n" +
		"eastus2 subnets 20.62.58.128/27 redirect 20.62.58.128/27 2603:1030:40c::/48\n" +
		"sqlonly redirect 192.0.2.0/24\n"
	table, err := Parse([]byte(content), "regions")
	if err != nil {
		t.Fatal(err)
	}
	if r := table.Regions[0]; fmt.Sprint(r.Redirect) != "[20.62.58.128/27 2603:1030:40c::/48]" || !r.HasAllow() {
		t.Errorf("eastus2: redirect %v, has allow %t", r.Redirect, r.HasAllow())
	}
	if r := table.Regions[1]; r.HasAllow() || len(r.RedirectSet().Prefixes) != 1 {
		t.Errorf("a region of a Redirect set alone: has allow %t, Redirect set %v", r.HasAllow(), r.RedirectSet().Prefixes)
	}
	if table.RedirectSource == "" || table.RedirectPublished.Format(DateLayout) != "2026-12-07" {
		t.Errorf("headers: %q %v", table.RedirectSource, table.RedirectPublished)
	}
	again, err := Parse(table.Format(), "formatted")
	if err != nil || Diff("a", table, "b", again).Changed || string(again.Format()) != string(table.Format()) {
		t.Errorf("the table does not round-trip (%v):\n%s", err, table.Format())
	}
	for _, tc := range []struct{ line, err string }{
		{"a redirect 13.0.0.0/8", "redirect: prefix 13.0.0.0/8 is wider than /16"},
		{"a redirect 192.0.2.0/24 192.0.2.0/24", "redirect: 192.0.2.0/24 is listed twice"},
		{"a redirect 192.0.2.1", "redirect: \"192.0.2.1\" is an address"},
		{"a redirect 192.0.2.0/24 subnets 192.0.2.0/24", `"subnets" must come before "redirect"`},
		{"a redirect", `"redirect" needs at least one entry after it`},
		{"a redirect redirect 192.0.2.0/24", `"redirect" is given twice`},
	} {
		if _, err := ParseRegion(strings.Fields(tc.line)); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%q: %v, want %q", tc.line, err, tc.err)
		}
	}
	for _, tc := range []struct{ content, err string }{
		{"$REDIRECT-SOURCE a\n$REDIRECT-SOURCE b\nx 192.0.2.1\n", "regions:2: $REDIRECT-SOURCE is given twice"},
		{"x 192.0.2.1\n$REDIRECT-PUBLISHED 2026-12-07\n", "regions:2: $REDIRECT-PUBLISHED must come before the first region"},
		{"$REDIRECT-PUBLISHED yesterday\nx 192.0.2.1\n", `regions:1: $REDIRECT-PUBLISHED "yesterday" is not a date YYYY-MM-DD`},
		{"$REDIRECT-SOURCE \x01\nx 192.0.2.1\n", "regions:1: $REDIRECT-SOURCE: byte 1 is 0x01"},
	} {
		if _, err := Parse([]byte(tc.content), "regions"); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%q: %v, want %q", tc.content, err, tc.err)
		}
	}
}

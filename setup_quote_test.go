package mysqlgw

import (
	"strings"
	"testing"

	"github.com/coredns/caddy"
)

// TestParseErrorsQuoteShort: a Corefile error quotes at most
// gwtable.MaxQuoted bytes of the token it names, control bytes escaped, so a
// 10 KB token still makes a short error of one line.
func TestParseErrorsQuoteShort(t *testing.T) {
	// A quoted Corefile token may hold anything but an unescaped quote,
	// newlines included. (A zone argument so odd never reaches mysqlgw:
	// CoreDNS drops it.)
	tok := `"1` + "\x00\x1b[2J\n" + strings.Repeat("x", 10<<10) + `"`
	for _, tc := range []struct{ input, want string }{
		{"mysqlgw {\n " + tok + "\n}", `Error during parsing: unknown property "1\x00\x1b[2J\nxxx`},
		{"mysqlgw {\n ttl " + tok + "\n}", `Error during parsing: ttl: "1\x00\x1b[2J\nxxx`},
		{"mysqlgw {\n regions /dev/null\n reload " + tok + "\n}", `Error during parsing: reload: "1\x00\x1b[2J\nxxx`},
		{"mysqlgw {\n healthcheck " + tok + "\n}", `Error during parsing: healthcheck: "1\x00\x1b[2J\nxxx`},
		{"mysqlgw {\n probe " + tok + "\n}", `Error during parsing: probe must be mysql, greeting or connect, got "1\x00\x1b[2J\nxxx`},
		{"mysqlgw {\n probe mysql " + tok + "\n}", `Error during parsing: probe mysql: user name longer than 80 bytes: "1\x00\x1b[2J\nxxx`},
		{"mysqlgw {\n failover " + tok + "\n}", `Error during parsing: failover must be open or closed, got "1\x00\x1b[2J\nxxx`},
		{"mysqlgw {\n soa " + tok + " 3600 1209600 300\n}", `Error during parsing: soa: "1\x00\x1b[2J\nxxx`},
		{"mysqlgw {\n region " + tok + " 192.0.2.1\n}", `Error during parsing: region: region name "1\x00\x1b[2j\nxxx`},
		{"mysqlgw {\n region lab " + tok + "\n}", `Error during parsing: region: primary address: "1\x00\x1b[2J\nxxx`},
		{"mysqlgw {\n ns " + tok + "\n}", `Error during parsing: ns: "1\x00\x1b[2J\nxxx`},
		{"mysqlgw {\n ttl 1 " + tok + "\n}", `Error during parsing: Wrong argument count or unexpected line ending after "1\x00\x1b[2J\nxxx`},
		{"mysqlgw {\n soa 1 " + tok + "\n}", `Error during parsing: Wrong argument count or unexpected line ending after "1\x00\x1b[2J\nxxx`},
		{"mysqlgw {\n failover open " + tok + "\n}", `Error during parsing: Wrong argument count or unexpected line ending after "1\x00\x1b[2J\nxxx`},
		{"mysqlgw {\n alias eu " + tok + "\n}", `Testfile:2: alias "eu": unknown region "1\x00\x1b[2j\nxxx`},
	} {
		err := setup(caddy.NewTestController("dns", tc.input))
		if err == nil {
			t.Errorf("%.40q: no error", tc.input)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, tc.want) || len(msg) > 400 || strings.ContainsAny(msg, "\x00\x1b\n") || !strings.Contains(msg, "… (10") {
			t.Errorf("%.40q: error %.600q (%d bytes), want it to contain %q, cut, with no control bytes", tc.input, msg, len(msg), tc.want)
		}
	}
}

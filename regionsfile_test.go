package mysqlgw

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseRegions(t *testing.T) {
	content := `# gateway table
eastus2 191.239.224.107 40.79.84.180 52.167.104.0   # three roles

WestUS2	13.66.226.202
v6 2001:db8::5 ::ffff:192.0.2.1
`
	regions, err := parseRegions([]byte(content), "regions")
	if err != nil {
		t.Fatal(err)
	}
	got := string(formatRegions(regions))
	want := "eastus2 191.239.224.107 40.79.84.180 52.167.104.0\nwestus2 13.66.226.202\nv6 2001:db8::5 192.0.2.1\n"
	if got != want {
		t.Errorf("parsed table formats as\n%s\nwant\n%s", got, want)
	}
	again, err := parseRegions([]byte(got), "regions")
	if err != nil || !reflect.DeepEqual(again, regions) {
		t.Errorf("re-parse: %v, %+v", err, again)
	}
}

func TestParseRegionsErrors(t *testing.T) {
	for _, tc := range []struct{ content, err string }{
		{"", "regions: no regions"},
		{"# only a comment\n\n", "regions: no regions"},
		{"a 1.2.3.4\nb\n", "regions:2: want NAME PRIMARY [SECONDARY [TERTIARY]], got 1 field(s)"},
		{"a 1.2.3.4\n\n\nb 1.2.3.5 x\n", `regions:4: secondary address: "x" is not an IPv4 or IPv6 address`},
		{"a 1.2.3.4\nA 1.2.3.5\n", `regions:2: region "a" is already defined on line 1`},
		{"a.b 1.2.3.4\n", "regions:1: region name \"a.b\""},
		{"-a 1.2.3.4\n", "regions:1: region name \"-a\""},
		{strings.Repeat("x", 64) + " 1.2.3.4\n", "regions:1: region name"},
		{"a 1.2.3.4 1.2.3.5 1.2.3.6 1.2.3.7\n", "regions:1: want NAME PRIMARY"},
		{"a 224.0.0.1\n", "regions:1: primary address: address \"224.0.0.1\" is not a host address"},
	} {
		_, err := parseRegions([]byte(tc.content), "regions")
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%q: error %v, want %q", tc.content, err, tc.err)
		}
	}
}

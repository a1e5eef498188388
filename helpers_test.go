package mysqlgw

import (
	"testing"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/plugin/test"
)

// newTestPlugin parses and loads a mysqlgw Corefile snippet, with
// test.NextHandler answering whatever mysqlgw passes on.
func newTestPlugin(t testing.TB, corefile string) *MysqlGW {
	t.Helper()
	c := caddy.NewTestController("dns", corefile)
	g, err := parse(c)
	if err != nil {
		t.Fatalf("parse %q: %v", corefile, err)
	}
	if err := g.load(); err != nil {
		t.Fatalf("load %q: %v", corefile, err)
	}
	g.Next = test.NextHandler(dnsRcodeNextMarker, nil)
	return g
}

// dnsRcodeNextMarker is what test.NextHandler returns, so a test can tell a
// query mysqlgw passed on from one it answered.
const dnsRcodeNextMarker = 23

package test

import (
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// TestChainLeavesTableIntact: mysqlgw hands out the records it stores, as
// CoreDNS's file plugin does, and leaves copying to the plugins that edit a
// reply (CoreDNS's plugin.md). This runs the editing plugins the binary ships
// in front of it, in the binary's order: loadbalance shuffles, cache counts
// TTLs down, rewrite renames the answers. After many queries through them,
// the table's own answer is as built.
func TestChainLeavesTableIntact(t *testing.T) {
	udp, _ := startInProcess(t, `. {
	bind 127.0.0.1
	loadbalance
	cache 3600
	rewrite name suffix .example.test. .gateway.mysql.local. answer auto
	minimal
	mysqlgw gateway.mysql.local example.test
}
`)
	_, port, _ := net.SplitHostPort(udp)
	ask := func(name string, cd bool) *dns.Msg {
		t.Helper()
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeA)
		m.CheckingDisabled = cd // a key of its own in the cache
		r, err := dns.Exchange(m, net.JoinHostPort("127.0.0.1", port))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	for range 50 {
		r := ask("eastus2.example.test.", false)
		if len(r.Answer) != 3 || r.Answer[0].Header().Name != "eastus2.example.test." {
			t.Fatalf("through rewrite: %v", r.Answer)
		}
		ask("eastus2.gateway.mysql.local.", false)
	}
	// Not cached yet: the answer comes from the table.
	r := ask("eastus2.gateway.mysql.local.", true)
	var addrs []string
	for _, rr := range r.Answer {
		a := rr.(*dns.A)
		if a.Hdr.Name != "eastus2.gateway.mysql.local." || a.Hdr.Ttl != 300 {
			t.Errorf("the table's record was edited by a plugin in front: %s", a)
		}
		addrs = append(addrs, a.A.String())
	}
	slices.Sort(addrs)
	if got := strings.Join(addrs, " "); got != "191.239.224.107 40.79.84.180 52.167.104.0" {
		t.Errorf("eastus2 answers %s", got)
	}
}

package test

import (
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestChainLeavesTableIntact: mysqlgw hands out the records it stores, as
// CoreDNS's file plugin does, and leaves copying to the plugins that edit a
// reply (CoreDNS's plugin.md). This runs the editing plugins the binary ships
// in front of it, in the binary's order: loadbalance shuffles, cache counts
// TTLs down, rewrite renames the answers. Many goroutines query through them
// at once; under the race detector an edit made in place to a stored record
// or slice is reported as a race. Every answer holds the region's addresses
// under the name asked, and afterwards the table's own answer is as built.
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
	const want = "191.239.224.107 40.79.84.180 52.167.104.0"
	names := []string{
		"eastus2.gateway.mysql.local.",
		"EastUS2.Gateway.MySQL.Local.", // cache keys it lowercased: the same entry, answered as asked
		"eastus2.example.test.",        // renamed by rewrite, both ways
	}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		orders = map[string]bool{}
		errs   []string
	)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &dns.Client{Timeout: 5 * time.Second}
			for i := range 200 {
				name := names[(w+i)%len(names)]
				m := new(dns.Msg)
				m.SetQuestion(name, dns.TypeA)
				r, _, err := c.Exchange(m, udp)
				if err != nil {
					mu.Lock()
					errs = append(errs, name+": "+err.Error())
					mu.Unlock()
					continue
				}
				var got []string
				bad := len(r.Question) != 1 || r.Question[0].Name != name
				for _, rr := range r.Answer {
					a, ok := rr.(*dns.A)
					if !ok || !strings.EqualFold(a.Hdr.Name, name) || a.Hdr.Ttl > 300 {
						bad = true
						continue
					}
					got = append(got, a.A.String())
				}
				order := strings.Join(got, " ")
				slices.Sort(got)
				mu.Lock()
				orders[order] = true
				if bad || strings.Join(got, " ") != want {
					errs = append(errs, name+": "+r.String())
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d bad answers, first: %s", len(errs), errs[0])
	}
	if len(orders) < 2 {
		t.Errorf("loadbalance never reordered the answer (%v): it did not run on mysqlgw's records", orders)
	}

	// CD set: a cache key of its own, not cached yet, so the answer comes
	// from the table.
	_, port, _ := net.SplitHostPort(udp)
	m := new(dns.Msg)
	m.SetQuestion("eastus2.gateway.mysql.local.", dns.TypeA)
	m.CheckingDisabled = true
	r, err := dns.Exchange(m, net.JoinHostPort("127.0.0.1", port))
	if err != nil {
		t.Fatal(err)
	}
	var addrs []string
	for _, rr := range r.Answer {
		a := rr.(*dns.A)
		if a.Hdr.Name != "eastus2.gateway.mysql.local." || a.Hdr.Ttl != 300 {
			t.Errorf("the table's record was edited by a plugin in front: %s", a)
		}
		addrs = append(addrs, a.A.String())
	}
	slices.Sort(addrs)
	if got := strings.Join(addrs, " "); got != want {
		t.Errorf("eastus2 answers %s, want %s", got, want)
	}
}

package test

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestChainEditsDoNotReachTheTable runs mysqlgw in-process behind
// loadbalance and cache, which reorder and store the answers mysqlgw hands
// them, and queries it from many goroutines at once: under the race
// detector this shows no answer shares records with the table or with
// another answer, and every answer still holds the region's addresses.
func TestChainEditsDoNotReachTheTable(t *testing.T) {
	udp, _ := startInProcess(t, `gateway.mysql.local:0 {
		bind 127.0.0.1
		loadbalance
		cache 30
		mysqlgw
	}`)
	want := []string{"191.239.224.107", "40.79.84.180", "52.167.104.0"}
	slices.Sort(want)
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
				m := new(dns.Msg)
				name := "eastus2.gateway.mysql.local."
				if (w+i)%2 == 1 {
					name = "EastUS2.Gateway.MySQL.Local." // another spelling, another cache entry
				}
				m.SetQuestion(name, dns.TypeA)
				r, _, err := c.Exchange(m, udp)
				if err != nil {
					mu.Lock()
					errs = append(errs, err.Error())
					mu.Unlock()
					continue
				}
				var got []string
				for _, rr := range r.Answer {
					got = append(got, rr.(*dns.A).A.String())
				}
				order := strings.Join(got, " ")
				slices.Sort(got)
				mu.Lock()
				orders[order] = true
				if !slices.Equal(got, want) || r.Question[0].Name != name {
					errs = append(errs, name+": "+order)
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
}

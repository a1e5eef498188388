// Command follow measures how long a secondary takes to follow mysqlgw: it
// asks both for NAME's A records every millisecond until each answers WANT,
// and prints the milliseconds from mysqlgw's first such answer to the
// secondary's (negative if the secondary was first). bench/secondary.sh runs
// it once per failover.
//
//	follow -name active.lab.gw.bench. -want 127.0.0.42 -primary 127.0.0.1:5300 -secondary 127.0.0.1:5302
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

func main() {
	name := flag.String("name", "", "the name to ask for (A)")
	want := flag.String("want", "", "the answer to wait for: addresses, space-separated, in order")
	primary := flag.String("primary", "", "mysqlgw's address:port")
	secondary := flag.String("secondary", "", "the secondary's address:port")
	timeout := flag.Duration("timeout", 30*time.Second, "how long to wait for both")
	flag.Parse()
	if *name == "" || *want == "" || *primary == "" || *secondary == "" {
		flag.Usage()
		os.Exit(2)
	}
	deadline := time.Now().Add(*timeout)
	seen := make([]time.Time, 2)
	var wg sync.WaitGroup
	for i, addr := range []string{*primary, *secondary} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seen[i] = waitFor(addr, dns.Fqdn(*name), *want, deadline)
		}()
	}
	wg.Wait()
	for i, who := range []string{"mysqlgw", "the secondary"} {
		if seen[i].IsZero() {
			fmt.Fprintf(os.Stderr, "follow: %s did not answer %s with %q within %s\n", who, *name, *want, *timeout)
			os.Exit(1)
		}
	}
	fmt.Printf("%.1f\n", float64(seen[1].Sub(seen[0]).Microseconds())/1000)
}

// waitFor asks addr for name every millisecond until the answer is want, and
// returns when it first was; the zero time if not before deadline.
func waitFor(addr, name, want string, deadline time.Time) time.Time {
	c := &dns.Client{Timeout: 500 * time.Millisecond}
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	for time.Now().Before(deadline) {
		r, _, err := c.Exchange(m, addr)
		at := time.Now()
		if err == nil {
			var got []string
			for _, rr := range r.Answer {
				if a, ok := rr.(*dns.A); ok {
					got = append(got, a.A.String())
				}
			}
			if strings.Join(got, " ") == want {
				return at
			}
		}
		time.Sleep(time.Millisecond)
	}
	return time.Time{}
}

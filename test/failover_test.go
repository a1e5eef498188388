package test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mysqlgw/mysqlgw/internal/testutil"
)

// TestFailoverWithDig runs the failover walk-through of docs/health-checks.md,
// its Corefile and regions file from examples/failover with free ports
// swapped in: the real binary probes stand-in gateways on loopback, and dig
// sees active move to the secondary when the primary's listener stops, and
// back when it returns.
func TestFailoverWithDig(t *testing.T) {
	const primary, secondary = "127.0.0.2", "127.0.0.3"
	port := testutil.GatewayPort(t, primary, secondary)
	page, err := os.ReadFile("../docs/health-checks.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []string{
		"$ go run ./cmd/fakegw 127.0.0.2:13306 &", "$ go run ./cmd/fakegw 127.0.0.3:13306 &",
		"$ go run ./cmd/coredns -conf examples/failover/Corefile &",
		"$ dig @127.0.0.1 -p 1054 active.lab.gateway.mysql.local +noall +answer",
		"$ dig @127.0.0.1 -p 1054 active.lab.gateway.mysql.local TXT +short\n\"secondary=127.0.0.3\"",
	} {
		if !strings.Contains(string(page), step) {
			t.Fatalf("docs/health-checks.md's walk-through lacks %q; update this test with it", step)
		}
	}
	corefile, err := os.ReadFile("../examples/failover/Corefile")
	if err != nil {
		t.Fatal(err)
	}
	regions, err := os.ReadFile("../examples/failover/regions")
	if err != nil {
		t.Fatal(err)
	}
	example := strings.NewReplacer(":1054 ", ":{PORT} ", "port 13306", fmt.Sprintf("port %d", port),
		":9154", fmt.Sprintf(":%d", freePort(t))).Replace(string(corefile))
	if example == string(corefile) || !strings.Contains(string(regions), "lab     127.0.0.2  127.0.0.3") {
		t.Fatal("the failover example changed; update this test with it")
	}
	primaryGW := standIn(t, primary, port)
	standIn(t, secondary, port)
	s := startServer(t, map[string]string{"examples/failover/regions": string(regions), "Corefile": example})
	active := func() string { return strings.TrimSpace(s.dig("active.lab.gateway.mysql.local", "+short")) }
	waitFor := func(want string) {
		t.Helper()
		if err := testutil.Poll(20*time.Second, nil, func() error {
			if got := active(); got != want {
				return fmt.Errorf("active.lab answers %q, want %q", got, want)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(primary)
	if got := strings.Fields(s.dig("active.lab.gateway.mysql.local", "+noall", "+answer")); strings.Join(got, " ") != "active.lab.gateway.mysql.local. 5 IN A "+primary {
		t.Errorf("active answer %q, want the primary at the short TTL of 5", got)
	}

	primaryGW.Close()
	waitFor(secondary)
	s.waitLog("Gateway "+primary+" port", 5*time.Second)
	if got := strings.TrimSpace(s.dig("active.lab.gateway.mysql.local", "TXT", "+short")); got != `"secondary=`+secondary+`"` {
		t.Errorf("active TXT after failover: %q", got)
	}
	if got := strings.TrimSpace(s.dig("_mysql._tcp.active.lab.gateway.mysql.local", "SRV", "+short")); got != fmt.Sprintf("20 0 %d secondary.lab.gateway.mysql.local.", port) {
		t.Errorf("active SRV after failover: %q", got)
	}
	// The region's own name keeps both addresses for allowlists.
	if got := strings.Fields(s.dig("lab.gateway.mysql.local", "+short")); len(got) != 2 {
		t.Errorf("lab A during failover: %v", got)
	}

	standIn(t, primary, port)
	waitFor(primary)
	// Each change is logged once, not every interval.
	if n := strings.Count(s.out.String(), "Gateway "+primary+" port "+fmt.Sprint(port)+" is down"); n != 1 {
		t.Errorf("primary down logged %d times, want once", n)
	}
}

package test

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mysqlgw/mysqlgw/internal/testutil"
)

// TestTransferHealthSignedSecondaries: docs/zone-transfer.md says the
// secondaries sign what mysqlgw transfers, Knot with `dnssec-signing: on`
// and BIND with `dnssec-policy` and `inline-signing yes`. Both, fed by a
// mysqlgw with transfer_health, answer active.eastus2 with a signature, and
// after the primary gateway fails, with the secondary gateway's address
// and a signature over it.
func TestTransferHealthSignedSecondaries(t *testing.T) {
	t.Parallel()
	if !inOwnNamespace(t, "ip", "named", "knotd") {
		return
	}
	run(t, "ip", "link", "set", "lo", "up")
	const primary, secondary = "127.0.0.71", "127.0.0.72"
	gwPort, bindPort, knotPort, mysqlPort := freePort(t), freePort(t), freePort(t), freePort(t)
	primaryGW := standIn(t, primary, mysqlPort)
	standIn(t, secondary, mysqlPort)
	gw := startServerOn(t, gwPort, map[string]string{
		"regions": fmt.Sprintf("$SERIAL 1\neastus2 %s %s\n", primary, secondary),
		"Corefile": fmt.Sprintf(`gateway.mysql.local:{PORT} {
    bind 127.0.0.1
    transfer {
        to 127.0.0.1:%d 127.0.0.1:%d
    }
    mysqlgw {
        regions regions
        port %d
        healthcheck 200ms
        rise 1
        fall 1
        transfer_health
    }
}
`, bindPort, knotPort, mysqlPort)})

	knotDir := t.TempDir()
	writeConfig(t, knotDir, "knot.conf", knotServer(knotDir, knotPort)+fmt.Sprintf(`remote:
  - id: mysqlgw
    address: 127.0.0.1@%d
acl:
  - id: notify-from-mysqlgw
    address: 127.0.0.1
    action: notify
zone:
  - domain: gateway.mysql.local
    master: mysqlgw
    acl: notify-from-mysqlgw
    dnssec-signing: on
`, gwPort))
	knot := testutil.Start(t, exec.Command(requireTool(t, "knotd"), "-c", filepath.Join(knotDir, "knot.conf")), 10*time.Second)

	bindDir := t.TempDir()
	writeConfig(t, bindDir, "named.conf", bindServer(bindDir, bindPort)+fmt.Sprintf(`zone "gateway.mysql.local" {
    type secondary;
    primaries { 127.0.0.1 port %[2]d; };
    file "%[1]s/gateway.mysql.local.db";
    notify no;
    dnssec-policy default;
    inline-signing yes;
};
`, bindDir, gwPort))
	named := exec.Command(requireTool(t, "named"), "-g", "-4", "-c", filepath.Join(bindDir, "named.conf"))
	named.Dir = bindDir
	bind := testutil.Start(t, named, 10*time.Second)

	// signed asks addr for active.eastus2 A with DO and returns its
	// addresses, or an error when the answer carries no RRSIG over them.
	signed := func(addr string) (string, error) {
		m := new(dns.Msg)
		m.SetQuestion("active.eastus2.gateway.mysql.local.", dns.TypeA)
		m.SetEdns0(4096, true)
		c := &dns.Client{Timeout: time.Second}
		r, _, err := c.Exchange(m, addr)
		if err != nil {
			return "", err
		}
		var addrs []string
		sig := false
		for _, rr := range r.Answer {
			switch rr := rr.(type) {
			case *dns.A:
				addrs = append(addrs, rr.A.String())
			case *dns.RRSIG:
				sig = sig || rr.TypeCovered == dns.TypeA
			}
		}
		if !sig {
			return strings.Join(addrs, " "), fmt.Errorf("no RRSIG over %v (rcode %s)", addrs, dns.RcodeToString[r.Rcode])
		}
		return strings.Join(addrs, " "), nil
	}
	follow := func(want string) {
		t.Helper()
		for _, s := range []struct {
			name string
			port int
			proc *testutil.Process
		}{{"Knot", knotPort, knot}, {"BIND", bindPort, bind}} {
			err := testutil.Poll(30*time.Second, s.proc.Exited, func() error {
				got, err := signed(fmt.Sprintf("127.0.0.1:%d", s.port))
				if err != nil {
					return err
				}
				if got != want {
					return fmt.Errorf("active.eastus2 answers %q, want %q", got, want)
				}
				return nil
			})
			if err != nil {
				t.Fatalf("%s, signing: %v\n%s\nmysqlgw:\n%s", s.name, err, s.proc.Out.String(), gw.out.String())
			}
		}
	}
	follow(primary)
	primaryGW.Close()
	follow(secondary)
}

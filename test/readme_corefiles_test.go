package test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"

	"github.com/miekg/dns"
)

// serverKey matches the first line of a server block, to move it to a free
// loopback port.
var serverKey = regexp.MustCompile(`(?m)^(\S+?)(:\d+)? \{$`)

// TestReadmeCorefilesRun starts every Corefile example in the README that
// uses mysqlgw, in-process on a free loopback port with the regions file
// pointed at a loopback table, and asks it for eastus2: each must answer,
// except the acl example, which must drop a client outside its networks.
func TestReadmeCorefilesRun(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	regions := filepath.Join(t.TempDir(), "regions")
	// Loopback only: one example turns health checks on.
	if err := os.WriteFile(regions, []byte("eastus2 127.0.0.51 127.0.0.52\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ran := 0
	for _, block := range strings.Split(string(readme), "~~~ corefile\n")[1:] {
		corefile := block[:strings.Index(block, "~~~")]
		if !strings.Contains(corefile, "mysqlgw") {
			continue // the cluster CoreDNS's block; test/resolvers_test.go runs it
		}
		ran++
		local := serverKey.ReplaceAllString(corefile, "$1:0 {\n    bind 127.0.0.1")
		local = strings.NewReplacer("/etc/coredns/regions", regions, "localhost:9153", "127.0.0.1:0").Replace(local)
		t.Run(strings.Fields(corefile)[0], func(t *testing.T) {
			startMu.Lock()
			caddy.Quiet, dnsserver.Quiet = true, true
			instance, err := caddy.Start(caddy.CaddyfileInput{Filepath: "Corefile", Contents: []byte(local), ServerTypeName: "dns"})
			startMu.Unlock()
			if err != nil {
				t.Fatalf("%s\n%v", local, err)
			}
			defer func() {
				instance.ShutdownCallbacks()
				instance.Stop()
				instance.Wait()
			}()
			m := new(dns.Msg)
			m.SetQuestion("eastus2.gateway.mysql.local.", dns.TypeA)
			c := &dns.Client{Timeout: 2 * time.Second}
			r, _, err := c.Exchange(m, instance.Servers()[0].LocalAddr().String())
			if strings.Contains(corefile, "acl {") {
				if err == nil {
					t.Errorf("the acl example answered 127.0.0.1: %v", r)
				}
				return
			}
			if err != nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
				t.Errorf("%s\neastus2 A: %v %v", local, r, err)
			}
		})
	}
	if ran < 3 {
		t.Errorf("ran %d README examples with mysqlgw, want at least 3", ran)
	}
}

package mysqlgw

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy"
)

func TestSetup(t *testing.T) {
	c := caddy.NewTestController("dns", "mysqlgw")
	if err := setup(c); err != nil {
		t.Fatalf("setup: %v", err)
	}
}

func TestParse(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "regions")
	os.WriteFile(good, []byte("# lab\nlab 127.0.0.2 127.0.0.3\n"), 0o644)
	bad := filepath.Join(dir, "bad")
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("\nsecond\n"), 0o600)
	os.WriteFile(bad, []byte("lab 127.0.0.2\n\nlab2 300.1.1.1\n"), 0o644)

	tests := []struct {
		input     string
		shouldErr string // "" for none; else a part of the error
	}{
		{"mysqlgw", ""},
		{"mysqlgw gateway.mysql.local in-addr.arpa", ""},
		{"mysqlgw {\n ttl 60\n active_ttl 1\n port 3307\n}", ""},
		{"mysqlgw {\n regions " + good + "\n reload 2s\n}", ""},
		{"mysqlgw {\n regions " + good + "\n reload 0\n}", ""},
		{"mysqlgw {\n region lab 127.0.0.2\n alias lab2 lab\n alias EU eastus2\n}", ""},
		{"mysqlgw {\n healthcheck 5s\n rise 1\n fall 2\n failover closed\n}", ""},
		{"mysqlgw {\n healthcheck 5s 500ms\n}", ""},
		{"mysqlgw {\n fallthrough\n}", ""},
		{"mysqlgw {\n fallthrough a.example b.example\n}", ""},

		{"mysqlgw {\n bogus\n}", "Testfile:2 - Error during parsing: unknown property \"bogus\""},
		{"mysqlgw {\n http 127.0.0.1:8053\n}", ""},
		{"mysqlgw {\n http [::1]:8053\n}", ""},
		{"mysqlgw {\n http :8053\n}", ""},
		{"mysqlgw {\n http\n}", "Testfile:2 - Error during parsing: Wrong argument count"},
		{"mysqlgw {\n http 127.0.0.1\n}", `http: "127.0.0.1" is not HOST:PORT`},
		{"mysqlgw {\n http 127.0.0.1:0\n}", `http: port "0" is not in range [1, 65535]`},
		{"mysqlgw {\n http example.com:80\n}", `http: "example.com" is not an IP address to listen on`},
		{"mysqlgw {\n http :1\n http :2\n}", "Testfile:3 - Error during parsing: http is given twice"},
		{"mysqlgw {\n http_tls a b\n}", "Testfile:2: http_rate, http_tls and http_auth need an http ADDRESS"},
		{"mysqlgw {\n transfer_health\n}", "Testfile:2: transfer_health needs healthcheck"},
		{"mysqlgw {\n healthcheck 5s\n transfer_health\n}", ""},
		{"mysqlgw {\n healthcheck 5s\n transfer_health now\n}", "Wrong argument count"},
		{"mysqlgw {\n http_rate 5\n}", "Testfile:2: http_rate, http_tls and http_auth need an http ADDRESS"},
		{"mysqlgw {\n http :8053\n http_rate 0\n}", ""},
		{"mysqlgw {\n http :8053\n http_rate -1\n}", "http_rate must be in range [0, 1000000]"},
		{"mysqlgw {\n http :8053\n http_tls " + filepath.Join(dir, "no.crt") + " " + filepath.Join(dir, "no.key") + "\n}", "Testfile:3: http_tls: open " + filepath.Join(dir, "no.crt")},
		{"mysqlgw {\n http :8053\n http_tls a\n}", "Wrong argument count"},
		{"mysqlgw {\n http :8053\n http_auth fw\n}", "Wrong argument count"},
		{"mysqlgw {\n http :8053\n http_auth a:b " + good + "\n}", "http_auth: a user name cannot hold ':'"},
		{"mysqlgw {\n http :8053\n http_auth fw " + filepath.Join(dir, "missing") + "\n}", "Testfile:3: http_auth: open " + filepath.Join(dir, "missing")},
		{"mysqlgw {\n http :8053\n http_auth fw " + empty + "\n}", "Testfile:3: http_auth: " + empty + ": the first line, the password, is empty"},
		{"mysqlgw {\n ttl\n}", "Testfile:2 - Error during parsing: Wrong argument count"},
		{"mysqlgw {\n ttl 1 2\n}", "Wrong argument count"},
		{"mysqlgw {\n ttl -1\n}", "ttl must be in range [0, 86400], got -1"},
		{"mysqlgw {\n ttl 99999999\n}", "ttl must be in range"},
		{"mysqlgw {\n ttl abc\n}", `ttl: "abc" is not a whole number`},
		{"mysqlgw {\n port 0\n}", "port must be in range [1, 65535]"},
		{"mysqlgw {\n reload 5s\n}", "reload needs a regions FILE"},
		{"mysqlgw {\n reload 5s\n ttl 3\n}", "Testfile:2: reload needs a regions FILE to watch"},
		{"mysqlgw {\n regions " + good + "\n reload soon\n}", `Testfile:3 - Error during parsing: reload: "soon" is not a duration`},
		{"mysqlgw {\n regions " + good + "\n reload 1ms\n}", "reload must be 0 (off) or at least 100ms"},
		{"mysqlgw {\n regions\n}", "Wrong argument count"},
		{"mysqlgw {\n regions a b\n}", "Wrong argument count"},
		{"mysqlgw {\n regions " + good + "\n regions " + good + "\n}", "regions is given twice"},
		{"mysqlgw {\n regions " + filepath.Join(dir, "missing") + "\n}", "no such file"},
		{"mysqlgw {\n regions " + bad + "\n}", bad + `:3: primary address: "300.1.1.1" is not an IPv4 or IPv6 address`},
		{"mysqlgw {\n region lab\n}", "Testfile:2 - Error during parsing: region: want NAME [ADDRESS ...] [subnets PREFIX ...] [decommissioning ADDRESS ...] [redirect PREFIX ...], got 1 field(s)"},
		{"mysqlgw {\n region lab 1.2.3.4 subnets 1.2.3.7\n}", `region: subnets: "1.2.3.7" is an address`},
		{"mysqlgw {\n region lab subnets 10.0.0.0/16 decommissioning 10.0.0.1 10.0.0.1\n}", "region: decommissioning address 10.0.0.1 repeats"},
		{"mysqlgw {\n region lab 1.2.3.x\n}", `primary address: "1.2.3.x" is not an IPv4 or IPv6 address`},
		// A /8 typed for a /28: wider than a table may hold.
		{"mysqlgw {\n region lab subnets 13.0.0.0/8\n}", "Testfile:2 - Error during parsing: region: subnets: prefix 13.0.0.0/8 is wider than /16"},
		{"mysqlgw {\n region lab subnets 8000::/1\n}", "region: subnets: prefix 8000::/1 is wider than /32"},
		{"mysqlgw {\n region lab 1.2.3.4 1.2.3.4\n}", "secondary address 1.2.3.4 repeats the primary address"},
		{"mysqlgw {\n region lab 0.0.0.0\n}", "is not a host address"},
		{"mysqlgw {\n region lab fe80::1%eth0\n}", "has a zone"},
		{"mysqlgw {\n region all 1.2.3.4\n}", `region name "all" is reserved`},
		{"mysqlgw {\n region under_score 1.2.3.4\n}", "only letters, digits and inner hyphens"},
		{"mysqlgw {\n region lab 1.2.3.4\n region LAB 1.2.3.5\n}", `Testfile:3 - Error during parsing: region "lab" is already defined on line 2`},
		{"mysqlgw {\n alias eu\n}", "Wrong argument count"},
		{"mysqlgw {\n alias eu nowhere\n}", `Testfile:2: alias "eu": unknown region "nowhere"`},
		{"mysqlgw {\n alias eastus eastus2\n}", `Testfile:2: alias "eastus": already names region "eastus"`},
		{"mysqlgw {\n alias dns eastus2\n}", "reserved"},
		{"mysqlgw {\n healthcheck\n}", "Wrong argument count"},
		{"mysqlgw {\n healthcheck 1ms\n}", "healthcheck interval must be at least 100ms"},
		{"mysqlgw {\n healthcheck 1s 2s\n}", "healthcheck timeout must be above 0 and at most the interval"},
		{"mysqlgw {\n healthcheck 1s 0s\n}", "healthcheck timeout must be above 0"},
		{"mysqlgw {\n probe\n}", "Wrong argument count"},
		{"mysqlgw {\n probe ping\n}", `probe must be mysql, greeting or connect, got "ping"`},
		{"mysqlgw {\n probe greeting monitor\n}", "Wrong argument count"},
		{"mysqlgw {\n probe mysql a b\n}", "Wrong argument count"},
		{"mysqlgw {\n probe mysql " + strings.Repeat("u", 81) + "\n}", "user name longer than 80 bytes"},
		{"mysqlgw {\n shard x\n}", `shard: "x" is not a whole number`},
		{"mysqlgw {\n shard 0\n}", "shard must be in range [1, 32], got 0"},
		{"mysqlgw {\n shard 33\n}", "shard must be in range [1, 32], got 33"},
		{"mysqlgw {\n region allow 1.2.3.4\n}", `region name "allow" is reserved for the allowlist names`},
		{"mysqlgw {\n soa 1 2 3\n}", "Wrong argument count"},
		{"mysqlgw {\n soa 14400 3600 1209600 x\n}", `soa: "x" is not a number of seconds above 0`},
		{"mysqlgw {\n soa 3600 3600 1209600 300\n}", "soa: retry 3600 must be shorter than refresh 3600"},
		{"mysqlgw {\n soa 14400 3600 86400 300\n}", "soa: expire 86400 must be at least a week (604800) and 7 times refresh"},
		{"mysqlgw {\n soa 14400 3600 1209600 172800\n}", "soa: minimum 172800 must be at most a day"},
		{"mysqlgw {\n ns\n}", "Wrong argument count"},
		{"mysqlgw {\n ns 192.0.2.0/24\n}", `ns: "192.0.2.0/24" is a prefix, not an address`},
		{"mysqlgw {\n rise 0\n}", "rise must be in range [1, 100]"},
		{"mysqlgw {\n fall 101\n}", "fall must be in range [1, 100]"},
		{"mysqlgw {\n failover sideways\n}", `failover must be open or closed, got "sideways"`},
		{"mysqlgw\nmysqlgw", "this plugin"},
		{"mysqlgw \"a b\"", `"a b." is not a zone name`},
	}
	for i, tc := range tests {
		c := caddy.NewTestController("dns", tc.input)
		err := setup(c)
		switch {
		case tc.shouldErr == "" && err != nil:
			t.Errorf("test %d %q: unexpected error %v", i, tc.input, err)
		case tc.shouldErr != "" && err == nil:
			t.Errorf("test %d %q: expected an error with %q", i, tc.input, tc.shouldErr)
		case tc.shouldErr != "" && !strings.Contains(err.Error(), tc.shouldErr):
			t.Errorf("test %d %q: error %q does not contain %q", i, tc.input, err, tc.shouldErr)
		}
	}
}

func TestParseSettings(t *testing.T) {
	g := newTestPlugin(t, `mysqlgw gateway.mysql.local 10.in-addr.arpa {
		ttl 60
		active_ttl 1
		port 3307
		healthcheck 2s 300ms
		rise 4
		fall 5
		failover closed
	}`)
	o := g.opt
	if o.ttl != 60 || o.activeTTL != 1 || o.port != 3307 || o.failOpen {
		t.Errorf("options %+v", o)
	}
	if len(o.zones) != 1 || o.zones[0] != "gateway.mysql.local." || len(o.reverse) != 1 || o.reverse[0] != "10.in-addr.arpa." {
		t.Errorf("zones %v reverse %v", o.zones, o.reverse)
	}
	h := g.health
	if h == nil || h.interval != 2*time.Second || h.probe.timeout != 300*time.Millisecond || h.rise != 4 || h.fall != 5 || h.probe.port != 3307 {
		t.Errorf("health checker %+v", h)
	}
	if h.probe.mode != probeLogin || h.probe.user != "mysqlgw" {
		t.Errorf("default probe %+v, want a login as mysqlgw", h.probe)
	}
	for input, want := range map[string]prober{
		"probe mysql":         {mode: probeLogin, user: "mysqlgw"},
		"probe mysql monitor": {mode: probeLogin, user: "monitor"},
		"probe greeting":      {mode: probeGreeting, user: "mysqlgw"},
		"probe connect":       {mode: probeConnect, user: "mysqlgw"},
	} {
		p := newTestPlugin(t, "mysqlgw {\n healthcheck 1s\n "+input+"\n}").health.probe
		if p.mode != want.mode || p.user != want.user {
			t.Errorf("%s: probe %+v, want %+v", input, p, want)
		}
	}
	if g.watcher != nil {
		t.Error("a file watcher without a regions file")
	}
	// A setting built from at the end takes the lines after it into account.
	g = newTestPlugin(t, "mysqlgw {\n healthcheck 1s\n reload 2s\n soa 43200 7200 2419200 3600\n ttl 60\n port 3307\n regions "+loopbackTable(t, "lab 127.0.0.2")+"\n}")
	if g.health == nil || g.health.probe.port != 3307 || g.health.probe.timeout != time.Second || g.health.rise != 2 || g.health.fall != 3 {
		t.Errorf("health checker %+v, want port 3307, timeout 1s, rise 2, fall 3", g.health)
	}
	if g.watcher == nil || g.watcher.interval != 2*time.Second {
		t.Errorf("file watcher %+v, want one every 2s", g.watcher)
	}
	if g.opt.soa.minimum != 3600 {
		t.Errorf("SOA minimum %d after a later ttl 60, want the soa line's 3600", g.opt.soa.minimum)
	}
	if g = newTestPlugin(t, "mysqlgw {\n regions "+loopbackTable(t, "lab 127.0.0.2")+"\n reload 0\n}"); g.watcher != nil {
		t.Error("a file watcher with reload 0")
	}
	// Defaults.
	g = newTestPlugin(t, "mysqlgw")
	if g.opt.ttl != 300 || g.opt.activeTTL != 5 || g.opt.port != 3306 || !g.opt.failOpen || g.health != nil {
		t.Errorf("defaults %+v, health %v", g.opt, g.health)
	}
	if !g.Ready() {
		t.Error("not ready with the built-in table loaded")
	}
}

func TestRegionOverridesBuiltin(t *testing.T) {
	g := newTestPlugin(t, "mysqlgw {\n region eastus2 127.0.0.9\n}")
	regions := g.answers.Load().regions
	if len(regions) != 31 {
		t.Fatalf("%d regions, want 31: a region line replaces the built-in one", len(regions))
	}
	for _, r := range regions {
		if r.Name == "eastus2" && (len(r.Addrs) != 1 || r.Addrs[0].String() != "127.0.0.9" || r.Title != "East US 2") {
			t.Errorf("eastus2 = %+v", r)
		}
	}
	if builtinRegions[12].Name != "eastus2" || len(builtinRegions[12].Addrs) != 3 {
		t.Error("the built-in table was modified")
	}
}

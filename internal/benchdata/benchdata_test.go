package benchdata

import (
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func records(t *testing.T, lines ...string) []dns.RR {
	t.Helper()
	var rrs []dns.RR
	for _, l := range lines {
		rr, err := dns.NewRR(l)
		if err != nil {
			t.Fatal(err)
		}
		rrs = append(rrs, rr)
	}
	return rrs
}

// TestFromTransferNames: the query mix asks for regions, aliases and every
// role, gateway4 and up included, and not for all, active, allow or ns.dns.
func TestFromTransferNames(t *testing.T) {
	soa := "z. 300 IN SOA ns.dns.z. hostmaster.z. 1 7200 1800 86400 30"
	table, err := FromTransfer("Z", records(t, soa,
		"z. 300 IN NS ns.dns.z.",
		"ns.dns.z. 300 IN A 127.0.0.1",
		"all.z. 300 IN A 192.0.2.1",
		"eastus.z. 300 IN A 192.0.2.1",
		"eastus.z. 300 IN A 192.0.2.2",
		"eastus.z. 300 IN TXT \"primary=192.0.2.1\"",
		"eastus1.z. 300 IN A 192.0.2.1",
		"active.eastus.z. 5 IN A 192.0.2.1",
		"allow.eastus.z. 300 IN A 192.0.2.1",
		"1.allow.eastus.z. 300 IN A 192.0.2.1",
		"primary.eastus.z. 300 IN A 192.0.2.1",
		"gateway4.eastus.z. 300 IN A 192.0.2.4",
		soa))
	if err != nil {
		t.Fatal(err)
	}
	got := table.Queries(7)
	want := "eastus.z. A\neastus1.z. A\nprimary.eastus.z. A\ngateway4.eastus.z. A\neastus.z. A\neastus1.z. A\nprimary.eastus.z. A\n"
	if got != want {
		t.Errorf("queries\n%s\nwant\n%s", got, want)
	}
	if zone := table.ZoneFile(); strings.Count(zone, "\n") != 3+12 || !strings.Contains(zone, "\ngateway4.eastus.z.\t300\tIN\tA\t192.0.2.4\n") {
		t.Errorf("zone file:\n%s", zone)
	}
	if hosts := table.HostsFile(); strings.Count(hosts, "\n") != 1+10 {
		t.Errorf("hosts file:\n%s", hosts)
	}
}

// TestFromTransferErrors: a transfer that is not one is refused.
func TestFromTransferErrors(t *testing.T) {
	soa := "z. 300 IN SOA ns.dns.z. hostmaster.z. 1 7200 1800 86400 30"
	for _, tc := range []struct {
		name string
		rrs  []string
		want string
	}{
		{"empty", nil, "z.: a transfer of 0 records that does not begin and end with the SOA"},
		{"no final SOA", []string{soa, "a.z. 300 IN A 192.0.2.1"}, "does not begin and end with the SOA"},
		{"outside", []string{soa, "a.y. 300 IN A 192.0.2.1", soa}, "z.: the transfer has a.y., outside the zone"},
		{"no names", []string{soa, "all.z. 300 IN A 192.0.2.1", soa}, "z.: the transfer has no region names"},
	} {
		_, err := FromTransfer("z.", records(t, tc.rrs...))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}

package test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// The record budget and the RRset size bound, end to end: the largest table a
// budget allows, with a region whose SPF TXT, APL and subnet TXT no message
// can carry, transfers whole to dig and kdig, without those sets; queries for
// them get NODATA, not a truncated or failed answer.

// budgetCorefile serves regions with a budget of maxRecords.
const budgetCorefile = `.:{PORT} {
    bind 127.0.0.1
    transfer {
        to *
    }
    mysqlgw gateway.mysql.local {
        regions regions
        max_records %d
        ns 127.0.0.1
    }
}
`

// budgetRegions has a few ordinary regions and one with 3,500 IPv6 /124
// subnets apart from each other (56,000 addresses, from the documentation
// range), so that no two join into one prefix: its SPF TXT (88 KB), APL
// (70 KB), subnet TXT and AAAA sets are each too large for one message; its
// 3,500 shards are not.
func budgetRegions() string {
	var sb strings.Builder
	sb.WriteString("$SERIAL 7\neastus2 52.167.105.38 40.70.144.38 subnets 104.208.150.192/29\nwestus2 13.66.226.202\nhuge 192.0.2.10 subnets")
	for i := 1; i <= 3500; i++ {
		fmt.Fprintf(&sb, " 2001:db8:%x::ff0/124", i)
	}
	sb.WriteString("\n")
	return sb.String()
}

// refusedCount is the table's record count and what the budget counts for
// it (more when its texts, prefixes and lists take more than 100 bytes a
// record), as the server gives them when the budget refuses the table at
// start-up.
func refusedCount(t *testing.T, regions string) (records, units int) {
	t.Helper()
	dir := t.TempDir()
	corefile := strings.ReplaceAll(fmt.Sprintf(budgetCorefile, 1), "{PORT}", strconv.Itoa(freePort(t)))
	for name, content := range map[string]string{"Corefile": corefile, "regions": regions} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(binary, "-conf", "Corefile")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	m := regexp.MustCompile(`regions: the table would build (\d+) records(?: and take the memory of (\d+) \(at 100 bytes a record\))?, above max_records 1\b`).FindSubmatch(out)
	if err == nil || m == nil {
		t.Fatalf("max_records 1 did not stop start-up with the count (%v):\n%s", err, out)
	}
	records, _ = strconv.Atoi(string(m[1]))
	units = records
	if m[2] != nil {
		units, _ = strconv.Atoi(string(m[2]))
	}
	return records, units
}

// TestBudgetLargestTableTransfers: with max_records set to the table's own
// count, the largest table that budget allows, the zone transfers whole to
// dig and kdig, as many records as Go's client gets, with no left-out set in
// it; the left-out sets answer NODATA over TCP and the shards answer.
//
// Without the size bound, dig's AXFR stopped with "Transfer failed." at the
// 84 KB SPF record.
func TestBudgetLargestTableTransfers(t *testing.T) {
	t.Parallel()
	dig, kdig := requireTool(t, "dig"), requireTool(t, "kdig")
	regions := budgetRegions()
	count, units := refusedCount(t, regions)
	gw := startServer(t, map[string]string{"Corefile": fmt.Sprintf(budgetCorefile, units), "regions": regions})
	// Both tools first, so that a transfer that breaks shows how they fail.
	port := strconv.Itoa(gw.port)
	out, err := exec.Command(dig, "@127.0.0.1", "-p", port, "+time=30", "+tries=1", xfrZone, "AXFR").CombinedOutput()
	digCount := regexp.MustCompile(`;; XFR size: (\d+) records`).FindSubmatch(out)
	if err != nil || digCount == nil || strings.Contains(string(out), "Transfer failed") {
		t.Errorf("dig AXFR (%v):\n%s", err, tail(out))
	}
	out, err = exec.Command(kdig, "@127.0.0.1", "-p", port, "+time=30", "AXFR", xfrZone).CombinedOutput()
	kdigCount := regexp.MustCompile(` messages, (\d+) records\)`).FindSubmatch(out)
	if err != nil || kdigCount == nil {
		t.Errorf("kdig AXFR (%v):\n%s", err, tail(out))
	}

	left := "all.gateway.mysql.local. AAAA all.gateway.mysql.local. APL all.gateway.mysql.local. TXT " +
		"allow.huge.gateway.mysql.local. AAAA allow.huge.gateway.mysql.local. APL allow.huge.gateway.mysql.local. TXT " +
		"huge.gateway.mysql.local. TXT"
	rrs, messages := transferWith(t, gw.addr, xfrZone, 0, "")
	t.Logf("max_records %d: the transfer holds %d records (of %d counted) in %d messages", units, len(rrs), count, messages)
	leftOut := map[string]bool{}
	for f := strings.Fields(left); len(f) >= 2; f = f[2:] {
		leftOut[f[0]+" "+f[1]] = true
	}
	held := map[string]bool{}
	for _, rr := range rrs {
		h := rr.Header()
		if q := h.Name + " " + dns.TypeToString[h.Rrtype]; !held[q] && leftOut[q] {
			held[q] = true
			t.Errorf("the transfer holds %s, left out of the answers", q)
		}
	}
	if len(rrs) < count/2 {
		t.Errorf("the transfer holds %d records of a table counted at %d", len(rrs), count)
	}
	whole := strconv.Itoa(len(rrs))
	if digCount != nil && string(digCount[1]) != whole {
		t.Errorf("dig transferred %s records, want %s", digCount[1], whole)
	}
	if kdigCount != nil && string(kdigCount[1]) != whole {
		t.Errorf("kdig transferred %s records, want %s", kdigCount[1], whole)
	}

	// Each left-out set is NODATA over TCP: not truncated, not a part.
	for _, q := range []xfrQuestion{
		{"all.gateway.mysql.local.", dns.TypeTXT},
		{"all.gateway.mysql.local.", dns.TypeAPL},
		{"huge.gateway.mysql.local.", dns.TypeTXT},
		{"allow.huge.gateway.mysql.local.", dns.TypeAAAA},
	} {
		r, err := askTCP(gw.addr, q)
		if err != nil || r.Rcode != dns.RcodeSuccess || r.Truncated || len(r.Answer) != 0 || len(r.Ns) != 1 {
			t.Errorf("%s over TCP: want NODATA with the SOA, got %v (%v)", q, r, err)
		}
	}
	gw.waitLog("[WARNING] plugin/mysqlgw: Left out, as too large for one DNS message (queries get NODATA; use the shards): "+left, 30*time.Second)
	// The shards answer.
	r, err := askTCP(gw.addr, xfrQuestion{"3500.allow.huge.gateway.mysql.local.", dns.TypeAAAA})
	if err != nil || len(r.Answer) == 0 {
		t.Errorf("the last shard: %v (%v)", r, err)
	}
}

// tail is the end of a tool's output, enough to see why it failed.
func tail(out []byte) string {
	if len(out) > 2000 {
		out = out[len(out)-2000:]
	}
	return string(out)
}

package mysqlgw

// A load has no side effects until the swap: a table is built against a
// read-only view of the health checker, and the checker follows the table
// only once it is served. The stand-in gateways count the connections they
// serve, so the tests see which addresses are probed.

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mysqlgw/mysqlgw/internal/fakegw"
	"github.com/mysqlgw/mysqlgw/internal/gwtable"
	"github.com/mysqlgw/mysqlgw/internal/testutil"
)

// reloadPlugin is a health-checked plugin over a regions file the test
// rewrites and applies with reload(); the watcher's ticker never fires.
type reloadPlugin struct {
	t    *testing.T
	g    *MysqlGW
	path string
}

func newReloadPlugin(t *testing.T, zones string, port int, table, extra string) *reloadPlugin {
	t.Helper()
	path := loopbackTable(t, table)
	g := newTestPlugin(t, fmt.Sprintf(`mysqlgw %s {
		regions %s
		reload 1h
		port %d
		healthcheck 100ms 80ms
		rise 2
		fall 2
		%s
	}`, zones, path, port, extra))
	t.Cleanup(func() { g.stop() })
	startHealth(t, g)
	waitReady(t, g)
	return &reloadPlugin{t: t, g: g, path: path}
}

// reload writes table and polls the watcher until it has settled on it: it
// applies a version after reading it twice. It returns the error that
// rejected the table, or nil when it was applied.
func (p *reloadPlugin) reload(table string) error {
	p.t.Helper()
	if err := os.WriteFile(p.path, []byte(table+"\n"), 0o644); err != nil {
		p.t.Fatal(err)
	}
	p.g.watcher.check()
	p.g.watcher.check()
	fw := p.g.watcher
	switch {
	case fw.applied == fw.pending:
		return nil
	case fw.rejected == fw.pending:
		return fw.rejectErr
	}
	p.t.Fatal("the watcher neither applied nor rejected the table after two reads")
	return nil
}

// tracked reports whether the health checker tracks addr.
func (p *reloadPlugin) tracked(addr string) bool {
	c := p.g.health
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.targets[netip.MustParseAddr(addr)]
	return ok
}

// waitProbes waits until gw has served n more probes than it had.
func waitProbes(t *testing.T, gw *fakegw.Gateway, n int) {
	t.Helper()
	want := gw.Served() + n
	testutil.Until(t, 15*time.Second, fmt.Sprintf("%d probes of %s", n, gw.Addr()), func() bool { return gw.Served() >= want })
}

// TestLoadRejectedTableProbesNothing: two forward zones with shard 20; a
// region name that fits the first zone's shard names but not the second's
// is rejected, and its address is never probed, even though the first zone
// is sized without trouble.
func TestLoadRejectedTableProbesNothing(t *testing.T) {
	port := testutil.GatewayPort(t, gwPrimary, gwSecondary, gwTertiary)
	primary := listenGateway(t, gwPrimary, port, false)
	secondary := listenGateway(t, gwSecondary, port, false)
	rejected := listenGateway(t, gwTertiary, port, false)
	// 110 characters: 9.allow.<region>.<zone> stays within the 175 that
	// leave room for 20 addresses in 512 bytes for "lab", not for a name
	// of 60.
	long := strings.Repeat("x", 50) + "." + strings.Repeat("y", 50) + ".example."
	p := newReloadPlugin(t, "gateway.mysql.local. "+long, port, "lab "+gwPrimary+" "+gwSecondary, "shard 20")

	err := p.reload("lab " + gwPrimary + " " + gwSecondary + "\n" + strings.Repeat("r", 60) + " " + gwTertiary)
	if err == nil || !strings.Contains(err.Error(), "shard 20 does not fit") || !strings.Contains(err.Error(), long) {
		t.Fatalf("reload error %v, want shard 20 not fitting %s", err, long)
	}
	if got := primaryOf(t, p.g, "lab"); got != gwPrimary {
		t.Fatalf("after the rejected reload: primary.lab %q, want the last good table's %s", got, gwPrimary)
	}
	// The good addresses are probed several times over; by then a prober
	// for the rejected table's address would have connected too.
	waitProbes(t, primary, 5)
	waitProbes(t, secondary, 5)
	if n := rejected.Served(); n != 0 {
		t.Errorf("the rejected table's address was probed %d times", n)
	}
	if p.tracked(gwTertiary) {
		t.Error("the rejected table's address is tracked")
	}
}

// TestLoadReloadDuringFailover: a reload while the primary is down keeps
// active on the healthy address from the first query after the swap; the
// primary comes back only when its probes pass.
func TestLoadReloadDuringFailover(t *testing.T) {
	port := testutil.GatewayPort(t, gwPrimary, gwSecondary, gwTertiary) // the primary does not listen: down
	secondary := listenGateway(t, gwSecondary, port, false)
	p := newReloadPlugin(t, "", port, "lab "+gwPrimary+" "+gwSecondary, "")
	waitActive(t, p.g, gwSecondary)

	if err := p.reload("lab " + gwPrimary + " " + gwSecondary + "\nlab2 " + gwSecondary); err != nil {
		t.Fatal(err)
	}
	if got := primaryOf(t, p.g, "lab2"); got != gwSecondary {
		t.Fatalf("the reload was not applied: primary.lab2 %q", got)
	}
	if got := activeAddrs(t, p.g); got != gwSecondary {
		t.Fatalf("right after the reload: active %q, want %s, still healthy", got, gwSecondary)
	}
	// Across several probe rounds the primary stays down and active stays.
	waitProbes(t, secondary, 4)
	if got := activeAddrs(t, p.g); got != gwSecondary {
		t.Fatalf("probes after the reload: active %q, want %s", got, gwSecondary)
	}
	// The primary's prober outlived the reload: it sees it come back.
	listenGateway(t, gwPrimary, port, false)
	waitActive(t, p.g, gwPrimary)
}

// TestLoadReloadAddsAndRemovesProbes: an address a reload adds is probed,
// and one a reload removes is probed no more.
func TestLoadReloadAddsAndRemovesProbes(t *testing.T) {
	port := testutil.GatewayPort(t, gwPrimary, gwSecondary, gwTertiary)
	primary := listenGateway(t, gwPrimary, port, false)
	secondary := listenGateway(t, gwSecondary, port, false)
	p := newReloadPlugin(t, "", port, "lab "+gwPrimary, "")
	if n := secondary.Served(); n != 0 {
		t.Fatalf("an address not in the table was probed %d times", n)
	}

	if err := p.reload("lab " + gwPrimary + " " + gwSecondary); err != nil {
		t.Fatal(err)
	}
	waitProbes(t, secondary, 3)

	if probesOf(t, gwSecondary) == 0 || gaugeValue("lab", "secondary", gwSecondary) == -1 {
		t.Fatal("the secondary's probes and gateway_up are not in the metrics")
	}
	if err := p.reload("lab " + gwPrimary); err != nil {
		t.Fatal(err)
	}
	if p.tracked(gwSecondary) {
		t.Error("the removed address is still tracked")
	}
	// Its series go with it: a table's addresses change, the metrics
	// do not pile up.
	if n, up := probesOf(t, gwSecondary), gaugeValue("lab", "secondary", gwSecondary); n != 0 || up != -1 {
		t.Errorf("after the removal: %v probes and gateway_up %v still in the metrics", n, up)
	}
	// A probe that ended just before the reload may still be counted by
	// the listener; after a few of the primary's rounds the count must
	// hold still.
	waitProbes(t, primary, 3)
	stopped := secondary.Served()
	waitProbes(t, primary, 5)
	if n := secondary.Served(); n != stopped {
		t.Errorf("the removed address was probed %d more times", n-stopped)
	}
}

// TestLoadBuildOnlyReadsHealth: building answers against a running checker
// starts nothing and tracks nothing; it shares the states of the addresses
// the checker tracks, so that they keep what the probes learned.
func TestLoadBuildOnlyReadsHealth(t *testing.T) {
	port := testutil.GatewayPort(t, gwPrimary, gwSecondary, gwTertiary)
	primary := listenGateway(t, gwPrimary, port, false)
	unserved := listenGateway(t, gwSecondary, port, false)
	p := newReloadPlugin(t, "", port, "lab "+gwPrimary, "")

	table, err := gwtable.Parse([]byte("lab "+gwPrimary+" "+gwSecondary+"\n"), "regions")
	if err != nil {
		t.Fatal(err)
	}
	built, err := buildAnswers(table.Regions, newTableSets(table.Regions), p.g.opt, p.g.health)
	if err != nil {
		t.Fatal(err)
	}
	if p.tracked(gwSecondary) {
		t.Error("the build tracked a new address")
	}
	served := p.g.answers.Load().gateways[netip.MustParseAddr(gwPrimary)]
	if got := built.gateways[netip.MustParseAddr(gwPrimary)]; got == nil || got != served {
		t.Error("the build does not share the state of an address the checker tracks")
	}
	if got := built.gateways[netip.MustParseAddr(gwSecondary)]; got == nil || got.cancel != nil {
		t.Error("the build's state of a new address is missing or has a prober")
	}
	waitProbes(t, primary, 5)
	if n := unserved.Served(); n != 0 {
		t.Errorf("the address of answers never served was probed %d times", n)
	}
}

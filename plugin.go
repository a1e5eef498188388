// Package mysqlgw is a CoreDNS plugin that serves the Azure Database for MySQL
// gateway table over DNS: each region's gateway addresses by region and role,
// an all-regions allowlist, SRV for MySQL clients, PTR, and failover-aware
// active names.
package mysqlgw

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/metrics"
	"github.com/coredns/coredns/plugin/pkg/fall"
	clog "github.com/coredns/coredns/plugin/pkg/log"
	"github.com/mysqlgw/mysqlgw/internal/gwtable"
)

var log = clog.NewWithPlugin("mysqlgw")

// defaultZone is served when the Corefile names no zone of its own: a server
// block for the root (".") would otherwise publish eastus2. at the top level.
const defaultZone = "gateway.mysql.local."

// MysqlGW is the plugin: the gateway table's answers, swapped whole on reload.
type MysqlGW struct {
	Next plugin.Handler
	Fall fall.F

	opt       options
	file      string    // regions FILE, or "" for the built-in table
	overrides overrides // the Corefile's region and alias lines
	watcher   *fileWatcher
	health    *healthChecker // nil unless healthcheck is configured
	xfr       notifier       // the transfer plugin, which sends NOTIFY; nil without one
	notifies  notifyQueue
	http      *httpServer // nil unless http is configured

	// transfer_health (versions.go): the Corefile line, for the error
	// without the transfer plugin; whether the instance has started, so
	// that only a started instance's answers become the zone's versions;
	// and the pending publication of health changes.
	transferWhere string
	started       atomic.Bool
	followMu      sync.Mutex
	followPending bool

	answers atomic.Pointer[answers]

	// served is the table last swapped in, for the log line of a change;
	// swap runs at setup, then only on the watcher's goroutine.
	served    gwtable.Table
	hasServed bool
}

// Name implements plugin.Handler.
func (g *MysqlGW) Name() string { return "mysqlgw" }

func (g *MysqlGW) count(ctx context.Context, zone string, qtype uint16, k string) {
	requestCount.WithLabelValues(metrics.WithServer(ctx), zone, metrics.WithView(ctx), typeLabel(qtype), k).Inc()
}

// Ready implements ready.Readiness: ready once a table is loaded and, with
// health checking on, once the first probe round has told which address is up.
func (g *MysqlGW) Ready() bool {
	if g.answers.Load() == nil {
		return false
	}
	return g.health == nil || g.health.settled()
}

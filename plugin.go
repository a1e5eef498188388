// Package mysqlgw is a CoreDNS plugin that serves Azure's regional database
// gateway tables over DNS: each region's gateway addresses by region and
// role, allowlists for firewalls, SRV for MySQL clients, PTR, health-aware
// active names, and zone transfers that follow health. Its HTTP lists for
// firewalls that pull them are internal/lists, the table itself
// internal/gwtable.
package mysqlgw

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
	"github.com/mysqlgw/mysqlgw/internal/lists"
	"github.com/mysqlgw/mysqlgw/internal/ratelimit"

	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/metrics"
	"github.com/coredns/coredns/plugin/pkg/fall"
	clog "github.com/coredns/coredns/plugin/pkg/log"
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
	stalls    *ratelimit.Lines // lines of transfers abandoned, which a client can cause at will
	http      *lists.Server    // nil unless http is configured

	key     blockKey                   // the server block, for its state across Corefile reloads
	servers []string                   // its values of CoreDNS's server label
	state   atomic.Pointer[blockState] // the block's, once this instance has started

	// transfer_health: the Corefile line, for the error without the
	// transfer plugin; whether the instance has started; and the pending
	// publication of health changes.
	transferWhere string
	started       atomic.Bool
	followMu      sync.Mutex
	followTimer   *time.Timer

	answers atomic.Pointer[answers]

	// table is the table being served, the Corefile's overrides laid over
	// its regions, and hash its content (gwtable's Table.Hash; zero before
	// the first); swap runs at setup, then only on the watcher's goroutine.
	table gwtable.Table
	hash  [32]byte
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

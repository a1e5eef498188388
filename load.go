package mysqlgw

import (
	"fmt"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
)

// This file is where a table becomes live: read (the built-in table or the
// regions file), merge the Corefile's overrides, build every answer, swap the
// answers in whole. The same steps run at start-up and at every reload.

// load reads the table and swaps its answers in. At start-up its error stops
// the server.
func (g *MysqlGW) load() error {
	if g.file == "" {
		_, err := g.swap(builtinTable())
		return err
	}
	// A reader of its own: a read stuck on a hung mount is left behind, and
	// start-up or the Corefile reload fails instead of hanging.
	reader := gwtable.Reader{Path: g.file}
	content, version, err := reader.ReadWithin(gwtable.Version{}, readTimeout, nil)
	if err != nil {
		return err
	}
	table, err := gwtable.Parse(content, g.file)
	if err != nil {
		return err
	}
	if _, err := g.swap(table); err != nil {
		return err
	}
	if g.watcher != nil {
		g.watcher.loaded(content, version, table.Serial)
	}
	return nil
}

// swap builds the answers for table plus the Corefile's overrides and serves
// them from the next query on; the health checker and NOTIFY follow. On error
// nothing changes: the last good answers stay, and no probe has started.
func (g *MysqlGW) swap(table gwtable.Table) (*answers, error) {
	regions, err := g.overrides.merge(table.Regions)
	if err != nil {
		return nil, err
	}
	opt := g.opt
	opt.serial = table.Serial
	opt.facts = tableFacts(table, regions)
	if err := checkBudget(regions, opt, g.file); err != nil {
		return nil, err
	}
	built, err := buildAnswers(regions, opt, g.health)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", opt.shardWhere, err)
	}
	if g.http != nil {
		built.http = buildBodies(regions, table, opt.ttl)
	}
	if len(built.wide) > 0 {
		log.Infof("Subnets wider than /%d (IPv4) or /%d (IPv6) are served in TXT and APL only, not address by address: %v", maxEnumBits4, maxEnumBits6, listed(built.wide))
	}
	if len(built.oversize) > 0 {
		log.Warningf("Left out, as too large for one DNS message (queries get NODATA; use the shards): %s", listed(built.oversize))
	}
	if g.opt.transferHealth && g.started.Load() {
		adopt(built, g.opt) // the serial goes up before the answers go live
	} else if !g.opt.transferHealth {
		publishSerials(built)
	}
	g.answers.Store(built)
	if g.health != nil {
		// Probes follow the swap, so a rejected table never started one.
		g.health.sync(regions, built.gateways)
	}
	g.notify("", g.allZones())
	g.http.publish(table, regions, built.http)
	label := tableLabel(g.file)
	regionsServed.WithLabelValues(label).Set(float64(len(regions)))
	addressesServed.WithLabelValues(label).Set(float64(built.addrs))
	publishPublished(label, table.Published)
	g.logTable(label, table, opt.facts)
	return built, nil
}

// start begins the background work, the file watcher and the health checker,
// when the server starts; stop ends it when the server stops. A Corefile
// reload builds a new instance before the old one stops.
func (g *MysqlGW) start() error {
	if g.opt.transferHealth {
		// Before the watcher's first swap: swaps and adopt run in turn.
		adopt(g.answers.Load(), g.opt)
		g.started.Store(true)
	}
	if g.watcher != nil {
		g.watcher.start()
	}
	if g.health != nil {
		g.health.start()
	}
	return nil
}

func (g *MysqlGW) stop() error {
	g.started.Store(false) // a pending publication of health is dropped
	if g.watcher != nil {
		g.watcher.stop()
	}
	if g.health != nil {
		g.health.stop()
	}
	return nil
}

// maxListed is how many items of a list one log line names; a table can
// hold thousands, and the rest are counted.
const maxListed = 20

// listed is items as a log line shows them: all of them up to maxListed,
// then the first maxListed and how many more.
func listed[T any](items []T) string {
	if len(items) <= maxListed {
		return fmt.Sprint(items)
	}
	return fmt.Sprintf("%v and %d more", items[:maxListed], len(items)-maxListed)
}

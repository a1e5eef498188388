package mysqlgw

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
	"github.com/mysqlgw/mysqlgw/internal/lists"
)

// This file is where a table becomes live: read (the built-in table or the
// regions file), lay the Corefile's overrides over it, build every answer, swap the
// answers in whole; health, NOTIFY, the HTTP lists and the metrics follow.
// The same steps run at start-up and at every reload.

// load reads the table and swaps its answers in. At start-up its error stops
// the server.
func (g *MysqlGW) load() error {
	if g.file == "" {
		return g.swap(builtinTable())
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
	if err := g.swap(table); err != nil {
		return err
	}
	if g.watcher != nil {
		g.watcher.loaded(content, version, table.Serial)
	}
	return nil
}

// loaded is a table built and not yet served: its answers, lists and what
// changed since the block's last table, made without side effects.
type loaded struct {
	table      gwtable.Table // as served: the Corefile's overrides laid over its regions
	opt        options
	built      *answers
	bodies     *lists.Bodies // nil without http
	wide       []netip.Prefix
	hash, from [32]byte // the table's content, and the previous table's
	prev       gwtable.Table
	diff       gwtable.DiffResult
}

// swap builds the answers for table plus the Corefile's overrides and serves
// them from the next query on; the health checker, NOTIFY and the HTTP lists
// follow. On error nothing changes: the last good answers stay, and no probe
// has started.
func (g *MysqlGW) swap(table gwtable.Table) error {
	l, err := g.prepare(table)
	if err != nil {
		return err
	}
	g.serve(l)
	return nil
}

// prepare builds what serving table takes: the regions with the overrides,
// the allow sets (once, for the answers and the lists), the record budget's
// count, the answers, the HTTP lists' bodies and the difference from the
// block's last table. It has no side effects: health is only read.
func (g *MysqlGW) prepare(table gwtable.Table) (*loaded, error) {
	regions, err := g.overrides.apply(table.Regions)
	if err != nil {
		return nil, err
	}
	l := &loaded{table: table, opt: g.opt}
	l.table.Regions = regions
	l.opt.serial = table.Serial
	l.opt.facts = tableFacts(table, regions)
	sets := newTableSets(regions)
	if err := checkBudget(regions, sets, l.opt, g.label(), g.http != nil); err != nil {
		return nil, err
	}
	if l.built, err = buildAnswers(regions, sets, l.opt, g.health); err != nil {
		return nil, err
	}
	l.wide = sets.all.Wide
	l.hash = l.table.Hash()
	prev, prevHash, hasPrev := g.previous()
	if hasPrev {
		l.prev, l.from = prev, prevHash
		if prevHash != l.hash {
			l.diff = gwtable.Diff(g.label(), prev, g.label(), l.table)
		}
	}
	if g.http != nil {
		l.bodies = lists.Build(lists.Version{
			Table: l.table, Sets: sets.regions, All: sets.all, Redirect: sets.redirect, RedirectAll: sets.redirectAll,
			TTL: g.opt.ttl, Port: g.opt.port, Zone: g.allZones()[0], Hash: l.hash, From: l.from, Diff: l.diff,
		})
	}
	return l, nil
}

// serve makes l the table served from the next query on; with
// transfer_health the serial goes up first. Health, NOTIFY, the HTTP lists,
// the metrics and the log follow.
func (g *MysqlGW) serve(l *loaded) facts {
	if len(l.wide) > 0 {
		log.Infof("Subnets wider than /%d (IPv4) or /%d (IPv6) are served in TXT and APL only, not address by address: %s", gwtable.ListBits4, gwtable.ListBits6, gwtable.Listed(l.wide))
	}
	if len(l.built.oversize) > 0 {
		log.Warningf("Left out, as too large for one DNS message (queries get NODATA; use the shards): %s", gwtable.Listed(l.built.oversize))
	}
	st := g.state.Load()
	if st != nil {
		st.mu.Lock()
		if st.owner != g {
			st.mu.Unlock()
			st = nil // a successor serves the block; this instance is stopping
		}
	}
	if st != nil && g.opt.transferHealth {
		st.adopt(l.built, g.opt, time.Now())
	}
	g.answers.Store(l.built)
	if st != nil {
		st.served, st.hash = l.table, l.hash
		g.publishSerials(st, l.built)
		st.mu.Unlock()
	}
	first := g.hash == [32]byte{}
	g.table, g.hash = l.table, l.hash
	if g.health != nil {
		// Probes follow the swap, so a rejected table never started one.
		g.health.sync(l.table.Regions, l.built.gateways)
	}
	g.notify("", g.allZones())
	if g.http != nil {
		g.http.Publish(l.bodies)
	}
	label := tableLabel(g.file)
	regionsServed.WithLabelValues(label).Set(float64(len(l.table.Regions)))
	addressesServed.WithLabelValues(label).Set(float64(l.opt.facts.addresses))
	publishProvenance(label, l.table)
	if l.diff.Changed {
		tableChanged.WithLabelValues(label).Set(float64(time.Now().Unix()))
	}
	g.logTable(first, l.prev, l.table, l.diff, l.opt.facts)
	return l.opt.facts
}

// previous is the table the block served last, and its content: the
// block's once this instance serves it; before that this instance's own
// last, or for its first its predecessor's (a Corefile reload); false when
// there is none.
func (g *MysqlGW) previous() (gwtable.Table, [32]byte, bool) {
	st := g.state.Load()
	switch {
	case st == nil && g.hash != [32]byte{}:
		return g.table, g.hash, true
	case st == nil:
		st, _ = blocks.Peek(g.key)
	}
	if st == nil {
		return gwtable.Table{}, [32]byte{}, false
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.served, st.hash, st.hash != [32]byte{}
}

// start begins the background work, the file watcher and the health checker,
// when the server starts, once the instance has taken its server block
// over; stop ends it when the server stops. A Corefile reload builds a new
// instance before the old one stops.
func (g *MysqlGW) start() error {
	g.take(time.Now()) // before the watcher's first swap: swaps and take run in turn
	g.started.Store(true)
	if g.watcher != nil {
		g.watcher.start()
	}
	if g.health != nil {
		g.health.start()
	}
	return nil
}

func (g *MysqlGW) stop() error {
	g.started.Store(false)
	g.stopFollowing()
	if g.watcher != nil {
		g.watcher.stop()
	}
	if g.health != nil {
		g.health.stop()
	}
	g.release()
	return nil
}

// aliasRule is one `alias ALIAS NAME` line of the Corefile, kept with its
// position so an error at reload still points at the line that caused it.
type aliasRule struct {
	alias, target string
	where         string // "Corefile:12"
}

// overrides are the Corefile's own additions to whatever table is loaded:
// `region` lines replace or add regions, `alias` lines add names.
type overrides struct {
	regions []gwtable.Region
	aliases []aliasRule
}

// apply returns base with the overrides laid over it, every name checked to be
// unique. base is not modified, so the built-in table stays pristine; with no
// override it is base itself (a table's names are unique already).
func (o overrides) apply(base []gwtable.Region) ([]gwtable.Region, error) {
	if len(o.regions) == 0 && len(o.aliases) == 0 {
		return base, nil
	}
	regions := make([]gwtable.Region, 0, len(base)+len(o.regions))
	index := make(map[string]int, len(base)+len(o.regions))
	for _, r := range base {
		r.Aliases = append([]string(nil), r.Aliases...)
		index[r.Name] = len(regions)
		regions = append(regions, r)
	}
	for _, r := range o.regions {
		if i, ok := index[r.Name]; ok {
			r.Title = regions[i].Title
			regions[i] = r
			continue
		}
		index[r.Name] = len(regions)
		regions = append(regions, r)
	}
	// Every label, name or alias, must lead to exactly one region.
	owner := make(map[string]string, 2*len(regions))
	for _, r := range regions {
		for _, label := range r.Names() {
			if other, ok := owner[label]; ok {
				return nil, fmt.Errorf("name %q is used by both region %q and region %q", label, other, r.Name)
			}
			owner[label] = r.Name
		}
	}
	for _, a := range o.aliases {
		target, ok := owner[a.target]
		if !ok {
			return nil, fmt.Errorf("%s: alias %q: unknown region %s", a.where, a.alias, gwtable.Quote(a.target))
		}
		if other, ok := owner[a.alias]; ok {
			return nil, fmt.Errorf("%s: alias %q: already names region %q", a.where, a.alias, other)
		}
		owner[a.alias] = target
		i := index[target]
		regions[i].Aliases = append(regions[i].Aliases, a.alias)
	}
	return regions, nil
}

package mysqlgw

import (
	"fmt"
	"io"
	"os"
)

// This file is where a table becomes live: read (the built-in table or the
// regions file), merge the Corefile's overrides, build every answer, swap the
// answers in whole. The same steps run at start-up and at every reload.

// maxRegionsFileSize bounds what any read of the regions file takes in, so a
// runaway file cannot exhaust memory; 16 MiB holds hundreds of thousands of
// regions.
const maxRegionsFileSize = 16 << 20

// readRegionsFile reads the regions file, at start-up and at every reload. It
// never reads more than maxRegionsFileSize+1 bytes: a larger file is refused,
// whatever its size.
func readRegionsFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	content, err := io.ReadAll(io.LimitReader(f, maxRegionsFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(content) > maxRegionsFileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxRegionsFileSize)
	}
	return content, nil
}

// load reads the table and swaps its answers in. At start-up its error stops
// the server.
func (g *MysqlGW) load() error {
	if g.file == "" {
		_, err := g.swap(Table{Serial: builtinSerial, HasSerial: true, Regions: builtinRegions})
		return err
	}
	content, err := readRegionsFile(g.file)
	if err != nil {
		return err
	}
	table, err := ParseTable(content, g.file)
	if err != nil {
		return err
	}
	if _, err := g.swap(table); err != nil {
		return err
	}
	if g.watcher != nil {
		g.watcher.loaded(content, table.Serial)
	}
	return nil
}

// swap builds the answers for table plus the Corefile's overrides and serves
// them from the next query on. On error nothing changes: the last good
// answers stay.
func (g *MysqlGW) swap(table Table) (*answers, error) {
	regions, err := g.overrides.merge(table.Regions)
	if err != nil {
		return nil, err
	}
	opt := g.opt
	opt.serial = table.Serial
	built, err := buildAnswers(regions, opt, g.health)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", opt.shardWhere, err)
	}
	if len(built.wide) > 0 {
		log.Infof("Subnets wider than /%d (IPv4) or /%d (IPv6) are served in TXT and APL only, not address by address: %v", maxEnumBits4, maxEnumBits6, built.wide)
	}
	g.answers.Store(built)
	if g.health != nil {
		g.health.retain(regions)
	}
	g.notify("")
	label := tableLabel(g.file)
	regionsServed.WithLabelValues(label).Set(float64(len(regions)))
	addressesServed.WithLabelValues(label).Set(float64(built.addrs))
	return built, nil
}

// start begins the background work, the file watcher and the health checker,
// when the server starts; stop ends it when the server stops. A Corefile
// reload builds a new instance before the old one stops.
func (g *MysqlGW) start() error {
	if g.watcher != nil {
		g.watcher.start()
	}
	if g.health != nil {
		g.health.start()
	}
	return nil
}

func (g *MysqlGW) stop() error {
	if g.watcher != nil {
		g.watcher.stop()
	}
	if g.health != nil {
		g.health.stop()
	}
	return nil
}

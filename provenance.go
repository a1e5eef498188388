package mysqlgw

import (
	"fmt"
	"strconv"
	"time"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"

	"github.com/miekg/dns"
)

// A table says where it comes from and how old it is wherever it is seen:
// TXT records at each forward zone's apex, a metric, and a log line at
// start-up and at every change. The built-in table is Microsoft's 2019 page
// for a retired service, and a user who digs must be able to tell.

// facts are what the apex TXT records and the log lines tell of a table.
type facts struct {
	serial    uint32
	source    string
	published time.Time
	regions   int // the served table, Corefile region lines included
	addresses int // distinct gateway and decommissioning addresses
	prefixes  int // distinct subnets
}

// tableFacts counts what the served regions hold.
func tableFacts(table gwtable.Table, regions []gwtable.Region) facts {
	c := gwtable.Contents(regions)
	return facts{
		serial: table.Serial, source: table.Source, published: table.Published,
		regions: len(regions), addresses: len(c.Addresses), prefixes: len(c.Prefixes),
	}
}

// texts are the apex TXT strings: one per fact, the ones the table does not
// know left out.
func (f facts) texts() []string {
	texts := []string{"serial=" + strconv.FormatUint(uint64(f.serial), 10)}
	if f.source != "" {
		texts = append(texts, "source="+f.source)
	}
	if !f.published.IsZero() {
		texts = append(texts, "published="+f.published.Format(gwtable.DateLayout))
	}
	return append(texts,
		"regions="+strconv.Itoa(f.regions),
		"addresses="+strconv.Itoa(f.addresses),
		"prefixes="+strconv.Itoa(f.prefixes))
}

// txt is the apex TXT set of forward zone z.
func (f facts) txt(z string, ttl uint32) rrset {
	texts := f.texts()
	records := make([]dns.RR, len(texts))
	for i, t := range texts {
		records[i] = txt(z, ttl, t)
	}
	return rrset{qtype: dns.TypeTXT, answer: records}
}

// describe is the log line of a table being served, with its age on now.
func (f facts) describe(label string, now time.Time) string {
	what := fmt.Sprintf("Serving %s: serial %d, %s regions, %s addresses, %s prefixes", label, f.serial,
		thousands(f.regions), thousands(f.addresses), thousands(f.prefixes))
	if f.source != "" {
		what += fmt.Sprintf("; source %q", f.source)
	}
	if f.published.IsZero() {
		return what + "; its publication date is unknown ($PUBLISHED)"
	}
	days := int(now.Sub(f.published).Hours() / 24)
	return what + fmt.Sprintf("; published %s, %s days ago", f.published.Format(gwtable.DateLayout), thousands(days))
}

// builtinAdvice ends the built-in table's log line: it is history.
const builtinAdvice = "it is Microsoft's 2019 page for Azure Database for MySQL Single Server, " +
	"retired on 2024-09-16, several of its primaries switched off in 2021; " +
	"for today's gateways serve Azure SQL Database's table: mysqlgw-regions fetch -o FILE, then regions FILE (docs/regions-file.md)"

// changeLine says what a table change did: serial old → new, and the
// regions, addresses and prefixes added and removed.
func changeLine(label string, old, new gwtable.Table, d gwtable.DiffResult) string {
	return fmt.Sprintf("Table %s changed: serial %d → %d; regions +%d -%d, addresses +%d -%d, prefixes +%d -%d",
		label, old.Serial, new.Serial,
		len(d.Added.Regions), len(d.Removed.Regions),
		len(d.Added.Addresses), len(d.Removed.Addresses),
		len(d.Added.Prefixes), len(d.Removed.Prefixes))
}

// thousands writes n with commas every three digits, as 2,567.
func thousands(n int) string {
	s := strconv.Itoa(n)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		return "-" + s
	}
	return s
}

// publishPublished sets the table's published date as a metric, or removes
// it for a table without one.
func publishPublished(label string, published time.Time) {
	if published.IsZero() {
		tablePublished.DeleteLabelValues(label)
		return
	}
	tablePublished.WithLabelValues(label).Set(float64(published.Unix()))
}

// logTable logs the table now served when it is the first this instance
// serves or differs from the last (gwtable.Diff's meaning: a new serial or
// comment alone is no change), with what changed.
func (g *MysqlGW) logTable(label string, table gwtable.Table, f facts) {
	old, first := g.served, !g.hasServed
	g.served, g.hasServed = table, true
	if g.file == "" {
		label = "the built-in table"
	}
	d := gwtable.Diff(label, old, label, table)
	if !first && !d.Changed {
		return
	}
	if !first {
		log.Info(changeLine(label, old, table, d))
	}
	line := f.describe(label, time.Now())
	if g.file == "" {
		line += "; " + builtinAdvice
	}
	log.Info(line)
}

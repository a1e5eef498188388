package mysqlgw

import (
	"fmt"
	"strconv"
	"time"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"

	"github.com/prometheus/client_golang/prometheus"
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

	// The Redirect sets': where they come from, when, how many prefixes.
	redirectSource    string
	redirectPublished time.Time
	redirect          int
}

// tableFacts counts what the served regions hold.
func tableFacts(table gwtable.Table, regions []gwtable.Region) facts {
	sizes := gwtable.Count(regions)
	return facts{
		serial: table.Serial, source: table.Source, published: table.Published,
		regions: len(regions), addresses: sizes.Addresses, prefixes: sizes.Prefixes,
		redirectSource: table.RedirectSource, redirectPublished: table.RedirectPublished, redirect: sizes.Redirect,
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
	texts = append(texts,
		"regions="+strconv.Itoa(f.regions),
		"addresses="+strconv.Itoa(f.addresses),
		"prefixes="+strconv.Itoa(f.prefixes))
	if f.redirect == 0 && f.redirectSource == "" {
		return texts // a table without Redirect sets says nothing of them
	}
	if f.redirectSource != "" {
		texts = append(texts, "redirect-source="+f.redirectSource)
	}
	if !f.redirectPublished.IsZero() {
		texts = append(texts, "redirect-published="+f.redirectPublished.Format(gwtable.DateLayout))
	}
	return append(texts, "redirect="+strconv.Itoa(f.redirect))
}

// describe is the log line of a table being served, with its age on now.
func (f facts) describe(label string, now time.Time) string {
	what := fmt.Sprintf("Serving %s: serial %d, %s regions, %s addresses, %s prefixes", label, f.serial,
		thousands(f.regions), thousands(f.addresses), thousands(f.prefixes))
	if f.source != "" {
		what += fmt.Sprintf("; source %q", f.source)
	}
	what += age(f.published, "$PUBLISHED", now)
	if f.redirect == 0 && f.redirectSource == "" {
		return what
	}
	what += fmt.Sprintf("; Redirect sets: %s prefixes", thousands(f.redirect))
	if f.redirectSource != "" {
		what += fmt.Sprintf(", source %q", f.redirectSource)
	}
	return what + age(f.redirectPublished, "$REDIRECT-PUBLISHED", now)
}

// age tells when a source was published and how long ago, or that the
// header line that would tell is missing.
func age(published time.Time, header string, now time.Time) string {
	if published.IsZero() {
		return fmt.Sprintf("; its publication date is unknown (%s)", header)
	}
	days := int(now.Sub(published).Hours() / 24)
	return fmt.Sprintf("; published %s, %s days ago", published.Format(gwtable.DateLayout), thousands(days))
}

// builtinAdvice ends the built-in table's log line: it is history.
const builtinAdvice = "it is Microsoft's 2019 page for Azure Database for MySQL Single Server, " +
	"retired on 2024-09-16, several of its primaries switched off in 2021; " +
	"for today's gateways serve Azure SQL Database's table: mysqlgw-regions fetch -o FILE, then regions FILE (docs/regions-file.md)"

// changeLine says what a table change did: serial old → new, and the
// regions, addresses and prefixes (of the Redirect sets, when any moved)
// added and removed.
func changeLine(label string, oldSerial, newSerial uint32, d gwtable.DiffResult) string {
	line := fmt.Sprintf("Table %s changed: serial %d → %d; regions +%d -%d, addresses +%d -%d, prefixes +%d -%d",
		label, oldSerial, newSerial,
		len(d.Added.Regions), len(d.Removed.Regions),
		len(d.Added.Addresses), len(d.Removed.Addresses),
		len(d.Added.Prefixes), len(d.Removed.Prefixes))
	if len(d.Added.Redirect)+len(d.Removed.Redirect) > 0 {
		line += fmt.Sprintf(", Redirect prefixes +%d -%d", len(d.Added.Redirect), len(d.Removed.Redirect))
	}
	return line
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

// publishProvenance sets the table's published dates and its info series
// as metrics, removing the dates a table does not give and the info series
// of the table served before.
func publishProvenance(label string, table gwtable.Table) {
	for set, published := range map[string]time.Time{setGateway: table.Published, setRedirect: table.RedirectPublished} {
		if published.IsZero() {
			tablePublished.DeleteLabelValues(label, set)
			continue
		}
		tablePublished.WithLabelValues(label, set).Set(float64(published.Unix()))
	}
	published := ""
	if !table.Published.IsZero() {
		published = table.Published.Format(gwtable.DateLayout)
	}
	tableInfo.DeletePartialMatch(prometheus.Labels{"file": label})
	tableInfo.WithLabelValues(label, strconv.FormatUint(uint64(table.Serial), 10), table.Source, published).Set(1)
}

// label names the table in log lines: its file, or the built-in table.
func (g *MysqlGW) label() string {
	if g.file == "" {
		return "the built-in table"
	}
	return g.file
}

// logTable logs the table now served when it is the first this instance
// serves or differs from the one the block served before (gwtable.Diff's
// meaning: a new serial or comment alone is no change), with what changed.
func (g *MysqlGW) logTable(first bool, prev, table gwtable.Table, d gwtable.DiffResult, f facts) {
	if !first && !d.Changed {
		return
	}
	if d.Changed {
		log.Info(changeLine(g.label(), prev.Serial, table.Serial, d))
	}
	line := f.describe(g.label(), time.Now())
	if g.file == "" {
		line += "; " + builtinAdvice
	}
	log.Info(line)
}

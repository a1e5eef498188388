package mysqlgw

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"

	"github.com/miekg/dns"
)

// builtRecords counts every record answers hold: each set's answer and
// additional section, and every answer an active name may give.
func builtRecords(ans *answers) int {
	count := func(sets []rrset) (n int) {
		for _, s := range sets {
			n += len(s.answer) + len(s.extra)
		}
		return n
	}
	n := 0
	for _, nd := range ans.nodes {
		n += count(nd.rrsets)
		if nd.active != nil {
			for _, c := range nd.active.choices {
				n += count(c)
			}
		}
	}
	return n
}

func parseTable(t testing.TB, content string) []gwtable.Region {
	t.Helper()
	table, err := gwtable.Parse([]byte(content), "test")
	if err != nil {
		t.Fatal(err)
	}
	return table.Regions
}

// countTable has every kind of record and no address twice: gateways of
// both families, subnets of both, decommissioning addresses, an alias.
const countTable = `alpha 198.18.0.1 2001:db8:1::1 subnets 198.18.1.0/28 2001:db8:2::/124 decommissioning 198.18.2.1 2001:db8:3::1
beta subnets 198.18.3.0/27
gamma 198.18.4.1 198.18.4.2 198.18.4.3
`

// counted is what the counting sink tallies for regions under opt.
func counted(t testing.TB, regions []gwtable.Region, opt options) int {
	t.Helper()
	var c counter
	if err := walk(&c, regions, newTableSets(regions), opt); err != nil {
		t.Fatal(err)
	}
	return c.records
}

// build is buildAnswers of regions under opt, without health checking.
func build(t testing.TB, regions []gwtable.Region, opt options) *answers {
	t.Helper()
	ans, err := buildAnswers(regions, newTableSets(regions), opt, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ans
}

// The counting sink counts exactly what the answers sink makes, whatever
// the table: one walk drives both.
func TestCountRecords(t *testing.T) {
	withAlias := parseTable(t, countTable)
	withAlias[0].Aliases = []string{"alpha-old"}
	for _, tc := range []struct {
		name    string
		regions []gwtable.Region
		opt     options
	}{
		{"every kind", withAlias, options{zones: []string{"z.test."}, failOpen: true}},
		{"failover closed, ns, two zones", withAlias, options{zones: []string{"a.test.", "b.test."}, nsAddrs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}}},
		{"reverse zones", parseTable(t, countTable), options{zones: []string{"z.test."}, reverse: []string{"in-addr.arpa."}, failOpen: true}},
		{"nested zones", parseTable(t, countTable), options{zones: []string{"z.test.", "alpha.z.test."}, reverse: []string{"in-addr.arpa.", "18.198.in-addr.arpa."}, failOpen: true}},
		{"sets too large", parseTable(t, oversizeTable()), options{zones: []string{"z.test."}, failOpen: true}},
		{"addresses twice", parseTable(t, "a 198.18.0.1 subnets 198.18.0.0/28 198.18.0.8/29\nb 198.18.0.1 subnets 198.18.0.0/30\n"), options{zones: []string{"z.test."}, failOpen: true}},
		{"built-in", builtinRegions, options{zones: []string{defaultZone}, reverse: []string{"in-addr.arpa."}, failOpen: true}},
		{"redirect sets", parseTable(t, redirectTable), options{zones: []string{"z.test."}, failOpen: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opt.ttl, tc.opt.activeTTL = defaultTTL, defaultActiveTTL
			built, count := builtRecords(build(t, tc.regions, tc.opt)), counted(t, tc.regions, tc.opt)
			t.Logf("%d records built, %d counted", built, count)
			if count != built {
				t.Errorf("counted %d records, built %d", count, built)
			}
		})
	}
}

// bigRegion is a regions file line of one region with a /24: 1,034 records
// in one zone.
const bigRegion = "big subnets 198.18.0.0/24\n"

func TestBudgetRefusedAtStartup(t *testing.T) {
	path := filepath.Join(t.TempDir(), "regions")
	writeFile(t, path, bigRegion)
	c := caddy.NewTestController("dns", fmt.Sprintf("mysqlgw {\n regions %s\n max_records 1037\n}", path))
	g, err := parse(c)
	if err != nil {
		t.Fatal(err)
	}
	err = g.load()
	want := path + ": the table would build 1038 records, above max_records 1037"
	if err == nil || err.Error() != want {
		t.Fatalf("load: %v\nwant %s", err, want)
	}
	if g.answers.Load() != nil {
		t.Error("a refused table is served")
	}

	// At the budget it loads.
	g = newTestPlugin(t, fmt.Sprintf("mysqlgw {\n regions %s\n max_records 1038\n}", path))
	if got := builtRecords(g.answers.Load()); got != 1038 {
		t.Errorf("built %d records, want 1038", got)
	}
}

func TestBudgetSetup(t *testing.T) {
	for _, tc := range []struct {
		corefile, err string
	}{
		{"mysqlgw {\n max_records 0\n}", "max_records must be in range [1, 100000000], got 0"},
		{"mysqlgw {\n max_records many\n}", `max_records: "many" is not a whole number`},
		{"mysqlgw {\n max_records\n}", "Wrong argument count"},
		// The built-in table does not fit in 100 records.
		{"mysqlgw {\n max_records 100\n}", "the built-in table: the table would build"},
	} {
		c := caddy.NewTestController("dns", tc.corefile)
		g, err := parse(c)
		if err == nil {
			err = g.load()
		}
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%q: error %v, want %q", tc.corefile, err, tc.err)
		}
	}
	// Without max_records, the default: the built-in table with a region of
	// /24s is served up to it and refused one /24 past it.
	opt := options{zones: []string{defaultZone}, failOpen: true}
	big := gwtable.Region{Name: "big"}
	with := func() []gwtable.Region { return append(slices.Clone(builtinRegions), big) }
	// Far apart, so that the /24s never join into one prefix.
	for i := 0; counted(t, with(), opt) <= defaultMaxRecords; i++ {
		big.Subnets = append(big.Subnets, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 7), byte(i<<1) & 0xff, 0}), 24))
	}
	err := checkBudget(with(), newTableSets(with()), opt, "the built-in table", false)
	if want := fmt.Sprintf("the built-in table: the table would build %d records, above max_records %d", counted(t, with(), opt), defaultMaxRecords); err == nil || err.Error() != want {
		t.Errorf("no max_records: %v, want %q", err, want)
	}
	big.Subnets = big.Subnets[:len(big.Subnets)-1]
	if err := checkBudget(with(), newTableSets(with()), opt, "the built-in table", false); err != nil {
		t.Errorf("no max_records, %d /24s: %v", len(big.Subnets), err)
	}
}

// A reload over the budget keeps the last good table, logs and counts the
// refusal, and never allocates the giant: 4,000 regions of a /24 each (a
// 131 KB file, 3.1 million records, some 600 MB built) cost the refused
// reload less than 10 MB of allocations, the parse and the count included;
// without the budget it built the giant beside the live table (about 1 GB
// allocated) and served it.
func TestBudgetRefusedAtReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "regions")
	writeFile(t, path, tableA)
	w := newWatched(t, path)
	g := w.g
	failed := counterValue(reloadFailureCount.WithLabelValues(path))

	var giant strings.Builder
	for i := range 4000 {
		fmt.Fprintf(&giant, "region%d subnets 10.%d.%d.0/24\n", i, i/256, i%256)
	}
	writeFile(t, path, giant.String())
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	w.poll(2) // the second poll sees the same content and applies it
	runtime.ReadMemStats(&after)
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("refused reload of %d bytes: %.1f MB allocated, heap %.1f MB before, %.1f MB after (max_records %d)",
		giant.Len(), float64(allocated)/(1<<20), float64(before.HeapAlloc)/(1<<20), float64(after.HeapAlloc)/(1<<20), g.opt.maxRecords)
	w.wantTable(tableA)
	w.wantErrors(1, path+": the table would build 3092009 records, above max_records 2000000")
	if got := counterValue(reloadFailureCount.WithLabelValues(path)); got != failed+1 {
		t.Errorf("reload failures counted %v, want %v", got, failed+1)
	}
	if allocated > 10<<20 {
		t.Errorf("the refused reload allocated %d MB: the table was built", allocated>>20)
	}
}

// oversizeTable has a region with 3,500 IPv6 /124 subnets: its SPF TXT
// (84 KB), APL (70 KB), subnet TXT and allow AAAA (56,000 addresses) are
// each too large for one message; its shards are not.
func oversizeTable() string {
	var sb strings.Builder
	sb.WriteString("small 198.18.0.1\nhuge 198.18.0.2 subnets")
	for i := 1; i <= 3500; i++ {
		fmt.Fprintf(&sb, " 2001:db8:%x::ff0/124", i) // apart: no two join into one prefix
	}
	sb.WriteString("\n")
	return sb.String()
}

func TestOversizeLeftOut(t *testing.T) {
	log := captureLog(t)
	path := filepath.Join(t.TempDir(), "regions")
	writeFile(t, path, oversizeTable())
	g := newTestPlugin(t, fmt.Sprintf("mysqlgw {\n regions %s\n}", path))

	left := []string{
		"all.gateway.mysql.local. AAAA", "all.gateway.mysql.local. APL", "all.gateway.mysql.local. TXT",
		"allow.huge.gateway.mysql.local. AAAA", "allow.huge.gateway.mysql.local. APL", "allow.huge.gateway.mysql.local. TXT",
		"huge.gateway.mysql.local. TXT",
	}
	warning := "[WARNING] plugin/mysqlgw: Left out, as too large for one DNS message (queries get NODATA; use the shards): " + strings.Join(left, " ")
	if n := strings.Count(log.String(), "too large for one DNS message"); n != 1 || !strings.Contains(log.String(), warning) {
		t.Errorf("logged %d warnings:\n%s\nwant one:\n%s", n, log.String(), warning)
	}
	for _, q := range left {
		name, qtype, _ := strings.Cut(q, " ")
		r := ask(t, g, name, dns.StringToType[qtype])
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 || len(r.Ns) != 1 || r.Ns[0].Header().Rrtype != dns.TypeSOA {
			t.Errorf("%s: want NODATA with the SOA, got\n%v", q, r)
		}
	}
	// What stays: the shards, the small region's sets, all.Z's A.
	for _, q := range []struct {
		name  string
		qtype uint16
		n     int
	}{
		{"1.all.gateway.mysql.local.", dns.TypeA, 2},
		{"1.allow.huge.gateway.mysql.local.", dns.TypeAAAA, 16},
		{"3500.allow.huge.gateway.mysql.local.", dns.TypeAAAA, 16},
		{"shards.allow.huge.gateway.mysql.local.", dns.TypeTXT, 1},
		{"all.gateway.mysql.local.", dns.TypeA, 2},
		{"allow.small.gateway.mysql.local.", dns.TypeTXT, 1},
	} {
		if r := ask(t, g, q.name, q.qtype); len(r.Answer) != q.n {
			t.Errorf("%s %s: %d records, want %d", q.name, dns.TypeToString[q.qtype], len(r.Answer), q.n)
		}
	}
	// Transfers leave them out too, so a secondary answers as mysqlgw does;
	// no record left is larger than a message.
	ans := g.answers.Load()
	for _, batch := range ans.apex["gateway.mysql.local."].records(ans, g.opt, nil) {
		for _, rr := range batch {
			q := rr.Header().Name + " " + dns.TypeToString[rr.Header().Rrtype]
			for _, l := range left {
				if q == l {
					t.Fatalf("the transfer holds %s", q)
				}
			}
		}
	}
}

// A set just inside the bound is served whole; one record more and it is
// left out.
func TestOversizeBoundary(t *testing.T) {
	// Each /32 of subnets adds a subnet= TXT record to the region's TXT set:
	// find how many fit by building.
	set := func(n int) (*answers, rrset) {
		var sb strings.Builder
		sb.WriteString("r 198.18.0.1 subnets")
		for i := range n {
			fmt.Fprintf(&sb, " 10.%d.%d.%d/32", i>>16, (i>>8)&255, i&255)
		}
		opt := options{zones: []string{"z.test."}, ttl: defaultTTL, activeTTL: defaultActiveTTL}
		ans := build(t, parseTable(t, sb.String()), opt)
		if s := findSet(ans.nodes["r.z.test."].rrsets, dns.TypeTXT); s != nil {
			return ans, *s
		}
		return ans, rrset{}
	}
	lo, hi := 1, 4000 // fits, does not
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if _, s := set(mid); s.answer != nil {
			lo = mid
		} else {
			hi = mid
		}
	}
	ans, fits := set(lo)
	// The answer as the server packs it is what the walk measured.
	m := new(dns.Msg)
	m.SetQuestion("r.z.test.", dns.TypeTXT)
	m.Answer, m.Compress = fits.answer, true
	wire, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	rdata := 0
	for _, rr := range fits.answer {
		for _, s := range rr.(*dns.TXT).Txt {
			rdata += 1 + len(s)
		}
	}
	if size := messageSize("r.z.test.", len(fits.answer), rdata); len(wire) != size {
		t.Errorf("packed %d bytes, measured %d", len(wire), size)
	}
	if len(wire) > maxRRsetSize || len(wire) < maxRRsetSize-40 {
		t.Errorf("%d subnets: TXT answer of %d bytes is served, bound %d", lo, len(wire), maxRRsetSize)
	}
	t.Logf("the region TXT holds up to %d subnets: %d bytes; %d records in the table", lo, len(wire), builtRecords(ans))
}

func ask(t *testing.T, g *MysqlGW, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	rec := dnstest.NewRecorder(&test.ResponseWriter{})
	if _, err := g.ServeDNS(context.Background(), rec, m); err != nil || rec.Msg == nil {
		t.Fatalf("%s: %v", name, err)
	}
	return rec.Msg
}

// BenchmarkBudget measures what a record costs: a table of regions with a
// /24 each, near the default budget, built once with the heap settled
// before and after, and the bytes allocated while building it (what a reload
// adds beside the live table before the old one is collected).
func BenchmarkBudget(b *testing.B) {
	var sb strings.Builder
	for i := range 960 {
		fmt.Fprintf(&sb, "region%d 10.%d.%d.1 subnets 10.%d.%d.0/24\n", i, i/256, i%256, i/256, i%256)
	}
	regions := parseTable(b, sb.String())
	opt := options{zones: []string{defaultZone}, reverse: []string{"in-addr.arpa."}, ttl: defaultTTL, activeTTL: defaultActiveTTL, failOpen: true}
	records := counted(b, regions, opt)
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		ans := build(b, regions, opt)
		runtime.ReadMemStats(&after)
		allocated := after.TotalAlloc - before.TotalAlloc
		runtime.GC()
		runtime.ReadMemStats(&after)
		retained := after.HeapAlloc - before.HeapAlloc
		b.ReportMetric(float64(records), "records")
		b.ReportMetric(float64(builtRecords(ans)), "built")
		b.ReportMetric(float64(retained)/float64(records), "B/record")
		b.ReportMetric(float64(allocated)/float64(records), "alloc-B/record")
		runtime.KeepAlive(ans)
	}
}

// An A set is served up to the most addresses whose answer fits in
// maxRRsetSize (3,747 at all.gateway.mysql.local), and left out, NODATA with
// a warning, one address past it; the shards carry every address.
func TestOversizeAddressBoundary(t *testing.T) {
	for _, n := range []int{3747, 3748} {
		var sb strings.Builder
		sb.WriteString("r subnets")
		for i := 0; i < n/256; i++ {
			fmt.Fprintf(&sb, " 10.0.%d.0/24", i)
		}
		for i := 0; i < n%256; i++ {
			fmt.Fprintf(&sb, " 10.1.0.%d/32", i)
		}
		log := captureLog(t)
		path := filepath.Join(t.TempDir(), "regions")
		writeFile(t, path, sb.String()+"\n")
		g := newTestPlugin(t, fmt.Sprintf("mysqlgw {\n regions %s\n}", path))
		r := ask(t, g, "all.gateway.mysql.local.", dns.TypeA)
		m := r.Copy()
		m.Compress = true
		wire, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		warned := strings.Contains(log.String(), "shards): all.gateway.mysql.local. A allow.r.gateway.mysql.local. A\n")
		t.Logf("%d addresses: %d in the answer, %d bytes", n, len(r.Answer), len(wire))
		switch fits := n == 3747; {
		case fits && (len(r.Answer) != n || len(wire) > maxRRsetSize || warned):
			t.Errorf("%d addresses: %d answered in %d bytes, warned %v", n, len(r.Answer), len(wire), warned)
		case !fits && (len(r.Answer) != 0 || r.Rcode != dns.RcodeSuccess || !warned):
			t.Errorf("%d addresses: want NODATA and a warning, got %d answers, warned %v", n, len(r.Answer), warned)
		}
		shards := 0
		for k := 1; ; k++ {
			r := ask(t, g, fmt.Sprintf("%d.all.gateway.mysql.local.", k), dns.TypeA)
			if r.Rcode != dns.RcodeSuccess {
				break
			}
			shards += len(r.Answer)
		}
		if shards != n {
			t.Errorf("%d addresses: the shards hold %d", n, shards)
		}
	}
}

// BenchmarkBudgetRefused is what refusing TestBudgetRefusedAtReload's giant
// costs after the parse: its sets and the counting walk (4,000 regions of a
// /24, 3.1 million records), in bytes allocated.
func BenchmarkBudgetRefused(b *testing.B) {
	var giant strings.Builder
	for i := range 4000 {
		fmt.Fprintf(&giant, "region%d subnets 10.%d.%d.0/24\n", i, i/256, i%256)
	}
	table, err := gwtable.Parse([]byte(giant.String()), "giant")
	if err != nil {
		b.Fatal(err)
	}
	opt := options{zones: []string{defaultZone}, ttl: defaultTTL, activeTTL: defaultActiveTTL, failOpen: true}
	b.ReportAllocs()
	for b.Loop() {
		if err := checkBudget(table.Regions, newTableSets(table.Regions), opt, "", false); err == nil {
			b.Fatal("the giant is within the budget")
		}
	}
}

package mysqlgw

import (
	"fmt"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
	"github.com/mysqlgw/mysqlgw/internal/lists"
	"github.com/mysqlgw/mysqlgw/internal/shapes"
)

// shapeRegions are the shapes' sizes here: each some tens of MB built.
var shapeRegions = map[string]int{"ipv4-24": 300, "gateways": 2000, "ipv6-64": 600, "redirect": 60}

// shapeText is a table of a shape, as bench/memory.sh measures it in a
// running server.
func shapeText(t testing.TB, shape string) string {
	var b strings.Builder
	if _, _, err := shapes.Write(&b, shape, shapeRegions[shape], 0); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// liveHeap is the heap still in use after a full collection.
func liveHeap() int64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// budgetCost is what the budget counts for a table, in bytes, and what
// building it (the sets, answers and HTTP bodies, as prepare does) keeps in
// the heap.
func budgetCost(t testing.TB, text string) (records int, model, live int64) {
	table, err := gwtable.Parse([]byte(text), "shape")
	if err != nil {
		t.Fatal(err)
	}
	opt := options{zones: []string{defaultZone}, reverse: []string{"in-addr.arpa.", "ip6.arpa."}, ttl: defaultTTL, activeTTL: defaultActiveTTL, failOpen: true}
	opt.facts = tableFacts(table, table.Regions)
	before := liveHeap()
	sets := newTableSets(table.Regions)
	ans, err := buildAnswers(table.Regions, sets, opt, nil)
	if err != nil {
		t.Fatal(err)
	}
	bodies := lists.Build(lists.Version{Table: table, Sets: sets.regions, All: sets.all, Redirect: sets.redirect, RedirectAll: sets.redirectAll, TTL: defaultTTL, Port: defaultPort})
	live = liveHeap() - before
	runtime.KeepAlive(ans)
	runtime.KeepAlive(bodies)
	var c counter
	if err := walk(&c, table.Regions, sets, opt); err != nil {
		t.Fatal(err)
	}
	return c.records, int64(c.bytes + tableBytes(table.Regions, sets, true)), live
}

// The budget counts memory, not only records: for every shape, what it
// counts is within 0.8 and 1.3 times what the build keeps (a prefix counts
// its share of a reload's diff too, which the build does not keep), so
// that the bytes a budget unit costs (docs/operations.md) hold across
// shapes. When a change to the answers or the lists moves the heap, this
// fails until the costs in budget.go follow.
func TestBudgetCountsMemory(t *testing.T) {
	for _, shape := range shapes.Names {
		records, model, live := budgetCost(t, shapeText(t, shape))
		ratio := float64(model) / float64(live)
		t.Logf("%s: %d records, %d units; live heap %.1f MB, counted %.1f MB (%.2fx), %d live bytes a unit",
			shape, records, model/recordBytes, float64(live)/1e6, float64(model)/1e6, ratio, live/(model/recordBytes))
		if ratio < 0.8 || ratio > 1.3 {
			t.Errorf("%s: the budget counts %d bytes for a table that keeps %d (%.2fx), want 0.8x to 1.3x", shape, model, live, ratio)
		}
	}
}

// BenchmarkBudgetBytes reports, for each shape, the heap a build keeps per
// unit of max_records and the counted bytes over the live ones.
func BenchmarkBudgetBytes(b *testing.B) {
	for _, shape := range shapes.Names {
		text := shapeText(b, shape)
		b.Run(shape, func(b *testing.B) {
			var model, live int64
			for b.Loop() {
				_, model, live = budgetCost(b, text)
			}
			b.ReportMetric(float64(live)/float64(model/recordBytes), "live-B/unit")
			b.ReportMetric(float64(model)/float64(live), "counted/live")
		})
	}
}

// A table of few records but many long texts and prefixes is refused by
// what it takes, not only by its count: 600 regions of 100 IPv6 /64s build
// about 62,000 records, and those records' texts and the table's prefixes
// take several times what as many address records do.
func TestBudgetRefusesByMemory(t *testing.T) {
	table, err := gwtable.Parse([]byte(shapeText(t, "ipv6-64")), "shape")
	if err != nil {
		t.Fatal(err)
	}
	sets := newTableSets(table.Regions)
	opt := options{zones: []string{defaultZone}, ttl: defaultTTL, activeTTL: defaultActiveTTL, failOpen: true}
	var c counter
	if err := walk(&c, table.Regions, sets, opt); err != nil {
		t.Fatal(err)
	}
	opt.maxRecords = c.records
	err = checkBudget(table.Regions, sets, opt, "ipv6.regions", false)
	want := regexp.MustCompile(fmt.Sprintf(`^ipv6\.regions: the table would build %d records and take the memory of (\d+) \(at 100 bytes a record\), above max_records %d$`, c.records, c.records))
	m := want.FindStringSubmatch(fmt.Sprint(err))
	if m == nil {
		t.Fatalf("max_records %d: %v, want %v", c.records, err, want)
	}
	units, _ := strconv.Atoi(m[1])
	if units < 2*c.records {
		t.Errorf("%d records of long texts count as %d", c.records, units)
	}
	// The lists' bodies count too.
	withLists := checkBudget(table.Regions, sets, options{zones: opt.zones, ttl: opt.ttl, activeTTL: opt.activeTTL, failOpen: true, maxRecords: units}, "ipv6.regions", true)
	if withLists == nil || !strings.Contains(withLists.Error(), "above max_records "+m[1]) {
		t.Errorf("max_records %d with the HTTP lists: %v", units, withLists)
	}
	opt.maxRecords = units
	if err := checkBudget(table.Regions, sets, opt, "ipv6.regions", false); err != nil {
		t.Errorf("max_records %d: %v", units, err)
	}
}

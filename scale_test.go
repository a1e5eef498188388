//go:build unix

package mysqlgw

// How mysqlgw grows with its table: synthetic tables of 31, 1,000 and 100,000
// regions, loaded the way a regions file is (gwtable.Parse, overrides.apply,
// buildAnswers), reporting load time, retained memory per region and lookup
// cost. Lookups should stay flat; load time and memory should grow linearly.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/mysqlgw/mysqlgw/internal/gwtable"

	"github.com/miekg/dns"
)

var scaleSizes = []int{31, 1000, 100000}

// scaleOptions are the shipped Corefile's: the forward zone and in-addr.arpa.
var scaleOptions = options{
	zones:     []string{benchZone},
	reverse:   []string{"in-addr.arpa."},
	ttl:       defaultTTL,
	activeTTL: defaultActiveTTL,
	port:      defaultPort,
	failOpen:  true,
}

// syntheticRegions is a regions file of n regions shaped like Azure's table:
// about half the regions have a secondary address, one in 31 a tertiary.
// Addresses come from the benchmarking range 198.18.0.0/15 and the shared
// range 100.64.0.0/10; nothing ever connects to them.
func syntheticRegions(n int) []byte {
	var sb strings.Builder
	bench := netip.MustParseAddr("198.18.0.0").As4()
	shared := netip.MustParseAddr("100.64.0.0").As4()
	addr := func(base [4]byte, i int) netip.Addr {
		v := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
		v += uint32(i)
		return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	}
	for i := range n {
		fmt.Fprintf(&sb, "region%06d %s", i, addr(bench, i+1))
		if i%2 == 0 {
			fmt.Fprintf(&sb, " %s", addr(shared, 2*i+1))
		}
		if i%31 == 0 {
			fmt.Fprintf(&sb, " %s", addr(shared, 2*i+2))
		}
		sb.WriteByte('\n')
	}
	return []byte(sb.String())
}

// loadSynthetic runs the whole load path of a regions file.
func loadSynthetic(b *testing.B, content []byte) *answers {
	table, err := gwtable.Parse(content, "synthetic")
	if err != nil {
		b.Fatal(err)
	}
	regions, err := (overrides{}).apply(table.Regions)
	if err != nil {
		b.Fatal(err)
	}
	ans, err := buildAnswers(regions, newTableSets(regions), scaleOptions, nil)
	if err != nil {
		b.Fatal(err)
	}
	return ans
}

// BenchmarkScale reports, per table size: load (ns/op is one whole load,
// plus the retained heap per region and per name), and lookup (ns/op and
// allocs of ServeDNS for A queries spread at random over the table).
func BenchmarkScale(b *testing.B) {
	for _, n := range scaleSizes {
		content := syntheticRegions(n)

		b.Run(fmt.Sprintf("regions=%d/load", n), func(b *testing.B) {
			b.ReportAllocs()
			cpu := startCPU()
			for b.Loop() {
				loadSynthetic(b, content)
			}
			cpu.report(b)
			b.StopTimer()
			heap, ans := retained(b, content)
			b.ReportMetric(heap/float64(n), "B/region")
			b.ReportMetric(heap/float64(len(ans.nodes)), "B/name")
			b.ReportMetric(float64(len(ans.nodes))/float64(n), "names/region")
			runtime.KeepAlive(ans)
		})

		b.Run(fmt.Sprintf("regions=%d/lookup", n), func(b *testing.B) {
			g := &MysqlGW{opt: scaleOptions, Next: test.NextHandler(dns.RcodeRefused, nil)}
			g.answers.Store(loadSynthetic(b, content))
			// 4096 queries for random regions and roles, so that a large
			// table's lookups miss the CPU caches as they would in service.
			rng := rand.New(rand.NewPCG(1, uint64(n)))
			queries := make([]*dns.Msg, 4096)
			for i := range queries {
				name := fmt.Sprintf("region%06d.%s", rng.IntN(n), benchZone)
				if i%3 == 0 {
					name = "primary." + name
				}
				queries[i] = new(dns.Msg).SetQuestion(name, dns.TypeA)
			}
			ctx := context.Background()
			w := dnstest.NewRecorder(&test.ResponseWriter{})
			for _, q := range queries[:16] {
				if code, _ := g.ServeDNS(ctx, w, q); code != dns.RcodeSuccess || len(w.Msg.Answer) == 0 {
					b.Fatalf("%s: rcode %d, answer %v", q.Question[0].Name, code, w.Msg)
				}
			}
			b.ReportAllocs()
			cpu := startCPU()
			i := 0
			for b.Loop() {
				g.ServeDNS(ctx, w, queries[i&(len(queries)-1)])
				i++
			}
			cpu.report(b)
		})
	}
}

// BenchmarkScaleHealth reloads a table with health checking on, the way the
// file watcher does (swap): the build reads the checker's state of every
// gateway address, and the checker then syncs to the table served. The
// table is the same each time, as a reload that changes another line is. The
// checker is never started: nothing connects to the synthetic addresses.
// With transfer_health, each reload also fingerprints the zones to tell
// whether the serial must move (versions.go).
func BenchmarkScaleHealth(b *testing.B) {
	for _, tc := range []struct {
		n      int
		follow bool
	}{{scaleSizes[0], false}, {scaleSizes[1], false}, {scaleSizes[0], true}, {scaleSizes[1], true}} {
		name := fmt.Sprintf("regions=%d/reload", tc.n)
		if tc.follow {
			name += "/transfer_health"
		}
		b.Run(name, func(b *testing.B) {
			table, err := gwtable.Parse(syntheticRegions(tc.n), "synthetic")
			if err != nil {
				b.Fatal(err)
			}
			g := &MysqlGW{opt: scaleOptions, health: newHealthChecker(healthConfig{interval: time.Hour, probe: prober{port: defaultPort}, rise: 2, fall: 3}, testServers)}
			g.key = blockKey{zone: b.Name()} // a block of its own
			g.opt.transferHealth = tc.follow
			if err := g.swap(table); err != nil {
				b.Fatal(err)
			}
			g.take(time.Now())
			defer g.release()
			b.ReportAllocs()
			cpu := startCPU()
			for b.Loop() {
				if err := g.swap(table); err != nil {
					b.Fatal(err)
				}
			}
			cpu.report(b)
		})
	}
}

// sql2026Regions is a table shaped like Azure SQL's 2026 page, every region
// with subnets only: 71 regions, 284 prefixes (two /27, a /28 and a /29
// each), 6,248 addresses to allow. The prefixes come from the benchmarking
// range 198.18.0.0/15; nothing ever connects to them.
func sql2026Regions() []byte {
	var sb strings.Builder
	base := uint32(198)<<24 | uint32(18)<<16
	prefix := func(off uint32, bits int) string {
		v := base + off
		return fmt.Sprintf("%d.%d.%d.%d/%d", byte(v>>24), byte(v>>16), byte(v>>8), byte(v), bits)
	}
	for i := range 71 {
		off := uint32(i) * 256
		fmt.Fprintf(&sb, "sqlregion%02d subnets %s %s %s %s\n", i, prefix(off, 27), prefix(off+32, 27), prefix(off+64, 28), prefix(off+80, 29))
	}
	return []byte(sb.String())
}

// BenchmarkScaleSubnets loads a table with Azure SQL 2026's subnets: the
// allow names, their shards, TXT and APL forms. Target: under 100 ms a load
// and under 20 MB retained.
func BenchmarkScaleSubnets(b *testing.B) {
	content := sql2026Regions()
	b.ReportAllocs()
	cpu := startCPU()
	for b.Loop() {
		loadSynthetic(b, content)
	}
	cpu.report(b)
	b.StopTimer()
	heap, ans := retained(b, content)
	b.ReportMetric(heap/(1<<20), "MB-retained")
	// all.Z's A set is too large for one message: its shards hold the addresses.
	addrs := 0
	for k := 1; ans.nodes[fmt.Sprintf("%d.all.%s", k, benchZone)] != nil; k++ {
		addrs += len(findSet(ans.nodes[fmt.Sprintf("%d.all.%s", k, benchZone)].rrsets, dns.TypeA).answer)
	}
	b.ReportMetric(float64(addrs), "addresses")
	runtime.KeepAlive(ans)
}

// retained loads content once more and returns the heap the answers keep:
// a fresh load with the heap settled before and after.
func retained(b *testing.B, content []byte) (float64, *answers) {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	ans := loadSynthetic(b, content)
	runtime.GC()
	runtime.ReadMemStats(&after)
	return float64(after.HeapAlloc) - float64(before.HeapAlloc), ans
}

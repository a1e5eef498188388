//go:build unix

package mysqlgw

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/miekg/dns"
)

// transferTables are the tables the benchmark and the test below transfer:
// the built-in one (its forward zone and in-addr.arpa) and one with Azure SQL
// 2026's subnets, loaded from a regions file.
var transferTables = []struct {
	name string
	load func(testing.TB) *MysqlGW
	zone string
}{
	{"table=builtin/zone=forward", loadBuiltin, "gateway.mysql.local."},
	{"table=builtin/zone=reverse", loadBuiltin, "in-addr.arpa."},
	{"table=sql2026/zone=forward", loadSQL2026, "gateway.mysql.local."},
}

func loadBuiltin(tb testing.TB) *MysqlGW {
	return newTestPlugin(tb, "mysqlgw gateway.mysql.local in-addr.arpa")
}

func loadSQL2026(tb testing.TB) *MysqlGW {
	file := filepath.Join(tb.TempDir(), "regions")
	if err := os.WriteFile(file, sql2026Regions(), 0o644); err != nil {
		tb.Fatal(err)
	}
	return newTestPlugin(tb, "mysqlgw gateway.mysql.local in-addr.arpa {\n    regions "+file+"\n    reload 0\n}")
}

// BenchmarkTransfer measures one AXFR as the transfer plugin drives it:
// Transfer(zone, 0) and the channel drained. Besides time and allocations it
// reports the records sent and table-copies: the bytes a transfer allocates
// over the wire size of the records it sends, the least a copy of them would
// take (TestTransferCopiesLessThanTheTable holds it under 1).
func BenchmarkTransfer(b *testing.B) {
	for _, tt := range transferTables {
		b.Run(tt.name, func(b *testing.B) {
			g := tt.load(b)
			records, wire := checkTransfer(b, g, tt.zone)
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			b.ReportAllocs()
			cpu := startCPU()
			for b.Loop() {
				drainTransfer(b, g, tt.zone)
			}
			cpu.report(b)
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(records), "records")
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/float64(wire), "table-copies")
		})
	}
}

// BenchmarkTransferTCP measures one AXFR of the sql2026 table's forward zone
// as a secondary sees it: through CoreDNS's transfer plugin over loopback
// TCP, read with miekg/dns's client, in this process. mysqlgw's part
// (BenchmarkTransfer, 25 µs with xfrBatch 500) is about a thousandth of it.
// In one session on a shared 2-core machine, with xfrBatch 100, 500, 5,000
// or one slice for the whole zone, it took 22 to 57 ms whichever the size,
// the spread between runs larger than any difference between sizes: xfrBatch
// is chosen for what a stalled transfer holds, not for speed.
func BenchmarkTransferTCP(b *testing.B) {
	g := loadSQL2026(b)
	addr := serveTransfers(b, g)
	ans := g.answers.Load()
	whole := 2 // the SOA at both ends
	for _, batch := range ans.apex["gateway.mysql.local."].records(ans, g.opt, nil) {
		whole += len(batch)
	}
	b.ReportAllocs()
	for b.Loop() {
		q := new(dns.Msg)
		q.SetAxfr("gateway.mysql.local.")
		envelopes, err := new(dns.Transfer).In(q, addr)
		if err != nil {
			b.Fatal(err)
		}
		records := 0
		for e := range envelopes {
			if e.Error != nil {
				b.Fatal(e.Error)
			}
			records += len(e.RR)
		}
		if records != whole {
			b.Fatalf("AXFR of %d records, want the whole zone's %d", records, whole)
		}
	}
}

// TestTransferCopiesLessThanTheTable: a transfer sends the records the table
// holds, in slices listed by the first transfer after a load, so what a
// later one allocates (the channel, the stall timer) must stay under the
// size of one copy of the zone's records, here their wire size.
func TestTransferCopiesLessThanTheTable(t *testing.T) {
	for _, tt := range transferTables {
		t.Run(tt.name, func(t *testing.T) {
			g := tt.load(t)
			records, wire := checkTransfer(t, g, tt.zone)
			// The least of three, so that a stray allocation elsewhere in
			// the process does not count.
			least := uint64(1 << 63)
			for range 3 {
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				drainTransfer(t, g, tt.zone)
				runtime.ReadMemStats(&after)
				least = min(least, after.TotalAlloc-before.TotalAlloc)
			}
			if least >= uint64(wire) {
				t.Errorf("a transfer of %s allocates %d bytes (%d allocations), %.1f times the %d bytes of its %d records on the wire: more than a copy of the table",
					tt.zone, least, int(testing.AllocsPerRun(1, func() { drainTransfer(t, g, tt.zone) })), float64(least)/float64(wire), wire, records)
			}
		})
	}
}

// drainTransfer runs one AXFR of zone and drains it.
func drainTransfer(tb testing.TB, g *MysqlGW, zone string) {
	ch, err := g.Transfer(zone, 0)
	if err != nil {
		tb.Fatal(err)
	}
	for range ch {
	}
}

// checkTransfer drains one transfer of zone and checks its frame, the SOA at
// both ends and nowhere else, and returns how many records it sent and their
// wire size.
func checkTransfer(tb testing.TB, g *MysqlGW, zone string) (records, wire int) {
	tb.Helper()
	ch, err := g.Transfer(zone, 0)
	if err != nil {
		tb.Fatalf("Transfer(%s, 0): %v", zone, err)
	}
	var rrs []dns.RR
	for batch := range ch {
		rrs = append(rrs, batch...)
	}
	if len(rrs) < 3 || rrs[0].Header().Rrtype != dns.TypeSOA || rrs[len(rrs)-1].Header().Rrtype != dns.TypeSOA {
		tb.Fatalf("Transfer(%s, 0): %d records, want the SOA at both ends of the zone", zone, len(rrs))
	}
	for _, rr := range rrs {
		if !dns.IsSubDomain(zone, rr.Header().Name) {
			tb.Fatalf("Transfer(%s, 0) sends %v, outside the zone", zone, rr)
		}
		wire += dns.Len(rr)
	}
	for _, rr := range rrs[1 : len(rrs)-1] {
		if rr.Header().Rrtype == dns.TypeSOA {
			tb.Fatalf("Transfer(%s, 0) sends a second SOA inside the zone: %v", zone, rr)
		}
	}
	return len(rrs), wire
}

package gwtable

import (
	"fmt"
	"net/netip"
	"testing"
)

// bigRegion is one region of n distinct /29 subnets from 10.0.0.0 up (n up
// to 2^21), listed from first to last.
func bigRegion(name string, n int) Region {
	r := Region{Name: name, Subnets: make([]netip.Prefix, n)}
	for i := range n {
		v := uint32(10)<<24 | uint32(i)<<3
		r.Subnets[i] = netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), 29)
	}
	return r
}

// bigTables are two versions of a table with one region of n subnets: the
// new one lacks the old one's first subnet and has one more at its end.
func bigTables(n int) (old, new Table) {
	all := bigRegion("eastus2", n+1)
	old = Table{Serial: 1, HasSerial: true, Regions: []Region{{Name: "eastus2", Subnets: all.Subnets[:n]}}}
	new = Table{Serial: 2, HasSerial: true, Regions: []Region{{Name: "eastus2", Subnets: all.Subnets[1:]}}}
	return old, new
}

var benchSizes = []int{25_000, 100_000, 400_000}

// BenchmarkDiffSubnets compares two versions of one region of 25,000,
// 100,000 and 400,000 subnets, one removed and one added: the time a
// subnet should stay flat as the region grows (n log n at worst).
func BenchmarkDiffSubnets(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			old, new := bigTables(n)
			b.ReportAllocs()
			for b.Loop() {
				res := Diff("old", old, "new", new)
				if !res.Changed || len(res.Added.Prefixes) != 1 || len(res.Removed.Prefixes) != 1 {
					b.Fatalf("%+v", res.Added)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/subnet")
		})
	}
}

// BenchmarkParseSubnets parses, and BenchmarkFormatSubnets writes, a file
// of one region of 25,000, 100,000 and 400,000 subnets.
func BenchmarkParseSubnets(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			old, _ := bigTables(n)
			content := old.Format()
			b.SetBytes(int64(len(content)))
			for b.Loop() {
				if _, err := Parse(content, "bench"); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/subnet")
		})
	}
}

func BenchmarkFormatSubnets(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			old, _ := bigTables(n)
			for b.Loop() {
				old.Format()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/subnet")
		})
	}
}

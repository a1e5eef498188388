package regionsimport

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"
)

// The shape of a recent ServiceTags_Public file: about 3,000
// values (services by region, plus global ones with thousands of prefixes),
// about 4.5 MB.
const (
	realRegions  = 70
	realServices = 40
)

// writeServiceTags writes a Service Tags file of the real size and shape to
// path and returns how many Sql.<Region> values it has. The content is
// random but fixed by the seed; every prefix is a valid, masked one.
func writeServiceTags(path string) (sqlValues int, err error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriter(f)
	rng := rand.New(rand.NewPCG(1, 2))
	prefix := func() string {
		if rng.IntN(5) == 0 {
			var a [16]byte
			a[0], a[1], a[2], a[3] = 0x26, 0x03, byte(rng.IntN(256)), byte(rng.IntN(256))
			for i := 4; i < 8; i++ {
				a[i] = byte(rng.IntN(256))
			}
			return netip.PrefixFrom(netip.AddrFrom16(a), 64).Masked().String()
		}
		bits := []int{32, 32, 32, 31, 30, 29, 28, 27, 26, 25, 24, 22, 20}[rng.IntN(13)]
		a := netip.AddrFrom4([4]byte{byte(1 + rng.IntN(200)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))})
		return netip.PrefixFrom(a, bits).Masked().String()
	}
	value := func(name, region, service string, prefixes int, last bool) {
		fmt.Fprintf(w, "    {\n      \"name\": %q,\n      \"id\": %q,\n      \"properties\": {\n", name, name)
		fmt.Fprintf(w, "        \"changeNumber\": %d,\n        \"region\": %q,\n        \"regionId\": %d,\n", rng.IntN(50), region, rng.IntN(100))
		fmt.Fprintf(w, "        \"platform\": \"Azure\",\n        \"systemService\": %q,\n        \"addressPrefixes\": [\n", service)
		for i := range prefixes {
			sep := ","
			if i == prefixes-1 {
				sep = ""
			}
			fmt.Fprintf(w, "          %q%s\n", prefix(), sep)
		}
		w.WriteString("        ],\n")
		if rng.IntN(4) == 0 {
			w.WriteString("        \"networkFeatures\": null\n")
		} else {
			w.WriteString("        \"networkFeatures\": [\n          \"API\",\n          \"NSG\",\n          \"UDR\",\n          \"FW\"\n        ]\n")
		}
		if last {
			w.WriteString("      }\n    }\n")
		} else {
			w.WriteString("      }\n    },\n")
		}
	}
	w.WriteString("{\n  \"changeNumber\": 329,\n  \"cloud\": \"Public\",\n  \"values\": [\n")
	for s := range realServices {
		service := fmt.Sprintf("Service%02d", s)
		if s == 0 {
			service = "Sql"
		}
		value(service, "", service, 1500, false)
		for r := range realRegions {
			region := fmt.Sprintf("Region%02d", r)
			value(service+"."+region, strings.ToLower(region), service, 4+rng.IntN(30), false)
			if s == 0 {
				sqlValues++
			}
		}
	}
	value("AzureCloud", "", "", 3000, true)
	w.WriteString("  ]\n}\n")
	if err := w.Flush(); err != nil {
		f.Close()
		return 0, err
	}
	return sqlValues, f.Close()
}

// TestImportRealSizeServiceTags imports a file of the real size and shape: every
// Sql.<Region> value becomes a region.
func TestImportRealSizeServiceTags(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ServiceTags_Public_20260302.json")
	want, err := writeServiceTags(path)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if size := info.Size(); size < 4e6 || size > 5e6 {
		t.Errorf("the generated file is %d bytes, want the real 4 to 5 MB", size)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := Import(f, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Table.Regions) != want || res.Table.Serial != 329 {
		t.Errorf("imported %d regions with serial %d, want %d with 329", len(res.Table.Regions), res.Table.Serial, want)
	}
}

// BenchmarkServiceTagsImport imports a file of the real size (written once
// into b.TempDir()) and reports, beside the time, the peak heap in use while
// importing (sampled every 100 µs) and the bytes allocated per import.
//
//	go test -run '^$' -bench ServiceTagsImport -benchtime 20x ./internal/regionsimport
func BenchmarkServiceTagsImport(b *testing.B) {
	path := filepath.Join(b.TempDir(), "ServiceTags_Public_20260302.json")
	if _, err := writeServiceTags(path); err != nil {
		b.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	peak := samplePeakHeap()
	b.SetBytes(info.Size())
	b.ResetTimer()
	for b.Loop() {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Import(f, path, Options{}); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
	b.StopTimer()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(peak()-before.HeapAlloc)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/(1<<20), "alloc-MB/op")
}

// samplePeakHeap samples the live heap until the returned function is
// called, which returns the largest value seen.
func samplePeakHeap() func() uint64 {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var (
		mu   sync.Mutex
		max  uint64
		stop = make(chan struct{})
		done = make(chan struct{})
	)
	go func() {
		defer close(done)
		tick := time.NewTicker(100 * time.Microsecond)
		defer tick.Stop()
		for {
			metrics.Read(sample)
			mu.Lock()
			max = maxUint(max, sample[0].Value.Uint64())
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 {
		close(stop)
		<-done
		mu.Lock()
		defer mu.Unlock()
		return max
	}
}

func maxUint(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}

// worstServiceTags returns a Service Tags file of at most size bytes made of
// tiny values, in one of three shapes: "prefixes", one Sql.<Region> value
// with distinct /24s; "regions", Sql.<Region> values of one /24 each;
// "skipped", values of no tag.
func worstServiceTags(shape string, size int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"changeNumber": 1, "values": [`)
	if shape == "prefixes" {
		b.WriteString(`{"name": "Sql.EastUS", "properties": {"addressPrefixes": [`)
	}
	for i := 0; ; i++ {
		subnet := fmt.Sprintf("%d.%d.%d.0/24", 1+i>>16%200, i>>8&255, i&255)
		var item string
		switch shape {
		case "prefixes":
			item = `"` + subnet + `"`
		case "regions":
			item = fmt.Sprintf(`{"name":"Sql.r%d","properties":{"addressPrefixes":["%s"]}}`, i, subnet)
		default:
			item = `{"name":"x"}`
		}
		if b.Len()+len(item)+8 > size {
			break
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(item)
	}
	if shape == "prefixes" {
		b.WriteString(`]}}`)
	}
	b.WriteString("]}")
	return b.Bytes()
}

// BenchmarkServiceTagsWorst imports the worst inputs the 64 MiB cap allows:
// millions of tiny values. Keeping at most gwtable.MaxFileSize bytes of
// selected names and prefixes (more would make a regions file the server
// refuses) is what bounds the heap. Two runs on the 2-core test machine,
// shared with other work:
//
//	shape     time       peak heap   result
//	prefixes  1.1-1.3 s  103-118 MB  error at addressPrefixes[1147951] (without the bound: 18 s, 1.5 GB)
//	regions   4.7-8.5 s  371-453 MB  error at values[755870] (without the bound: 8.2 s, 726 MB)
//	skipped   4.1-6.0 s   67-68 MB   no regions to import
//
// The largest heap is just under that bound: 41 and 47 MiB of one-prefix
// values build some 700,000 regions before finish refuses their 17.8 and
// 20.4 MB regions file, at peaks of 450 and 487 MB.
//
// A plain json.Decoder into structs took 0.7 s, 0.9 s and 8.1 s just to
// decode these, with peaks of 498, 473 and 610 MB: it holds the whole
// document, then all of its values. It was not used: its errors name a
// field without indexes (".values.properties.addressPrefixes") and a cut
// file is "unexpected EOF", where docs/regions-file.md promises the path.
//
//	go test -run '^$' -bench ServiceTagsWorst -benchtime 1x ./internal/regionsimport
func BenchmarkServiceTagsWorst(b *testing.B) {
	for _, shape := range []string{"prefixes", "regions", "skipped"} {
		in := worstServiceTags(shape, maxInput)
		b.Run(shape, func(b *testing.B) {
			runtime.GC()
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			peak := samplePeakHeap()
			b.SetBytes(int64(len(in)))
			var err error
			for b.Loop() {
				_, err = Import(bytes.NewReader(in), "worst.json", Options{})
			}
			b.StopTimer()
			b.ReportMetric(float64(peak()-before.HeapAlloc)/(1<<20), "peak-heap-MB")
			if err == nil {
				b.Fatal("imported")
			}
			b.Log(err)
		})
	}
}

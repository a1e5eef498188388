//go:build unix

package mysqlgw

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
	"weak"

	"github.com/mysqlgw/mysqlgw/internal/testutil"

	"github.com/coredns/coredns/plugin/transfer"

	"github.com/miekg/dns"
)

// stallingTransferer is mysqlgw with a short bound on a stalled transfer.
type stallingTransferer struct {
	g     *MysqlGW
	stall time.Duration
}

func (s stallingTransferer) Transfer(zone string, serial uint32) (<-chan []dns.RR, error) {
	return s.g.transfer(zone, serial, s.stall)
}

// serveTransfers runs CoreDNS's transfer plugin, set up from a Corefile
// snippet, in front of tr on a loopback TCP port, with miekg/dns's server as
// CoreDNS runs it: no write deadline. A connection idle for 100 ms after a
// transfer is closed, so that a client reads to the end.
func serveTransfers(t testing.TB, tr transfer.Transferer) string {
	t.Helper()
	xfr := peerPlugin(t, "transfer", "transfer gateway.mysql.local {\n to *\n}").(*transfer.Transfer)
	xfr.Transferers = []transfer.Transferer{tr}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	srv := &dns.Server{
		Listener:          l,
		IdleTimeout:       func() time.Duration { return 100 * time.Millisecond },
		NotifyStartedFunc: func() { close(started) },
		Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
			xfr.ServeDNS(context.Background(), w, r)
		}),
	}
	go srv.ActivateAndServe()
	<-started // so that Shutdown finds it running
	t.Cleanup(func() { srv.Shutdown() })
	return l.Addr().String()
}

// stallRegions is the table TestTransferStalledClientPinsNoTable transfers:
// 24 regions of eight /24 subnets each from the benchmarking range
// 198.18.0.0/15, which nothing ever connects to. Its forward zone is about
// 197,000 records and 9.7 MB on the wire, more than loopback's socket
// buffers hold (4 MB to send, 128 KB to receive for a client that never
// reads), so the transfer blocks.
func stallRegions() []byte {
	var sb strings.Builder
	for i := range 24 {
		fmt.Fprintf(&sb, "subnetregion%02d subnets", i)
		for j := range 8 {
			k := i*8 + j
			fmt.Fprintf(&sb, " 198.%d.%d.0/24", 18+k/256, k%256)
		}
		sb.WriteByte('\n')
	}
	return []byte(sb.String())
}

// TestTransferStalledClientPinsNoTable: a client sends AXFR, reads the first
// message and then nothing, holding the connection open. mysqlgw abandons
// the transfer once it makes no progress for the bound, with one warning;
// the table that was current when it began, replaced by a reload meanwhile,
// is then collected, and the transfer plugin, still blocked writing to the
// client, holds at most the one slice of records it was on. The client, when
// it reads on, gets a transfer cut short, without the final SOA.
func TestTransferStalledClientPinsNoTable(t *testing.T) {
	logs := captureLog(t)
	file := filepath.Join(t.TempDir(), "regions")
	if err := os.WriteFile(file, stallRegions(), 0o644); err != nil {
		t.Fatal(err)
	}
	g := newTestPlugin(t, "mysqlgw gateway.mysql.local {\n regions "+file+"\n reload 0\n}")
	const stall = 300 * time.Millisecond
	addr := serveTransfers(t, stallingTransferer{g, stall})
	oldAnswers, oldSlices, records := watchZone(g, "gateway.mysql.local.")
	oneTable := heapAlloc()

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := &dns.Conn{Conn: conn}
	q := new(dns.Msg)
	q.SetAxfr("gateway.mysql.local.")
	if err := client.WriteMsg(q); err != nil {
		t.Fatal(err)
	}
	// The first message shows the transfer began, on the table loaded now.
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	first, err := client.ReadMsg()
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Answer) == 0 || first.Answer[0].Header().Rrtype != dns.TypeSOA {
		t.Fatalf("the transfer's first message starts with %v, want the SOA", first.Answer)
	}
	got := len(first.Answer)

	// A reload replaces the table while the client reads nothing.
	if err := g.load(); err != nil {
		t.Fatal(err)
	}
	const warning = "[WARNING] plugin/mysqlgw: Abandoned a transfer of gateway.mysql.local.: the client read nothing for 300ms"
	testutil.Until(t, 30*time.Second, "warning of the abandoned transfer", func() bool {
		return strings.Contains(logs.String(), warning)
	})
	testutil.Until(t, 30*time.Second, "collection of the table the stalled transfer began on", func() bool {
		runtime.GC()
		return oldAnswers.Value() == nil && aliveCount(oldSlices) <= 1
	})
	t.Logf("live heap: %.1f MiB with the table loaded, %.1f MiB after a reload during a stalled transfer, once abandoned (%d of %d slices of the old zone alive)",
		float64(oneTable)/(1<<20), float64(heapAlloc())/(1<<20), aliveCount(oldSlices), len(oldSlices))
	if n := strings.Count(logs.String(), warning); n != 1 {
		t.Errorf("%d warnings of the abandoned transfer, want 1; log:\n%s", n, logs.String())
	}

	// The client reads on and gets the transfer cut short: the transfer
	// plugin sends what it held and ends.
	var last dns.RR
	for {
		m, err := client.ReadMsg()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("after %d records: %v", got, err)
		}
		got += len(m.Answer)
		if len(m.Answer) > 0 {
			last = m.Answer[len(m.Answer)-1]
		}
	}
	if got >= records || last == nil || last.Header().Rrtype == dns.TypeSOA {
		t.Errorf("the client read %d of the zone's %d records, the last %v: want a transfer cut short, without the final SOA", got, records, last)
	}
}

// aliveCount counts the weak pointers whose object is still alive.
func aliveCount[T any](ptrs []weak.Pointer[T]) int {
	n := 0
	for _, p := range ptrs {
		if p.Value() != nil {
			n++
		}
	}
	return n
}

// watchZone returns weak pointers to g's answers and to each slice of zone's
// records that a transfer sends, and how many records an AXFR of zone sends.
// It keeps nothing alive itself.
func watchZone(g *MysqlGW, zone string) (weak.Pointer[answers], []weak.Pointer[dns.RR], int) {
	ans := g.answers.Load()
	var slices []weak.Pointer[dns.RR]
	records := 2 // the SOA, twice
	for _, rrs := range ans.apex[zone].records(ans, g.opt) {
		slices = append(slices, weak.Make(&rrs[0]))
		records += len(rrs)
	}
	return weak.Make(ans), slices, records
}

// heapAlloc is the live heap after a collection.
func heapAlloc() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

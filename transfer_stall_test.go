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

// stalledClient is a client that sent AXFR, read the first message and
// then nothing, with what it watches of the table its transfer began on.
type stalledClient struct {
	client  *dns.Conn
	got     int // records read
	answers weak.Pointer[answers]
	slices  []weak.Pointer[dns.RR]
	records int // in the whole transfer
}

// TestTransferStalledClientPinsNoTable: five clients each send AXFR, read the
// first message and then nothing, holding their connections open, with a
// reload after each (the case: a hung secondary). mysqlgw abandons
// each transfer once it makes no progress for the bound, with one warning;
// the tables the transfers began on are then collected, and the transfer
// plugin, still blocked writing to each client, holds at most the one slice
// of records it was on. A client that reads on gets a transfer cut short,
// without the final SOA.
func TestTransferStalledClientPinsNoTable(t *testing.T) {
	logs := captureLog(t)
	file := filepath.Join(t.TempDir(), "regions")
	if err := os.WriteFile(file, stallRegions(), 0o644); err != nil {
		t.Fatal(err)
	}
	g := newTestPlugin(t, "mysqlgw gateway.mysql.local {\n regions "+file+"\n reload 0\n}")
	const stall = 300 * time.Millisecond
	addr := serveTransfers(t, stallingTransferer{g, stall})
	g.answers.Load().apex["gateway.mysql.local."].records(g.answers.Load(), g.opt, nil) // as a transfer leaves it
	oneTable := heapAlloc()

	var stalled []*stalledClient
	for range 5 {
		c := &stalledClient{}
		c.answers, c.slices, c.records = watchZone(g, "gateway.mysql.local.")
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		c.client = &dns.Conn{Conn: conn}
		q := new(dns.Msg)
		q.SetAxfr("gateway.mysql.local.")
		if err := c.client.WriteMsg(q); err != nil {
			t.Fatal(err)
		}
		// The first message shows the transfer began, on the table loaded now.
		conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		first, err := c.client.ReadMsg()
		if err != nil {
			t.Fatal(err)
		}
		if len(first.Answer) == 0 || first.Answer[0].Header().Rrtype != dns.TypeSOA {
			t.Fatalf("the transfer's first message starts with %v, want the SOA", first.Answer)
		}
		c.got = len(first.Answer)
		stalled = append(stalled, c)
		// A reload replaces the table while the client reads nothing.
		if err := g.load(); err != nil {
			t.Fatal(err)
		}
	}

	const warning = "[WARNING] plugin/mysqlgw: Abandoned a transfer of gateway.mysql.local.: no progress for 300ms, the client is not reading"
	testutil.Until(t, 30*time.Second, "warnings of the 5 abandoned transfers", func() bool {
		return strings.Count(logs.String(), warning) >= len(stalled)
	})
	testutil.Until(t, 30*time.Second, "collection of the tables the stalled transfers began on", func() bool {
		runtime.GC()
		for _, c := range stalled {
			if c.answers.Value() != nil || aliveCount(c.slices) > 1 {
				return false
			}
		}
		return true
	})
	t.Logf("live heap: %.1f MiB with the table loaded, %.1f MiB after 5 reloads during 5 stalled transfers, once abandoned (of each old zone's %d slices, at most 1 alive)",
		float64(oneTable)/(1<<20), float64(heapAlloc())/(1<<20), len(stalled[0].slices))
	if n := strings.Count(logs.String(), warning); n != len(stalled) {
		t.Errorf("%d warnings of %d abandoned transfers, want one each; log:\n%s", n, len(stalled), logs.String())
	}
	doc, err := os.ReadFile("docs/zone-transfer.md")
	if err != nil {
		t.Fatal(err)
	}
	if shown := strings.Replace(warning, stall.String(), xfrStall.String(), 1); !strings.Contains(string(doc), shown) {
		t.Errorf("docs/zone-transfer.md does not show the warning as logged: %s", shown)
	}

	// The clients read on and get their transfers cut short: the transfer
	// plugin sends what it held and ends.
	for i, c := range stalled {
		var last dns.RR
		for {
			m, err := c.client.ReadMsg()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("client %d, after %d records: %v", i, c.got, err)
			}
			c.got += len(m.Answer)
			if len(m.Answer) > 0 {
				last = m.Answer[len(m.Answer)-1]
			}
		}
		if c.got >= c.records || last == nil || last.Header().Rrtype == dns.TypeSOA {
			t.Errorf("client %d read %d of the zone's %d records, the last %v: want a transfer cut short, without the final SOA", i, c.got, c.records, last)
		}
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
	for _, rrs := range ans.apex[zone].records(ans, g.opt, nil) {
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

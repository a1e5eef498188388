package test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
	"github.com/mysqlgw/mysqlgw/internal/testutil"
)

// twoBlocksCorefile serves one zone from two server blocks, each with
// transfer_health, its own TTL and its own gateway port to probe.
const twoBlocksCorefile = `gateway.mysql.local:%d {
    bind 127.0.0.1
    transfer {
        to *
    }
    mysqlgw {
        regions regions
        ttl 300
        port %d
        healthcheck 100ms
        rise 1
        fall 1
        transfer_health
    }
}
gateway.mysql.local:%d {
    bind 127.0.0.1
    transfer {
        to *
    }
    mysqlgw {
        regions regions
        ttl 60
        port %d
        healthcheck 100ms
        rise 1
        fall 1
        transfer_health
    }
}
`

// blockView is what one server block serves of the zone: the SOA its
// queries answer and the active answer, and the SOA and active records
// its AXFR carries.
type blockView struct {
	soa, xfrSOA       *dns.SOA
	active, xfrActive string
}

func viewOf(t *testing.T, addr string) blockView {
	t.Helper()
	var v blockView
	m := new(dns.Msg)
	m.SetQuestion(xfrZone, dns.TypeSOA)
	r, err := dns.Exchange(m, addr)
	if err != nil || len(r.Answer) != 1 {
		t.Fatalf("SOA at %s: %v %v", addr, r, err)
	}
	v.soa = r.Answer[0].(*dns.SOA)
	v.active = activeAddrs(addr, "active.lab."+xfrZone)
	rrs, _ := transferWith(t, addr, xfrZone, 0, "")
	v.xfrSOA = rrs[0].(*dns.SOA)
	var active []string
	for _, rr := range rrs {
		if a, ok := rr.(*dns.A); ok && a.Hdr.Name == "active.lab."+xfrZone {
			active = append(active, a.A.String())
		}
	}
	v.xfrActive = strings.Join(active, " ")
	return v
}

// TestTwoBlocksOneZone: two server blocks serving one zone with
// transfer_health keep their versions apart (they are keyed by the block,
// not by the zone's name): each block's AXFR and IXFR carry its own SOA,
// TTL and serial included, and its own active answers, before and after a
// failover that only one of them sees.
func TestTwoBlocksOneZone(t *testing.T) {
	t.Parallel()
	const primary, secondary = "127.0.0.91", "127.0.0.92"
	portA, portB := freePort(t), freePort(t)
	gwA := testutil.GatewayPort(t, primary, secondary)
	gwB := testutil.GatewayPort(t, primary, secondary)
	primaryA := standIn(t, primary, gwA)
	standIn(t, secondary, gwA)
	standIn(t, primary, gwB)
	standIn(t, secondary, gwB)
	s := startServerOn(t, portA, map[string]string{
		"Corefile": fmt.Sprintf(twoBlocksCorefile, portA, gwA, portB, gwB),
		"regions":  fmt.Sprintf("$SERIAL 100\nlab %s %s\n", primary, secondary),
	})
	a, b := s.addr, fmt.Sprintf("127.0.0.1:%d", portB)
	testutil.Until(t, 10*time.Second, "both blocks ready", func() bool {
		return activeAddrs(a, "active.lab."+xfrZone) == primary && activeAddrs(b, "active.lab."+xfrZone) == primary
	})

	check := func(when, addr string, ttl uint32, active string) blockView {
		t.Helper()
		v := viewOf(t, addr)
		if v.soa.Hdr.Ttl != ttl || v.xfrSOA.Hdr.Ttl != ttl || v.xfrSOA.Serial != v.soa.Serial {
			t.Errorf("%s, block at %s: queries get SOA %v, its AXFR opens with %v; want its own, TTL %d", when, addr, v.soa, v.xfrSOA, ttl)
		}
		if v.active != active || v.xfrActive != active {
			t.Errorf("%s, block at %s: active.lab answers %q, its AXFR carries %q; want %s", when, addr, v.active, v.xfrActive, active)
		}
		return v
	}
	beforeA := check("before", a, 300, primary)
	beforeB := check("before", b, 60, primary)

	// A's primary goes down; B probes another port, where it is still up.
	primaryA.Close()
	testutil.Until(t, 10*time.Second, "block A fails over, at a serial of its own", func() bool {
		serial, err := soaSerial(a, xfrZone)
		return err == nil && serial != beforeA.soa.Serial && activeAddrs(a, "active.lab."+xfrZone) == secondary
	})
	afterA := check("after A's failover", a, 300, secondary)
	afterB := check("after A's failover", b, 60, primary)
	if !gwtable.SerialAfter(afterA.soa.Serial, beforeA.soa.Serial) {
		t.Errorf("block A's serial %d after its failover, %d before", afterA.soa.Serial, beforeA.soa.Serial)
	}
	if afterB.soa.Serial != beforeB.soa.Serial {
		t.Errorf("block B's serial moved from %d to %d with A's failover", beforeB.soa.Serial, afterB.soa.Serial)
	}
	// A's IXFR from its serial before: its own SOAs, and the step to the
	// secondary.
	rrs, _ := transferWith(t, a, xfrZone, beforeA.soa.Serial, "")
	steps, err := ixfrSteps(rrs, afterA.soa.Serial)
	if err != nil || len(steps) != 1 {
		t.Fatalf("block A's IXFR from %d: %v %v\n%s", beforeA.soa.Serial, steps, err, strings.Join(rrLinesInOrder(rrs), "\n"))
	}
	for _, rr := range rrs {
		if soa, ok := rr.(*dns.SOA); ok && soa.Hdr.Ttl != 300 {
			t.Errorf("block A's IXFR holds another block's SOA: %v", soa)
		}
	}
	if added := strings.Join(steps[0].added, "\n"); !strings.Contains(added, "A "+secondary) {
		t.Errorf("block A's IXFR step adds\n%s\nwant the secondary's A", added)
	}
	// B did not change: asked from its own serial, it gives its SOA alone.
	if rrs, _ := transferWith(t, b, xfrZone, beforeB.soa.Serial, ""); len(rrs) != 1 {
		t.Errorf("block B's IXFR from its current serial: %d records, want its SOA alone", len(rrs))
	}
}

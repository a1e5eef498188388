package testutil

import (
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestPoll(t *testing.T) {
	tries := 0
	if err := Poll(10*time.Second, nil, func() error {
		if tries++; tries < 3 {
			return errors.New("not yet")
		}
		return nil
	}); err != nil || tries != 3 {
		t.Errorf("Poll: %v after %d tries, want nil after 3", err, tries)
	}

	err := Poll(100*time.Millisecond, nil, func() error { return errors.New("never") })
	if err == nil || err.Error() != "not within 100ms: never" {
		t.Errorf("Poll that never succeeds: %v", err)
	}

	exited := make(chan struct{})
	close(exited)
	if err := Poll(10*time.Second, exited, func() error { return errors.New("down") }); !errors.Is(err, ErrExited) {
		t.Errorf("Poll on an exited process: %v, want ErrExited", err)
	}
}

// WaitDNS returns the first reply, whatever its rcode, once a server
// listens, and an error from a port where none does.
func TestWaitDNS(t *testing.T) {
	port := FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	if _, err := WaitDNS(addr, "example.org", dns.TypeA, 200*time.Millisecond, nil); err == nil {
		t.Fatal("WaitDNS succeeded with no server")
	}

	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		w.WriteMsg(m.SetRcode(r, dns.RcodeRefused))
	})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	r, err := WaitDNS(addr, "example.org", dns.TypeA, 10*time.Second, nil)
	if err != nil || r.Rcode != dns.RcodeRefused || r.Question[0].Name != "example.org." {
		t.Fatalf("WaitDNS: %v, %v", r, err)
	}
}

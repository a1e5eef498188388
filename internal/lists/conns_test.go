package lists

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// dialFrom connects to addr from the loopback address from (any of
// 127.0.0.0/8 is this host's).
func dialFrom(t *testing.T, from, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", addr, from, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// keepAlive sends one GET on c and reads the answer, leaving the connection
// open and idle, as a keep-alive client between requests does; false when
// the listener closed the connection instead.
func keepAlive(c net.Conn) bool {
	fmt.Fprintf(c, "GET /allow/lab HTTP/1.1\r\nHost: mysqlgw\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// getFrom GETs /allow/lab from the loopback address from, within 2 s.
func getFrom(t *testing.T, from, addr string) {
	t.Helper()
	began := time.Now()
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}).DialContext,
	}}
	resp, err := client.Get("http://" + addr + "/allow/lab")
	if err != nil {
		t.Fatalf("a client from %s: %v", from, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("a client from %s: %s", from, resp.Status)
	}
	t.Logf("a client from %s got its list in %s", from, time.Since(began).Round(time.Millisecond))
}

// TestIdleConnectionsCannotLockOut: 5,000 connections that never send and
// 256 idle keep-alive connections from one address leave the listener
// serving a client from another; and connections from 300 addresses, one
// each, idle, do not keep a newcomer out: the one idle longest makes room.
func TestIdleConnectionsCannotLockOut(t *testing.T) {
	s := newServer(t, Config{Rate: 0}, version(t, testTable, nil), time.Now())
	// Asked all at once: a refused connection answers nothing until it
	// is closed, holdRefused later.
	conns := make([]net.Conn, 256)
	for i := range conns {
		conns[i] = dialFrom(t, "127.0.0.1", s.addr)
	}
	var kept atomic.Int32
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() {
			if keepAlive(c) {
				kept.Add(1)
			}
		})
	}
	wg.Wait()
	for range 5000 {
		dialFrom(t, "127.0.0.1", s.addr) // and never send
	}
	if kept.Load() != maxConnsPerAddr {
		t.Errorf("one address kept %d of 256 keep-alive connections, want %d", kept.Load(), maxConnsPerAddr)
	}
	getFrom(t, "127.0.0.2", s.addr)

	many := newServer(t, Config{Rate: 0}, version(t, testTable, nil), time.Now())
	var first net.Conn
	for i := range 300 {
		c := dialFrom(t, fmt.Sprintf("127.0.%d.%d", 1+i/250, 1+i%250), many.addr)
		if !keepAlive(c) {
			t.Fatalf("connection %d, from an address of its own, was not served", i+1)
		}
		if i == 0 {
			first = c
		}
	}
	getFrom(t, "127.0.9.1", many.addr)
	// The first to go idle was closed to make room: it reads the end.
	first.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := first.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("the connection idle longest: read %v, want it closed", err)
	}
}

// TestPerAddressLimit: one address holds at most maxConnsPerAddr
// connections; the next is held unserved, then closed, and another address
// is served meanwhile.
func TestPerAddressLimit(t *testing.T) {
	s := newServer(t, Config{Rate: 0}, version(t, testTable, nil), time.Now())
	for i := range maxConnsPerAddr {
		if !keepAlive(dialFrom(t, "127.0.0.3", s.addr)) {
			t.Fatalf("connection %d from one address was not served", i+1)
		}
	}
	extra := dialFrom(t, "127.0.0.3", s.addr)
	getFrom(t, "127.0.0.4", s.addr)
	if _, err := fmt.Fprint(extra, "GET /all HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	extra.SetReadDeadline(time.Now().Add(holdRefused + 5*time.Second))
	// Closed with the request unread: a reset, or the end.
	if n, err := extra.Read(make([]byte, 1)); n != 0 || err != io.EOF && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("connection %d from one address: read %d bytes, %v; want it closed unserved", maxConnsPerAddr+1, n, err)
	}
}

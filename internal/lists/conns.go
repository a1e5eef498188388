package lists

import (
	"crypto/tls"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// Connection limits. net/http bounds how long a connection may take to send
// its headers, not how many connections wait: a listener capped by count
// alone is locked by clients that hold connections open without asking
// (keep-alive connections left idle, connections that never send), for as
// long as they care to renew them.
const (
	maxConns        = 256 // connections the listener holds at once
	maxConnsPerAddr = 32  // of them from one client address
	maxHeld         = 256 // refused connections held before they are closed
)

// holdRefused is how long a refused connection is held, unserved, before
// it is closed. A client that reconnects as soon as it is closed (wrk, a
// retry loop) then comes back once a second a connection, not as fast as
// the listener accepts: closed at once, 200 connections from one address
// became some 60,000 connects a second and took two thirds of DNS's
// queries (bench/http.sh).
const holdRefused = time.Second

// limiter admits a connection while the listener holds fewer than maxConns
// and its client address fewer than maxConnsPerAddr. At the cap it makes
// room by closing the connection idle longest (a keep-alive connection
// between requests, or one that has sent nothing yet), so a newcomer is
// served unless every connection is busy with a request; from an address at
// its limit, a newcomer is refused: held holdRefused unserved, then closed
// (at once when maxHeld are held already). Accepting never blocks, so
// clients never queue unseen in the kernel's backlog.
type limiter struct {
	net.Listener
	mu      sync.Mutex
	conns   map[*conn]struct{}
	perAddr map[netip.Addr]int
	held    int // refused connections not closed yet
}

func newLimiter(ln net.Listener) *limiter {
	return &limiter{Listener: ln, conns: make(map[*conn]struct{}), perAddr: make(map[netip.Addr]int)}
}

// conn is one admitted connection and what its state lets the limiter do
// with it.
type conn struct {
	net.Conn
	l     *limiter
	addr  netip.Addr
	once  sync.Once
	idle  bool      // between requests, or before the first: may be closed to make room
	since time.Time // when it became idle
}

func (c *conn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		if c.l.perAddr[c.addr]--; c.l.perAddr[c.addr] == 0 {
			delete(c.l.perAddr, c.addr)
		}
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}

// Accept returns the next connection the limits admit.
func (l *limiter) Accept() (net.Conn, error) {
	for {
		raw, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if c := l.admit(raw, time.Now()); c != nil {
			return c, nil
		}
		l.refuse(raw)
	}
}

// refuse closes raw, after holdRefused unless maxHeld are held already.
func (l *limiter) refuse(raw net.Conn) {
	l.mu.Lock()
	hold := l.held < maxHeld
	if hold {
		l.held++
	}
	l.mu.Unlock()
	if !hold {
		raw.Close()
		return
	}
	time.AfterFunc(holdRefused, func() {
		raw.Close()
		l.mu.Lock()
		l.held--
		l.mu.Unlock()
	})
}

// admit tracks raw if the limits let it in, closing an idle connection to
// make room at the cap; nil when they do not.
func (l *limiter) admit(raw net.Conn, now time.Time) *conn {
	addr := netip.Addr{}
	if ap, err := netip.ParseAddrPort(raw.RemoteAddr().String()); err == nil {
		addr = ap.Addr().Unmap()
	}
	l.mu.Lock()
	if l.perAddr[addr] >= maxConnsPerAddr {
		l.mu.Unlock()
		return nil
	}
	var victim *conn
	if len(l.conns) >= maxConns {
		for c := range l.conns {
			if c.idle && (victim == nil || c.since.Before(victim.since)) {
				victim = c
			}
		}
		if victim == nil {
			l.mu.Unlock()
			return nil // every connection is busy with a request
		}
	}
	c := &conn{Conn: raw, l: l, addr: addr, idle: true, since: now}
	l.conns[c] = struct{}{}
	l.perAddr[addr]++
	l.mu.Unlock()
	if victim != nil {
		victim.Close()
	}
	return c
}

// track is the server's ConnState hook: it marks a connection busy while
// it reads or answers a request, and idle otherwise.
func (l *limiter) track(nc net.Conn, state http.ConnState) {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	c, ok := nc.(*conn)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch state {
	case http.StateActive:
		c.idle = false
	case http.StateIdle:
		c.idle, c.since = true, time.Now()
	}
}

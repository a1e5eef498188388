package mysqlgw

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mysqlgw/mysqlgw/internal/fakegw"
	"github.com/mysqlgw/mysqlgw/internal/testutil"
)

func testProber(port int, mode probeMode) prober {
	return prober{mode: mode, user: defaultProbeUser, port: uint16(port), timeout: 2 * time.Second}
}

// TestProbeLoginNeverCountsAHandshakeError: against a stand-in that blocks
// an address after 5 interrupted handshakes, as MySQL does, the login probe
// stays welcome however often it comes, while greeting and connect probes get
// the prober blocked after 5: the stand-in can see a block.
func TestProbeLoginNeverCountsAHandshakeError(t *testing.T) {
	addr := netip.MustParseAddr(gwPrimary)
	for _, tc := range []struct {
		mode    probeMode
		user    string
		blocked bool
	}{
		{probeLogin, defaultProbeUser, false},
		{probeLogin, "nobody", false}, // access denied is an answer too
		{probeGreeting, defaultProbeUser, true},
		{probeConnect, defaultProbeUser, true},
	} {
		port := testutil.GatewayPort(t, gwPrimary, gwSecondary, gwTertiary)
		gw := listenGatewayWith(t, gwPrimary, port, fakegw.Options{MaxConnectErrors: 5})
		p := testProber(port, tc.mode)
		p.user = tc.user
		var err error
		for i := 0; i < 20 && err == nil; i++ {
			err = p.check(context.Background(), addr)
			// The stand-in counts after the prober has gone: wait until
			// it has served this probe before the next.
			waitUntil(t, func() bool { return gw.Served() == i+1 })
		}
		errs := gw.HandshakeErrors("127.0.0.1")
		if !tc.blocked {
			if err != nil || errs != 0 {
				t.Errorf("mode %d user %s: probe error %v, %d handshake errors; want up and none", tc.mode, tc.user, err, errs)
			}
			continue
		}
		if errs < 5 {
			t.Errorf("mode %d: %d handshake errors after 20 probes, want the 5 that block", tc.mode, errs)
		}
		// The greeting probe sees the block; the connect probe cannot, and
		// keeps saying up while the server refuses the prober's address.
		var pe *probeError
		if tc.mode == probeGreeting && (!errors.As(err, &pe) || pe.result != resultErrorGreeting || pe.code != 1129 || !strings.Contains(pe.Error(), "is blocked")) {
			t.Errorf("greeting probe, blocked: %v, want error greeting 1129", err)
		}
		if tc.mode == probeConnect && err != nil {
			t.Errorf("connect probe: %v, want up (it never reads the error greeting)", err)
		}
	}
}

// TestProbeResults checks each way a probe can fail is told apart.
func TestProbeResults(t *testing.T) {
	addr := netip.MustParseAddr(gwPrimary)
	greet := greetingFor(t)
	for _, tc := range []struct {
		name   string
		server func(net.Conn) // nil: nothing listens
		mode   probeMode
		result string
		code   string
	}{
		{name: "refused", mode: probeLogin, result: resultRefused},
		{name: "silent", server: func(c net.Conn) { c.Read(make([]byte, 1)) }, mode: probeLogin, result: resultTimeout},
		{name: "closes", server: func(net.Conn) {}, mode: probeLogin, result: resultClosed},
		{name: "closes after the login", server: func(c net.Conn) { c.Write(greet); readPacket(c) }, mode: probeLogin, result: resultClosed},
		{name: "http", server: func(c net.Conn) { c.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n")) }, mode: probeLogin, result: resultProtocol},
		{name: "protocol 9", server: func(c net.Conn) { c.Write(packet(0, []byte{9, '5', 0})) }, mode: probeGreeting, result: resultProtocol},
		{name: "short greeting", server: func(c net.Conn) { c.Write(packet(0, []byte{10, '8', 0, 1, 2})) }, mode: probeLogin, result: resultProtocol},
		{name: "too many connections", server: func(c net.Conn) {
			c.Write(packet(0, append([]byte{0xff, 0x10, 0x04}, "Too many connections"...)))
		}, mode: probeLogin, result: resultErrorGreeting, code: "1040"},
		{name: "error greeting, greeting probe", server: func(c net.Conn) {
			c.Write(packet(0, append([]byte{0xff, 0x69, 0x04}, "Host '127.0.0.5' is blocked"...)))
		}, mode: probeGreeting, result: resultErrorGreeting, code: "1129"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			port := testutil.GatewayPort(t, gwPrimary, gwSecondary, gwTertiary)
			if tc.server != nil {
				scriptedServer(t, net.JoinHostPort(gwPrimary, fmt.Sprint(port)), tc.server)
			}
			p := testProber(port, tc.mode)
			p.timeout = 300 * time.Millisecond
			err := p.check(context.Background(), addr)
			var pe *probeError
			if !errors.As(err, &pe) || pe.result != tc.result || pe.codeLabel() != tc.code {
				t.Fatalf("probe error %v (%#v), want result %s code %q", err, err, tc.result, tc.code)
			}
		})
	}
}

// TestProbeLoginConversation checks the login probe's packets as a server
// sees them: the login, an answer to an authentication switch, and COM_QUIT.
func TestProbeLoginConversation(t *testing.T) {
	greet := greetingFor(t)
	port := testutil.GatewayPort(t, gwPrimary, gwSecondary, gwTertiary)
	got := make(chan string, 1)
	scriptedServer(t, net.JoinHostPort(gwPrimary, fmt.Sprint(port)), func(c net.Conn) {
		c.Write(greet)
		var log []string
		seq, login, err := readPacket(c)
		if err != nil {
			got <- err.Error()
			return
		}
		user, _, _ := bytes.Cut(login[32:], []byte{0})
		log = append(log, fmt.Sprintf("login seq %d user %s plugin %q", seq, user, bytes.TrimRight(login[32+len(user)+2:], "\x00")))
		c.Write(packet(2, append([]byte{0xfe}, "caching_sha2_password\x00scramble-scramble-1\x00"...)))
		seq, authData := readRaw(c) // empty, which the probe's own reader refuses
		log = append(log, fmt.Sprintf("auth switch answer seq %d, %d bytes", seq, len(authData)))
		c.Write(packet(seq+1, []byte{0, 0, 0, 2, 0, 0, 0}))
		seq, quit := readRaw(c)
		log = append(log, fmt.Sprintf("command seq %d %x", seq, quit))
		got <- strings.Join(log, "; ")
	})
	if err := testProber(port, probeLogin).check(context.Background(), netip.MustParseAddr(gwPrimary)); err != nil {
		t.Fatal(err)
	}
	want := `login seq 1 user mysqlgw plugin "mysql_native_password"; auth switch answer seq 3, 0 bytes; command seq 0 01`
	if s := <-got; s != want {
		t.Errorf("the server saw\n%s\nwant\n%s", s, want)
	}
}

// TestProbeStopsWhenCancelled: stopping the checker must not wait for a
// probe's timeout.
func TestProbeStopsWhenCancelled(t *testing.T) {
	port := testutil.GatewayPort(t, gwPrimary, gwSecondary, gwTertiary)
	gw := listenGateway(t, gwPrimary, port, true)
	p := testProber(port, probeLogin)
	p.timeout = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.check(ctx, netip.MustParseAddr(gwPrimary)) }()
	waitUntil(t, func() bool { return gw.Active() == 1 }) // connected: the probe waits for a greeting
	cancel()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("a cancelled probe is still waiting for its hour-long timeout")
	}
}

// readRaw reads one packet as a server does, empty ones included.
func readRaw(c net.Conn) (seq byte, payload []byte) {
	var head [4]byte
	if _, err := io.ReadFull(c, head[:]); err != nil {
		return 0xff, nil
	}
	payload = make([]byte, int(head[0])|int(head[1])<<8|int(head[2])<<16)
	io.ReadFull(c, payload)
	return head[3], payload
}

// greetingFor is a real protocol-10 greeting, as the stand-in sends it.
func greetingFor(t testing.TB) []byte {
	t.Helper()
	port := testutil.GatewayPort(t, gwPrimary, gwSecondary, gwTertiary)
	listenGateway(t, gwPrimary, port, false)
	conn, err := net.Dial("tcp", net.JoinHostPort(gwPrimary, fmt.Sprint(port)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	seq, payload, err := readPacket(conn)
	if err != nil {
		t.Fatal(err)
	}
	return packet(seq, payload)
}

// scriptedServer serves each connection on addr with serve, then closes it.
func scriptedServer(t *testing.T, addr string, serve func(net.Conn)) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				serve(c)
			}()
		}
	}()
}

// waitUntil polls cond with a generous bound.
func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	testutil.Until(t, 10*time.Second, "condition met", cond)
}

// FuzzProbeLogin plays any bytes as the server's side of a login. The probe
// must not panic or hang, and every failure must be a classified probeError.
func FuzzProbeLogin(f *testing.F) {
	greet := greetingFor(f)
	f.Add(greet)
	f.Add(append(append([]byte{}, greet...), packet(2, []byte{0, 0, 0, 2, 0, 0, 0})...))
	f.Add(append(append([]byte{}, greet...), packet(2, append([]byte{0xff, 0x15, 0x04, '#', '2', '8', '0', '0', '0'}, "Access denied"...))...))
	f.Add(append(append([]byte{}, greet...), packet(2, append([]byte{0xfe}, "caching_sha2_password\x00x\x00"...))...))
	f.Add(append(append([]byte{}, greet...), packet(2, []byte{1, 4})...))
	f.Add(packet(0, append([]byte{0xff, 0x69, 0x04}, "Host 'x' is blocked"...)))
	f.Add([]byte{0xff, 0xff, 0xff, 0})
	f.Fuzz(func(t *testing.T, script []byte) {
		for _, mode := range []probeMode{probeLogin, probeGreeting} {
			client, server := net.Pipe()
			go io.Copy(io.Discard, server)
			go func() { server.Write(script); server.Close() }()
			client.SetDeadline(time.Now().Add(5 * time.Second))
			p := prober{mode: mode, user: defaultProbeUser}
			var err error
			if mode == probeLogin {
				err = p.login(client)
			} else {
				_, err = readGreeting(client)
			}
			client.Close()
			var pe *probeError
			if err != nil && !errors.As(err, &pe) {
				t.Fatalf("unclassified probe error %T %v", err, err)
			}
			if pe != nil && pe.result == resultTimeout {
				t.Fatalf("probe hung on %q", script)
			}
		}
	})
}

// TestProbeFinishesLoginWhenStopped: a probe in the middle of a login when
// the checker stops still finishes it (a login cut short is a handshake
// error on the server), within the grace.
func TestProbeFinishesLoginWhenStopped(t *testing.T) {
	greet := greetingFor(t)
	port := testutil.GatewayPort(t, gwPrimary, gwSecondary, gwTertiary)
	gotLogin, gotQuit := make(chan struct{}), make(chan bool, 1)
	scriptedServer(t, net.JoinHostPort(gwPrimary, fmt.Sprint(port)), func(c net.Conn) {
		c.Write(greet)
		if _, _, err := readPacket(c); err != nil {
			gotQuit <- false
			return
		}
		close(gotLogin)
		time.Sleep(50 * time.Millisecond) // the checker stops meanwhile
		c.Write(packet(2, []byte{0, 0, 0, 2, 0, 0, 0}))
		_, quit := readRaw(c)
		gotQuit <- len(quit) == 1 && quit[0] == comQuit
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- testProber(port, probeLogin).check(ctx, netip.MustParseAddr(gwPrimary)) }()
	<-gotLogin
	cancel()
	if err := <-done; err != nil {
		t.Errorf("a login stopped midway: %v, want it finished", err)
	}
	if !<-gotQuit {
		t.Error("the server saw no COM_QUIT: the session was cut short")
	}
}

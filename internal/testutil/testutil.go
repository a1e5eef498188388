// Package testutil holds what mysqlgw's end-to-end tests and the robust/
// tools share: outside tools, free loopback ports, waiting for a state (a
// server that answers), and child processes that stop with the test.
package testutil

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// RequireTool returns the path of an outside tool. Without it the test skips
// on a laptop but fails in CI, where .ci/run installs it: a skip proves nothing.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not installed; .ci/run installs it", name)
	}
	t.Skipf("%s is not installed", name)
	return ""
}

// FreePort finds a loopback port that is free for both UDP and TCP.
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := LoopbackPort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// GatewayPort finds a TCP port free on every given loopback address, for
// stand-in gateways that must all listen on the one port a table's probes use.
func GatewayPort(t testing.TB, addrs ...string) int {
	t.Helper()
	for range 100 {
		l, err := net.Listen("tcp", addrs[0]+":0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		free := true
		for _, a := range addrs[1:] {
			l, err := net.Listen("tcp", fmt.Sprintf("%s:%d", a, port))
			if err != nil {
				free = false
				break
			}
			l.Close()
		}
		if free {
			return port
		}
	}
	t.Fatalf("no port free on every one of %v", addrs)
	return 0
}

// LoopbackPort is FreePort for code that has no test: a port of 127.0.0.1
// free for both UDP and TCP, or an error.
func LoopbackPort() (int, error) {
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err == nil {
			u.Close()
			return port, nil
		}
	}
	return 0, errors.New("no free port on 127.0.0.1")
}

// ErrExited is what Poll returns when the process it watches has exited.
var ErrExited = errors.New("the process exited")

// Until fails the test unless cond becomes true within the bound, polled
// every 50 ms (see Poll); what says what the test waited for.
func Until(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	if err := Poll(within, nil, func() error {
		if cond() {
			return nil
		}
		return fmt.Errorf("no %s within %s", what, within)
	}); err != nil {
		t.Fatal(err)
	}
}

// Poll calls try every 50 ms until it returns nil. It gives up with try's
// last error once within has passed, or with ErrExited as soon as exited
// (which may be nil) is closed.
func Poll(within time.Duration, exited <-chan struct{}, try func() error) error {
	deadline := time.Now().Add(within)
	for {
		select {
		case <-exited:
			return ErrExited
		default:
		}
		err := try()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %s: %w", within, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// WaitDNS waits until the server at addr (UDP) replies to a query for name
// and qtype, whatever the rcode, and returns the reply.
func WaitDNS(addr, name string, qtype uint16, within time.Duration, exited <-chan struct{}) (*dns.Msg, error) {
	client := &dns.Client{Timeout: 500 * time.Millisecond}
	var reply *dns.Msg
	err := Poll(within, exited, func() error {
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(name), qtype)
		r, _, err := client.Exchange(m, addr)
		reply = r
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s did not answer %s %s: %w", addr, name, dns.TypeToString[qtype], err)
	}
	return reply, nil
}

// SyncBuffer collects a child's output while the test reads it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Process is a child started by Start.
type Process struct {
	Cmd    *exec.Cmd
	Out    *SyncBuffer
	Exited <-chan struct{} // closed once the child has exited
}

// Start runs cmd with its output collected. At the end of the test the child
// gets SIGTERM, then SIGKILL if it has not exited within grace, and its
// output is logged if the test failed.
func Start(t testing.TB, cmd *exec.Cmd, grace time.Duration) *Process {
	t.Helper()
	out := &SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(grace):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(cmd.Path), out.String())
		}
	})
	return &Process{Cmd: cmd, Out: out, Exited: exited}
}

// Package test holds mysqlgw's end-to-end tests: the real binary, or a real
// CoreDNS server in-process, on a loopback port, queried by real clients.
package test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"

	"github.com/miekg/dns"

	_ "github.com/mysqlgw/mysqlgw/internal/chain"
	"github.com/mysqlgw/mysqlgw/internal/fakegw"
	"github.com/mysqlgw/mysqlgw/internal/testutil"
)

// binary is cmd/coredns, built once by TestMain (with -race when the tests
// themselves run under the race detector).
var binary string

func TestMain(m *testing.M) {
	// A test that re-runs itself in a network namespace hands its child the
	// binary already built.
	if built := os.Getenv("MYSQLGW_COREDNS"); built != "" {
		binary = built
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "mysqlgw-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "coredns")
	args := []string{"build", "-o", binary}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, "../cmd/coredns")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building cmd/coredns:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// requireTool and freePort: see internal/testutil.
var (
	requireTool = testutil.RequireTool
	freePort    = testutil.FreePort
)

// server is the real binary running a Corefile in its own folder.
type server struct {
	t    testing.TB
	dir  string
	port int
	addr string
	proc *testutil.Process
	out  *testutil.SyncBuffer
}

// startServer writes files (the Corefile among them, with {PORT} replaced by
// a free port) into a fresh folder and starts the binary there. It returns
// once the server answers.
func startServer(t testing.TB, files map[string]string) *server {
	t.Helper()
	return startServerOn(t, freePort(t), files)
}

// startServerOn is startServer on a given port of 127.0.0.1.
func startServerOn(t testing.TB, port int, files map[string]string) *server {
	t.Helper()
	s := &server{t: t, dir: t.TempDir(), port: port}
	s.addr = fmt.Sprintf("127.0.0.1:%d", s.port)
	for name, content := range files {
		s.writeFile(name, content)
	}
	cmd := exec.Command(binary, "-conf", "Corefile")
	cmd.Dir = s.dir
	s.proc = testutil.Start(t, cmd, 10*time.Second)
	s.out = s.proc.Out
	if _, err := testutil.WaitDNS(s.addr, "start.up.check.", dns.TypeA, 30*time.Second, s.proc.Exited); err != nil {
		t.Fatalf("server at start-up: %v\n%s", err, s.out.String())
	}
	return s
}

// writeFile writes a file into the server's folder, replacing {PORT}.
func (s *server) writeFile(name, content string) {
	s.t.Helper()
	content = strings.ReplaceAll(content, "{PORT}", fmt.Sprint(s.port))
	if err := os.MkdirAll(filepath.Dir(filepath.Join(s.dir, name)), 0o755); err != nil {
		s.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.dir, name), []byte(content), 0o644); err != nil {
		s.t.Fatal(err)
	}
}

// waitLog waits until the server's output contains substr.
func (s *server) waitLog(substr string, within time.Duration) {
	s.t.Helper()
	err := testutil.Poll(within, nil, func() error {
		if !strings.Contains(s.out.String(), substr) {
			return fmt.Errorf("server output has no %q", substr)
		}
		return nil
	})
	if err != nil {
		s.t.Fatalf("%v:\n%s", err, s.out.String())
	}
}

// exchange sends one query over net ("udp" or "tcp").
func (s *server) exchange(m *dns.Msg, net string) *dns.Msg {
	s.t.Helper()
	c := &dns.Client{Net: net, Timeout: 5 * time.Second}
	r, _, err := c.Exchange(m, s.addr)
	if err != nil {
		s.t.Fatalf("%s %s over %s: %v", m.Question[0].Name, dns.TypeToString[m.Question[0].Qtype], net, err)
	}
	return r
}

// dig runs Debian's dig against the server and returns its output.
func (s *server) dig(args ...string) string {
	s.t.Helper()
	dig := requireTool(s.t, "dig")
	all := append([]string{"@127.0.0.1", "-p", fmt.Sprint(s.port), "+time=5", "+tries=1"}, args...)
	out, err := exec.Command(dig, all...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("dig %s: %v\n%s", strings.Join(all, " "), err, out)
	}
	return string(out)
}

var startMu sync.Mutex

// startInProcess runs corefile in this process, so that the race detector
// sees the server, the plugin and the test together. It returns the UDP and
// TCP addresses of the first server.
func startInProcess(t testing.TB, corefile string) (udp, tcp string) {
	t.Helper()
	startMu.Lock()
	caddy.Quiet, dnsserver.Quiet = true, true
	instance, err := caddy.Start(caddy.CaddyfileInput{Filepath: "Corefile", Contents: []byte(corefile), ServerTypeName: "dns"})
	startMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		instance.ShutdownCallbacks()
		instance.Stop()
		instance.Wait()
	})
	srv := instance.Servers()[0]
	udp, tcp = srv.LocalAddr().String(), srv.Addr().String()
	// Wait until both servers answer: miekg/dns's Shutdown of a server that
	// has not started serving leaves its socket open, and the cleanup's
	// Wait then never returns (it did under CI load).
	for _, a := range []struct{ net, addr string }{{"udp", udp}, {"tcp", tcp}} {
		c := &dns.Client{Net: a.net, Timeout: 500 * time.Millisecond}
		m := new(dns.Msg)
		m.SetQuestion("start.up.check.", dns.TypeA)
		if err := testutil.Poll(30*time.Second, nil, func() error { _, _, err := c.Exchange(m, a.addr); return err }); err != nil {
			t.Fatalf("the in-process server over %s: %v", a.net, err)
		}
	}
	return udp, tcp
}

// standIn starts a stand-in gateway (internal/fakegw, which speaks the
// server side of a MySQL login) on addr:port, closed when the test ends.
func standIn(t testing.TB, addr string, port int) *fakegw.Gateway {
	t.Helper()
	gw, err := fakegw.Listen(fmt.Sprintf("%s:%d", addr, port), fakegw.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Close() })
	return gw
}

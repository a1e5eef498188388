package test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mysqlgw/mysqlgw/internal/testutil"
)

// The health probes of these tests go to real MariaDB servers. MySQL and
// MariaDB exempt 127.0.0.1 from their host cache, where handshake errors are
// counted, so the test runs in a network namespace of its own whose routes
// make every connection to a server's address leave from proberAddr, as a
// prober on any other host would.
const (
	proberAddr = "127.0.0.5"
	appUser    = "app"
	appPass    = "app-secret"
)

// TestMariaDB runs mysqlgw's health checks against real mariadbd processes.
func TestMariaDB(t *testing.T) {
	if !inNamespace(t) {
		return
	}
	template := installMariaDB(t)
	srv := func(t *testing.T, addr string, id int, extra ...string) *mariadb {
		return startMariaDB(t, template, addr, id, extra...)
	}

	t.Run("login probe leaves no handshake error", func(t *testing.T) {
		db := srv(t, "127.0.0.21", 1, "--max-connect-errors=5")
		s := startGateway(t, "lab 127.0.0.21", "", "")
		s.waitMetric(s.probeResults("127.0.0.21", "up", ""), 50) // 5s of probes every 100ms
		t.Logf("probe mysql, max_connect_errors 5, 50 probes: %d handshake errors counted", db.hostCache("SUM_CONNECT_ERRORS"))
		if errs := db.handshakeErrors(); errs != 0 {
			t.Errorf("%d handshake errors for %s after 50 login probes, want 0", errs, proberAddr)
		}
		if id, err := db.clientQuery("127.0.0.21"); id != "1" {
			t.Errorf("a client from the prober's address: %q %v, want it to log in", id, err)
		}
	})

	t.Run("greeting and connect probes get the prober blocked", func(t *testing.T) {
		noResolve := srv(t, "127.0.0.29", 9, "--max-connect-errors=5", "--skip-name-resolve=ON")
		for _, tc := range []struct {
			probe, addr string
			id          int
		}{{"greeting", "127.0.0.22", 2}, {"connect", "127.0.0.30", 10}} {
			db := srv(t, tc.addr, tc.id, "--max-connect-errors=5")
			s := startGateway(t, "lab "+tc.addr+"\nnoresolve 127.0.0.29", "probe "+tc.probe, "")
			waitFor(t, "a block", db.blocked)
			waitFor(t, "50 probes of "+tc.addr, func() bool { return s.probes(tc.addr) >= 50 })
			s.waitMetric(s.probeResults("127.0.0.29", "up", ""), 50)
			t.Logf("probe %s, max_connect_errors 5, 50 probes: %d handshake errors counted, then %d probes blocked",
				tc.probe, db.hostCache("SUM_CONNECT_ERRORS"), db.hostCache("COUNT_HOST_BLOCKED_ERRORS"))
			if _, err := db.clientQuery(tc.addr); err == nil || !strings.Contains(err.Error(), "1129") {
				t.Errorf("probe %s: a client from the blocked prober's address: %v, want ERROR 1129", tc.probe, err)
			}
			// A server with skip_name_resolve keeps no host cache: the
			// same probes leave it open to the prober's address.
			if errs := noResolve.handshakeErrors(); errs != 0 || noResolve.blocked() {
				t.Errorf("probe %s, skip_name_resolve server: %d host cache errors, want none", tc.probe, errs)
			}
			if id, err := noResolve.clientQuery("127.0.0.29"); id != "9" {
				t.Errorf("probe %s, skip_name_resolve server: %q %v, want a login", tc.probe, id, err)
			}
			up := s.metric(`coredns_mysqlgw_gateway_up{address="` + tc.addr + `",region="lab",role="primary",server="` + s.serverLabel() + `"}`)
			if tc.probe == "connect" {
				// It cannot see the block: up while the server refuses.
				if up != 1 {
					t.Errorf("probe connect: gateway_up %v, want 1 (it never reads the greeting)", up)
				}
				s.stop()
				continue
			}
			// The greeting probe sees the error greetings: down, logged once.
			s.waitMetric(s.probeResults(tc.addr, "error_greeting", "1129"), 20)
			if up != 0 {
				t.Errorf("gateway_up %v for the server that blocks the prober, want 0", up)
			}
			var logged []string
			for _, line := range strings.Split(s.out.String(), "\n") {
				if strings.Contains(line, "error greeting 1129") {
					logged = append(logged, line)
				}
			}
			if len(logged) != 1 {
				t.Errorf("the block is logged %d times, want once:\n%s", len(logged), s.out.String())
			}
			t.Logf("logged: %s", strings.Join(logged, "\n"))
			s.stop() // port 53 is the next iteration's
		}
	})

	t.Run("error greeting is down until FLUSH HOSTS", func(t *testing.T) {
		primary := srv(t, "127.0.0.23", 3, "--max-connect-errors=5")
		srv(t, "127.0.0.24", 4)
		// Get the prober's address blocked at the primary, as a
		// greeting-only checker would.
		waitFor(t, "a block", func() bool {
			interruptHandshake(t, "127.0.0.23:3306")
			return primary.blocked()
		})
		if _, err := primary.clientQuery("127.0.0.23"); err == nil || !strings.Contains(err.Error(), "1129") {
			t.Fatalf("a client from the prober's address: %v, want ERROR 1129", err)
		}
		s := startGateway(t, "lab 127.0.0.23 127.0.0.24", "", "")
		s.waitActive("127.0.0.24")
		if id, err := clientByName(); id != "4" {
			t.Errorf("mariadb -h active.lab…: server %q %v, want 4", id, err)
		}
		if s.metric(s.probeResults("127.0.0.23", "error_greeting", "1129")) < 1 {
			t.Error("no error_greeting 1129 result for the blocked primary")
		}
		primary.sql("FLUSH HOSTS")
		s.waitActive("127.0.0.23")
		if id, err := clientByName(); id != "3" {
			t.Errorf("after FLUSH HOSTS: server %q %v, want 3", id, err)
		}
	})

	t.Run("failover and failback", func(t *testing.T) {
		primary := srv(t, "127.0.0.25", 5)
		srv(t, "127.0.0.26", 6)
		s := startGateway(t, "lab 127.0.0.25 127.0.0.26", "", "")
		s.waitActive("127.0.0.25")
		if id, err := clientByName(); id != "5" {
			t.Fatalf("mariadb -h active.lab…: server %q %v, want 5", id, err)
		}
		primary.stop()
		stopped := time.Now()
		s.waitActive("127.0.0.26")
		t.Logf("active moved to the secondary %v after the primary stopped (fall 2, every 100ms)", time.Since(stopped).Round(time.Millisecond))
		if id, err := clientByName(); id != "6" {
			t.Errorf("after failover: server %q %v, want 6", id, err)
		}
		primary.start()
		s.waitActive("127.0.0.25")
		if id, err := clientByName(); id != "5" {
			t.Errorf("after failback: server %q %v, want 5", id, err)
		}
	})

	t.Run("secure transport and unknown user", func(t *testing.T) {
		tls := srv(t, "127.0.0.27", 7, "--require-secure-transport=ON")
		plain := srv(t, "127.0.0.28", 8)
		for _, probe := range []string{"", "probe mysql nobody"} {
			// A probe that times out mid-handshake is a handshake error
			// to MySQL whatever its cause: a timeout that a loaded CI
			// machine cannot miss, so that only the TLS refusal and the
			// unknown user are under test here.
			s := startGateway(t, "tls 127.0.0.27\nplain 127.0.0.28", probe, "healthcheck 250ms 250ms")
			for _, a := range []string{"127.0.0.27", "127.0.0.28"} {
				s.waitMetric(s.probeResults(a, "up", ""), 20)
				if v := s.metric(s.probeResults(a, "closed", "")) + s.metric(s.probeResults(a, "protocol", "")); v != 0 {
					t.Errorf("%q: %v failed probes of %s", probe, v, a)
				}
			}
			s.stop()
		}
		for _, db := range []*mariadb{tls, plain} {
			if errs := db.handshakeErrors(); errs != 0 {
				t.Errorf("%s: %d handshake errors, want 0", db.addr, errs)
			}
		}
		if id, err := plain.clientQuery("127.0.0.28"); id != "8" {
			t.Errorf("a client from the prober's address: %q %v, want it to log in", id, err)
		}
	})
}

// inNamespace reports whether the test runs in its own network and mount
// namespace, set up for MariaDB (see inOwnNamespace and setUpNamespace).
func inNamespace(t *testing.T) bool {
	t.Helper()
	if !inOwnNamespace(t, "ip", "mount", "mariadbd", "mariadb", "mariadb-install-db") {
		return false
	}
	setUpNamespace(t)
	return true
}

// setUpNamespace brings up loopback, routes every server address so that
// connections leave from proberAddr, and points the system resolver at the
// mysqlgw server on 127.0.0.1:53, so that the mariadb client resolves the
// active name through it. The prober's address gets a name in /etc/hosts: a
// server blocks only an address whose name it could resolve (a transient
// lookup failure leaves the host cache entry unvalidated, never blocked).
// Both files are bind mounts, private to this namespace.
func setUpNamespace(t *testing.T) {
	run(t, "ip", "link", "set", "lo", "up")
	for i := 21; i <= 30; i++ {
		run(t, "ip", "route", "add", "local", fmt.Sprintf("127.0.0.%d/32", i), "dev", "lo", "src", proberAddr, "table", "local")
	}
	conf := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(conf, []byte("nameserver 127.0.0.1\noptions timeout:2 attempts:2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, "mount", "--bind", conf, "/etc/resolv.conf")
	hosts := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(hosts, []byte("127.0.0.1 localhost\n"+proberAddr+" prober.mysqlgw.test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, "mount", "--bind", hosts, "/etc/hosts")
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// installMariaDB makes one data directory that every server copies.
func installMariaDB(t *testing.T) string {
	dir := filepath.Join(t.TempDir(), "data")
	run(t, "mariadb-install-db", "--no-defaults", "--datadir="+dir, "--user=root",
		"--auth-root-authentication-method=normal", "--skip-test-db",
		"--innodb-log-file-size=4M", "--innodb-buffer-pool-size=16M")
	return dir
}

// mariadb is one mariadbd on addr:3306, with its own data directory.
type mariadb struct {
	t    *testing.T
	addr string
	dir  string
	args []string
	proc *testutil.Process
}

func startMariaDB(t *testing.T, template, addr string, id int, extra ...string) *mariadb {
	t.Helper()
	dir := t.TempDir()
	run(t, "cp", "-a", template, filepath.Join(dir, "data"))
	db := &mariadb{t: t, addr: addr, dir: dir, args: append([]string{
		"--no-defaults", "--user=root", "--datadir=" + filepath.Join(dir, "data"),
		"--bind-address=" + addr, "--port=3306", "--socket=" + filepath.Join(dir, "sock"),
		"--pid-file=" + filepath.Join(dir, "pid"), "--skip-log-bin", "--performance-schema=ON",
		"--innodb-log-file-size=4M", "--innodb-buffer-pool-size=16M",
		"--server-id=" + strconv.Itoa(id), "--log-error=" + filepath.Join(dir, "error.log"),
	}, extra...)}
	db.start()
	// The probe's user, with no password and no privileges, as the README
	// recommends, and an application's user.
	db.sql("CREATE USER IF NOT EXISTS 'mysqlgw'@'%'; CREATE USER IF NOT EXISTS '" + appUser + "'@'%' IDENTIFIED BY '" + appPass + "'")
	return db
}

func (db *mariadb) start() {
	db.t.Helper()
	db.proc = testutil.Start(db.t, exec.Command("mariadbd", db.args...), 30*time.Second)
	waitFor(db.t, "mariadbd on "+db.addr, func() bool {
		select {
		case <-db.proc.Exited:
			log, _ := os.ReadFile(filepath.Join(db.dir, "error.log"))
			db.t.Fatalf("mariadbd on %s exited:\n%s", db.addr, log)
		default:
		}
		return exec.Command("mariadb", "-S", filepath.Join(db.dir, "sock"), "-u", "root", "-e", "SELECT 1").Run() == nil
	})
}

func (db *mariadb) stop() {
	db.proc.Cmd.Process.Signal(syscall.SIGTERM)
	<-db.proc.Exited
}

// sql runs statements as root through the server's socket.
func (db *mariadb) sql(query string) string {
	db.t.Helper()
	return strings.TrimSpace(run(db.t, "mariadb", "-S", filepath.Join(db.dir, "sock"), "-u", "root", "-N", "-B", "-e", query))
}

// hostCache reads one counter of the server's host cache for the prober's
// address (0 when the address has no entry): SUM_CONNECT_ERRORS is the count
// that blocks the address at max_connect_errors, COUNT_HANDSHAKE_ERRORS the
// interrupted handshakes, COUNT_HOST_BLOCKED_ERRORS the connections refused
// because the address was blocked.
func (db *mariadb) hostCache(column string) int {
	db.t.Helper()
	out := db.sql("SELECT IFNULL(SUM(" + column + "), 0) FROM performance_schema.host_cache WHERE IP = '" + proberAddr + "'")
	n, err := strconv.Atoi(out)
	if err != nil {
		db.t.Fatalf("host_cache: %q", out)
	}
	return n
}

// handshakeErrors is every error the host cache holds against the prober's
// address.
func (db *mariadb) handshakeErrors() int {
	return db.hostCache("SUM_CONNECT_ERRORS") + db.hostCache("COUNT_HANDSHAKE_ERRORS") + db.hostCache("COUNT_HOST_BLOCKED_ERRORS")
}

// blocked reports whether the server has refused the prober's address
// because of too many connection errors.
func (db *mariadb) blocked() bool { return db.hostCache("COUNT_HOST_BLOCKED_ERRORS") > 0 }

// clientQuery logs in as the application over TCP to host (from the
// prober's address, through the namespace's routes) and returns the server's
// id.
func (db *mariadb) clientQuery(host string) (string, error) {
	return mariadbClient(host)
}

// clientByName connects by the active name, resolved by the system resolver
// through mysqlgw, and returns the server's id.
func clientByName() (string, error) {
	return mariadbClient("active.lab.gateway.mysql.local")
}

func mariadbClient(host string) (string, error) {
	out, err := exec.Command("mariadb", "-h", host, "-P", "3306", "-u", appUser, "-p"+appPass,
		"--connect-timeout=5", "-N", "-B", "-e", "SELECT @@server_id").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%v: %s", err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// interruptHandshake reads a server's greeting and closes, as a
// greeting-only probe does.
func interruptHandshake(t *testing.T, addr string) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	conn.Read(make([]byte, 512))
	conn.Close()
}

// gateway is the mysqlgw server on 127.0.0.1:53, with its metrics.
type gateway struct {
	*server
	metricsPort int
}

// startGateway serves regions on port 53, the port the system resolver
// asks, probing with the given probe line, every 100ms unless a
// healthcheck line is given.
func startGateway(t *testing.T, regions, probe, healthcheck string) *gateway {
	t.Helper()
	if healthcheck == "" {
		healthcheck = "healthcheck 100ms 100ms"
	}
	mport := freePort(t)
	s := startServerOn(t, 53, map[string]string{
		"regions": regions + "\n",
		"Corefile": fmt.Sprintf(`gateway.mysql.local:{PORT} {
	bind 127.0.0.1
	prometheus 127.0.0.1:%d
	mysqlgw {
		regions regions
		reload 0
		%s
		rise 2
		fall 2
		active_ttl 0
		%s
	}
}
`, mport, healthcheck, probe),
	})
	return &gateway{server: s, metricsPort: mport}
}

// probeResults names a series of coredns_mysqlgw_health_probe_results_total.
func (g *gateway) probeResults(addr, result, code string) string {
	return fmt.Sprintf(`coredns_mysqlgw_health_probe_results_total{address=%q,code=%q,result=%q,server=%q}`, addr, code, result, g.serverLabel())
}

// serverLabel is the value of CoreDNS's server label for the gateway's
// server block, bound to 127.0.0.1.
func (g *gateway) serverLabel() string { return "dns://" + g.addr }

// probes is how many probes of addr finished: its series of
// coredns_mysqlgw_health_probe_results_total summed over result and code.
func (g *gateway) probes(addr string) float64 {
	return g.sum(`coredns_mysqlgw_health_probe_results_total{address="` + addr + `",`)
}

// metric reads one series from /metrics; 0 when it is absent.
func (g *gateway) metric(series string) float64 { return g.sum(series + " ") }

// sum adds up the values of the /metrics lines that start with prefix.
func (g *gateway) sum(prefix string) float64 {
	g.t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", g.metricsPort))
	if err != nil {
		g.t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 16<<20))
	total := 0.0
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			f, _ := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			total += f
		}
	}
	return total
}

// waitMetric polls until series reaches at least want.
func (g *gateway) waitMetric(series string, want float64) {
	g.t.Helper()
	waitFor(g.t, fmt.Sprintf("%s >= %v", series, want), func() bool { return g.metric(series) >= want })
}

// waitActive polls until active.lab answers addr.
func (g *gateway) waitActive(addr string) {
	g.t.Helper()
	waitFor(g.t, "active.lab "+addr, func() bool {
		return strings.TrimSpace(g.dig("active.lab.gateway.mysql.local", "+short")) == addr
	})
}

// waitFor polls cond for up to a minute.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testutil.Until(t, time.Minute, what, cond)
}

// stop ends the gateway before the test does, so that the next one can have
// port 53 to itself (CoreDNS binds with SO_REUSEPORT: two would share it).
func (g *gateway) stop() {
	g.proc.Cmd.Process.Signal(syscall.SIGTERM)
	<-g.proc.Exited
}

package mysqlgw

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	stdlog "log"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"

	"github.com/coredns/caddy"

	"golang.org/x/net/netutil"
)

// The HTTP listener (http ADDRESS) serves the allow lists and the table as
// JSON for firewalls that pull lists. Its lifecycle is the health plugin's:
// closed in OnRestart, opened in OnStartup, reopened in OnRestartFailed,
// closed in OnFinalShutdown, so a Corefile reload never finds its address in
// use; HTTP is down while the new instance builds.

// Limits of what one client can make the listener hold.
const (
	httpReadHeaderTimeout = 5 * time.Second
	httpReadTimeout       = 10 * time.Second
	httpWriteTimeout      = 30 * time.Second
	httpIdleTimeout       = 60 * time.Second
	httpMaxHeaderBytes    = 8 << 10
	httpMaxConns          = 256
	httpShutdownTimeout   = 5 * time.Second
	maxChanges            = 16
)

// httpConfig is the Corefile's http, http_rate, http_tls and http_auth.
type httpConfig struct {
	addr         string // "" when off
	certFile     string // http_tls CERT KEY
	keyFile      string
	user         string // http_auth USER PASSWORD_FILE
	passwordFile string

	tlsWhere, authWhere string // their Corefile lines, for errors reading the files

	rate int // http_rate: requests a second, on average; 0: unpaced
}

// httpServer is one mysqlgw instance's listener.
type httpServer struct {
	addr     string
	tls      *tls.Config // nil: plain HTTP
	user     string      // "" : no authentication
	password []byte
	bodies   func() *httpBodies
	state    *httpState
	pace     *pace

	mu     sync.Mutex
	srv    *http.Server  // nil while closed
	table  gwtable.Table // the version served, for open to publish
	served *httpBodies
}

// newHTTPServer reads the certificate and the password, so a Corefile reload
// re-reads them and a bad one fails the reload, not a request.
func newHTTPServer(cfg httpConfig, bodies func() *httpBodies) (*httpServer, error) {
	h := &httpServer{addr: cfg.addr, bodies: bodies, state: stateFor(cfg.addr), pace: newPace(cfg.rate)}
	if cfg.certFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.certFile, cfg.keyFile)
		if err != nil {
			return nil, fmt.Errorf("%s: http_tls: %w", cfg.tlsWhere, err)
		}
		h.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	if cfg.user != "" {
		content, err := gwtable.ReadFile(cfg.passwordFile)
		if err != nil {
			return nil, fmt.Errorf("%s: http_auth: %w", cfg.authWhere, err)
		}
		line, _, _ := strings.Cut(string(content), "\n")
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			return nil, fmt.Errorf("%s: http_auth: %s: the first line, the password, is empty", cfg.authWhere, cfg.passwordFile)
		}
		h.user, h.password = cfg.user, []byte(line)
	}
	return h, nil
}

// open listens on the address and serves. A plain listen, not reuseport: an
// address already taken, by another program or another server block's http,
// is an error.
func (h *httpServer) open() error {
	if err := h.state.claim(h); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", h.addr)
	if err != nil {
		h.state.release(h)
		return fmt.Errorf("http %s: %w", h.addr, err)
	}
	ln = netutil.LimitListener(ln, httpMaxConns)
	if h.tls != nil {
		ln = tls.NewListener(ln, h.tls)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: httpReadHeaderTimeout,
		ReadTimeout:       httpReadTimeout,
		WriteTimeout:      httpWriteTimeout,
		IdleTimeout:       httpIdleTimeout,
		MaxHeaderBytes:    httpMaxHeaderBytes,
		ErrorLog:          stdlog.New(&serverLog{addr: h.addr}, "", 0),
	}
	h.mu.Lock()
	h.srv = srv
	if h.served != nil {
		h.state.publish(h.table, h.served, time.Now())
	}
	h.mu.Unlock()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Errorf("http %s: %v", h.addr, err)
		}
	}()
	return nil
}

// close stops the listener, letting requests in flight finish for a while.
func (h *httpServer) close() error {
	h.mu.Lock()
	srv := h.srv
	h.srv = nil
	h.mu.Unlock()
	if srv == nil {
		return nil
	}
	h.state.release(h)
	ctx, cancel := context.WithTimeout(context.Background(), httpShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		return srv.Close()
	}
	return nil
}

// parseHTTP reads `http ADDRESS`, a host and port to listen on.
func parseHTTP(c *caddy.Controller, cfg *httpConfig) error {
	args := c.RemainingArgs()
	if len(args) != 1 {
		return c.ArgErr()
	}
	if cfg.addr != "" {
		return c.Errf("http is given twice")
	}
	host, port, err := net.SplitHostPort(args[0])
	if err != nil {
		return c.Errf("http: %q is not HOST:PORT, such as 127.0.0.1:8053", args[0])
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return c.Errf("http: port %q is not in range [1, 65535]", port)
	}
	if host != "" {
		if _, err := netip.ParseAddr(host); err != nil && host != "localhost" {
			return c.Errf("http: %q is not an IP address to listen on", host)
		}
	}
	cfg.addr = args[0]
	return nil
}

// twoArgs reads the two arguments of the current property.
func twoArgs(c *caddy.Controller, a, b *string) error {
	args := c.RemainingArgs()
	if len(args) != 2 {
		return c.ArgErr()
	}
	*a, *b = args[0], args[1]
	return nil
}

// httpBodies is what the listener serves now: the bodies of the answers
// being served.
func (g *MysqlGW) httpBodies() *httpBodies { return g.answers.Load().http }

// publish records table (with the served regions) as this address's version
// from now, once the listener is open; a swap before that, at setup, is
// published by open, so a new instance whose start fails records nothing.
func (h *httpServer) publish(table gwtable.Table, regions []gwtable.Region, b *httpBodies) {
	if h == nil {
		return
	}
	table.Regions = regions
	h.mu.Lock()
	defer h.mu.Unlock()
	h.table, h.served = table, b
	if h.srv != nil {
		h.state.publish(table, b, time.Now())
	}
}

// serverLog is net/http's error log for one listener. Its lines (a failed
// TLS handshake, for one) come at the clients' pace and carry what they
// sent, so they go out within the state-line limit (ratelimit.go), quoted
// and cut at 200 bytes.
type serverLog struct {
	addr  string
	mu    sync.Mutex
	lines lineLimiter
}

func (l *serverLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	ok, held := l.lines.allow()
	l.mu.Unlock()
	if ok {
		log.Warningf("http %s: %s%s", l.addr, gwtable.QuoteLimit(strings.TrimSpace(string(p)), 200), heldNote(held, "line"))
	}
	return len(p), nil
}

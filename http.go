package mysqlgw

import (
	"bytes"
	"context"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
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

// httpConfig is the Corefile's http, http_tls and http_auth.
type httpConfig struct {
	addr         string // "" when off
	certFile     string // http_tls CERT KEY
	keyFile      string
	user         string // http_auth USER PASSWORD_FILE
	passwordFile string

	tlsWhere, authWhere string // their Corefile lines, for errors reading the files
}

// httpServer is one mysqlgw instance's listener.
type httpServer struct {
	addr     string
	tls      *tls.Config // nil: plain HTTP
	user     string      // "" : no authentication
	password []byte
	bodies   func() *httpBodies
	state    *httpState

	mu     sync.Mutex
	srv    *http.Server  // nil while closed
	table  gwtable.Table // the version served, for open to publish
	served *httpBodies
}

// newHTTPServer reads the certificate and the password, so a Corefile reload
// re-reads them and a bad one fails the reload, not a request.
func newHTTPServer(cfg httpConfig, bodies func() *httpBodies) (*httpServer, error) {
	h := &httpServer{addr: cfg.addr, bodies: bodies, state: stateFor(cfg.addr)}
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

// httpState is what outlives a Corefile reload for one listen address: the
// versions it served and when each body first appeared. It is kept in a
// package-level map because a reload builds a new plugin instance and nothing
// else is handed from the old one to the new.
type httpState struct {
	mu        sync.Mutex
	holder    *httpServer // the instance listening now, nil when none
	last      gwtable.Table
	hasLast   bool
	changes   []change
	changesAt time.Time // when the newest change was applied
	body      body      // changes as JSON
	firstSeen map[string]time.Time
	previous  map[string]time.Time // the version before's, for an old instance still serving it
}

var httpStates = struct {
	sync.Mutex
	m map[string]*httpState
}{m: map[string]*httpState{}}

func stateFor(addr string) *httpState {
	httpStates.Lock()
	defer httpStates.Unlock()
	s, ok := httpStates.m[addr]
	if !ok {
		s = &httpState{body: newBody(marshal([]change{}))}
		httpStates.m[addr] = s
	}
	return s
}

// claim makes h the address's listener, unless another instance, another
// server block's, already is: a reload closes the old one first.
func (s *httpState) claim(h *httpServer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.holder != nil && s.holder != h {
		return fmt.Errorf("http %s: the address is already given to another server block's mysqlgw", h.addr)
	}
	s.holder = h
	return nil
}

func (s *httpState) release(h *httpServer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.holder == h {
		s.holder = nil
	}
}

// publish records a version served from now: a change when its table differs
// from the last one this address served (gwtable.Diff's meaning), and the
// time each body first appeared.
func (s *httpState) publish(table gwtable.Table, b *httpBodies, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := gwtable.Diff("", s.last, "", table)
	if !s.hasLast || d.Changed {
		c := change{Serial: table.Serial, Applied: now.UTC().Truncate(time.Second), Added: newDelta(d.Added), Removed: newDelta(d.Removed)}
		s.changes = append([]change{c}, s.changes[:min(len(s.changes), maxChanges-1)]...)
		s.changesAt = now
		s.body = newBody(marshal(s.changes))
	}
	s.last, s.hasLast = table, true
	seen := make(map[string]time.Time)
	mark := func(x body) {
		if t, ok := s.firstSeen[x.etag]; ok {
			seen[x.etag] = t
		} else if t, ok := s.previous[x.etag]; ok {
			seen[x.etag] = t
		} else {
			seen[x.etag] = now
		}
	}
	for _, l := range b.regions {
		mark(l.both)
		mark(l.v4)
		mark(l.v6)
	}
	mark(b.all.both)
	mark(b.all.v4)
	mark(b.all.v6)
	mark(b.json)
	s.previous, s.firstSeen = s.firstSeen, seen
}

// modified is when the body with etag first appeared at this address.
func (s *httpState) modified(etag string, now time.Time) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.firstSeen[etag]; ok {
		return t
	}
	if t, ok := s.previous[etag]; ok {
		return t
	}
	return now
}

func (s *httpState) changesBody() (body, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.body, s.changesAt
}

// The kinds of request http_requests_total tells apart.
const (
	httpKindAllow   = "allow"
	httpKindAll     = "all"
	httpKindRegions = "regions"
	httpKindChanges = "changes"
	httpKindOther   = "other"
)

// ServeHTTP answers one request. It routes on the path itself, not with
// http.ServeMux, whose path cleaning answers `..` with a redirect.
func (h *httpServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	kind, code := h.serve(w, r)
	httpRequestCount.WithLabelValues(kind, strconv.Itoa(code)).Inc()
}

func (h *httpServer) serve(w http.ResponseWriter, r *http.Request) (kind string, code int) {
	if h.user != "" {
		user, password, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(user), []byte(h.user))&subtle.ConstantTimeCompare([]byte(password), h.password) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="mysqlgw", charset="UTF-8"`)
			return httpKindOther, plainError(w, http.StatusUnauthorized, "a user name and password are needed")
		}
	}
	bodies := h.bodies()
	path := r.URL.Path
	var (
		lists *familyLists
		b     body
		ctype = "text/plain; charset=utf-8"
	)
	switch {
	case path == "/all":
		kind, lists = httpKindAll, &bodies.all
	case strings.HasPrefix(path, "/allow/"):
		kind = httpKindAllow
		name := strings.TrimPrefix(path, "/allow/")
		if lists = bodies.lookupRegion(name); lists == nil {
			return kind, plainError(w, http.StatusNotFound, fmt.Sprintf("no region %s here: GET /regions.json lists every name", gwtable.Quote(name)))
		}
	case path == "/regions.json":
		kind, b, ctype = httpKindRegions, bodies.json, "application/json"
	case path == "/changes":
		kind, ctype = httpKindChanges, "application/json"
	default:
		return httpKindOther, plainError(w, http.StatusNotFound, fmt.Sprintf("no such path %s: try /allow/REGION, /all, /regions.json or /changes", gwtable.Quote(path)))
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		return kind, plainError(w, http.StatusMethodNotAllowed, "only GET and HEAD are allowed")
	}
	now := time.Now()
	var modified time.Time
	if lists != nil {
		switch family := r.URL.Query().Get("family"); family {
		case "":
			b = lists.both
		case "4":
			b = lists.v4
		case "6":
			b = lists.v6
		default:
			return kind, plainError(w, http.StatusBadRequest, fmt.Sprintf("family must be 4 or 6, got %s", gwtable.Quote(family)))
		}
	}
	if kind == httpKindChanges {
		b, modified = h.state.changesBody()
	} else {
		modified = h.state.modified(b.etag, now)
	}
	header := w.Header()
	header.Set("Content-Type", ctype)
	header.Set("ETag", b.etag)
	header.Set("Cache-Control", "max-age="+strconv.FormatUint(uint64(bodies.ttl), 10))
	// ServeContent answers If-None-Match before If-Modified-Since, HEAD and
	// ranges from the body built at load.
	rec := &codeWriter{ResponseWriter: w, code: http.StatusOK}
	http.ServeContent(rec, r, "", modified, bytes.NewReader(b.data))
	return kind, rec.code
}

// plainError writes a one-line reason and returns its code.
func plainError(w http.ResponseWriter, code int, reason string) int {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	fmt.Fprintln(w, reason)
	return code
}

// codeWriter remembers the status code written, for the metric.
type codeWriter struct {
	http.ResponseWriter
	code int
}

func (c *codeWriter) WriteHeader(code int) {
	c.code = code
	c.ResponseWriter.WriteHeader(code)
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

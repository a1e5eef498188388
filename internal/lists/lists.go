// Package lists is mysqlgw's HTTP listener: each region's allow set as a
// plain list of prefixes, every region's together, the table as JSON and the
// history of its changes, for firewalls that pull lists. It is a server of
// its own beside CoreDNS's, as the health and prometheus plugins' are, and
// its only input is a table version (Publish). It imports nothing from
// CoreDNS.
package lists

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	stdlog "log"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
	"github.com/mysqlgw/mysqlgw/internal/ratelimit"
)

// Limits of what one client can make the listener hold.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 60 * time.Second
	maxHeaderBytes    = 8 << 10
	shutdownTimeout   = 5 * time.Second
)

// DefaultRate is how many requests a second a listener answers on average,
// with a burst as large: far above what firewalls that poll every few
// minutes ask, low enough that a client fetching flat out leaves DNS its CPU
// (bench/http.sh).
const DefaultRate = 500

// maxWait is the longest a request waits for its turn; one whose turn is
// further away is answered 503 after waiting that long, well inside the
// write timeout.
const maxWait = 5 * time.Second

// Config is one listener: the Corefile's http, http_rate, http_tls and
// http_auth.
type Config struct {
	Addr         string // HOST:PORT to listen on
	CertFile     string // http_tls CERT KEY; "" for plain HTTP
	KeyFile      string
	User         string // http_auth USER PASSWORD_FILE; "" for none
	PasswordFile string
	Rate         int // requests a second, on average; 0: unpaced

	TLSWhere, AuthWhere string // their Corefile lines, for errors reading the files

	Log Logger
}

// Logger is where the listener's lines go: the plugin's log.
type Logger interface {
	Warningf(format string, v ...any)
	Errorf(format string, v ...any)
}

// Server is one listener. Its lifecycle is that of CoreDNS's health plugin,
// so a Corefile reload never finds its address in use: Close on restart,
// Open on start-up and when a restart fails, Close at the final shutdown;
// Release when the instance stops, to drop the address's history unless a
// successor took it.
type Server struct {
	addr     string
	tls      *tls.Config // nil: plain HTTP
	user     string      // "": no authentication
	password []byte
	pace     *ratelimit.Pace
	log      Logger
	faults   *ratelimit.Lines // net/http's error lines and refused logins

	served atomic.Pointer[Bodies] // what requests get; nil before the first Publish

	state atomic.Pointer[state] // the address's history; the one taken last when closed

	mu      sync.Mutex
	srv     *http.Server // nil while closed
	ln      net.Listener
	serving chan struct{} // closed when Serve has returned
}

// New reads the certificate and the password, so a Corefile reload re-reads
// them and a bad one fails the reload, not a request.
func New(cfg Config) (*Server, error) {
	s := &Server{addr: cfg.Addr, pace: ratelimit.NewPace(cfg.Rate, maxWait), log: cfg.Log, faults: ratelimit.LogLines()}
	if cfg.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%s: http_tls: %w", cfg.TLSWhere, err)
		}
		s.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	if cfg.User != "" {
		content, err := gwtable.ReadFile(cfg.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("%s: http_auth: %w", cfg.AuthWhere, err)
		}
		line, _, _ := strings.Cut(string(content), "\n")
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			return nil, fmt.Errorf("%s: http_auth: %s: the first line, the password, is empty", cfg.AuthWhere, cfg.PasswordFile)
		}
		s.user, s.password = cfg.User, []byte(line)
	}
	return s, nil
}

// Publish makes b the version served from the next request on. A version
// published before Open (at setup) is recorded in the address's history by
// Open, so a new instance whose start fails records nothing.
func (s *Server) Publish(b *Bodies) { s.publish(b, time.Now()) }

func (s *Server) publish(b *Bodies, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.served.Store(b)
	if s.srv != nil {
		s.state.Load().record(b, now)
	}
}

// Open takes the address's history over and listens. A plain listen, not
// reuseport: an address another program holds, or another server block's
// mysqlgw, is an error.
func (s *Server) Open() error { return s.open(time.Now()) }

func (s *Server) open(now time.Time) error {
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("http %s: %w", s.addr, err)
	}
	limited := newLimiter(ln)
	ln = limited
	if s.tls != nil {
		ln = tls.NewListener(ln, s.tls)
	}
	srv := &http.Server{
		Handler:           s,
		ConnState:         limited.track,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          stdlog.New(serverLog{s}, "", 0),
	}
	serving := make(chan struct{})
	s.mu.Lock()
	s.srv, s.ln, s.serving = srv, ln, serving
	st := states.Take(s.addr, s, newState)
	s.state.Store(st)
	if b := s.served.Load(); b != nil {
		st.record(b, now)
	}
	s.mu.Unlock()
	go func() {
		defer close(serving)
		// Close closes ln itself, so a closed listener is a close too.
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			s.log.Errorf("http %s: %v", s.addr, err)
		}
	}()
	return nil
}

// Close stops listening, letting requests in flight finish for a while. The
// address's history stays for the instance that opens it next.
func (s *Server) Close() error {
	s.mu.Lock()
	srv, ln, serving := s.srv, s.ln, s.serving
	s.srv, s.ln = nil, nil
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	// Closed here, not only by Shutdown, which misses a listener that
	// Serve has not begun to track: the next instance listens at once.
	ln.Close()
	<-serving
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		return srv.Close()
	}
	return nil
}

// Release drops the address's history if this server still holds it: the
// instance stopped and no successor listens there.
func (s *Server) Release() error {
	states.Drop(s.addr, s)
	return nil
}

// serverLog is net/http's error log for one listener. Its lines (a failed
// TLS handshake, for one) come at the clients' pace and carry what they
// sent, so they go out within a line limit, quoted and cut at 200 bytes.
type serverLog struct{ s *Server }

func (l serverLog) Write(p []byte) (int, error) {
	if ok, held := l.s.faults.Allow(time.Now()); ok {
		l.s.log.Warningf("http %s: %s%s", l.s.addr, gwtable.QuoteLimit(strings.TrimSpace(string(p)), 200), ratelimit.Note(held, "line"))
	}
	return len(p), nil
}

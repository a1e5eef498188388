package lists

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
	"github.com/mysqlgw/mysqlgw/internal/ratelimit"
)

// The kinds of request http_requests_total tells apart.
const (
	kindAllow       = "allow"
	kindAll         = "all"
	kindRedirect    = "redirect"
	kindRedirectAll = "redirect_all"
	kindRegions     = "regions"
	kindChanges     = "changes"
	kindChangesAtom = "changes_atom"
	kindOther       = "other"
)

// ServeHTTP answers one request in its turn (the pace). It routes on the
// path itself, not with http.ServeMux, whose path cleaning answers `..` with
// a redirect.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := s.pace.Wait(r.Context()); err != nil {
		if !errors.Is(err, ratelimit.ErrRefused) {
			return // the client left, or the server is closing
		}
		w.Header().Set("Retry-After", strconv.Itoa(int(maxWait/time.Second)))
		w.Header().Set("Connection", "close")
		code := plainError(w, http.StatusServiceUnavailable, "too many requests waiting: try again later")
		requestCount.WithLabelValues(kindOther, strconv.Itoa(code)).Inc()
		return
	}
	kind, code := s.serve(w, r)
	requestCount.WithLabelValues(kind, strconv.Itoa(code)).Inc()
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) (kind string, code int) {
	b := s.served.Load()
	path := r.URL.Path
	var (
		lists *familyLists
		body  body
		ctype = "text/plain; charset=utf-8"
	)
	switch {
	case path == "/all":
		kind, lists = kindAll, &b.all
	case path == "/redirect/all":
		kind, lists = kindRedirectAll, &b.redirectAll
	case strings.HasPrefix(path, "/allow/"):
		kind = kindAllow
	case strings.HasPrefix(path, "/redirect/"):
		kind = kindRedirect
	case path == "/regions.json":
		kind, body, ctype = kindRegions, b.json, "application/json"
	case path == "/changes":
		kind, ctype = kindChanges, "application/json"
	case path == "/changes.atom":
		kind, ctype = kindChangesAtom, "application/atom+xml"
	default:
		kind = kindOther
	}
	if s.user != "" {
		user, password, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(user), []byte(s.user))&subtle.ConstantTimeCompare([]byte(password), s.password) != 1 {
			if ok, held := s.faults.Allow(time.Now()); ok {
				s.log.Warningf("http %s: refused %s %s from %s: no user and password, or wrong ones%s", s.addr, gwtable.Quote(r.Method), gwtable.Quote(path), r.RemoteAddr, ratelimit.Note(held, "line"))
			}
			w.Header().Set("WWW-Authenticate", `Basic realm="mysqlgw", charset="UTF-8"`)
			return kind, plainError(w, http.StatusUnauthorized, "a user name and password are needed")
		}
	}
	switch kind {
	case kindAllow:
		name := strings.TrimPrefix(path, "/allow/")
		if lists = lookup(b.regions, name); lists == nil {
			return kind, plainError(w, http.StatusNotFound, fmt.Sprintf("no region %s with an allow set here: GET /regions.json lists every name", gwtable.Quote(name)))
		}
	case kindRedirect:
		name := strings.TrimPrefix(path, "/redirect/")
		if lists = lookup(b.redirect, name); lists == nil {
			return kind, plainError(w, http.StatusNotFound, fmt.Sprintf("no region %s with a Redirect set here: GET /regions.json lists every name", gwtable.Quote(name)))
		}
	case kindOther:
		return kind, plainError(w, http.StatusNotFound, fmt.Sprintf("no such path %s: try /allow/REGION, /all, /redirect/REGION, /redirect/all, /regions.json, /changes or /changes.atom", gwtable.Quote(path)))
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		return kind, plainError(w, http.StatusMethodNotAllowed, "only GET and HEAD are allowed")
	}
	if lists != nil {
		switch family := r.URL.Query().Get("family"); family {
		case "":
			body = lists.both
		case "4":
			body = lists.v4
		case "6":
			body = lists.v6
		default:
			return kind, plainError(w, http.StatusBadRequest, fmt.Sprintf("family must be 4 or 6, got %s", gwtable.Quote(family)))
		}
	}
	st := s.state.Load()
	var modified time.Time
	if kind == kindChanges || kind == kindChangesAtom {
		body, modified = st.changesBody(kind == kindChangesAtom)
	} else {
		modified = st.modified(body.etag, time.Now())
	}
	header := w.Header()
	header.Set("Content-Type", ctype)
	header.Set("ETag", body.etag)
	header.Set("Cache-Control", "max-age="+strconv.FormatUint(uint64(b.ttl), 10))
	// ServeContent answers If-None-Match before If-Modified-Since, HEAD and
	// ranges from the body built at load.
	rec := &codeWriter{ResponseWriter: w, code: http.StatusOK}
	http.ServeContent(rec, r, "", modified, bytes.NewReader(body.data))
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

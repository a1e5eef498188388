package mysqlgw

import (
	"bytes"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
)

// The kinds of request http_requests_total tells apart.
const (
	httpKindAllow   = "allow"
	httpKindAll     = "all"
	httpKindRegions = "regions"
	httpKindChanges = "changes"
	httpKindOther   = "other"
)

// ServeHTTP answers one request in its turn (pace). It routes on the path
// itself, not with http.ServeMux, whose path cleaning answers `..` with a
// redirect.
func (h *httpServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	wait, ok := h.pace.delay(time.Now())
	if !ok {
		w.Header().Set("Retry-After", "5")
		code := plainError(w, http.StatusServiceUnavailable, "too many requests waiting: try again later")
		httpRequestCount.WithLabelValues(httpKindOther, strconv.Itoa(code)).Inc()
		return
	}
	if wait > 0 {
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-r.Context().Done(): // the client left, or the server is closing
			timer.Stop()
			return
		}
	}
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

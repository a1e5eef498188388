package lists

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// FuzzServeHTTP sends arbitrary methods, paths and queries to the lists.
// None may panic; every answer is one of the codes the lists give, an error
// is one short line, and a list is prefixes only.
func FuzzServeHTTP(f *testing.F) {
	for _, seed := range []string{
		"GET /all", "HEAD /allow/eastus2?family=4", "GET /allow/Lab-Alias?family=6", "GET /regions.json",
		"GET /changes", "GET /changes.atom", "POST /all", "GET /allow/../all", "GET /allow/%00", "GET /all?family=5",
		"GET /allow/", "GET //all", "GET /all?family=4&family=6", "DELETE /nowhere",
	} {
		method, target, _ := strings.Cut(seed, " ")
		f.Add(method, target)
	}
	s := newServer(f, Config{Rate: 0}, version(f, testTable, nil), time.Now())
	f.Fuzz(func(t *testing.T, method, target string) {
		r, err := http.NewRequest(method, "http://mysqlgw"+target, nil)
		if err != nil || r.URL.Path == "" {
			return // net/http's server never hands such a request on
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		body := w.Body.String()
		switch w.Code {
		case http.StatusOK, http.StatusNotModified:
			if w.Header().Get("Content-Type") == "text/plain; charset=utf-8" && method != http.MethodHead {
				for _, line := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
					if _, err := netip.ParsePrefix(line); line != "" && err != nil {
						t.Fatalf("%s %s: list line %q is not a prefix", method, target, line)
					}
				}
			}
		case http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusBadRequest:
			if strings.Count(body, "\n") != 1 || len(body) > 500 { // Quote keeps 80 bytes, 4 a byte escaped
				t.Fatalf("%s %s: %d with %q: want one short line", method, target, w.Code, body)
			}
		default:
			t.Fatalf("%s %s: status %d", method, target, w.Code)
		}
	})
}

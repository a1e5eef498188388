package fetch

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFetchRedirects: a download follows redirects to other hosts and from
// http to https, and $SOURCE records where the table came from; a redirect
// from https to http, at any hop, and a link from an https download page to
// an http file, are refused naming both URLs, and FILE stays as it was.
// Every server is on loopback; the https ones are httptest's, and the
// client one of theirs (they share httptest's certificate).
func TestFetchRedirects(t *testing.T) {
	include := readFixture(t, "import/sql-2026-include.md")
	tags := readFixture(t, "import/servicetags.json")
	serve := func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, ".md"):
			w.Write(include)
		case strings.HasSuffix(r.URL.Path, ".json"):
			w.Write(tags)
		default:
			http.NotFound(w, r)
		}
	}
	plain := httptest.NewServer(http.HandlerFunc(serve))
	defer plain.Close()
	secure := httptest.NewTLSServer(http.HandlerFunc(serve))
	defer secure.Close()
	// redirector sends /to?url=URL to URL, and serves a download page that
	// links to /page?link=URL.
	redirector := func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/to" {
			http.Redirect(w, r, r.URL.Query().Get("url"), http.StatusFound)
			return
		}
		// /via/SCHEME/HOST/PATH redirects to SCHEME://HOST/PATH: a link
		// that still ends in the file's name.
		if rest, ok := strings.CutPrefix(r.URL.Path, "/via/"); ok {
			if scheme, hostPath, ok := strings.Cut(rest, "/"); ok {
				http.Redirect(w, r, scheme+"://"+hostPath, http.StatusFound)
				return
			}
		}
		w.Write([]byte(`<a href="` + r.URL.Query().Get("link") + `">ServiceTags</a>`))
	}
	to := func(from *httptest.Server, target string) string {
		return from.URL + "/to?url=" + url.QueryEscape(target)
	}
	via := func(from *httptest.Server, target string) string {
		return from.URL + "/via/" + strings.Replace(target, "://", "/", 1)
	}
	page := func(from *httptest.Server, link string) string {
		return from.URL + "/page?link=" + url.QueryEscape(link)
	}
	plainRedirector := httptest.NewServer(http.HandlerFunc(redirector))
	defer plainRedirector.Close()
	secureRedirector := httptest.NewTLSServer(http.HandlerFunc(redirector))
	defer secureRedirector.Close()
	client := secure.Client()

	for _, tc := range []struct {
		name, source, url string
		from              string // $SOURCE; "" for a refusal
		refused           string
	}{
		{"no redirect", AzureSQL, secure.URL + "/include.md", secure.URL + "/include.md", ""},
		{"https to another host", AzureSQL, to(secureRedirector, secure.URL+"/include.md"), secure.URL + "/include.md", ""},
		{"http to https", AzureSQL, to(plainRedirector, secure.URL+"/include.md"), secure.URL + "/include.md", ""},
		{"http to another http host", AzureSQL, to(plainRedirector, plain.URL+"/include.md"), plain.URL + "/include.md", ""},
		{"two hops to the file", ServiceTags, page(secureRedirector, via(secureRedirector, via(secureRedirector, secure.URL+"/ServiceTags_Public_20260928.json"))),
			secure.URL + "/ServiceTags_Public_20260928.json", ""},
		{"https to http", AzureSQL, to(secureRedirector, plain.URL+"/include.md"), "",
			to(secureRedirector, plain.URL+"/include.md") + " redirects to " + plain.URL + "/include.md: refused, a download that began over https does not go on over http"},
		{"https to https to http", AzureSQL, to(secureRedirector, to(secureRedirector, plain.URL+"/include.md")), "",
			to(secureRedirector, plain.URL+"/include.md") + " redirects to " + plain.URL + "/include.md: refused"},
		{"an https page linking to http", ServiceTags, page(secureRedirector, plain.URL+"/ServiceTags_Public_20260928.json"), "",
			page(secureRedirector, plain.URL+"/ServiceTags_Public_20260928.json") + " links to " + plain.URL + "/ServiceTags_Public_20260928.json: refused"},
		{"the file redirected from https to http", ServiceTags, page(plainRedirector, via(secureRedirector, plain.URL+"/ServiceTags_Public_20260928.json")), "",
			via(secureRedirector, plain.URL+"/ServiceTags_Public_20260928.json") + " redirects to " + plain.URL + "/ServiceTags_Public_20260928.json: refused"},
		{"a 404 after a redirect", AzureSQL, to(secureRedirector, secure.URL+"/gone"), "",
			secure.URL + "/gone (redirected from " + to(secureRedirector, secure.URL+"/gone") + "): HTTP status 404 Not Found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "regions")
			out, err := run(t, Options{File: file, Source: tc.source, URL: tc.url, Client: client})
			if tc.refused != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.refused) {
					t.Fatalf("error %v, want %q", err, tc.refused)
				}
				if out.Written {
					t.Error("written")
				}
				if _, err := os.Stat(file); !os.IsNotExist(err) {
					t.Errorf("FILE was written: %v", err)
				}
				return
			}
			if err != nil || !out.Written || !strings.HasSuffix(out.Text, " from "+tc.from+"\n") {
				t.Fatalf("%+v %v", out, err)
			}
			if got := parseFile(t, file).Source; got != tc.from {
				t.Errorf("$SOURCE %s, want %s", got, tc.from)
			}
		})
	}
}

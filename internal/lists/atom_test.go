package lists

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
)

// parsedFeed is what RFC 4287 requires of a feed and its entries, read
// back as any reader would.
type parsedFeed struct {
	XMLName xml.Name `xml:"http://www.w3.org/2005/Atom feed"`
	ID      string   `xml:"id"`
	Title   string   `xml:"title"`
	Updated string   `xml:"updated"`
	Author  []struct {
		Name string `xml:"name"`
	} `xml:"author"`
	Entries []struct {
		ID      string `xml:"id"`
		Title   string `xml:"title"`
		Updated string `xml:"updated"`
		Content struct {
			Type string `xml:"type,attr"`
			Text string `xml:",chardata"`
		} `xml:"content"`
	} `xml:"entry"`
}

func feedOf(t *testing.T, s *Server, header ...string) (parsedFeed, *http.Response) {
	t.Helper()
	resp := get(t, s, "GET", "/changes.atom", header...)
	var f parsedFeed
	if resp.StatusCode == http.StatusOK {
		if ct := resp.Header.Get("Content-Type"); ct != "application/atom+xml" {
			t.Errorf("Content-Type %q", ct)
		}
		if err := xml.Unmarshal([]byte(bodyOf(t, resp)), &f); err != nil {
			t.Fatal(err)
		}
	}
	return f, resp
}

// TestAtom: /changes.atom holds the versions /changes does, newest first:
// the first as "serving serial N", each change with Diff's lines; ids are
// the same for the same zone, serial and content on any listener, and
// differ otherwise; ETag and 304 as for the lists.
func TestAtom(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	v1 := version(t, labTable(1, "10.0.1.1"), nil)
	v1.Zone = "gateway.mysql.local."
	s := newServer(t, Config{}, v1, t0)
	f, first := feedOf(t, s)
	if len(f.Entries) != 1 || f.Entries[0].Title != "serving serial 1" || f.Entries[0].Updated != "2026-12-01T10:00:00Z" || f.Updated != "2026-12-01T10:00:00Z" {
		t.Fatalf("the first feed: %+v", f)
	}
	if f.Title != "mysqlgw: changes of the gateway table of gateway.mysql.local." || len(f.Author) != 1 || !strings.HasPrefix(f.ID, "urn:uuid:") || !strings.HasPrefix(f.Entries[0].ID, "urn:uuid:") {
		t.Errorf("feed: %+v", f)
	}
	if c := f.Entries[0].Content; c.Type != "text" || !strings.Contains(c.Text, "started serving serial 1 at 2026-12-01T10:00:00Z") {
		t.Errorf("the first entry's content: %+v", c)
	}
	if r := get(t, s, "GET", "/changes.atom", "If-None-Match", first.Header.Get("ETag")); r.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match of the current ETag: %d", r.StatusCode)
	}

	v2 := version(t, labTable(2, "10.0.1.2"), &v1)
	v2.Zone = v1.Zone
	s.publish(Build(v2), t0.Add(time.Minute))
	s.publish(Build(version(t, labTable(3, "10.0.1.2"), &v2)), t0.Add(2*time.Minute)) // a serial alone: no entry
	f, now := feedOf(t, s, "If-None-Match", first.Header.Get("ETag"))
	if now.StatusCode != http.StatusOK || now.Header.Get("ETag") == first.Header.Get("ETag") {
		t.Fatalf("after a change, the old ETag got %d", now.StatusCode)
	}
	if len(f.Entries) != 2 || f.Entries[0].Title != "serial 2: 1 added, 1 removed" || f.Entries[0].Updated != "2026-12-01T10:01:00Z" || f.Updated != f.Entries[0].Updated {
		t.Fatalf("after a change: %+v", f)
	}
	if got, want := f.Entries[0].Content.Text, "lab2\n  + gateway 10.0.1.2\n  - gateway 10.0.1.1\n"; got != want {
		t.Errorf("the change's content %q, want %q", got, want)
	}
	if f.Entries[0].ID == f.Entries[1].ID {
		t.Error("two versions share an id")
	}

	// Another listener (a replica, or this one restarted) serving v2 first
	// gives it the same id; another zone, another.
	other := newServer(t, Config{}, v2, t0.Add(time.Hour))
	g, _ := feedOf(t, other)
	if len(g.Entries) != 1 || g.Entries[0].ID != f.Entries[0].ID || g.ID != f.ID || g.Entries[0].Title != "serving serial 2" {
		t.Errorf("another listener's feed of serial 2: %+v, want id %s", g, f.Entries[0].ID)
	}
	v2.Zone = "example.org."
	third := newServer(t, Config{}, v2, t0)
	if h, _ := feedOf(t, third); h.Entries[0].ID == f.Entries[0].ID || h.ID == f.ID {
		t.Errorf("another zone's version has the same id %s", h.Entries[0].ID)
	}
}

// A change too large to list names maxChangeNames lines and counts the
// rest; both histories together stay under maxChangesBytes.
func TestAtomBounded(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	prev := version(t, bigTable(1, 0, 5000), nil)
	s := newServer(t, Config{}, prev, t0)
	for i := 1; i <= maxChanges+2; i++ {
		v := version(t, bigTable(1+i, 5000*i, 5000), &prev)
		s.publish(Build(v), t0.Add(time.Duration(i)*time.Minute))
		prev = v
	}
	f, resp := feedOf(t, s)
	text := f.Entries[0].Content.Text
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) != maxChangeNames+1 || lines[maxChangeNames] != "... and 9001 more lines: mysqlgw-regions diff shows them all." {
		t.Errorf("the newest entry has %d lines, ending %q", len(lines), lines[len(lines)-1])
	}
	atomBytes := resp.ContentLength
	jsonBytes := int64(len(bodyOf(t, get(t, s, "GET", "/changes"))))
	if atomBytes+jsonBytes > maxChangesBytes || len(f.Entries) != maxChanges {
		t.Errorf("%d entries; /changes.atom %d bytes and /changes %d", len(f.Entries), atomBytes, jsonBytes)
	}
	t.Logf("after %d changes of 10,000 prefixes each: %d entries, /changes.atom %d bytes, /changes %d", maxChanges+2, len(f.Entries), atomBytes, jsonBytes)
}

func TestXMLText(t *testing.T) {
	for in, want := range map[string]string{
		"a\n  + subnet 10.0.0.0/8\n": "a\n  + subnet 10.0.0.0/8\n",
		"<&>":                        "&lt;&amp;&gt;",
		"x\x00\x1by\ufffe":           "x\ufffd\ufffdy\ufffd",
	} {
		if got := xmlText(in); got != want {
			t.Errorf("xmlText(%q) = %q, want %q", in, got, want)
		}
		var v struct {
			Text string `xml:",chardata"`
		}
		if err := xml.Unmarshal([]byte("<c>"+xmlText(in)+"</c>"), &v); err != nil {
			t.Errorf("xmlText(%q) does not parse: %v", in, err)
		}
	}
}

// rotatedTable is 1,000 regions of 16 IPv6 gateways each, their roles
// rotated by k: a change of it moves every gateway's role, and Diff writes
// each region a line of some 900 bytes.
func rotatedTable(serial, k int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "$SERIAL %d\n", serial)
	for r := range 1000 {
		fmt.Fprintf(&b, "r%d", r)
		for g := range gwtable.MaxRoles {
			fmt.Fprintf(&b, " 2001:db8:%x:ffff:ffff:ffff:ffff:%x", r, 1+(g+k)%gwtable.MaxRoles)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// TestChangesBytesBound: when the entries' lines are long, the history
// keeps fewer than maxChanges versions, the oldest dropped first, so that
// /changes and /changes.atom together stay under maxChangesBytes.
func TestChangesBytesBound(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	prev := version(t, rotatedTable(1, 0), nil)
	s := newServer(t, Config{}, prev, t0)
	for i := 1; i <= maxChanges; i++ {
		v := version(t, rotatedTable(1+i, i), &prev)
		s.publish(Build(v), t0.Add(time.Duration(i)*time.Minute))
		prev = v
	}
	f, resp := feedOf(t, s)
	jsonBytes := int64(len(bodyOf(t, get(t, s, "GET", "/changes"))))
	if total := resp.ContentLength + jsonBytes; total > maxChangesBytes || len(f.Entries) >= maxChanges || len(f.Entries) < 2 {
		t.Fatalf("%d entries in %d bytes, want fewer than %d in at most %d", len(f.Entries), total, maxChanges, maxChangesBytes)
	}
	changes := changesOf(t, s)
	for i, c := range changes {
		if want := uint32(1 + maxChanges - i); c.Serial != want {
			t.Errorf("entry %d: serial %d, want %d (the newest kept, the oldest dropped)", i, c.Serial, want)
		}
	}
	t.Logf("%d changes of 1,000 regions' roles: %d entries kept, /changes.atom %d bytes, /changes %d", maxChanges, len(f.Entries), resp.ContentLength, jsonBytes)
}

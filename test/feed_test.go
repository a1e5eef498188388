package test

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mysqlgw/mysqlgw/internal/testutil"
)

// readFeed is a feed reader: Debian's python3-feedparser, which reads the
// feed as served and prints what it understood of it.
const readFeed = `
import calendar, json, sys
import feedparser
d = feedparser.parse(sys.stdin.buffer.read())
def when(e):
    return calendar.timegm(e.updated_parsed) if e.get("updated_parsed") else None
print(json.dumps({
    "bozo": bool(d.bozo), "error": str(d.get("bozo_exception", "")), "version": d.version,
    "id": d.feed.get("id"), "title": d.feed.get("title"), "updated": when(d.feed),
    "entries": [{"id": e.get("id"), "title": e.get("title"), "updated": when(e),
                 "content": e.content[0].value if e.get("content") else None} for e in d.entries],
}))
`

// feedParser is a python3 that has feedparser: the system's first, as a
// pyenv or virtualenv python3 on PATH may lack Debian's packages.
func feedParser(t *testing.T) string {
	t.Helper()
	candidates := []string{"/usr/bin/python3"}
	if p, err := exec.LookPath("python3"); err == nil {
		candidates = append(candidates, p)
	}
	for _, p := range candidates {
		if exec.Command(p, "-c", "import feedparser").Run() == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("python3-feedparser is not installed; .ci/run installs it")
	}
	t.Skip("python3-feedparser is not installed")
	return ""
}

type parsedEntry struct {
	ID, Title, Content string
	Updated            int64
}

// TestChangesFeed: a feed reader reads /changes.atom after two changes,
// without a parse error, with the entries and dates as served: the first
// version as "serving serial 1", each change with what it added and
// removed, newest first. RFC 4287's required elements are checked here
// too, as feedparser forgives their absence.
func TestChangesFeed(t *testing.T) {
	python := feedParser(t)
	httpPort := freePort(t)
	s := startServer(t, map[string]string{"Corefile": httpCorefile(httpPort, 300), "regions": httpRegions})
	base := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	waitHTTP(t, base+"/changes")

	second := strings.Replace(strings.Replace(httpRegions, "$SERIAL 1", "$SERIAL 2", 1), "192.0.2.2 ", "192.0.2.3 ", 1)
	s.writeFile("regions", second)
	testutil.Until(t, 30*time.Second, "serial 2 in /changes", func() bool { return changes(t, base)[0].Serial == 2 })
	s.writeFile("regions", strings.Replace(strings.Replace(second, "$SERIAL 2", "$SERIAL 3", 1), "lab2 192.0.2.33", "lab2 192.0.2.33 subnets 203.0.113.0/28", 1))
	testutil.Until(t, 30*time.Second, "serial 3 in /changes", func() bool { return changes(t, base)[0].Serial == 3 })

	r := curl(t, base+"/changes.atom")
	if r.code != 200 || r.header["content-type"] != "application/atom+xml" || r.header["etag"] == "" {
		t.Fatalf("/changes.atom: %d %v", r.code, r.header)
	}
	if again := curl(t, "-H", "If-None-Match: "+r.header["etag"], base+"/changes.atom"); again.code != 304 {
		t.Errorf("If-None-Match of the feed's ETag: %d", again.code)
	}

	cmd := exec.Command(python, "-c", readFeed)
	cmd.Stdin = strings.NewReader(r.body)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("feedparser: %v\n%s", err, out)
	}
	var read struct {
		Bozo           bool
		Error, Version string
		ID, Title      string
		Updated        int64
		Entries        []parsedEntry
	}
	if err := json.Unmarshal(out, &read); err != nil {
		t.Fatalf("feedparser's output %s: %v", out, err)
	}
	if read.Bozo || read.Version != "atom10" {
		t.Fatalf("feedparser: bozo %v (%s), version %q\n%s", read.Bozo, read.Error, read.Version, r.body)
	}

	// The entries as /changes has the versions.
	served := changes(t, base)
	if len(read.Entries) != 3 || len(served) != 3 {
		t.Fatalf("feedparser read %d entries, /changes has %d versions:\n%s", len(read.Entries), len(served), r.body)
	}
	want := []struct{ title, content string }{
		{"serial 3: 1 added, 0 removed", "lab2\n  + subnet 203.0.113.0/28\n"},
		{"serial 2: 1 added, 1 removed", "lab\n  + gateway 192.0.2.3\n  - gateway 192.0.2.2\n"},
		{"serving serial 1", "This listener started serving serial 1 at " + served[2].Applied.Format(time.RFC3339) + ". Changes from here on are listed one entry a version.\n"},
	}
	ids := map[string]bool{}
	for i, e := range read.Entries {
		// feedparser drops the text's last newline.
		if e.Title != want[i].title || e.Content != strings.TrimSuffix(want[i].content, "\n") || e.Updated != served[i].Applied.Unix() {
			t.Errorf("entry %d: %+v, want %q, %q, updated %d", i, e, want[i].title, want[i].content, served[i].Applied.Unix())
		}
		if !strings.HasPrefix(e.ID, "urn:uuid:") || ids[e.ID] {
			t.Errorf("entry %d: id %q", i, e.ID)
		}
		ids[e.ID] = true
	}
	if read.Updated != served[0].Applied.Unix() || !strings.HasPrefix(read.ID, "urn:uuid:") || !strings.Contains(read.Title, "gateway.mysql.local.") {
		t.Errorf("the feed: id %q, title %q, updated %d; want the newest version's date %d", read.ID, read.Title, read.Updated, served[0].Applied.Unix())
	}

	// RFC 4287 4.1.1: a feed has id, title and updated, and an author unless
	// every entry has one; 4.1.2: each entry id, title and updated, and
	// content or an alternate link.
	var raw struct {
		XMLName xml.Name
		ID      []string   `xml:"id"`
		Title   []string   `xml:"title"`
		Updated []string   `xml:"updated"`
		Author  []struct{} `xml:"author"`
		Entries []struct {
			ID      []string   `xml:"id"`
			Title   []string   `xml:"title"`
			Updated []string   `xml:"updated"`
			Content []struct{} `xml:"content"`
		} `xml:"entry"`
	}
	if err := xml.Unmarshal([]byte(r.body), &raw); err != nil {
		t.Fatal(err)
	}
	if raw.XMLName.Space != "http://www.w3.org/2005/Atom" || raw.XMLName.Local != "feed" || len(raw.ID) != 1 || len(raw.Title) != 1 || len(raw.Updated) != 1 || len(raw.Author) != 1 {
		t.Errorf("feed element: %+v", raw)
	}
	for i, e := range raw.Entries {
		if len(e.ID) != 1 || len(e.Title) != 1 || len(e.Updated) != 1 || len(e.Content) != 1 {
			t.Errorf("entry %d: %+v", i, e)
		}
		if _, err := time.Parse(time.RFC3339, e.Updated[0]); err != nil {
			t.Errorf("entry %d: updated %q is not an RFC 3339 date: %v", i, e.Updated[0], err)
		}
	}
}

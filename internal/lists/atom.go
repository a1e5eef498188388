package lists

import (
	"encoding/xml"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// /changes.atom is /changes as an Atom feed (RFC 4287), for feed readers
// and the pipelines that watch feeds: the same versions, newest first.

// idSpace is the namespace of the feed's and entries' ids: name-based
// UUIDs (RFC 9562 5.5), so that every replica, and a server restarted,
// gives a version the same id. urn:uuid is a registered URN namespace; an
// id of our own invention would not be.
var idSpace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/mysqlgw/mysqlgw/changes.atom"))

// versionID is the id of the version of zone with serial and content hash.
func versionID(zone string, serial uint32, hash [32]byte) string {
	return uuid.NewSHA1(idSpace, fmt.Appendf(nil, "%s %d %x", strings.ToLower(zone), serial, hash)).URN()
}

// feedID is the feed's own id: one feed a zone.
func feedID(zone string) string {
	return uuid.NewSHA1(idSpace, []byte("feed "+strings.ToLower(zone))).URN()
}

type atomFeed struct {
	XMLName   xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
	ID        string      `xml:"id"`
	Title     string      `xml:"title"`
	Updated   string      `xml:"updated"`
	Author    atomAuthor  `xml:"author"`
	Link      atomLink    `xml:"link"`
	Generator string      `xml:"generator"`
	Entries   []atomEntry `xml:"entry"`
}

type atomAuthor struct {
	Name string `xml:"name"`
}

type atomLink struct {
	Rel  string `xml:"rel,attr"`
	Href string `xml:"href,attr"`
}

type atomEntry struct {
	ID      string   `xml:"id"`
	Title   string   `xml:"title"`
	Updated string   `xml:"updated"`
	Content atomText `xml:"content"`
}

// atomText is text content, escaped by xmlText so that its lines read as
// lines with curl (encoding/xml writes a newline as &#xA;).
type atomText struct {
	Type string `xml:"type,attr"`
	Text string `xml:",innerxml"`
}

var xmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// xmlText escapes s as XML character data, any character XML cannot carry
// replaced by U+FFFD.
func xmlText(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' || r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF {
			return r
		}
		return '\uFFFD'
	}, s)
	return xmlEscaper.Replace(s)
}

// atom writes changes, newest first, as a feed; since is when the history
// began, the feed's date while it has no entry.
func atom(changes []change, since time.Time) []byte {
	f := atomFeed{
		Title:     "mysqlgw: changes of the gateway table",
		Updated:   since.UTC().Format(time.RFC3339),
		Author:    atomAuthor{Name: "mysqlgw"},
		Link:      atomLink{Rel: "self", Href: "/changes.atom"},
		Generator: "mysqlgw",
		Entries:   make([]atomEntry, len(changes)),
	}
	if len(changes) > 0 {
		f.ID = feedID(changes[0].zone)
		f.Title += " of " + changes[0].zone
		f.Updated = changes[0].Applied.Format(time.RFC3339)
	} else {
		f.ID = feedID("")
	}
	for i, c := range changes {
		f.Entries[i] = atomEntry{
			ID:      c.id,
			Title:   c.title(),
			Updated: c.Applied.Format(time.RFC3339),
			Content: atomText{Type: "text", Text: xmlText(c.text())},
		}
	}
	data, err := xml.MarshalIndent(f, "", " ")
	if err != nil {
		panic("lists: marshalling the feed: " + err.Error()) // only plain types: cannot happen
	}
	return append(append([]byte(xml.Header), data...), '\n')
}

// title names the version's serial and what it moved.
func (c change) title() string {
	if c.First {
		return fmt.Sprintf("serving serial %d", c.Serial)
	}
	a, r := c.Added.Total, c.Removed.Total
	return fmt.Sprintf("serial %d: %d added, %d removed", c.Serial,
		a.Regions+a.Addresses+a.Prefixes+a.Redirect, r.Regions+r.Addresses+r.Prefixes+r.Redirect)
}

// text is what an entry says: for a change, gwtable.Diff's lines, region by
// region and set by set.
func (c change) text() string {
	if c.First {
		return fmt.Sprintf("This listener started serving serial %d at %s. Changes from here on are listed one entry a version.\n", c.Serial, c.Applied.Format(time.RFC3339))
	}
	var b strings.Builder
	for _, l := range c.lines {
		b.WriteString(l + "\n")
	}
	if c.moreLines > 0 {
		fmt.Fprintf(&b, "... and %d more lines: mysqlgw-regions diff shows them all.\n", c.moreLines)
	}
	return b.String()
}

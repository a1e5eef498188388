package lists

import (
	"net/netip"
	"sync"
	"time"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
	"github.com/mysqlgw/mysqlgw/internal/handover"
)

// Bounds of /changes and /changes.atom: how many versions they keep, how
// many regions, addresses and prefixes (the feed: lines) one entry names
// (the rest are counted), and the most bytes both may take together, the
// oldest entries going first.
const (
	maxChanges      = 16
	maxChangeNames  = 1000
	maxChangesBytes = 4 << 20
)

// states is each listen address's history, handed from the server that
// listened there to the one that listens next (a Corefile reload), and
// dropped when no server listens there any more.
var states handover.Registry[string, *state]

// state is what a listen address keeps across Corefile reloads: the changes
// it served and when each body first appeared there.
type state struct {
	mu        sync.Mutex
	last      [32]byte // the content of the version served last
	changes   []change // newest first
	changesAt time.Time
	body      body // changes as JSON
	atom      body // and as Atom
	firstSeen map[string]time.Time
	previous  map[string]time.Time // the version before's, for a request still served from it
}

func newState() *state {
	now := time.Now()
	return &state{body: newBody(marshal([]change{})), atom: newBody(atom(nil, now)), changesAt: now}
}

// A change is one table version a listener served: /changes. docs/http.md
// has its schema.
type change struct {
	Serial  uint32    `json:"serial"`
	Applied time.Time `json:"applied"`
	// First marks the first version this listener served: added and
	// removed are empty, as there is nothing before it to compare with.
	First   bool      `json:"first"`
	Added   jsonDelta `json:"added"`
	Removed jsonDelta `json:"removed"`

	// For the feed: the version's zone and id, and Diff's lines.
	zone      string
	id        string
	lines     []string
	moreLines int
}

type jsonDelta struct {
	Regions   []string       `json:"regions"`
	Addresses []netip.Addr   `json:"addresses"`
	Prefixes  []netip.Prefix `json:"prefixes"` // subnets: the allow sets'
	Redirect  []netip.Prefix `json:"redirect"` // the Redirect sets'
	Total     jsonTotal      `json:"total"`    // how many there are, named or not
}

type jsonTotal struct {
	Regions   int `json:"regions"`
	Addresses int `json:"addresses"`
	Prefixes  int `json:"prefixes"`
	Redirect  int `json:"redirect"`
}

// newDeltas are a change's added and removed as /changes names them: the
// regions, addresses, subnets and Redirect prefixes of both, in that order,
// up to maxChangeNames in all, and the total of each.
func newDeltas(added, removed gwtable.Delta) (jsonDelta, jsonDelta) {
	room := maxChangeNames
	take := func(d gwtable.Delta) jsonDelta {
		j := jsonDelta{Total: jsonTotal{len(d.Regions), len(d.Addresses), len(d.Prefixes), len(d.Redirect)}}
		j.Regions = append([]string{}, d.Regions[:min(room, len(d.Regions))]...)
		room -= len(j.Regions)
		j.Addresses = append([]netip.Addr{}, d.Addresses[:min(room, len(d.Addresses))]...)
		room -= len(j.Addresses)
		j.Prefixes = append([]netip.Prefix{}, d.Prefixes[:min(room, len(d.Prefixes))]...)
		room -= len(j.Prefixes)
		j.Redirect = append([]netip.Prefix{}, d.Redirect[:min(room, len(d.Redirect))]...)
		room -= len(j.Redirect)
		return j
	}
	a := take(added)
	return a, take(removed)
}

// record notes b as served from now: a change when its content differs from
// the last version this address served, and the time each body first
// appeared.
func (s *state) record(b *Bodies, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.changes) == 0 || b.hash != s.last {
		c := change{Serial: b.serial, Applied: now.UTC().Truncate(time.Second), First: true, zone: b.zone, id: versionID(b.zone, b.serial, b.hash)}
		c.Added, c.Removed = newDeltas(gwtable.Delta{}, gwtable.Delta{})
		if len(s.changes) > 0 && b.from == s.last {
			c.First, c.Added, c.Removed, c.lines, c.moreLines = false, b.added, b.removed, b.lines, b.moreLines
		}
		s.changes = append([]change{c}, s.changes[:min(len(s.changes), maxChanges-1)]...)
		data, feed := marshal(s.changes), atom(s.changes, now)
		for len(data)+len(feed) > maxChangesBytes && len(s.changes) > 1 {
			s.changes = s.changes[:len(s.changes)-1]
			data, feed = marshal(s.changes), atom(s.changes, now)
		}
		s.changesAt = now
		s.body, s.atom = newBody(data), newBody(feed)
		s.last = b.hash
	}
	seen := make(map[string]time.Time)
	mark := func(x body) { seen[x.etag] = s.firstAt(x.etag, now) }
	for _, ls := range []map[string]*familyLists{b.regions, b.redirect} {
		for _, l := range ls {
			mark(l.both)
			mark(l.v4)
			mark(l.v6)
		}
	}
	for _, l := range []familyLists{b.all, b.redirectAll} {
		mark(l.both)
		mark(l.v4)
		mark(l.v6)
	}
	mark(b.json)
	s.previous, s.firstSeen = s.firstSeen, seen
}

// modified is when the body with etag first appeared at this address.
func (s *state) modified(etag string, now time.Time) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.firstAt(etag, now)
}

// firstAt is when etag first appeared, or now. Called with s.mu held.
func (s *state) firstAt(etag string, now time.Time) time.Time {
	if t, ok := s.firstSeen[etag]; ok {
		return t
	}
	if t, ok := s.previous[etag]; ok {
		return t
	}
	return now
}

// changesBody is /changes, or with atom /changes.atom, and when it last
// changed.
func (s *state) changesBody(atom bool) (body, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if atom {
		return s.atom, s.changesAt
	}
	return s.body, s.changesAt
}

package mysqlgw

import (
	"fmt"
	"sync"
	"time"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
)

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

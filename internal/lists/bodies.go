package lists

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/netip"
	"strings"
	"time"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
)

// Version is one table version as the listener serves it, handed over by
// the plugin each time it swaps a table in.
type Version struct {
	// Table is the table served: its regions as served (the Corefile's
	// region and alias lines included) and its provenance.
	Table gwtable.Table
	Sets  []*gwtable.Set // each region's allow set, in Table.Regions order; nil for a region with none
	All   *gwtable.Set   // every region's together
	// Redirect and RedirectAll are the same of the regions' Redirect sets.
	Redirect    []*gwtable.Set
	RedirectAll *gwtable.Set
	TTL         uint32 // Cache-Control's max-age: the zone's ttl
	Port        uint16 // the gateways' port, for /regions.json
	Zone        string // the zone the feed's ids name

	// Hash is the table's content (gwtable's Table.Hash); From is the
	// content Diff compares it with, zero when there was none.
	Hash, From [32]byte
	Diff       gwtable.DiffResult
}

// body is one response body and its strong ETag.
type body struct {
	data []byte
	etag string
}

func newBody(data []byte) body {
	sum := sha256.Sum256(data)
	return body{data: data, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`}
}

// familyLists is one allow set as three lists: both families, IPv4 only,
// IPv6 only (?family=4, ?family=6).
type familyLists struct {
	both, v4, v6 body
}

// Bodies is what the listener serves for one table version, built once,
// with the DNS answers, so that a request costs a map lookup.
type Bodies struct {
	regions     map[string]*familyLists // every name a region answers to, lower case
	all         familyLists
	redirect    map[string]*familyLists // the same of the Redirect sets
	redirectAll familyLists
	json        body // /regions.json
	ttl         uint32

	// What the history records of this version: its zone, serial, its
	// content and the content its change is from, and the change, as
	// /changes names it and as Diff's lines for the feed.
	zone           string
	serial         uint32
	hash, from     [32]byte
	added, removed jsonDelta
	lines          []string
	moreLines      int
}

// Build turns a version into the bodies the listener serves. It is a pure
// function: the plugin builds them with the answers, and Publish serves them.
func Build(v Version) *Bodies {
	b := &Bodies{
		regions: make(map[string]*familyLists), redirect: make(map[string]*familyLists), ttl: v.TTL,
		zone: v.Zone, serial: v.Table.Serial, hash: v.Hash, from: v.From,
	}
	b.added, b.removed = newDeltas(v.Diff.Added, v.Diff.Removed)
	b.lines, b.moreLines = diffLines(v.Diff)
	for i, r := range v.Table.Regions {
		for _, set := range []struct {
			sets []*gwtable.Set
			into map[string]*familyLists
		}{{v.Sets, b.regions}, {v.Redirect, b.redirect}} {
			if set.sets[i] == nil {
				continue // nothing of that set: 404
			}
			lists := newFamilyLists(set.sets[i])
			for _, name := range r.Names() {
				set.into[name] = &lists
			}
		}
	}
	b.all, b.redirectAll = newFamilyLists(v.All), newFamilyLists(v.RedirectAll)
	b.json = newBody(regionsJSON(v.Table, v.Sets, v.Redirect, v.Port))
	return b
}

// diffLines are d's lines after its two header lines, up to maxChangeNames,
// copied so that a huge diff's text is not kept, and how many more there
// are.
func diffLines(d gwtable.DiffResult) ([]string, int) {
	if !d.Changed {
		return nil, 0
	}
	lines := strings.SplitN(strings.TrimSuffix(d.Text, "\n"), "\n", 2+maxChangeNames+1)[2:]
	more := 0
	if len(lines) > maxChangeNames {
		more = 1 + strings.Count(lines[maxChangeNames], "\n")
		lines = lines[:maxChangeNames]
	}
	for i, l := range lines {
		lines[i] = strings.Clone(l)
	}
	return lines, more
}

// newFamilyLists writes a set's aggregated prefixes, IPv4 first, one a
// line. Each body is copied to its own size, as a body lives a whole table
// version; a set of one family is its family's list, one body and not two
// copies.
func newFamilyLists(set *gwtable.Set) familyLists {
	prefixes4, prefixes6 := set.Families()
	v4, v6 := lines(prefixes4), lines(prefixes6)
	l := familyLists{v4: newBody(v4), v6: newBody(v6)}
	switch {
	case len(v6) == 0:
		l.both = l.v4
	case len(v4) == 0:
		l.both = l.v6
	default:
		l.both = newBody(append(append(make([]byte, 0, len(v4)+len(v6)), v4...), v6...))
	}
	return l
}

// lines writes prefixes one a line, in a slice of its own size.
func lines(prefixes []netip.Prefix) []byte {
	var b []byte
	for _, p := range prefixes {
		b = append(p.AppendTo(b), '\n')
	}
	return bytes.Clone(b)
}

// lookup finds a region's lists of one set by any name it answers to, in
// any case.
func lookup(lists map[string]*familyLists, name string) *familyLists {
	return lists[strings.ToLower(name)]
}

// The schema of /regions.json: docs/http.md.
type jsonTable struct {
	Serial            uint32       `json:"serial"`
	Source            *string      `json:"source"`
	Published         *string      `json:"published"`
	RedirectSource    *string      `json:"redirect_source"`
	RedirectPublished *string      `json:"redirect_published"`
	Ports             jsonPorts    `json:"ports"`
	Regions           []jsonRegion `json:"regions"`
}

// jsonPorts are the TCP ports each set is for: the gateways' (the Proxy
// policy, and the Redirect policy's first connection) and the Redirect
// set's.
type jsonPorts struct {
	Gateway  uint16 `json:"gateway"`
	Redirect string `json:"redirect"`
}

// RedirectPorts are the ports clients under Azure SQL's Redirect policy
// connect to on the Redirect set's addresses.
const RedirectPorts = "11000-11999"

type jsonRegion struct {
	Name            string         `json:"name"`
	Names           []string       `json:"names"`
	Gateways        []jsonGateway  `json:"gateways"`
	Subnets         []netip.Prefix `json:"subnets"`
	Decommissioning []netip.Addr   `json:"decommissioning"`
	Redirect        []netip.Prefix `json:"redirect"`
	// The region's sets as its lists serve them, a family each: for
	// firewalls whose JSON mapping takes one field and IPv4 alone
	// (FortiGate's generic connector).
	Allow4    []netip.Prefix `json:"allow4"`
	Allow6    []netip.Prefix `json:"allow6"`
	Redirect4 []netip.Prefix `json:"redirect4"`
	Redirect6 []netip.Prefix `json:"redirect6"`
}

// families is a set's aggregated prefixes by family; empty, not null, for
// a region without the set.
func families(set *gwtable.Set) (v4, v6 []netip.Prefix) {
	if set == nil {
		return []netip.Prefix{}, []netip.Prefix{}
	}
	v4, v6 = set.Families()
	return append([]netip.Prefix{}, v4...), append([]netip.Prefix{}, v6...)
}

type jsonGateway struct {
	Role    string     `json:"role"`
	Address netip.Addr `json:"address"`
}

// regionsJSON is /regions.json: the table, and each region's allow and
// Redirect sets (allow and redirect, in Table.Regions order; nil for a
// region without one) as its lists serve them.
func regionsJSON(table gwtable.Table, allow, redirect []*gwtable.Set, port uint16) []byte {
	t := jsonTable{Serial: table.Serial, Ports: jsonPorts{port, RedirectPorts}, Regions: make([]jsonRegion, len(table.Regions))}
	t.Source, t.Published = orNull(table.Source), dateOrNull(table.Published)
	t.RedirectSource, t.RedirectPublished = orNull(table.RedirectSource), dateOrNull(table.RedirectPublished)
	for i, r := range table.Regions {
		jr := jsonRegion{
			Name: r.Name, Names: r.Names(), Gateways: make([]jsonGateway, len(r.Addrs)),
			Subnets: append([]netip.Prefix{}, r.Subnets...), Decommissioning: append([]netip.Addr{}, r.Decommissioning...),
			Redirect: append([]netip.Prefix{}, r.Redirect...),
		}
		for k, a := range r.Addrs {
			jr.Gateways[k] = jsonGateway{Role: gwtable.Role(k).String(), Address: a}
		}
		jr.Allow4, jr.Allow6 = families(allow[i])
		jr.Redirect4, jr.Redirect6 = families(redirect[i])
		t.Regions[i] = jr
	}
	return marshal(t)
}

// orNull is s, or null when it is empty.
func orNull(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// dateOrNull is t as YYYY-MM-DD, or null when it is zero.
func dateOrNull(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	return orNull(t.Format(gwtable.DateLayout))
}

// marshal is json.Marshal of values that always marshal, with a final newline
// as curl users expect, in a slice of its own size (append would keep up to
// a quarter more for a body kept a whole table version).
func marshal(v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		panic("lists: marshalling " + err.Error()) // only plain types: cannot happen
	}
	out := make([]byte, len(data)+1)
	copy(out, data)
	out[len(data)] = '\n'
	return out
}

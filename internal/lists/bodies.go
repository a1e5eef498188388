package lists

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/netip"
	"strings"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
)

// Version is one table version as the listener serves it, handed over by
// the plugin each time it swaps a table in.
type Version struct {
	// Table is the table served: its regions as served (the Corefile's
	// region and alias lines included) and its provenance.
	Table gwtable.Table
	Sets  []*gwtable.Set // each region's allow set, in Table.Regions order
	All   *gwtable.Set   // every region's together
	TTL   uint32         // Cache-Control's max-age: the zone's ttl

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
	regions map[string]*familyLists // every name a region answers to, lower case
	all     familyLists
	json    body // /regions.json
	ttl     uint32

	// What the history records of this version: its serial, its content
	// and the content its change is from, and the change.
	serial         uint32
	hash, from     [32]byte
	added, removed jsonDelta
}

// Build turns a version into the bodies the listener serves. It is a pure
// function: the plugin builds them with the answers, and Publish serves them.
func Build(v Version) *Bodies {
	b := &Bodies{
		regions: make(map[string]*familyLists), ttl: v.TTL,
		serial: v.Table.Serial, hash: v.Hash, from: v.From,
	}
	b.added, b.removed = newDeltas(v.Diff.Added, v.Diff.Removed)
	for i, r := range v.Table.Regions {
		lists := newFamilyLists(v.Sets[i].Prefixes)
		for _, name := range r.Names() {
			b.regions[name] = &lists
		}
	}
	b.all = newFamilyLists(v.All.Prefixes)
	b.json = newBody(regionsJSON(v.Table))
	return b
}

// newFamilyLists writes aggregated prefixes, IPv4 first, one a line.
func newFamilyLists(prefixes []netip.Prefix) familyLists {
	var both, v4, v6 bytes.Buffer
	for _, p := range prefixes {
		line := p.String() + "\n"
		both.WriteString(line)
		if p.Addr().Is4() {
			v4.WriteString(line)
		} else {
			v6.WriteString(line)
		}
	}
	return familyLists{both: newBody(both.Bytes()), v4: newBody(v4.Bytes()), v6: newBody(v6.Bytes())}
}

// lookupRegion finds a region's lists by any name it answers to, in any case.
func (b *Bodies) lookupRegion(name string) *familyLists {
	return b.regions[strings.ToLower(name)]
}

// The schema of /regions.json: docs/http.md.
type jsonTable struct {
	Serial    uint32       `json:"serial"`
	Source    *string      `json:"source"`
	Published *string      `json:"published"`
	Regions   []jsonRegion `json:"regions"`
}

type jsonRegion struct {
	Name            string         `json:"name"`
	Names           []string       `json:"names"`
	Gateways        []jsonGateway  `json:"gateways"`
	Subnets         []netip.Prefix `json:"subnets"`
	Decommissioning []netip.Addr   `json:"decommissioning"`
}

type jsonGateway struct {
	Role    string     `json:"role"`
	Address netip.Addr `json:"address"`
}

func regionsJSON(table gwtable.Table) []byte {
	t := jsonTable{Serial: table.Serial, Regions: make([]jsonRegion, len(table.Regions))}
	if table.Source != "" {
		t.Source = &table.Source
	}
	if !table.Published.IsZero() {
		d := table.Published.Format(gwtable.DateLayout)
		t.Published = &d
	}
	for i, r := range table.Regions {
		jr := jsonRegion{
			Name: r.Name, Names: r.Names(), Gateways: make([]jsonGateway, len(r.Addrs)),
			Subnets: append([]netip.Prefix{}, r.Subnets...), Decommissioning: append([]netip.Addr{}, r.Decommissioning...),
		}
		for k, a := range r.Addrs {
			jr.Gateways[k] = jsonGateway{Role: gwtable.Role(k).String(), Address: a}
		}
		t.Regions[i] = jr
	}
	return marshal(t)
}

// marshal is json.Marshal of values that always marshal, with a final newline
// as curl users expect.
func marshal(v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		panic("lists: marshalling " + err.Error()) // only plain types: cannot happen
	}
	return append(data, '\n')
}

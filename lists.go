package mysqlgw

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
)

// The HTTP side's bodies: every region's allow set as a list of prefixes,
// the same for all regions, and the table as JSON, built once per table
// version with the DNS answers and swapped in with them, so a request costs a
// map lookup.

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

// httpBodies is what the HTTP listener serves for one table version.
type httpBodies struct {
	regions map[string]*familyLists // every name a region answers to, lower case
	all     familyLists
	json    body // /regions.json
	ttl     uint32
}

// buildBodies turns the served regions and the table's provenance into
// bodies. It is a pure function of its arguments.
func buildBodies(regions []gwtable.Region, table gwtable.Table, ttl uint32) *httpBodies {
	sets, _ := allowSets(regions)
	b := &httpBodies{regions: make(map[string]*familyLists), ttl: ttl}
	for i, r := range regions {
		lists := newFamilyLists(merge(sets[i].cover()))
		for _, name := range regionNames(r) {
			b.regions[name] = &lists
		}
	}
	b.all = newFamilyLists(merge(sets[len(sets)-1].cover()))
	b.json = newBody(regionsJSON(regions, table))
	return b
}

// regionNames are the names a region answers to: its name, then its aliases.
func regionNames(r gwtable.Region) []string {
	return append([]string{r.Name}, r.Aliases...)
}

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

// merge sorts prefixes, none inside another (cover's result), by address,
// IPv4 first, and joins each pair of halves of a larger prefix into it, as
// often as it can. Sorted and disjoint, two halves are neighbours, and a
// joined prefix can only join the one just before it.
func merge(prefixes []netip.Prefix) []netip.Prefix {
	sorted := append([]netip.Prefix(nil), prefixes...)
	sortPrefixes(sorted)
	var out []netip.Prefix
	for _, p := range sorted {
		out = append(out, p)
		for len(out) >= 2 {
			a, b := out[len(out)-2], out[len(out)-1]
			if a.Bits() != b.Bits() || a.Bits() == 0 || a.Addr().Is4() != b.Addr().Is4() {
				break
			}
			parent, _ := a.Addr().Prefix(a.Bits() - 1)
			if parent.Addr() != a.Addr() || !parent.Contains(b.Addr()) {
				break
			}
			out = append(out[:len(out)-2], parent)
		}
	}
	return out
}

func sortPrefixes(ps []netip.Prefix) {
	slices.SortFunc(ps, func(p, q netip.Prefix) int {
		if c := p.Addr().Compare(q.Addr()); c != 0 {
			return c
		}
		return p.Bits() - q.Bits()
	})
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

func regionsJSON(regions []gwtable.Region, table gwtable.Table) []byte {
	t := jsonTable{Serial: table.Serial, Regions: make([]jsonRegion, len(regions))}
	if table.Source != "" {
		t.Source = &table.Source
	}
	if !table.Published.IsZero() {
		d := table.Published.Format(gwtable.DateLayout)
		t.Published = &d
	}
	for i, r := range regions {
		jr := jsonRegion{
			Name: r.Name, Names: regionNames(r), Gateways: make([]jsonGateway, len(r.Addrs)),
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
		panic("mysqlgw: marshalling " + err.Error()) // only plain types: cannot happen
	}
	return append(data, '\n')
}

// A change is one table version a listener served, against the one before:
// /changes. docs/http.md has its schema.
type change struct {
	Serial  uint32    `json:"serial"`
	Applied time.Time `json:"applied"`
	Added   jsonDelta `json:"added"`
	Removed jsonDelta `json:"removed"`
}

type jsonDelta struct {
	Regions   []string       `json:"regions"`
	Addresses []netip.Addr   `json:"addresses"`
	Prefixes  []netip.Prefix `json:"prefixes"`
}

func newDelta(d gwtable.Delta) jsonDelta {
	return jsonDelta{
		Regions:   append([]string{}, d.Regions...),
		Addresses: append([]netip.Addr{}, d.Addresses...),
		Prefixes:  append([]netip.Prefix{}, d.Prefixes...),
	}
}

// lookupRegion finds a region's lists by any name it answers to, in any case.
func (b *httpBodies) lookupRegion(name string) *familyLists {
	return b.regions[strings.ToLower(name)]
}

package mysqlgw

import (
	"crypto/sha256"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"

	"github.com/miekg/dns"
)

// With transfer_health, a zone's transferred content follows health: every
// change of an active answer is a new version of the zone with a serial of
// its own, and IXFR from one of the last maxVersions serials gets only the
// records that changed (RFC 1995).

// maxVersions is how many earlier serials IXFR answers with differences;
// from an older one a secondary gets the whole zone.
const maxVersions = 64

// serialEpoch starts the clock in the serial. With transfer_health every
// version's serial is at least the table's $SERIAL plus the seconds since
// serialEpoch, so a restarted mysqlgw, which remembers no serial, starts
// above the one it served before (unless it had served more than one
// version a second, on average, for the seconds before it stopped).
var serialEpoch = time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC)

// testClock, when set, is the time the serials read instead of the clock's.
var testClock atomic.Pointer[time.Time]

// clockSerial is table plus the whole seconds since serialEpoch; RFC 1982's
// arithmetic takes the wrap past 2^32 in its stride.
func clockSerial(table uint32) uint32 {
	now := time.Now()
	if at := testClock.Load(); at != nil {
		now = *at
	}
	return table + uint32(max(now.Sub(serialEpoch), 0)/time.Second)
}

// nextSerial is the serial of a new version after cur.
func nextSerial(cur, table uint32) uint32 { return max32(cur+1, clockSerial(table)) }

// zoneVersions is what one zone has offered its secondaries: the serial,
// the active answers chosen at that serial, and the differences from the
// serials before. It is kept per zone name for the life of the process, so
// a Corefile reload continues the serial instead of starting it again.
type zoneVersions struct {
	mu          sync.Mutex
	owner       *answers  // the answers the versions describe
	info        *zoneInfo // the zone in owner
	opt         options   // owner's settings, for listing the zone
	fingerprint [32]byte  // of everything but the serial and the health choices
	choices     []int     // by info.actives: the choice each transferred at serial
	deltas      []delta   // oldest first
	list        [][]dns.RR
}

// delta is one step between versions: RFC 1995's old SOA, records removed,
// new SOA, records added.
type delta struct {
	from, to       *dns.SOA
	removed, added []dns.RR
}

var (
	versionsMu     sync.Mutex
	versionsByZone = map[string]*zoneVersions{}
)

// versionsOf returns the versions of zone, creating them empty.
func versionsOf(zone string) *zoneVersions {
	versionsMu.Lock()
	defer versionsMu.Unlock()
	v, ok := versionsByZone[zone]
	if !ok {
		v = &zoneVersions{}
		versionsByZone[zone] = v
	}
	return v
}

// adopt makes built's zones the versions' content, called as built goes
// live. A zone new to the process starts at clockSerial; one whose content
// is unchanged keeps its serial; one whose health choices alone changed gets
// the next serial and a delta; any other change gets the next serial and
// starts the history again: older serials get the whole zone. The served
// serial only goes up. It returns the zones whose serial moved.
func adopt(built *answers, opt options) []string {
	var moved []string
	for z, info := range built.apex {
		if adoptZone(versionsOf(z), built, info, opt) {
			moved = append(moved, z)
		}
	}
	slices.Sort(moved)
	return moved
}

func adoptZone(v *zoneVersions, built *answers, info *zoneInfo, opt options) bool {
	fp := fingerprint(built, info, opt)
	v.mu.Lock()
	defer v.mu.Unlock()
	choices := liveChoices(info)
	apex := built.nodes[info.name].rrsets
	if v.owner == nil {
		serial := clockSerial(info.soa.Serial)
		v.owner, v.info, v.opt, v.fingerprint, v.choices = built, info, opt, fp, choices
		info.serve(serial, apex)
		servedSerial.WithLabelValues(info.name).Set(float64(serial))
		return false
	}
	old := v.info
	was := old.current().soa.Serial
	serial := was
	switch {
	case fp == v.fingerprint:
		if !settled(info) {
			// A new instance's checker has not finished its first round:
			// keep what was transferred rather than send the primary out
			// and back.
			choices = slices.Clone(v.choices)
		}
		if d, changed := choiceDelta(old, v.choices, info, choices); changed {
			serial = v.step(d, info)
		}
	default:
		serial = nextSerial(serial, info.soa.Serial)
		v.deltas = nil
	}
	v.owner, v.info, v.opt, v.fingerprint, v.choices, v.list = built, info, opt, fp, choices, nil
	info.serve(serial, apex)
	servedSerial.WithLabelValues(info.name).Set(float64(serial))
	return serial != was
}

// follow publishes the health choices of owner's zones that changed since
// their last version: each such zone gets the next serial and a delta. It
// returns the zones whose serial moved. Zones whose versions another
// instance owns now are left alone.
func follow(owner *answers) []string {
	var moved []string
	for z, info := range owner.apex {
		if len(info.actives) == 0 {
			continue
		}
		v := versionsOf(z)
		v.mu.Lock()
		if v.owner == owner {
			choices := liveChoices(info)
			if d, changed := choiceDelta(info, v.choices, info, choices); changed {
				serial := v.step(d, info)
				v.choices, v.list = choices, nil
				info.serve(serial, owner.nodes[z].rrsets)
				servedSerial.WithLabelValues(z).Set(float64(serial))
				moved = append(moved, z)
			}
		}
		v.mu.Unlock()
	}
	slices.Sort(moved)
	return moved
}

// snapshot is a zone as one transfer sends it.
type snapshot struct {
	soa    *dns.SOA
	deltas []delta
	list   [][]dns.RR
}

// snapshot returns the zone at its current serial, listing it the first
// time a transfer asks for that serial; false before any instance has
// started serving the zone.
func (v *zoneVersions) snapshot() (snapshot, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.owner == nil {
		return snapshot{}, false
	}
	if v.list == nil {
		picked := make(map[*activeName]int, len(v.choices))
		for i, a := range v.info.actives {
			picked[a] = v.choices[i]
		}
		rrs := v.owner.zoneRecords(v.info, v.opt, func(a *activeName) int { return picked[a] })
		v.list = batches(rrs)
	}
	return snapshot{soa: v.info.current().soa, deltas: slices.Clip(v.deltas), list: v.list}, true
}

// since returns the deltas from serial to the current one, or false when
// serial is not one of the kept versions.
func (s snapshot) since(serial uint32) ([]delta, bool) {
	for i, d := range s.deltas {
		if d.from.Serial == serial {
			return s.deltas[i:], true
		}
	}
	return nil, false
}

// liveChoices is what each active name of info answers now.
func liveChoices(info *zoneInfo) []int {
	choices := make([]int, len(info.actives))
	for i, a := range info.actives {
		choices[i] = a.choice()
	}
	return choices
}

// settled reports whether info's health choices are known: no checker, or
// one that has finished its first round.
func settled(info *zoneInfo) bool {
	for _, a := range info.actives {
		if c := a.checker; c != nil && !c.settled() {
			return false
		}
	}
	return true
}

// choiceDelta is the difference between the active answers of from at
// fromChoices and those of to at toChoices; to's actives are from's, or the
// same names in the same order (equal fingerprints). Records in both are
// left out: a change between failover open and one address removes and adds
// only what differs.
func choiceDelta(from *zoneInfo, fromChoices []int, to *zoneInfo, toChoices []int) (delta, bool) {
	d := delta{from: from.current().soa}
	for i := range to.actives {
		if fromChoices[i] == toChoices[i] {
			continue
		}
		was := recordsOf(from.actives[i].choices[fromChoices[i]])
		now := recordsOf(to.actives[i].choices[toChoices[i]])
		d.removed = append(d.removed, minus(was, now)...)
		d.added = append(d.added, minus(now, was)...)
	}
	return d, len(d.removed)+len(d.added) > 0
}

func recordsOf(sets []rrset) []dns.RR {
	var rrs []dns.RR
	for _, s := range sets {
		rrs = append(rrs, s.answer...)
	}
	return rrs
}

// minus is the records of a not in b.
func minus(a, b []dns.RR) []dns.RR {
	var out []dns.RR
	for _, x := range a {
		if !slices.ContainsFunc(b, func(y dns.RR) bool { return dns.IsDuplicate(x, y) }) {
			out = append(out, x)
		}
	}
	return out
}

// step records d, from the current serial, as a step to the next serial of
// info's table, keeping the newest maxVersions steps, and returns the new
// serial. Called with v.mu held.
func (v *zoneVersions) step(d delta, info *zoneInfo) uint32 {
	serial := nextSerial(d.from.Serial, info.soa.Serial)
	d.to = nextSOA(info.soa, serial)
	v.deltas = append(v.deltas, d)
	if over := len(v.deltas) - maxVersions; over > 0 {
		v.deltas = slices.Clone(v.deltas[over:]) // let the oldest go
	}
	return serial
}

func nextSOA(built *dns.SOA, serial uint32) *dns.SOA {
	soa := dns.Copy(built).(*dns.SOA)
	soa.Serial = serial
	return soa
}

// max32 is the later of two serials in RFC 1982's order.
func max32(a, b uint32) uint32 {
	if gwtable.SerialAfter(a, b) {
		return a
	}
	return b
}

// fingerprint hashes everything the zone can transfer but the serial and the
// health choices: the SOA's other fields and every record, each active
// name's with every answer it may choose.
func fingerprint(n *answers, info *zoneInfo, opt options) [32]byte {
	h := sha256.New()
	buf := make([]byte, dns.MaxMsgSize)
	write := func(rr dns.RR) {
		// The wire form, uncompressed: a record that does not pack
		// cannot be served either, and hashes as its text.
		if end, err := dns.PackRR(rr, buf, 0, nil, false); err == nil {
			h.Write(buf[:end])
		} else {
			h.Write([]byte(rr.String()))
		}
	}
	soa := *info.soa
	soa.Serial = 0
	write(&soa)
	for _, rr := range n.zoneRecords(info, opt, nil) {
		write(rr)
	}
	for _, a := range info.actives {
		for _, sets := range a.choices {
			h.Write([]byte{0})
			for _, rr := range recordsOf(sets) {
				write(rr)
			}
		}
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

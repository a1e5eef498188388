package gwtable

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func prefixes(t testing.TB, ss ...string) []netip.Prefix {
	t.Helper()
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

func TestAggregate(t *testing.T) {
	for _, tc := range []struct{ in, want []string }{
		{nil, nil},
		// Duplicates and prefixes inside another go; order is by address.
		{[]string{"10.0.0.8/29", "10.0.0.0/24", "10.0.0.8/29", "9.0.0.1/32"}, []string{"9.0.0.1/32", "10.0.0.0/24"}},
		// Halves join, as often as they can.
		{[]string{"10.0.0.0/25", "10.0.0.128/26", "10.0.0.192/26"}, []string{"10.0.0.0/24"}},
		// Neighbours that are not halves of one prefix stay apart.
		{[]string{"10.0.0.128/25", "10.0.1.0/25"}, []string{"10.0.0.128/25", "10.0.1.0/25"}},
		// IPv4 first; families never join.
		{[]string{"2001:db8::/33", "2001:db8:8000::/33", "0.0.0.0/1", "128.0.0.0/1"}, []string{"0.0.0.0/0", "2001:db8::/32"}},
	} {
		got := Aggregate(prefixes(t, tc.in...))
		if fmt.Sprint(got) != fmt.Sprint(prefixes(t, tc.want...)) {
			t.Errorf("Aggregate(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// randomPrefixes are n prefixes inside 10.0.0.0/22 and 2001:db8::/118, so
// that every address can be counted one by one.
func randomPrefixes(r *rand.Rand, n int) []netip.Prefix {
	var out []netip.Prefix
	for range n {
		if r.IntN(3) == 0 {
			bits := 118 + r.IntN(11)
			a := addN(netip.MustParseAddr("2001:db8::"), r.IntN(1024))
			p, _ := a.Prefix(bits)
			out = append(out, p)
			continue
		}
		bits := 22 + r.IntN(11)
		p, _ := addN(netip.MustParseAddr("10.0.0.0"), r.IntN(1024)).Prefix(bits)
		out = append(out, p)
	}
	return out
}

// addresses lists every address of prefixes once.
func addresses(ps []netip.Prefix) map[netip.Addr]bool {
	m := map[netip.Addr]bool{}
	for _, p := range ps {
		for a := p.Addr(); p.Contains(a); a = a.Next() {
			m[a] = true
		}
	}
	return m
}

// Aggregate, Size and Overlap agree with counting addresses one by one.
func TestPrefixArithmetic(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 300 {
		a, b := randomPrefixes(r, r.IntN(12)), randomPrefixes(r, r.IntN(12))
		aggA, aggB := Aggregate(a), Aggregate(b)
		if !mapsEqual(addresses(aggA), addresses(a)) {
			t.Fatalf("round %d: Aggregate(%v) = %v covers other addresses", round, a, aggA)
		}
		for i := 1; i < len(aggA); i++ {
			if comparePrefixes(aggA[i-1], aggA[i]) >= 0 || aggA[i-1].Overlaps(aggA[i]) {
				t.Fatalf("round %d: %v is not sorted and disjoint", round, aggA)
			}
		}
		if again := Aggregate(aggA); !slices.Equal(again, aggA) {
			t.Fatalf("round %d: aggregating %v again gives %v", round, aggA, again)
		}
		var want4, want6, both4, both6 float64
		inB := addresses(b)
		for x := range addresses(a) {
			if x.Is4() {
				want4++
			} else {
				want6++
			}
			if inB[x] && x.Is4() {
				both4++
			} else if inB[x] {
				both6++
			}
		}
		if v4, v6 := Size(aggA); v4 != want4 || v6 != want6 {
			t.Fatalf("round %d: Size(%v) = %v, %v; want %v, %v", round, aggA, v4, v6, want4, want6)
		}
		if v4, v6 := Overlap(aggA, aggB); v4 != both4 || v6 != both6 {
			t.Fatalf("round %d: Overlap(%v, %v) = %v, %v; want %v, %v", round, aggA, aggB, v4, v6, both4, both6)
		}
	}
}

func mapsEqual(a, b map[netip.Addr]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

// A set lists its single addresses and narrow prefixes address by address,
// keeps wide prefixes whole, and hands out any window of its addresses.
func TestSet(t *testing.T) {
	r := Region{
		Addrs:           []netip.Addr{netip.MustParseAddr("10.1.0.5"), netip.MustParseAddr("2001:db8::1")},
		Decommissioning: []netip.Addr{netip.MustParseAddr("10.0.0.9")},
		Subnets:         prefixes(t, "10.0.0.0/29", "10.1.0.0/16", "10.2.0.0/24", "2001:db8:1::/120", "2001:db8:2::/64"),
	}
	s := r.Allow()
	if got := fmt.Sprint(s.Prefixes); got != "[10.0.0.0/29 10.0.0.9/32 10.1.0.0/16 10.2.0.0/24 2001:db8::1/128 2001:db8:1::/120 2001:db8:2::/64]" {
		t.Errorf("Prefixes %s", got)
	}
	if got := fmt.Sprint(s.Wide); got != "[10.1.0.0/16 2001:db8:2::/64]" {
		t.Errorf("Wide %s", got)
	}
	// The gateway inside the wide /16 is listed; the /16 is not.
	var want4, want6 []netip.Addr
	for _, p := range prefixes(t, "10.0.0.0/29", "10.0.0.9/32", "10.1.0.5/32", "10.2.0.0/24") {
		for a := p.Addr(); p.Contains(a); a = a.Next() {
			want4 = append(want4, a)
		}
	}
	for _, p := range prefixes(t, "2001:db8::1/128", "2001:db8:1::/120") {
		for a := p.Addr(); p.Contains(a); a = a.Next() {
			want6 = append(want6, a)
		}
	}
	if v4, v6 := s.Count(); v4 != len(want4) || v6 != len(want6) {
		t.Fatalf("Count = %d, %d; want %d, %d", v4, v6, len(want4), len(want6))
	}
	for _, fam := range []struct {
		v6   bool
		want []netip.Addr
	}{{false, want4}, {true, want6}} {
		for from := 0; from <= len(fam.want); from += 7 {
			for _, n := range []int{0, 1, 32, 1000} {
				to := min(from+n, len(fam.want))
				if got := s.AppendAddrs(nil, fam.v6, from, from+n); !slices.Equal(got, fam.want[from:to]) {
					t.Fatalf("v6 %t, [%d, %d): %v, want %v", fam.v6, from, from+n, got, fam.want[from:to])
				}
			}
		}
	}
	// The union of sets is the set of the union.
	other := Region{Subnets: prefixes(t, "10.0.0.8/29", "2001:db8:1::/121")}
	u := Union([]*Set{s, other.Allow()})
	if got := fmt.Sprint(u.Listed); got != "[10.0.0.0/28 10.1.0.5/32 10.2.0.0/24 2001:db8::1/128 2001:db8:1::/120]" {
		t.Errorf("Union's Listed %s", got)
	}
}

// A prefix whose addresses pass a byte boundary enumerates across it.
func TestAddN(t *testing.T) {
	for _, tc := range []struct {
		a    string
		n    int
		want string
	}{{"10.0.0.250", 10, "10.0.1.4"}, {"10.0.255.255", 1, "10.1.0.0"}, {"2001:db8::ffff", 2, "2001:db8::1:1"}, {"10.0.0.0", 65536, "10.1.0.0"}} {
		if got := addN(netip.MustParseAddr(tc.a), tc.n); got.String() != tc.want {
			t.Errorf("addN(%s, %d) = %s, want %s", tc.a, tc.n, got, tc.want)
		}
	}
}

func TestFamilies(t *testing.T) {
	for _, tc := range []struct{ in, v4, v6 string }{
		{"192.0.2.0/24 2001:db8::/64 10.0.0.1/32", "[10.0.0.1/32 192.0.2.0/24]", "[2001:db8::/64]"},
		{"192.0.2.0/24", "[192.0.2.0/24]", "[]"},
		{"2001:db8::/64", "[]", "[2001:db8::/64]"},
		{"", "[]", "[]"},
	} {
		var ps []netip.Prefix
		for _, f := range strings.Fields(tc.in) {
			ps = append(ps, netip.MustParsePrefix(f))
		}
		v4, v6 := NewSet(nil, ps).Families()
		if fmt.Sprint(v4) != tc.v4 || fmt.Sprint(v6) != tc.v6 {
			t.Errorf("%s: %v %v, want %s %s", tc.in, v4, v6, tc.v4, tc.v6)
		}
	}
}

package gwtable

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func parse(t *testing.T, content string) Table {
	t.Helper()
	table, err := Parse([]byte(content), "test")
	if err != nil {
		t.Fatal(err)
	}
	return table
}

// TestImportDiff: what the new file adds and removes, region by region in name
// order, with addresses that change kind on a line of their own.
func TestImportDiff(t *testing.T) {
	for _, tc := range []struct {
		name, old, new string
		want           string // without the two header lines
		warning        string
	}{
		{"source and published", "$SERIAL 1\n$SOURCE a.md\neastus2 192.0.2.1\n", "$SERIAL 2\n$SOURCE b.md\n$PUBLISHED 2026-05-18\neastus2 192.0.2.1\n",
			"~ $SOURCE b.md (was a.md)\n~ $PUBLISHED 2026-05-18 (was (none))\n", ""},
		{"comments only", "$SERIAL 1\n$SOURCE a.md\n$PUBLISHED 2026-05-18\neastus2 192.0.2.1\n", "# new\n$SERIAL 2\n$SOURCE a.md # not a comment: part of the source\n$PUBLISHED 2026-05-18 # a comment\neastus2 192.0.2.1 # a comment\n",
			"~ $SOURCE a.md # not a comment: part of the source (was a.md)\n", ""},
		{"unchanged", "$SERIAL 1\neastus2 192.0.2.1 subnets 192.0.2.0/29\n", "$SERIAL 2\n# a comment\neastus2   192.0.2.1 subnets 192.0.2.0/29\n", "", ""},
		{"subnets in another order", "$SERIAL 1\neastus2 subnets 192.0.2.0/29 198.51.100.0/24 decommissioning 192.0.2.9 192.0.2.10\n", "$SERIAL 1\neastus2 subnets 198.51.100.0/24 192.0.2.0/29 decommissioning 192.0.2.10 192.0.2.9\n", "", ""},
		{"added", "$SERIAL 1\neastus2 192.0.2.1\n", "$SERIAL 2\neastus2 192.0.2.1 192.0.2.2 subnets 192.0.2.0/29 decommissioning 192.0.2.9\n",
			"eastus2\n  + gateway 192.0.2.2\n  + subnet 192.0.2.0/29\n  + decommissioning 192.0.2.9\n", ""},
		{"removed", "$SERIAL 1\neastus2 192.0.2.1 192.0.2.2 subnets 192.0.2.0/29 decommissioning 192.0.2.9\n", "$SERIAL 2\neastus2 192.0.2.1\n",
			"eastus2\n  - gateway 192.0.2.2\n  - subnet 192.0.2.0/29\n  - decommissioning 192.0.2.9\n", ""},
		{"moved to decommissioning", "$SERIAL 1\neastus 191.238.6.43 40.121.158.30\n", "$SERIAL 2\neastus 40.71.8.203 40.71.83.113 decommissioning 40.121.158.30\n",
			"eastus\n  + gateway 40.71.8.203\n  + gateway 40.71.83.113\n  - gateway 191.238.6.43\n  ~ 40.121.158.30: gateway -> decommissioning\n", ""},
		{"back from decommissioning", "$SERIAL 1\neastus 192.0.2.1 decommissioning 192.0.2.9\n", "$SERIAL 2\neastus 192.0.2.1 192.0.2.9\n",
			"eastus\n  ~ 192.0.2.9: decommissioning -> gateway\n", ""},
		{"roles swapped", "$SERIAL 1\neastus2 192.0.2.1 192.0.2.2\n", "$SERIAL 2\neastus2 192.0.2.2 192.0.2.1\n",
			"eastus2\n  ~ gateways in role order: 192.0.2.2 192.0.2.1 (was 192.0.2.1 192.0.2.2)\n", ""},
		{"regions added and removed", "$SERIAL 1\nwestus 192.0.2.1\nbrazilsouth 192.0.2.3\n", "$SERIAL 2\nwestus 192.0.2.1\naustraliaeast 192.0.2.2 subnets 2001:db8::/64\n",
			"+ australiaeast (new region)\n  + gateway 192.0.2.2\n  + subnet 2001:db8::/64\n- brazilsouth (region removed)\n  - gateway 192.0.2.3\n", ""},
		{"serial not increasing", "$SERIAL 5\nwestus 192.0.2.1\n", "$SERIAL 5\nwestus 192.0.2.2\n",
			"westus\n  + gateway 192.0.2.2\n  - gateway 192.0.2.1\n",
			"new changes the table but its serial 5 does not come after old's 5: secondaries that compare serials will not see the change"},
		{"serial wraps forward", "$SERIAL 4294967295\nwestus 192.0.2.1\n", "$SERIAL 3\nwestus 192.0.2.2\n",
			"westus\n  + gateway 192.0.2.2\n  - gateway 192.0.2.1\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old, new := parse(t, tc.old), parse(t, tc.new)
			res := Diff("old", old, "new", new)
			if res.Changed != (tc.want != "") {
				t.Errorf("changed %v, want %v", res.Changed, tc.want != "")
			}
			want := tc.want
			if want != "" {
				want = "--- old (serial " + strconv.FormatUint(uint64(old.Serial), 10) + ")\n+++ new (serial " + strconv.FormatUint(uint64(new.Serial), 10) + ")\n" + want
			}
			if res.Text != want {
				t.Errorf("text:\n%s\nwant:\n%s", res.Text, want)
			}
			if res.Warning != tc.warning {
				t.Errorf("warning %q, want %q", res.Warning, tc.warning)
			}
		})
	}
}

// TestImportDiffWithoutSerial: a file without $SERIAL has a hash for a serial,
// which the warning says when it does not increase.
func TestImportDiffWithoutSerial(t *testing.T) {
	old := parse(t, "westus 192.0.2.1\n")
	new := parse(t, "westus 192.0.2.2\n")
	new.Serial = old.Serial - 1
	res := Diff("old", old, "new", new)
	if !res.Changed || !strings.HasSuffix(res.Warning, "(it has no $SERIAL)") {
		t.Errorf("%+v", res)
	}
}

// TestDiffDelta: the table-wide sets added and removed; an address that
// moves between roles, kinds or regions, or a subnet between regions, is in
// neither.
func TestDiffDelta(t *testing.T) {
	old := parse(t, "$SERIAL 1\na 192.0.2.1 192.0.2.2 subnets 198.51.100.0/29\nb 192.0.2.3 decommissioning 192.0.2.4\ngone 192.0.2.9 subnets 203.0.113.0/29\n")
	new := parse(t, "$SERIAL 2\na 192.0.2.2 decommissioning 192.0.2.1\nb 192.0.2.4 192.0.2.3 subnets 198.51.100.0/29 2001:db8::/64\nc 192.0.2.10\n")
	res := Diff("old", old, "new", new)
	got := fmt.Sprintf("+%v -%v", res.Added, res.Removed)
	want := "+{[c] [192.0.2.10] [2001:db8::/64] []} -{[gone] [192.0.2.9] [203.0.113.0/29] []}"
	if got != want {
		t.Errorf("delta %s\nwant  %s", got, want)
	}
	if same := Diff("old", old, "new", old); same.Changed || len(same.Added.Regions)+len(same.Removed.Addresses) != 0 {
		t.Errorf("a table against itself: %+v", same)
	}
}

// TestNewIn: the sorted merge finds what the quadratic look-up found: the
// items of xs that ys lacks, each once, in xs' order.
func TestNewIn(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		xs, ys := make([]int, rng.IntN(40)), make([]int, rng.IntN(40))
		for i := range xs {
			xs[i] = rng.IntN(30)
		}
		for i := range ys {
			ys[i] = rng.IntN(30)
		}
		var want []int
		for _, x := range xs {
			if !slices.Contains(ys, x) && !slices.Contains(want, x) {
				want = append(want, x)
			}
		}
		if got := newIn(xs, ys, cmp.Compare[int]); !slices.Equal(got, want) {
			t.Fatalf("newIn(%v, %v) = %v, want %v", xs, ys, got, want)
		}
	}
}

// TestDiffRedirect: the Redirect sets change on their own: a prefix added to
// or removed from one is a change of that set, also when the other set of
// the table holds it; a new $REDIRECT-SOURCE or $REDIRECT-PUBLISHED is a
// change, and a new serial alone is none.
func TestDiffRedirect(t *testing.T) {
	old := parse(t, "$SERIAL 1\n$REDIRECT-SOURCE tags-1.json\n$REDIRECT-PUBLISHED 2026-11-30\na subnets 198.51.100.0/29 redirect 198.51.100.0/29 203.0.113.0/24\nb redirect 2001:db8::/48\n")
	new := parse(t, "$SERIAL 2\n$REDIRECT-SOURCE tags-2.json\n$REDIRECT-PUBLISHED 2026-12-07\na subnets 198.51.100.0/29 redirect 203.0.113.0/24 192.0.2.0/24\nb redirect 2001:db8::/48\n")
	res := Diff("old", old, "new", new)
	if got, want := fmt.Sprintf("+%v -%v", res.Added.Redirect, res.Removed.Redirect), "+[192.0.2.0/24] -[198.51.100.0/29]"; got != want {
		t.Errorf("Redirect delta %s, want %s", got, want)
	}
	if len(res.Added.Prefixes)+len(res.Removed.Prefixes) != 0 {
		t.Errorf("the subnets did not change, yet %v %v", res.Added.Prefixes, res.Removed.Prefixes)
	}
	for _, line := range []string{"~ $REDIRECT-SOURCE tags-2.json (was tags-1.json)", "~ $REDIRECT-PUBLISHED 2026-12-07 (was 2026-11-30)", "a\n  + redirect 192.0.2.0/24\n  - redirect 198.51.100.0/29\n"} {
		if !strings.Contains(res.Text, line) {
			t.Errorf("diff text lacks %q:\n%s", line, res.Text)
		}
	}
	reserial := new
	reserial.Serial = 3
	if d := Diff("new", new, "again", reserial); d.Changed {
		t.Errorf("a new serial alone changed the table:\n%s", d.Text)
	}
}

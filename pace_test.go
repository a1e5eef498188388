package mysqlgw

import (
	"testing"
	"time"
)

// TestPace: a burst of rate requests goes at once, then one a turn; a quiet
// spell refills the burst; rate 0 never waits.
func TestPace(t *testing.T) {
	p := newPace(10) // a turn every 100 ms, a burst of 10
	now := time.Unix(1000, 0)
	for i := range 10 {
		if d, _ := p.delay(now); d != 0 {
			t.Fatalf("request %d of the burst waits %s", i+1, d)
		}
	}
	for i, want := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond} {
		if d, _ := p.delay(now); d != want {
			t.Errorf("request %d past the burst waits %s, want %s", 11+i, d, want)
		}
	}
	later := now.Add(5 * time.Second) // quiet: the burst is back
	for i := range 10 {
		if d, _ := p.delay(later); d != 0 {
			t.Fatalf("after a quiet spell, request %d waits %s", i+1, d)
		}
	}
	if d, _ := p.delay(later); d != 100*time.Millisecond {
		t.Errorf("past the refilled burst: %s", d)
	}
	if d, ok := newPace(0).delay(now); d != 0 || !ok {
		t.Errorf("rate 0 waits %s (turn given: %t)", d, ok)
	}
}

// TestPaceRefusesLongWaits: a request that would wait past maxPaceWait is
// refused without taking a turn, so the ones behind it are not pushed back.
func TestPaceRefusesLongWaits(t *testing.T) {
	p := newPace(1) // a turn a second, a burst of 1
	now := time.Unix(1000, 0)
	var last time.Duration
	for i := 0; ; i++ {
		d, ok := p.delay(now)
		if !ok {
			if last+time.Second <= maxPaceWait {
				t.Fatalf("request %d refused, yet its wait (%s) is within %s", i+1, last+time.Second, maxPaceWait)
			}
			break
		}
		if d > maxPaceWait {
			t.Fatalf("request %d waits %s, past %s", i+1, d, maxPaceWait)
		}
		last = d
	}
	if _, ok := p.delay(now); ok {
		t.Error("a second refused request got a turn")
	}
	if d, ok := p.delay(now.Add(time.Second)); !ok || d != maxPaceWait {
		t.Errorf("a second later: wait %s, turn %t; want %s", d, ok, maxPaceWait)
	}
}

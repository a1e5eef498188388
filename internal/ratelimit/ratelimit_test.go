package ratelimit

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestLines: five lines at once, then one a minute telling how many were
// held back; a quiet spell earns the burst back, and no more.
func TestLines(t *testing.T) {
	const burst, every = 5, time.Minute
	l := NewLines(burst, every)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	step := func(want bool, wantHeld int) {
		t.Helper()
		if ok, held := l.Allow(now); ok != want || held != wantHeld {
			t.Fatalf("at %s: Allow = %v, %d; want %v, %d", now.Format("15:04:05"), ok, held, want, wantHeld)
		}
	}
	for range burst {
		step(true, 0)
	}
	for range 100 {
		step(false, 0)
	}
	now = now.Add(every - time.Second)
	step(false, 0)
	if ok, _ := l.CatchUp(now); ok {
		t.Fatal("CatchUp allowed a line before a token came back")
	}
	now = now.Add(time.Second)
	step(true, 101) // the minute is up: one line, telling of the 101 held back
	step(false, 0)

	// A catch-up line goes out once a token is back, and only then.
	now = now.Add(every)
	if ok, held := l.CatchUp(now); !ok || held != 1 {
		t.Fatalf("CatchUp = %v, %d after a minute with one line held back; want true, 1", ok, held)
	}
	now = now.Add(every)
	if ok, _ := l.CatchUp(now); ok {
		t.Fatal("CatchUp allowed a line with nothing held back")
	}

	// An hour of quiet earns the burst back, not sixty lines.
	now = now.Add(time.Hour)
	for range burst {
		step(true, 0)
	}
	step(false, 0)
	now = now.Add(every)
	step(true, 1)
	step(false, 0)
}

func TestNote(t *testing.T) {
	for held, want := range map[int]string{0: "", 1: " (1 change not logged)", 3: " (3 changes not logged)"} {
		if got := Note(held, "change"); got != want {
			t.Errorf("Note(%d) = %q, want %q", held, got, want)
		}
	}
}

// TestPace: a burst of perSecond requests goes at once, then one a turn; a
// quiet spell refills the burst; 0 never waits.
func TestPace(t *testing.T) {
	p := NewPace(10, 5*time.Second) // a turn every 100 ms, a burst of 10
	now := time.Unix(1000, 0)
	for i := range 10 {
		if d, ok := p.Turn(now); d != 0 || !ok {
			t.Fatalf("request %d of the burst waits %s (turn %t)", i+1, d, ok)
		}
	}
	for i, want := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond} {
		if d, _ := p.Turn(now); d != want {
			t.Errorf("request %d past the burst waits %s, want %s", 11+i, d, want)
		}
	}
	later := now.Add(5 * time.Second) // quiet: the burst is back
	for i := range 10 {
		if d, _ := p.Turn(later); d != 0 {
			t.Fatalf("after a quiet spell, request %d waits %s", i+1, d)
		}
	}
	if d, _ := p.Turn(later); d != 100*time.Millisecond {
		t.Errorf("past the refilled burst: %s", d)
	}
	if d, ok := NewPace(0, time.Second).Turn(now); d != 0 || !ok {
		t.Errorf("0 waits %s (turn %t)", d, ok)
	}
}

// TestPaceRefusesLongWaits: a request whose turn is past the longest wait is
// refused without taking a turn, so the ones behind it are not pushed back,
// and it is told to wait the longest wait all the same.
func TestPaceRefusesLongWaits(t *testing.T) {
	const maxWait = 5 * time.Second
	p := NewPace(1, maxWait) // a turn a second, a burst of 1
	now := time.Unix(1000, 0)
	var last time.Duration
	for i := 0; ; i++ {
		d, ok := p.Turn(now)
		if !ok {
			if last+time.Second <= maxWait {
				t.Fatalf("request %d refused, yet its wait (%s) is within %s", i+1, last+time.Second, maxWait)
			}
			if d != maxWait {
				t.Fatalf("a refused request waits %s, want %s", d, maxWait)
			}
			break
		}
		if d > maxWait {
			t.Fatalf("request %d waits %s, past %s", i+1, d, maxWait)
		}
		last = d
	}
	if _, ok := p.Turn(now); ok {
		t.Error("a second refused request got a turn")
	}
	if d, ok := p.Turn(now.Add(time.Second)); !ok || d != maxWait {
		t.Errorf("a second later: wait %s, turn %t; want %s", d, ok, maxWait)
	}
}

// TestPaceWait: a refused request returns ErrRefused only after the longest
// wait; one whose client leaves returns at once with the context's error.
func TestPaceWait(t *testing.T) {
	const maxWait = 200 * time.Millisecond
	p := NewPace(1, maxWait)
	if err := p.Wait(context.Background()); err != nil { // the burst
		t.Fatal(err)
	}
	began := time.Now()
	err := p.Wait(context.Background()) // its turn is a second away
	if took := time.Since(began); !errors.Is(err, ErrRefused) || took < maxWait {
		t.Fatalf("refused after %s with %v; want ErrRefused after at least %s", took, err, maxWait)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("a client that left: %v", err)
	}
}

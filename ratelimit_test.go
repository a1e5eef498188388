package mysqlgw

import (
	"testing"
	"time"
)

// TestLineLimiter: five lines at once, then one a minute telling how many
// were held back; a quiet spell earns the burst back, and no more.
func TestLineLimiter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := lineLimiter{clock: func() time.Time { return now }}
	step := func(want bool, wantHeld int) {
		t.Helper()
		if ok, held := l.allow(); ok != want || held != wantHeld {
			t.Fatalf("at %s: allow() = %v, %d; want %v, %d", now.Format("15:04:05"), ok, held, want, wantHeld)
		}
	}
	for range stateLineBurst {
		step(true, 0)
	}
	for range 100 {
		step(false, 0)
	}
	now = now.Add(stateLineEvery - time.Second)
	step(false, 0)
	if ok, _ := l.catchUp(); ok {
		t.Fatal("catchUp allowed a line before a token came back")
	}
	now = now.Add(time.Second)
	step(true, 101) // the minute is up: one line, telling of the 101 held back
	step(false, 0)

	// A catch-up line goes out once a token is back, and only then.
	now = now.Add(stateLineEvery)
	if ok, held := l.catchUp(); !ok || held != 1 {
		t.Fatalf("catchUp() = %v, %d after a minute with one line held back; want true, 1", ok, held)
	}
	now = now.Add(stateLineEvery)
	if ok, _ := l.catchUp(); ok {
		t.Fatal("catchUp allowed a line with nothing held back")
	}

	// An hour of quiet earns the burst back, not sixty lines.
	now = now.Add(time.Hour)
	for range stateLineBurst {
		step(true, 0)
	}
	step(false, 0)
	now = now.Add(stateLineEvery)
	step(true, 1)
	step(false, 0)
}

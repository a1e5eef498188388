// Package ratelimit bounds what clients and faults can make mysqlgw do: log
// lines (Lines) and HTTP requests (Pace). Both are golang.org/x/time/rate's
// token bucket. Lines.Allow and Pace.Turn take the time, so tests pass their
// own clock; Pace.Wait, which sleeps, reads the clock itself.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Lines limits one stream of log lines: burst at once, then one every
// interval. It counts the lines it holds back, so the next line out can say
// how many there were. It is safe for concurrent use.
type Lines struct {
	limiter *rate.Limiter
	mu      sync.Mutex
	held    int // lines held back since the last one out
}

// Every bounded stream of log lines (a gateway's state changes, NOTIFY
// failures, what net/http reports of clients) goes out at LogBurst lines at
// once, then one every LogEvery: a failover and its failback log every
// change, a flapping gateway or a hostile client cannot fill the log.
const (
	LogBurst = 5
	LogEvery = time.Minute
)

// LogLines is a limit of LogBurst lines at once, then one every LogEvery.
func LogLines() *Lines { return NewLines(LogBurst, LogEvery) }

// NewLines allows burst lines at once and one every interval after that.
func NewLines(burst int, interval time.Duration) *Lines {
	return &Lines{limiter: rate.NewLimiter(rate.Every(interval), burst)}
}

// Allow reports whether a line may go out at now, and how many were held
// back before it; a line not allowed is counted as held back.
func (l *Lines) Allow(now time.Time) (ok bool, held int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.limiter.AllowN(now, 1) {
		l.held++
		return false, 0
	}
	held, l.held = l.held, 0
	return true, held
}

// CatchUp reports whether a line that tells the state at now may go out,
// and how many were held back before it: only when lines were held back and
// a token has come back. Without it, a stream that goes quiet during a hold
// would leave its last logged state wrong.
func (l *Lines) CatchUp(now time.Time) (ok bool, held int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held == 0 || !l.limiter.AllowN(now, 1) {
		return false, 0
	}
	held, l.held = l.held, 0
	return true, held
}

// Note is what a line that got out says of the lines held back before it:
// " (1 change not logged)", " (3 failures not logged)", or nothing.
func Note(held int, what string) string {
	switch {
	case held == 1:
		return fmt.Sprintf(" (1 %s not logged)", what)
	case held > 1:
		return fmt.Sprintf(" (%d %ss not logged)", held, what)
	}
	return ""
}

// ErrRefused is Pace's answer to a request whose turn is too far away.
var ErrRefused = errors.New("over the pace")

// Pace spaces requests out: each waits for its turn, perSecond on average
// with a burst as large, so a client that asks as fast as it can is slowed
// instead of served at DNS's expense. A request whose turn is more than
// maxWait away takes no turn and is refused, but only after waiting maxWait:
// a refused request never answers sooner than a served one would.
type Pace struct {
	limiter *rate.Limiter // nil: unpaced
	maxWait time.Duration
}

// NewPace paces perSecond requests a second; 0 turns pacing off.
func NewPace(perSecond int, maxWait time.Duration) *Pace {
	if perSecond <= 0 {
		return &Pace{}
	}
	return &Pace{limiter: rate.NewLimiter(rate.Limit(perSecond), perSecond), maxWait: maxWait}
}

// Turn takes the next turn at now and returns how long to wait for it;
// ok is false, and no turn is taken, when that is more than the pace's
// longest wait.
func (p *Pace) Turn(now time.Time) (wait time.Duration, ok bool) {
	if p.limiter == nil {
		return 0, true
	}
	r := p.limiter.ReserveN(now, 1)
	wait = r.DelayFrom(now)
	if !r.OK() || wait > p.maxWait {
		r.CancelAt(now)
		return p.maxWait, false
	}
	return wait, true
}

// Wait waits for the request's turn. It returns ErrRefused after the
// longest wait when the turn is further away, and ctx's error when ctx ends
// first (the client left).
func (p *Pace) Wait(ctx context.Context) error {
	wait, ok := p.Turn(time.Now())
	if wait > 0 {
		timer := time.NewTimer(wait)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if !ok {
		return ErrRefused
	}
	return nil
}

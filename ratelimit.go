package mysqlgw

import (
	"fmt"
	"time"
)

// A gateway's state-change lines are limited: stateLineBurst at once, then
// one every stateLineEvery. A failover and its failback log every change;
// a gateway that flaps cannot fill the log.
const (
	stateLineBurst = 5
	stateLineEvery = time.Minute
)

// lineLimiter is the log limit of one gateway's state-change lines, a token
// bucket: a line takes a token, and a token comes back every stateLineEvery,
// up to stateLineBurst. It counts the lines it held back, for the next line
// out to tell. It belongs to one goroutine.
type lineLimiter struct {
	clock   func() time.Time // time.Now when nil; tests set their own
	tokens  int
	last    time.Time // when tokens was last topped up
	started bool
	held    int // lines held back since the last one out
}

// allow reports whether a change's line may go out now, and how many were
// held back before it; a line not allowed is counted as held back.
func (l *lineLimiter) allow() (ok bool, held int) {
	if !l.take() {
		l.held++
		return false, 0
	}
	held, l.held = l.held, 0
	return true, held
}

// catchUp reports whether a line that tells the state now may go out, and
// how many were held back before it: only when lines were held back and a
// token has come back. Without it, a gateway that stops flapping during a
// hold-back would leave its last logged state wrong.
func (l *lineLimiter) catchUp() (ok bool, held int) {
	if l.held == 0 || !l.take() {
		return false, 0
	}
	held, l.held = l.held, 0
	return true, held
}

// take takes a token, if there is one.
func (l *lineLimiter) take() bool {
	now := time.Now()
	if l.clock != nil {
		now = l.clock()
	}
	if !l.started {
		l.started, l.tokens, l.last = true, stateLineBurst, now
	}
	if n := now.Sub(l.last) / stateLineEvery; n > 0 {
		l.tokens = min(stateLineBurst, l.tokens+int(n))
		l.last = l.last.Add(n * stateLineEvery)
	}
	if l.tokens == stateLineBurst {
		l.last = now // a full bucket earns nothing by waiting
	}
	if l.tokens == 0 {
		return false
	}
	l.tokens--
	return true
}

// heldNote is what a line that got out says of the lines of what held back
// before it: " (1 change not logged)", " (3 failures not logged)", or
// nothing.
func heldNote(held int, what string) string {
	switch {
	case held == 1:
		return fmt.Sprintf(" (1 %s not logged)", what)
	case held > 1:
		return fmt.Sprintf(" (%d %ss not logged)", held, what)
	}
	return ""
}

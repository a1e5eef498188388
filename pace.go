package mysqlgw

import (
	"sync"
	"time"
)

// defaultHTTPRate is how many HTTP requests a second a listener answers on
// average, with a burst as large: far above what firewalls that poll every
// few minutes ask, low enough that a client fetching flat out leaves DNS its
// CPU (bench/http.sh).
const defaultHTTPRate = 500

// maxPaceWait is the longest a request waits for its turn; one that would
// wait longer is answered 503 at once, well inside the write timeout.
const maxPaceWait = 5 * time.Second

// pace spaces HTTP requests out: a request waits for its turn instead of
// being answered at once, so a client that asks as fast as it can is slowed,
// not served at DNS's expense. Waiting requests are bounded by the
// listener's connection cap.
type pace struct {
	mu       sync.Mutex
	interval time.Duration // between turns; 0: no pacing
	burst    time.Duration // how far behind the schedule may fall: the burst
	next     time.Time     // the next free turn
}

func newPace(rate int) *pace {
	if rate <= 0 {
		return &pace{}
	}
	interval := time.Second / time.Duration(rate)
	return &pace{interval: interval, burst: time.Duration(rate-1) * interval} // rate requests at once
}

// delay takes the next turn at now and says how long to wait for it; false
// when that would be longer than maxPaceWait, and then no turn is taken.
func (p *pace) delay(now time.Time) (time.Duration, bool) {
	if p.interval == 0 {
		return 0, true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if earliest := now.Add(-p.burst); p.next.Before(earliest) {
		p.next = earliest
	}
	wait := p.next.Sub(now)
	if wait > maxPaceWait {
		return 0, false
	}
	p.next = p.next.Add(p.interval)
	return max(wait, 0), true
}

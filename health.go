package mysqlgw

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
	"github.com/mysqlgw/mysqlgw/internal/ratelimit"
)

const (
	minProbeInterval    = 100 * time.Millisecond
	defaultProbeTimeout = time.Second
)

// healthConfig is what the Corefile's healthcheck, rise, fall and probe
// properties say, with the gateway port in probe.
type healthConfig struct {
	interval   time.Duration // between probes of one address; 0: no health checks
	probe      prober
	rise, fall int // consecutive passes (fails) before an address is up (down)
}

// defaultHealth holds the defaults of rise, fall and probe; its interval of 0
// keeps health checks off until a healthcheck property sets one.
var defaultHealth = healthConfig{rise: 2, fall: 3, probe: prober{mode: probeLogin, user: defaultProbeUser}}

// healthChecker probes every address of the table on the gateway port (by
// default with a complete MySQL login, see probe.go). Each address has one goroutine, so at most one probe per
// address is ever in flight; rounds after the first are jittered so that the
// probes of a large table do not all fire at once. It runs only between
// start and stop, which the server calls, so a Corefile reload leaves no
// goroutine behind.
type healthChecker struct {
	healthConfig
	servers []string // the server block's values of CoreDNS's server label

	mu        sync.Mutex
	targets   map[netip.Addr]*addrHealth
	regions   []gwtable.Region   // the table being served, for the gateway_up gauge
	published map[[3]string]bool // gateway_up series this checker set: region, role, address
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	ready     atomic.Bool // the first probe round has finished

	// onChange, if set, is told after every change of an address's state
	// and when the first round has finished (transfer_health).
	onChange func()
}

// addrHealth is one address's state. up is read by queries, lock-free; the
// counters belong to the address's own prober goroutine.
type addrHealth struct {
	addr    netip.Addr
	isUp    atomic.Bool
	known   atomic.Bool // at least one probe has finished
	passes  int
	fails   int
	logs    *ratelimit.Lines   // its state-change lines
	cancel  context.CancelFunc // stops this address's prober
	stopped chan struct{}
}

func newHealthChecker(cfg healthConfig, servers []string) *healthChecker {
	return &healthChecker{healthConfig: cfg, servers: servers, targets: make(map[netip.Addr]*addrHealth)}
}

// up reports whether the address passes its checks. An address not probed
// yet counts as up: until a probe says otherwise, the table's order stands.
func (h *addrHealth) up() bool { return !h.known.Load() || h.isUp.Load() }

// settled reports whether the first probe round has finished.
func (c *healthChecker) settled() bool { return c.ready.Load() }

// stateOf returns the state the checker keeps for addr, or a new one it does
// not track yet. It changes nothing: a build reads the checker through it, so
// an address keeps what its probes learned across a reload, and a table that
// is rejected leaves no prober behind. sync adopts the states once the
// build's answers are served.
func (c *healthChecker) stateOf(addr netip.Addr) *addrHealth {
	c.mu.Lock()
	defer c.mu.Unlock()
	if h, ok := c.targets[addr]; ok {
		return h
	}
	return &addrHealth{addr: addr, logs: ratelimit.LogLines()}
}

// sync makes the checker probe the states that the answers just served
// read: it starts probers for the states it did not track (while running) and
// stops those of the addresses the table dropped. Swaps are serial (setup,
// then the file watcher's goroutine), so a state it did not track is new.
func (c *healthChecker) sync(regions []gwtable.Region, states map[netip.Addr]*addrHealth) {
	c.mu.Lock()
	var gone []*addrHealth
	for a, h := range c.targets {
		if states[a] != h {
			gone = append(gone, h)
		}
	}
	targets := make(map[netip.Addr]*addrHealth, len(states))
	for a, h := range states {
		if c.targets[a] != h && c.ctx != nil {
			c.launch(h, nil)
		}
		targets[a] = h
	}
	c.targets, c.regions = targets, regions
	c.mu.Unlock()
	for _, h := range gone {
		if h.cancel != nil {
			h.cancel()
			<-h.stopped
		}
		for _, server := range c.servers {
			probeResultCount.DeletePartialMatch(map[string]string{"server": server, "address": h.addr.String()})
		}
	}
	c.publish()
}

func (c *healthChecker) start() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx != nil {
		return
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	var first sync.WaitGroup
	for _, h := range c.targets {
		first.Add(1)
		c.launch(h, &first)
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		first.Wait()
		c.publish()
		c.ready.Store(true)
		if c.onChange != nil {
			c.onChange()
		}
	}()
}

func (c *healthChecker) stop() {
	c.mu.Lock()
	cancel := c.cancel
	c.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	c.wg.Wait()
	c.mu.Lock()
	c.ctx, c.cancel = nil, nil
	c.mu.Unlock()
}

// launch starts h's prober; first, if not nil, is told when its first probe
// is done. Called with c.mu held.
func (c *healthChecker) launch(h *addrHealth, first *sync.WaitGroup) {
	ctx, cancel := context.WithCancel(c.ctx)
	h.cancel, h.stopped = cancel, make(chan struct{})
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer close(h.stopped)
		c.probeOnce(ctx, h)
		if first != nil {
			first.Done()
		}
		for {
			// Up to a fifth of the interval of jitter spreads the probes out.
			wait := c.interval + rand.N(c.interval/5+1)
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			c.probeOnce(ctx, h)
		}
	}()
}

// probeOnce checks h once and records the result.
func (c *healthChecker) probeOnce(ctx context.Context, h *addrHealth) {
	err := c.probe.check(ctx, h.addr)
	if ctx.Err() != nil {
		return // stopped mid-probe: the result says nothing about the gateway
	}
	c.record(h, err, time.Now())
}

// record updates h's state with a probe's result at now. The first result
// decides the state at once; after that, a state changes only after rise
// passes or fall failures in a row, so one lost SYN does not move clients.
func (c *healthChecker) record(h *addrHealth, err error, now time.Time) {
	result, code := resultUp, ""
	passed := err == nil
	if passed {
		h.passes, h.fails = h.passes+1, 0
	} else {
		result = resultError
		if pe, ok := err.(*probeError); ok {
			result, code = pe.result, pe.codeLabel()
		}
		h.passes, h.fails = 0, h.fails+1
	}
	for _, server := range c.servers {
		probeResultCount.WithLabelValues(server, h.addr.String(), result, code).Inc()
	}
	if !h.known.Load() {
		h.isUp.Store(passed)
		h.known.Store(true)
		c.changed(h, passed, err, now)
		return
	}
	switch up := h.isUp.Load(); {
	case !up && h.passes >= c.rise:
		h.isUp.Store(true)
		c.changed(h, true, nil, now)
	case up && h.fails >= c.fall:
		h.isUp.Store(false)
		c.changed(h, false, err, now)
	default:
		// An address whose last changes were held back is logged once the
		// limit lets a line out again, so the log ends on its state.
		if ok, held := h.logs.CatchUp(now); ok {
			c.logState(h, up, err, held)
		}
	}
}

// changed logs a state change once, within the address's line limit, and
// updates the gauges, whatever the limit.
func (c *healthChecker) changed(h *addrHealth, up bool, err error, now time.Time) {
	if ok, held := h.logs.Allow(now); ok {
		c.logState(h, up, err, held)
	}
	c.publish()
	if c.onChange != nil {
		c.onChange()
	}
}

// logState logs the state of h, the error that made it down if there is
// one, and how many changes were not logged before this line.
func (c *healthChecker) logState(h *addrHealth, up bool, err error, held int) {
	note := ratelimit.Note(held, "change")
	switch {
	case up:
		log.Infof("Gateway %s port %d is up%s", h.addr, c.probe.port, note)
	case err != nil:
		log.Warningf("Gateway %s port %d is down: %v%s", h.addr, c.probe.port, err, note)
	default:
		log.Warningf("Gateway %s port %d is down%s", h.addr, c.probe.port, note)
	}
}

// publish sets gateway_up for every region and role of the table, under
// each of the block's server labels, and deletes the series this checker
// set for addresses the table dropped; other server blocks' series are
// theirs.
func (c *healthChecker) publish() {
	c.mu.Lock()
	defer c.mu.Unlock()
	current := make(map[[3]string]bool)
	defer func() {
		for labels := range c.published {
			if !current[labels] {
				for _, server := range c.servers {
					gatewayUp.DeleteLabelValues(server, labels[0], labels[1], labels[2])
				}
			}
		}
		c.published = current
	}()
	for _, r := range c.regions {
		for role, a := range r.Addrs {
			h, ok := c.targets[a]
			if !ok || !h.known.Load() {
				continue
			}
			v := 0.0
			if h.isUp.Load() {
				v = 1
			}
			labels := [3]string{r.Name, gwtable.Role(role).String(), a.String()}
			for _, server := range c.servers {
				gatewayUp.WithLabelValues(server, labels[0], labels[1], labels[2]).Set(v)
			}
			current[labels] = true
		}
	}
}

// forget deletes the gateway_up and probe result series c set for the
// addresses next does not track (all of them when next is nil): c's
// instance hands its server block over to next's, or stops with no
// successor.
func (c *healthChecker) forget(next *healthChecker) {
	c.mu.Lock()
	published := c.published
	c.mu.Unlock()
	tracked := func(a string) bool { return false }
	if next != nil {
		next.mu.Lock()
		kept := make(map[string]bool, len(next.targets))
		for a := range next.targets {
			kept[a.String()] = true
		}
		next.mu.Unlock()
		tracked = func(a string) bool { return kept[a] }
	}
	for labels := range published {
		if tracked(labels[2]) {
			continue
		}
		for _, server := range c.servers {
			gatewayUp.DeleteLabelValues(server, labels[0], labels[1], labels[2])
			probeResultCount.DeletePartialMatch(map[string]string{"server": server, "address": labels[2]})
		}
	}
}

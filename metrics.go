package mysqlgw

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/metrics"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var (
	// requestCount counts the queries mysqlgw answered, by type and by kind
	// of answer: answer, nodata, nxdomain, or fallthrough to the next plugin.
	requestCount = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "mysqlgw",
		Name:      "requests_total",
		Help:      "Counter of queries answered by mysqlgw, by query type and answer kind.",
	}, []string{"server", "zone", "view", "type", "kind"})

	reloadCount = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "mysqlgw",
		Name:      "reloads_total",
		Help:      "Counter of regions file reloads that were applied.",
	}, []string{"file"})

	reloadFailureCount = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "mysqlgw",
		Name:      "reload_failures_total",
		Help:      "Counter of regions file versions that could not be applied; the last good table stays.",
	}, []string{"file"})

	regionsServed = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: "mysqlgw",
		Name:      "regions",
		Help:      "The number of regions in the table being served.",
	}, []string{"file"})

	addressesServed = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: "mysqlgw",
		Name:      "addresses",
		Help:      "The number of distinct gateway addresses in the table being served.",
	}, []string{"file"})

	gatewayUp = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: "mysqlgw",
		Name:      "gateway_up",
		Help:      "Whether a region's gateway address passes its health checks (1) or not (0).",
	}, []string{"region", "role", "address"})

	probeCount = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "mysqlgw",
		Name:      "health_probes_total",
		Help:      "Counter of TCP health probes sent, by address.",
	}, []string{"address"})

	probeFailureCount = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "mysqlgw",
		Name:      "health_probe_failures_total",
		Help:      "Counter of TCP health probes that failed, by address.",
	}, []string{"address"})

	// probeResultCount tells probe outcomes apart: up, timeout, refused,
	// closed, protocol, error, or error_greeting with the server's error code
	// (1129: the prober's address is blocked).
	probeResultCount = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "mysqlgw",
		Name:      "health_probe_results_total",
		Help:      "Counter of health probe results, by address, result and, for error greetings, MySQL error code.",
	}, []string{"address", "result", "code"})
)

// tableLabel names the table in metrics: the regions file, or "builtin".
func tableLabel(file string) string {
	if file == "" {
		return "builtin"
	}
	return file
}

// kind is the kind of answer, the kind label of requests_total.
type kind int

const (
	kindAnswer kind = iota
	kindNoData
	kindNXDomain
	kindFallthrough
	numKinds
)

var kindNames = [numKinds]string{"answer", "nodata", "nxdomain", "fallthrough"}

// typeLabels bounds the type label to the types a client of this table asks
// for, so that a scanner cannot mint a new time series with every type.
var typeLabels = [...]string{"A", "AAAA", "TXT", "SRV", "PTR", "SOA", "NS", "ANY", "MX", "CNAME", "HTTPS", "SVCB", "DS", "DNSKEY", "CAA", "other"}

func typeIndex(qtype uint16) int {
	switch qtype {
	case dns.TypeA:
		return 0
	case dns.TypeAAAA:
		return 1
	case dns.TypeTXT:
		return 2
	case dns.TypeSRV:
		return 3
	case dns.TypePTR:
		return 4
	case dns.TypeSOA:
		return 5
	case dns.TypeNS:
		return 6
	case dns.TypeANY:
		return 7
	case dns.TypeMX:
		return 8
	case dns.TypeCNAME:
		return 9
	case dns.TypeHTTPS:
		return 10
	case dns.TypeSVCB:
		return 11
	case dns.TypeDS:
		return 12
	case dns.TypeDNSKEY:
		return 13
	case dns.TypeCAA:
		return 14
	}
	return len(typeLabels) - 1
}

// series is one requests_total series with the labels a query supplies.
type series struct {
	server, zone, view string
	counter            prometheus.Counter
}

// requestCounters caches requests_total's series by kind and type, so that
// counting a query hashes no label values and takes no lock: a slot holds an
// immutable list, nearly always of one series (one server, zone and view);
// a new series, rare after warm-up, copies the list under a mutex.
type requestCounters struct {
	slots [numKinds][len(typeLabels)]atomic.Pointer[[]series]
	mu    sync.Mutex
}

func (rc *requestCounters) inc(ctx context.Context, zone string, qtype uint16, k kind) {
	server, view := metrics.WithServer(ctx), metrics.WithView(ctx)
	t := typeIndex(qtype)
	slot := &rc.slots[k][t]
	if c := find(slot.Load(), server, zone, view); c != nil {
		c.Inc()
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	list := slot.Load()
	if c := find(list, server, zone, view); c != nil { // added meanwhile
		c.Inc()
		return
	}
	var next []series
	if list != nil {
		next = append(next, *list...)
	}
	c := requestCount.WithLabelValues(server, zone, view, typeLabels[t], kindNames[k])
	next = append(next, series{server, zone, view, c})
	slot.Store(&next)
	c.Inc()
}

func find(list *[]series, server, zone, view string) prometheus.Counter {
	if list == nil {
		return nil
	}
	for _, s := range *list {
		if s.server == server && s.zone == zone && s.view == view {
			return s.counter
		}
	}
	return nil
}

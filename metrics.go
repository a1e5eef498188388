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
)

// tableLabel names the table in metrics: the regions file, or "builtin".
func tableLabel(file string) string {
	if file == "" {
		return "builtin"
	}
	return file
}

// Kinds of answer, the kind label of requests_total.
const (
	kindAnswer      = "answer"
	kindNoData      = "nodata"
	kindNXDomain    = "nxdomain"
	kindFallthrough = "fallthrough"
)

// typeLabel bounds the type label to the types a client of this table asks
// for, so that a scanner cannot mint a new time series with every type.
func typeLabel(qtype uint16) string {
	switch qtype {
	case dns.TypeA, dns.TypeAAAA, dns.TypeTXT, dns.TypeSRV, dns.TypePTR,
		dns.TypeSOA, dns.TypeNS, dns.TypeANY, dns.TypeMX, dns.TypeCNAME,
		dns.TypeHTTPS, dns.TypeSVCB, dns.TypeDS, dns.TypeDNSKEY, dns.TypeCAA:
		return dns.TypeToString[qtype]
	}
	return "other"
}

// counterKey is one requests_total series.
type counterKey struct {
	server, zone, view, qtype, kind string
}

// requestCounters caches requests_total's series so that counting a query
// hashes no label values and takes no lock: readers load an immutable map;
// a new series, rare after warm-up, copies it under a mutex.
type requestCounters struct {
	series atomic.Pointer[map[counterKey]prometheus.Counter]
	mu     sync.Mutex
}

func (rc *requestCounters) inc(ctx context.Context, zone string, qtype uint16, kind string) {
	key := counterKey{metrics.WithServer(ctx), zone, metrics.WithView(ctx), typeLabel(qtype), kind}
	if series := rc.series.Load(); series != nil {
		if c, ok := (*series)[key]; ok {
			c.Inc()
			return
		}
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	old := rc.series.Load()
	next := make(map[counterKey]prometheus.Counter, 1)
	if old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	c, ok := next[key]
	if !ok {
		c = requestCount.WithLabelValues(key.server, key.zone, key.view, key.qtype, key.kind)
		next[key] = c
		rc.series.Store(&next)
	}
	c.Inc()
}

package mysqlgw

import (
	"github.com/coredns/coredns/plugin"

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
		Help:      "Counter of regions file faults that kept the last good table: each version that could not be applied, and each kind of read error once until it changes or a version is applied.",
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

// The kinds of answer requests_total tells apart, its kind label.
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
	case dns.TypeA, dns.TypeAAAA, dns.TypeTXT, dns.TypeSRV, dns.TypePTR, dns.TypeSOA, dns.TypeNS, dns.TypeANY,
		dns.TypeMX, dns.TypeCNAME, dns.TypeHTTPS, dns.TypeSVCB, dns.TypeDS, dns.TypeDNSKEY, dns.TypeCAA:
		return dns.TypeToString[qtype]
	}
	return "other"
}

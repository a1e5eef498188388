package mysqlgw

import (
	"github.com/coredns/coredns/plugin"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var (
	// requestCount counts the class IN queries for names in mysqlgw's zones,
	// by type and kind: answer, nodata, nxdomain, or fallthrough to the next
	// plugin. Queries it passes on for any other reason are not counted.
	requestCount = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "mysqlgw",
		Name:      "requests_total",
		Help:      "Counter of queries in mysqlgw's zones, by query type and kind: answer, nodata, nxdomain, or fallthrough to the next plugin.",
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
		Help:      "The number of distinct addresses, gateway and decommissioning, in the table being served.",
	}, []string{"file"})

	servedSerial = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: "mysqlgw",
		Name:      "serial",
		Help:      "The SOA serial each zone serves: the table's, or with transfer_health one raised by every change of an active answer.",
	}, []string{"server", "zone"})

	notifyCount = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "mysqlgw",
		Name:      "notifies_total",
		Help:      "Counter of NOTIFY rounds mysqlgw asked the transfer plugin to send for a zone, by result: ok (every to address accepted it; to * sends none) or failed (one or more did not).",
	}, []string{"zone", "result"})

	gatewayUp = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: "mysqlgw",
		Name:      "gateway_up",
		Help:      "Whether a region's gateway address passes its health checks (1) or not (0).",
	}, []string{"server", "region", "role", "address"})

	// probeResultCount counts every finished probe by its outcome: up,
	// timeout, refused, closed, protocol, error, or error_greeting with the
	// server's error code (1129: the prober's address is blocked). Probes
	// sent are its sum by address; failures, that sum without up.
	probeResultCount = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "mysqlgw",
		Name:      "health_probe_results_total",
		Help:      "Counter of health probe results, by address, result and, for error greetings, MySQL error code.",
	}, []string{"server", "address", "result", "code"})
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

// typeLabel bounds the type label to the types mysqlgw answers (ANY
// included) and those resolvers commonly ask of any name, so that a scanner
// cannot mint a new time series with every type.
func typeLabel(qtype uint16) string {
	switch qtype {
	case dns.TypeA, dns.TypeAAAA, dns.TypeTXT, dns.TypeSRV, dns.TypePTR, dns.TypeSOA, dns.TypeNS, dns.TypeAPL, dns.TypeANY,
		dns.TypeMX, dns.TypeCNAME, dns.TypeHTTPS, dns.TypeSVCB, dns.TypeDS, dns.TypeDNSKEY, dns.TypeCAA:
		return dns.TypeToString[qtype]
	}
	return "other"
}

// tablePublished is the date each set of the served table was published
// ($PUBLISHED for the gateway set, $REDIRECT-PUBLISHED for the Redirect
// sets), midnight UTC, as Unix time; absent when the table does not say.
var tablePublished = promauto.NewGaugeVec(prometheus.GaugeOpts{
	Namespace: plugin.Namespace,
	Subsystem: "mysqlgw",
	Name:      "table_published_timestamp_seconds",
	Help:      "The date the served table's sources were published, by set: gateway ($PUBLISHED) or redirect ($REDIRECT-PUBLISHED), as Unix time; absent when unknown.",
}, []string{"file", "set"})

// The sets of a table, tablePublished's set label.
const (
	setGateway  = "gateway"
	setRedirect = "redirect"
)

// tableChanged is when the served table's content last changed, as Diff
// says: never set at start-up, nor by a new serial or comment alone, nor
// by a failover (which moves only the SOA serial), so that an alert on it
// means Microsoft's table moved.
var tableChanged = promauto.NewGaugeVec(prometheus.GaugeOpts{
	Namespace: plugin.Namespace,
	Subsystem: "mysqlgw",
	Name:      "table_changed_timestamp_seconds",
	Help:      "When the served table's content last changed at a reload (addresses, prefixes or regions added or removed), as Unix time; absent until one has.",
}, []string{"file"})

// tableInfo names the served table: its $SERIAL, $SOURCE and $PUBLISHED
// (empty when the table does not say), one series a file.
var tableInfo = promauto.NewGaugeVec(prometheus.GaugeOpts{
	Namespace: plugin.Namespace,
	Subsystem: "mysqlgw",
	Name:      "table_info",
	Help:      "The served table's serial, source and published date, as labels of a series of value 1.",
}, []string{"file", "serial", "source", "published"})

package lists

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// requestCount counts the listener's requests by kind (allow, all,
// redirect, redirect_all, regions, changes, changes_atom, other: never the region, so a
// scanner cannot mint series) and status code. Its name is the plugin's, in CoreDNS's namespace.
var requestCount = promauto.NewCounterVec(prometheus.CounterOpts{
	Namespace: "coredns",
	Subsystem: "mysqlgw",
	Name:      "http_requests_total",
	Help:      "Counter of HTTP requests to mysqlgw's listener, by kind (allow, all, redirect, redirect_all, regions, changes, changes_atom, other) and status code.",
}, []string{"kind", "code"})

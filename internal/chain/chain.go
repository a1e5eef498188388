// Package chain compiles in the plugins of mysqlgw's CoreDNS and sets their
// order. cmd/coredns and the end-to-end tests both import it, so the tests run
// the very chain the binary ships.
package chain

import (
	_ "github.com/mysqlgw/mysqlgw"

	"github.com/coredns/coredns/core/dnsserver"
	_ "github.com/coredns/coredns/plugin/acl"
	_ "github.com/coredns/coredns/plugin/any"
	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/bufsize"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/debug"
	_ "github.com/coredns/coredns/plugin/dnssec"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/file"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/hosts"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/metrics"
	_ "github.com/coredns/coredns/plugin/minimal"
	_ "github.com/coredns/coredns/plugin/multisocket"
	_ "github.com/coredns/coredns/plugin/pprof"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
	_ "github.com/coredns/coredns/plugin/rewrite"
	_ "github.com/coredns/coredns/plugin/root"
	_ "github.com/coredns/coredns/plugin/template"
	_ "github.com/coredns/coredns/plugin/transfer"
	_ "github.com/coredns/coredns/plugin/tsig"
	_ "github.com/coredns/coredns/plugin/whoami"
)

// Directives is the plugin chain, in the order CoreDNS's own plugin.cfg gives
// these plugins. mysqlgw comes after the plugins that wrap every query
// (errors, log, prometheus, tsig, acl, cache, rewrite, dnssec, transfer) and
// before hosts, file and forward, so that its fallthrough can hand names to
// them.
var Directives = []string{
	"root",
	"multisocket",
	"reload",
	"bufsize",
	"bind",
	"debug",
	"ready",
	"health",
	"pprof",
	"prometheus",
	"errors",
	"log",
	"any",
	"loadbalance",
	"tsig",
	"rewrite",
	"acl",
	"cache",
	"dnssec",
	"minimal",
	"template",
	"transfer",
	"mysqlgw",
	"hosts",
	"file",
	"forward",
	"whoami",
}

func init() {
	if err := dnsserver.SetDirectives(Directives); err != nil {
		panic(err)
	}
}

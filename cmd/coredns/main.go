// Command coredns is CoreDNS with the mysqlgw plugin and the standard plugins
// operators run beside it (see internal/chain). It leaves out the heavy back
// ends (kubernetes, etcd, the cloud DNS plugins) that a gateway table server
// never needs.
package main

import (
	"github.com/coredns/coredns/coremain"

	_ "github.com/mysqlgw/mysqlgw/internal/chain"
)

func main() { coremain.Run() }

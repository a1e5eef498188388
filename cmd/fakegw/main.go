// Command fakegw stands in for a MySQL gateway on a loopback address, for
// trying mysqlgw's health checks on one machine:
//
//	go run ./cmd/fakegw 127.0.0.2:3306
//
// It sends the first packet of the MySQL handshake to every connection, as a
// real gateway does, until it is stopped.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/mysqlgw/mysqlgw/internal/fakegw"
)

func main() {
	silent := flag.Bool("silent", false, "accept connections but never send the greeting")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: fakegw [-silent] ADDRESS:PORT")
		os.Exit(2)
	}
	gw, err := fakegw.Listen(flag.Arg(0), *silent)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("fake gateway listening on", gw.Addr())
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	<-stop
	gw.Close()
}

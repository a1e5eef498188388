// Command fakegw stands in for a MySQL gateway on a loopback address, for
// trying mysqlgw's health checks on one machine:
//
//	go run ./cmd/fakegw 127.0.0.2:3306
//
// It speaks the server side of a MySQL login, as a real gateway does, until
// it is stopped, and blocks a client address after -max-connect-errors
// interrupted handshakes, as MySQL and MariaDB do (see internal/fakegw).
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
	var opt fakegw.Options
	flag.BoolVar(&opt.Silent, "silent", false, "accept connections but never send the greeting")
	flag.IntVar(&opt.MaxConnectErrors, "max-connect-errors", 100, "interrupted handshakes before a client address is blocked")
	flag.StringVar(&opt.User, "user", "mysqlgw", "the one user that logs in, with no password")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: fakegw [-silent] [-max-connect-errors N] [-user NAME] ADDRESS:PORT")
		os.Exit(2)
	}
	gw, err := fakegw.Listen(flag.Arg(0), opt)
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

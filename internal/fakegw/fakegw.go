// Package fakegw stands in for a MySQL gateway on a loopback address: it
// accepts connections and sends the first packet of the MySQL handshake, as a
// real gateway does, or, when silent, accepts and never says anything. Tests
// and the README's failover example probe it instead of Azure's addresses.
package fakegw

import (
	"net"
	"sync"
)

// greeting is a minimal MySQL protocol-10 handshake packet: 3 bytes of
// payload length, sequence 0, protocol version 10, then a server version.
var greeting = func() []byte {
	payload := append([]byte{10}, "8.0.0-fakegw\x00"...)
	return append([]byte{byte(len(payload)), 0, 0, 0}, payload...)
}()

// Gateway is one listening stand-in.
type Gateway struct {
	ln     net.Listener
	silent bool
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
}

// Listen starts a gateway on addr ("127.0.0.2:3306"). A silent one accepts
// connections but never sends the greeting.
func Listen(addr string, silent bool) (*Gateway, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	g := &Gateway{ln: ln, silent: silent}
	g.wg.Add(1)
	go g.serve()
	return g, nil
}

// Addr is the address the gateway listens on.
func (g *Gateway) Addr() string { return g.ln.Addr().String() }

func (g *Gateway) serve() {
	defer g.wg.Done()
	for {
		conn, err := g.ln.Accept()
		if err != nil {
			return
		}
		if g.silent {
			g.mu.Lock()
			g.conns = append(g.conns, conn) // held open, unanswered, until Close
			g.mu.Unlock()
			continue
		}
		conn.Write(greeting)
		conn.Close()
	}
}

// Close stops listening and drops held connections.
func (g *Gateway) Close() error {
	err := g.ln.Close()
	g.wg.Wait()
	g.mu.Lock()
	for _, c := range g.conns {
		c.Close()
	}
	g.conns = nil
	g.mu.Unlock()
	return err
}

// Package fakegw stands in for a MySQL gateway on a loopback address. It
// speaks the server side of a MySQL login as MySQL and MariaDB do, host cache
// included: a client that closes before finishing the handshake counts a
// handshake error against its address, and after MaxConnectErrors of them the
// address is blocked (every later connection gets error greeting 1129) until
// FlushHosts or a successful login. Unlike MySQL, it exempts no address,
// 127.0.0.1 included, so that a test on loopback sees what a prober on any
// other address would. A silent gateway accepts and never says anything.
// Tests and the README's failover example probe it instead of Azure's
// addresses; test/mariadb_test.go checks the same behaviour on real servers.
package fakegw

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Options shape a stand-in.
type Options struct {
	// Silent accepts connections but never sends the greeting.
	Silent bool
	// MaxConnectErrors is the server's max_connect_errors; 0 means MySQL's
	// default, 100.
	MaxConnectErrors int
	// User is the one account, with no password; other users are denied
	// (error 1045). Empty means "mysqlgw".
	User string
}

// Gateway is one listening stand-in.
type Gateway struct {
	ln     net.Listener
	opt    Options
	wg     sync.WaitGroup
	mu     sync.Mutex
	conn   map[net.Conn]bool
	errs   map[string]int // handshake errors by client address: the host cache
	served int            // connections served to their end
}

// Listen starts a gateway on addr ("127.0.0.2:3306").
func Listen(addr string, opt Options) (*Gateway, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	if opt.MaxConnectErrors == 0 {
		opt.MaxConnectErrors = 100
	}
	if opt.User == "" {
		opt.User = "mysqlgw"
	}
	g := &Gateway{ln: ln, opt: opt, conn: map[net.Conn]bool{}, errs: map[string]int{}}
	g.wg.Add(1)
	go g.serve()
	return g, nil
}

// Addr is the address the gateway listens on.
func (g *Gateway) Addr() string { return g.ln.Addr().String() }

// HandshakeErrors is the count the host cache holds for a client address.
func (g *Gateway) HandshakeErrors(ip string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.errs[ip]
}

// Active is the number of connections open now.
func (g *Gateway) Active() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.conn)
}

// Served is the number of connections served to their end, host cache
// updated.
func (g *Gateway) Served() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.served
}

// FlushHosts empties the host cache, as FLUSH HOSTS does.
func (g *Gateway) FlushHosts() {
	g.mu.Lock()
	defer g.mu.Unlock()
	clear(g.errs)
}

func (g *Gateway) serve() {
	defer g.wg.Done()
	for {
		conn, err := g.ln.Accept()
		if err != nil {
			return
		}
		g.mu.Lock()
		g.conn[conn] = true
		g.mu.Unlock()
		if g.opt.Silent {
			continue // held open, unanswered, until Close
		}
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			g.session(conn)
			g.mu.Lock()
			delete(g.conn, conn)
			g.served++
			g.mu.Unlock()
			conn.Close()
		}()
	}
}

// session serves one connection as a MySQL server does up to the first
// command.
func (g *Gateway) session(conn net.Conn) {
	ip, _, _ := net.SplitHostPort(conn.RemoteAddr().String())
	g.mu.Lock()
	blocked := g.errs[ip] >= g.opt.MaxConnectErrors
	g.mu.Unlock()
	if blocked {
		conn.Write(errPacket(0, 1129, "", fmt.Sprintf("Host '%s' is blocked because of many connection errors; unblock with 'mariadb-admin flush-hosts'", ip)))
		return
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second)) // connect_timeout
	conn.Write(greeting)
	login, err := readPacket(conn)
	if err != nil {
		g.handshakeError(ip) // closed or silent before the login: counted
		return
	}
	user, ok := parseLogin(login)
	if !ok {
		g.handshakeError(ip)
		conn.Write(errPacket(2, 1043, "08S01", "Bad handshake"))
		return
	}
	if user != g.opt.User {
		conn.Write(errPacket(2, 1045, "28000", fmt.Sprintf("Access denied for user '%s'@'%s' (using password: NO)", user, ip)))
		return
	}
	g.mu.Lock()
	delete(g.errs, ip) // a successful login resets the address's count
	g.mu.Unlock()
	conn.Write([]byte{7, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0}) // OK
	readPacket(conn)                                    // COM_QUIT, or the client closing
}

func (g *Gateway) handshakeError(ip string) {
	g.mu.Lock()
	g.errs[ip]++
	g.mu.Unlock()
}

// Close stops listening and drops open connections.
func (g *Gateway) Close() error {
	err := g.ln.Close()
	g.mu.Lock()
	for c := range g.conn {
		c.Close()
	}
	g.mu.Unlock()
	g.wg.Wait()
	return err
}

// greeting is a protocol-10 handshake packet as MySQL 8 sends it: version,
// thread id, scramble, capabilities (4.1 protocol, secure connection, plugin
// authentication), charset, status, and the authentication plugin's name.
var greeting = func() []byte {
	var p []byte
	p = append(p, 10)
	p = append(p, "8.0.0-fakegw\x00"...)
	p = binary.LittleEndian.AppendUint32(p, 1)
	p = append(p, "abcdefgh"...)
	p = append(p, 0)
	caps := uint32(1<<9 | 1<<15 | 1<<19)
	p = binary.LittleEndian.AppendUint16(p, uint16(caps))
	p = append(p, 33)
	p = binary.LittleEndian.AppendUint16(p, 2)
	p = binary.LittleEndian.AppendUint16(p, uint16(caps>>16))
	p = append(p, 21)
	p = append(p, make([]byte, 10)...)
	p = append(p, "ijklmnopqrst\x00"...)
	p = append(p, "mysql_native_password\x00"...)
	return frame(0, p)
}()

// parseLogin reads a HandshakeResponse41 for its user name.
func parseLogin(p []byte) (user string, ok bool) {
	if len(p) < 32 || binary.LittleEndian.Uint32(p)&(1<<9) == 0 {
		return "", false
	}
	name, _, found := bytes.Cut(p[32:], []byte{0})
	return string(name), found
}

// errPacket is an ERR packet. An error greeting has no SQL state: the server
// does not yet know the client speaks the 4.1 protocol.
func errPacket(seq byte, code uint16, state, msg string) []byte {
	p := []byte{0xff}
	p = binary.LittleEndian.AppendUint16(p, code)
	if state != "" {
		p = append(p, "#"+state...)
	}
	return frame(seq, append(p, msg...))
}

func frame(seq byte, p []byte) []byte {
	n := len(p)
	return append([]byte{byte(n), byte(n >> 8), byte(n >> 16), seq}, p...)
}

func readPacket(conn net.Conn) ([]byte, error) {
	var head [4]byte
	if _, err := io.ReadFull(conn, head[:]); err != nil {
		return nil, err
	}
	n := int(head[0]) | int(head[1])<<8 | int(head[2])<<16
	p := make([]byte, n)
	_, err := io.ReadFull(conn, p)
	return p, err
}

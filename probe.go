package mysqlgw

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"time"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
)

// probeMode is what a health probe says to a gateway.
type probeMode int

const (
	// probeLogin logs in as a user with an empty password, reads the
	// server's answer and quits: a complete session, which MySQL and MariaDB
	// never count against the prober's host. The default.
	probeLogin probeMode = iota
	// probeGreeting reads the greeting and closes. MySQL and MariaDB count
	// every such probe as a handshake error and block the prober's address
	// after max_connect_errors of them.
	probeGreeting
	// probeConnect only opens the TCP connection; counted like probeGreeting.
	probeConnect
)

// stopGrace is how long a probe in flight may finish its conversation once
// the checker stops.
const stopGrace = 250 * time.Millisecond

// defaultProbeUser is the user the login probe names. It needs no password
// and no privileges; a server without it answers "access denied", which
// still means up.
const defaultProbeUser = "mysqlgw"

// maxPacket bounds a packet the probe reads: greetings and answers to a login
// are a few hundred bytes.
const maxPacket = 64 << 10

// The probe's outcomes, as the health_probe_results_total metric labels them.
const (
	resultUp            = "up"
	resultTimeout       = "timeout"        // no connect or no answer within the timeout
	resultRefused       = "refused"        // nothing listens on the port
	resultClosed        = "closed"         // the server closed or reset the connection
	resultErrorGreeting = "error_greeting" // the server refused this client before the login
	resultProtocol      = "protocol"       // the answer is not MySQL's protocol
	resultError         = "error"          // any other network error
)

// probeError is why a probe counts a gateway down.
type probeError struct {
	result string
	code   uint16 // with resultErrorGreeting: the MySQL error code
	err    error
}

func (e *probeError) Error() string {
	if e.result == resultErrorGreeting {
		return fmt.Sprintf("error greeting %d: %v", e.code, e.err)
	}
	return e.err.Error()
}

func (e *probeError) Unwrap() error { return e.err }

// codeLabel is the code label of the results metric: the error code of an
// error greeting, otherwise empty.
func (e *probeError) codeLabel() string {
	if e.result != resultErrorGreeting {
		return ""
	}
	return strconv.Itoa(int(e.code))
}

// prober probes one gateway port.
type prober struct {
	mode    probeMode
	user    string
	port    uint16
	timeout time.Duration
}

// check probes addr once: nil means up. The whole probe, connect and
// conversation, is bounded by the timeout. A cancelled ctx ends a connect at
// once and a conversation within stopGrace.
func (p prober) check(ctx context.Context, addr netip.Addr) error {
	timed, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	var dialer net.Dialer
	conn, err := dialer.DialContext(timed, "tcp", net.JoinHostPort(addr.String(), strconv.Itoa(int(p.port))))
	if err != nil {
		return networkError(err)
	}
	defer conn.Close()
	// The timeout is the connection's deadline, so that it reads as a
	// timeout. Stopping the checker brings the deadline forward to a short
	// grace rather than closing at once: a login cut short is a handshake
	// error on the server, but a server that answers at all finishes well
	// within the grace, and stopping never waits longer than it.
	deadline, _ := timed.Deadline()
	conn.SetDeadline(deadline)
	defer context.AfterFunc(ctx, func() {
		if grace := time.Now().Add(stopGrace); grace.Before(deadline) {
			conn.SetDeadline(grace)
		}
	})()
	switch p.mode {
	case probeConnect:
		return nil
	case probeGreeting:
		_, err := readGreeting(conn)
		return err
	}
	return p.login(conn)
}

// login speaks the client side of a MySQL session up to the server's answer
// to the login: greeting, HandshakeResponse41, then OK (quit politely), ERR
// (access denied and the like: the server is up) or an authentication switch,
// answered with the empty password once more. Any answer to the login means
// up; only the greeting can say down.
func (p prober) login(conn net.Conn) error {
	caps, err := readGreeting(conn)
	if err != nil {
		return err
	}
	if _, err := conn.Write(handshakeResponse(p.user, caps)); err != nil {
		return networkError(err)
	}
	// A server that switches authentication method asks again; each round
	// is answered with an empty password, and a few rounds are plenty.
	for range 3 {
		seq, answer, err := readPacket(conn)
		if err != nil {
			return err
		}
		switch answer[0] {
		case 0x00: // OK: logged in
			conn.Write(packet(0, []byte{comQuit}))
			return nil
		case 0xff: // ERR: access denied, secure transport required, …
			return nil
		case 0xfe: // auth switch request: answer with the empty password
			if _, err := conn.Write(packet(seq+1, nil)); err != nil {
				return networkError(err)
			}
		default:
			// More authentication data (caching_sha2_password asking for
			// the full exchange): the server answered the login, so it is up.
			return nil
		}
	}
	return nil
}

// Client capability flags the login uses (MySQL's include/mysql_com.h).
const (
	clientLongPassword   = 1 << 0
	clientProtocol41     = 1 << 9
	clientSecureConn     = 1 << 15
	clientPluginAuth     = 1 << 19
	comQuit              = 0x01
	charsetUTF8          = 33 // utf8_general_ci: known to every server since 4.1
	nativePasswordPlugin = "mysql_native_password"
	handshakeProtocol    = 10
)

// readGreeting reads the server's first packet and returns its capability
// flags. An ERR packet in its place is the server refusing this client (1129
// host blocked, 1040 too many connections, 1130 host not allowed): down, for
// everyone behind the prober's address.
func readGreeting(conn net.Conn) (uint32, error) {
	_, payload, err := readPacket(conn)
	if err != nil {
		return 0, err
	}
	switch payload[0] {
	case handshakeProtocol:
	case 0xff:
		code, msg := parseErr(payload)
		return 0, &probeError{result: resultErrorGreeting, code: code, err: errors.New(msg)}
	default:
		return 0, &probeError{result: resultProtocol, err: fmt.Errorf("not a MySQL greeting: protocol %#x", payload[0])}
	}
	// protocol, server version (NUL-terminated), thread id, 8 bytes of
	// scramble, filler, lower capability flags, then optionally charset,
	// status and the upper capability flags.
	end := 1
	for end < len(payload) && payload[end] != 0 {
		end++
	}
	rest := payload[min(end+1, len(payload)):]
	if len(rest) < 4+8+1+2 {
		return 0, &probeError{result: resultProtocol, err: errors.New("MySQL greeting too short")}
	}
	caps := uint32(binary.LittleEndian.Uint16(rest[13:15]))
	if len(rest) >= 4+8+1+2+1+2+2 {
		caps |= uint32(binary.LittleEndian.Uint16(rest[18:20])) << 16
	}
	if caps&clientProtocol41 == 0 {
		return 0, &probeError{result: resultProtocol, err: errors.New("server predates MySQL 4.1's protocol")}
	}
	return caps, nil
}

// handshakeResponse is the login packet (HandshakeResponse41, sequence 1)
// for user with an empty password.
func handshakeResponse(user string, serverCaps uint32) []byte {
	caps := uint32(clientLongPassword | clientProtocol41 | clientSecureConn)
	caps |= serverCaps & clientPluginAuth
	b := binary.LittleEndian.AppendUint32(nil, caps)
	b = binary.LittleEndian.AppendUint32(b, maxPacket)
	b = append(b, charsetUTF8)
	b = append(b, make([]byte, 23)...)
	b = append(b, user...)
	b = append(b, 0, 0) // end of user; an auth response of length 0
	if caps&clientPluginAuth != 0 {
		b = append(b, nativePasswordPlugin...)
		b = append(b, 0)
	}
	return packet(1, b)
}

// packet frames payload: 3 bytes of length, the sequence number, payload.
func packet(seq byte, payload []byte) []byte {
	n := len(payload)
	return append([]byte{byte(n), byte(n >> 8), byte(n >> 16), seq}, payload...)
}

// readPacket reads one MySQL packet, of at most maxPacket bytes.
func readPacket(conn net.Conn) (seq byte, payload []byte, err error) {
	var head [4]byte
	if _, err := io.ReadFull(conn, head[:]); err != nil {
		return 0, nil, readError(err)
	}
	n := int(head[0]) | int(head[1])<<8 | int(head[2])<<16
	if n == 0 || n > maxPacket {
		return 0, nil, &probeError{result: resultProtocol, err: fmt.Errorf("not a MySQL packet: length %d", n)}
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(conn, payload); err != nil {
		return 0, nil, readError(err)
	}
	return head[3], payload, nil
}

// maxGatewayText is how much of a gateway's own message a probe error (and
// so the log) quotes: MySQL's messages are well under it.
const maxGatewayText = 200

// parseErr reads an ERR packet: 0xff, the error code, an optional
// "#" and SQL state, and the message. The message is the gateway's to
// choose, so it comes back quoted, its control bytes escaped and cut to
// maxGatewayText bytes: what it says cannot start a log line of its own.
func parseErr(payload []byte) (code uint16, msg string) {
	if len(payload) < 3 {
		return 0, "truncated error packet"
	}
	code = binary.LittleEndian.Uint16(payload[1:3])
	rest := payload[3:]
	if len(rest) >= 6 && rest[0] == '#' {
		rest = rest[6:]
	}
	return code, gwtable.QuoteLimit(string(rest), maxGatewayText)
}

// readError classifies a failed read: the server closed the connection, or
// said nothing within the timeout.
func readError(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) {
		return &probeError{result: resultClosed, err: fmt.Errorf("connection closed before the server answered: %w", err)}
	}
	return networkError(err)
}

// networkError classifies a failed connect or write.
func networkError(err error) error {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return &probeError{result: resultRefused, err: err}
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return &probeError{result: resultTimeout, err: err}
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return &probeError{result: resultClosed, err: err}
	}
	return &probeError{result: resultError, err: err}
}

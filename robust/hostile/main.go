// Command hostile floods a DNS server on loopback with malformed and hostile
// datagrams, bounded in count and time, then checks that it still answers
// correctly. It is part of robust/run.sh.
//
//	go run ./robust/hostile -server 127.0.0.1:1053 -count 30000
package main

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

func main() {
	server := flag.String("server", "127.0.0.1:1053", "UDP and TCP address of the server, loopback only")
	count := flag.Int("count", 30000, "datagrams to send")
	limit := flag.Duration("limit", 60*time.Second, "stop sending after this long, whatever the count")
	rate := flag.Int("rate", 5000, "datagrams a second")
	zone := flag.String("zone", "gateway.mysql.local.", "the zone the server serves")
	seed := flag.Uint64("seed", 1, "random seed, so a run can be repeated")
	flag.Parse()

	host, _, err := net.SplitHostPort(*server)
	if err != nil || !net.ParseIP(host).IsLoopback() {
		fatalf("-server must be a loopback address, got %q", *server)
	}
	z := dns.Fqdn(*zone)
	rng := rand.New(rand.NewPCG(*seed, *seed^0x9e3779b97f4a7c15))

	conn, err := net.Dial("udp", *server)
	if err != nil {
		fatalf("%v", err)
	}
	stats := newStats()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); stats.read(conn) }()

	start := time.Now()
	tick := time.Second / time.Duration(max(*rate, 1))
	next := start
	sent := 0
	for sent < *count && time.Since(start) < *limit {
		kind, pkt := hostile(rng, z)
		stats.sent(kind, pkt)
		if _, err := conn.Write(pkt); err != nil && !errors.Is(err, net.ErrClosed) {
			// A refused ICMP from a dead server shows up here.
			stats.writeErrors.Add(1)
		}
		sent++
		if next = next.Add(tick); time.Until(next) > 0 {
			time.Sleep(time.Until(next))
		}
	}
	time.Sleep(500 * time.Millisecond) // late replies
	conn.Close()
	wg.Wait()
	stats.report(sent, time.Since(start))

	// The server must still answer correctly, over UDP and TCP.
	if failures := verify(*server, z); len(failures) > 0 {
		for _, f := range failures {
			fmt.Println("FAIL after flood:", f)
		}
		os.Exit(1)
	}
	if stats.oversized.Load() > 0 {
		fmt.Println("FAIL: replies larger than the sender's advertised size")
		os.Exit(1)
	}
	fmt.Println("OK: the server answers correctly after the flood")
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "hostile: "+format+"\n", args...)
	os.Exit(2)
}

// names the flood asks about: real ones, so that well-formed parts reach the
// plugin, and some that are not.
var labels = []string{"eastus2", "all", "westeurope", "active.eastus2", "_mysql._tcp.eastus2", "primary.uksouth", "nope", "ns.dns"}

// hostile returns one datagram and the kind of abuse it carries.
func hostile(rng *rand.Rand, zone string) (string, []byte) {
	name := labels[rng.IntN(len(labels))] + "." + zone
	switch k := rng.IntN(14); k {
	case 0:
		return "random bytes", randomBytes(rng, rng.IntN(600))
	case 1:
		return "truncated header", randomBytes(rng, rng.IntN(12))
	case 2:
		q := query(name, dns.TypeA)
		return "truncated query", q[:12+rng.IntN(len(q)-12)]
	case 3:
		return "compression loop", compressionLoop(rng)
	case 4:
		q := query(name, dns.TypeA)
		binary.BigEndian.PutUint16(q[4:], 0) // QDCOUNT 0, question left in place
		if rng.IntN(2) == 0 {
			q = q[:12] // and none at all
		}
		return "QDCOUNT 0", q
	case 5:
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeA)
		m.Question = append(m.Question, dns.Question{Name: "westus." + zone, Qtype: dns.TypeAAAA, Qclass: dns.ClassINET})
		return "QDCOUNT 2", pack(m)
	case 6:
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeA)
		m.Opcode = []int{dns.OpcodeIQuery, dns.OpcodeStatus, dns.OpcodeNotify, dns.OpcodeUpdate, 3, 7, 15}[rng.IntN(7)]
		return "opcode not QUERY", pack(m)
	case 7:
		m := new(dns.Msg)
		m.SetQuestion(name, []uint16{dns.TypeA, dns.TypeTXT, dns.TypeANY}[rng.IntN(3)])
		m.Question[0].Qclass = []uint16{dns.ClassCHAOS, dns.ClassANY, dns.ClassNONE, dns.ClassHESIOD, 4242}[rng.IntN(5)]
		if rng.IntN(4) == 0 {
			m.Question[0].Name = "version.bind."
		}
		return "class not IN", pack(m)
	case 8:
		return "255-byte name", longName(rng, zone, 255)
	case 9:
		return "name over 255 bytes", longName(rng, zone, 256+rng.IntN(200))
	case 10:
		m := new(dns.Msg)
		m.SetQuestion(name, []uint16{dns.TypeA, dns.TypeTXT, dns.TypeSRV}[rng.IntN(3)])
		size := []uint16{0, 1, 100, 511, 512, 513, 1231, 1232, 1233, 4097, 65535}[rng.IntN(11)]
		m.SetEdns0(size, rng.IntN(2) == 0)
		opt := m.IsEdns0()
		switch rng.IntN(4) {
		case 0:
			opt.SetVersion(uint8(1 + rng.IntN(255))) // BADVERS
		case 1:
			opt.Option = append(opt.Option, &dns.EDNS0_LOCAL{Code: uint16(rng.IntN(65536)), Data: randomBytes(rng, rng.IntN(40))})
		case 2:
			m.Extra = append(m.Extra, dns.Copy(opt)) // two OPT records
		}
		return "EDNS odd", pack(m)
	case 11:
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeA)
		m.Response = true // a reply where a query belongs
		m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 1}, A: net.IPv4(127, 0, 0, 9)}}
		return "QR set", pack(m)
	case 12:
		m := new(dns.Msg)
		m.SetQuestion(name, []uint16{dns.TypeANY, dns.TypeAXFR, dns.TypeIXFR, dns.TypeRRSIG, 0, 65535}[rng.IntN(6)])
		return "odd qtype", pack(m)
	default:
		q := query(name, dns.TypeTXT)
		for range 1 + rng.IntN(4) {
			q[rng.IntN(len(q))] ^= byte(1 << rng.IntN(8))
		}
		return "bit flips", q
	}
}

func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func query(name string, qtype uint16) []byte {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	return pack(m)
}

func pack(m *dns.Msg) []byte {
	m.Id = dns.Id()
	b, err := m.Pack()
	if err != nil {
		fatalf("packing %v: %v", m.Question, err)
	}
	return b
}

// compressionLoop is a header with one question whose name points at itself,
// at a pointer that points back, or past the end.
func compressionLoop(rng *rand.Rand) []byte {
	b := make([]byte, 12, 32)
	binary.BigEndian.PutUint16(b[0:], uint16(rng.Uint32()))
	binary.BigEndian.PutUint16(b[4:], 1)
	switch rng.IntN(4) {
	case 0: // 12: pointer to 12
		b = append(b, 0xC0, 12)
	case 1: // 12: label "a", pointer to 14 -> pointer to 12
		b = append(b, 1, 'a', 0xC0, 14, 0xC0, 12)
	case 2: // pointer past the end
		b = append(b, 0xC0, 0xFF)
	default: // pointer into the header
		b = append(b, 3, 'w', 'w', 'w', 0xC0, byte(rng.IntN(12)))
	}
	return append(b, 0, 1, 0, 1)
}

// longName writes a query for a name of n bytes on the wire (labels of up to
// 63 bytes ending in zone), packed by hand since the library refuses over 255.
func longName(rng *rand.Rand, zone string, n int) []byte {
	b := make([]byte, 12, 12+n+4)
	binary.BigEndian.PutUint16(b[0:], uint16(rng.Uint32()))
	binary.BigEndian.PutUint16(b[4:], 1)
	var tail []byte
	for _, l := range dns.SplitDomainName(zone) {
		tail = append(append(tail, byte(len(l))), l...)
	}
	tail = append(tail, 0)
	for left := n - len(tail); left > 0; {
		cost := min(64, left) // a label of up to 63 bytes and its length byte
		if left-cost == 1 {
			cost-- // leave room for one more label of at least one byte
		}
		b = append(b, byte(cost-1))
		for range cost - 1 {
			b = append(b, 'a'+byte(rng.IntN(26)))
		}
		left -= cost
	}
	b = append(b, tail...)
	return append(b, 0, 1, 0, 1)
}

// stats counts what was sent and what came back.
type stats struct {
	mu          sync.Mutex
	sentBy      map[string]int
	queries     map[uint16]sentQuery // by ID; IDs repeat, so replies are matched by question too
	replies     atomic.Int64
	unparseable atomic.Int64
	oversized   atomic.Int64
	unmatched   atomic.Int64 // replies to datagrams that did not unpack, or whose ID was reused
	writeErrors atomic.Int64
	rcodes      map[string]int
	servfailBy  map[string]int // kind -> SERVFAIL replies
	largest     int
	largestAmp  float64
	ampDetail   string
}

// sentQuery is what a reply is checked against.
type sentQuery struct {
	kind     string
	size     int
	question *dns.Question // nil when the datagram does not unpack to one question
	limit    int           // the UDP size the query allows
}

func newStats() *stats {
	return &stats{sentBy: map[string]int{}, queries: map[uint16]sentQuery{}, servfailBy: map[string]int{}, rcodes: map[string]int{}}
}

func (s *stats) sent(kind string, pkt []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sentBy[kind]++
	if len(pkt) < 2 {
		return
	}
	q := sentQuery{kind: kind, size: len(pkt), limit: dns.MinMsgSize}
	m := new(dns.Msg)
	if m.Unpack(pkt) == nil && len(m.Question) == 1 {
		q.question = &m.Question[0]
		if opt := m.IsEdns0(); opt != nil && int(opt.UDPSize()) > q.limit {
			q.limit = int(opt.UDPSize())
		}
	}
	s.queries[binary.BigEndian.Uint16(pkt)] = q
}

func (s *stats) read(conn net.Conn) {
	buf := make([]byte, 65536)
	for {
		conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, err := conn.Read(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // ECONNREFUSED and the like; the final check catches a dead server
		}
		s.replies.Add(1)
		m := new(dns.Msg)
		if err := m.Unpack(buf[:n]); err != nil {
			s.unparseable.Add(1)
			continue
		}
		s.mu.Lock()
		s.rcodes[dns.RcodeToString[m.Rcode]]++
		s.largest = max(s.largest, n)
		q, ok := s.queries[m.Id]
		if !ok || q.question == nil || len(m.Question) != 1 || m.Question[0] != *q.question {
			s.unmatched.Add(1)
			if n > dns.MinMsgSize {
				// Only a query that unpacked can have asked for more.
				s.oversized.Add(1)
			}
			s.mu.Unlock()
			continue
		}
		if m.Rcode == dns.RcodeServerFailure {
			s.servfailBy[q.kind]++
		}
		if n > q.limit {
			s.oversized.Add(1)
		}
		if amp := float64(n) / float64(q.size); amp > s.largestAmp {
			s.largestAmp = amp
			s.ampDetail = fmt.Sprintf("%d-byte reply to a %d-byte query (%s %s, %s)", n, q.size, q.question.Name, dns.TypeToString[q.question.Qtype], q.kind)
		}
		s.mu.Unlock()
	}
}

func (s *stats) report(sent int, took time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Printf("hostile: sent %d datagrams in %s\n", sent, took.Round(time.Millisecond))
	kinds := make([]string, 0, len(s.sentBy))
	for k := range s.sentBy {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		fmt.Printf("  %-20s %6d\n", k, s.sentBy[k])
	}
	var rc []string
	for k, v := range s.rcodes {
		rc = append(rc, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(rc)
	fmt.Printf("hostile: %d replies (%s), %d unparseable, %d not matched to a query, %d larger than allowed, %d send errors\n",
		s.replies.Load(), strings.Join(rc, " "), s.unparseable.Load(), s.unmatched.Load(), s.oversized.Load(), s.writeErrors.Load())
	if len(s.servfailBy) > 0 {
		fmt.Printf("hostile: SERVFAIL by kind of query: %v\n", s.servfailBy)
	}
	fmt.Printf("hostile: largest reply %d bytes; largest amplification %.1fx: %s\n", s.largest, s.largestAmp, s.ampDetail)
}

// verify asks the questions whose answers are known from the built-in table.
func verify(server, zone string) []string {
	var failures []string
	check := func(netw, name string, qtype uint16, want func(*dns.Msg) string) {
		m := new(dns.Msg)
		m.SetQuestion(name, qtype)
		c := &dns.Client{Net: netw, Timeout: 3 * time.Second}
		r, _, err := c.Exchange(m, server)
		if err != nil {
			failures = append(failures, fmt.Sprintf("%s %s over %s: %v", name, dns.TypeToString[qtype], netw, err))
			return
		}
		if !r.Authoritative {
			failures = append(failures, fmt.Sprintf("%s %s over %s: not authoritative", name, dns.TypeToString[qtype], netw))
		}
		if msg := want(r); msg != "" {
			failures = append(failures, fmt.Sprintf("%s %s over %s: %s\n%v", name, dns.TypeToString[qtype], netw, msg, r))
		}
	}
	for _, netw := range []string{"udp", "tcp"} {
		check(netw, "eastus2."+zone, dns.TypeA, func(r *dns.Msg) string {
			var got []string
			for _, rr := range r.Answer {
				if a, ok := rr.(*dns.A); ok {
					got = append(got, a.A.String())
				}
			}
			if strings.Join(got, " ") != "191.239.224.107 40.79.84.180 52.167.104.0" || r.Rcode != dns.RcodeSuccess {
				return fmt.Sprintf("got %v", got)
			}
			return ""
		})
		check(netw, "primary.westeurope."+zone, dns.TypeTXT, func(r *dns.Msg) string {
			if len(r.Answer) != 1 || r.Answer[0].(*dns.TXT).Txt[0] != "primary=191.237.232.75" {
				return "wrong TXT"
			}
			return ""
		})
		check(netw, "nope."+zone, dns.TypeA, func(r *dns.Msg) string {
			if r.Rcode != dns.RcodeNameError || len(r.Ns) != 1 || r.Ns[0].Header().Rrtype != dns.TypeSOA {
				return "want NXDOMAIN with the SOA"
			}
			return ""
		})
		check(netw, "eastus2."+zone, dns.TypeANY, func(r *dns.Msg) string {
			if len(r.Answer) != 1 || r.Answer[0].Header().Rrtype != dns.TypeHINFO {
				return "want one HINFO (RFC 8482)"
			}
			return ""
		})
	}
	return failures
}

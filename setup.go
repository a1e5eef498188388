package mysqlgw

import (
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
	"github.com/mysqlgw/mysqlgw/internal/lists"
	"github.com/mysqlgw/mysqlgw/internal/ratelimit"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/plugin"

	"github.com/miekg/dns"
)

func init() { plugin.Register("mysqlgw", setup) }

// Defaults and bounds of the Corefile's settings.
const (
	defaultTTL       = 300
	defaultActiveTTL = 5
	defaultPort      = 3306
	defaultReload    = 5 * time.Second
	minReload        = 100 * time.Millisecond
	maxTTL           = 86400
)

// options are the Corefile settings that shape the answers.
type options struct {
	zones      []string // forward zones, lower-case FQDNs
	reverse    []string // in-addr.arpa and ip6.arpa zones among ZONES
	ttl        uint32
	activeTTL  uint32
	port       uint16
	failOpen   bool
	shard      int    // addresses a shard holds; 0: as many as fit
	shardWhere string // the Corefile line that set shard, for errors at load
	soa        soaTimers
	nsAddrs    []netip.Addr // ns.dns.Z's addresses; none: the address a query arrived on
	bindAddrs  []netip.Addr // the server block's bind addresses, for transfers without nsAddrs
	maxRecords int          // the most records a table may build; 0: defaultMaxRecords

	transferHealth bool // transfer_health: transfers carry the active answers (versions.go)

	// facts are the table's serial, provenance and size for the apex TXT:
	// not a Corefile setting but the table's, set by prepare like serial.
	facts facts

	// serial is the SOA serial: not a Corefile setting but the table's
	// ($SERIAL), set by prepare for each table it builds.
	serial uint32
}

func setup(c *caddy.Controller) error {
	g, err := parse(c)
	if err != nil {
		return plugin.Error("mysqlgw", err)
	}
	if err := g.load(); err != nil {
		return plugin.Error("mysqlgw", err)
	}
	// The transfer plugin in front, if any, sends NOTIFY for us; found once
	// every plugin of the server block is set up, before the watcher starts.
	c.OnStartup(func() error {
		cfg := dnsserver.GetConfig(c)
		if x, ok := cfg.Handler("transfer").(notifier); ok {
			g.xfr = x
		} else if g.opt.transferHealth {
			return plugin.Error("mysqlgw", fmt.Errorf("%s: transfer_health needs CoreDNS's transfer plugin in this server block", g.transferWhere))
		}
		self := "127.0.0.1"
		if len(g.opt.bindAddrs) > 0 {
			self = g.opt.bindAddrs[0].String()
		}
		g.notify(net.JoinHostPort(self, cfg.Port), g.allZones())
		return nil
	})
	// Background work starts with the server and stops with it: a reload
	// builds a new instance before the old one stops. The instance takes
	// its server block's state over when it starts, and takes it back if a
	// Corefile reload fails after its successor had.
	c.OnStartup(g.start)
	c.OnRestartFailed(func() error { g.take(time.Now()); return nil })
	c.OnShutdown(g.stop)
	if g.http != nil {
		// The health plugin's lifecycle: the old listener closes before the
		// new instance is built, and reopens if that fails; the address's
		// history goes when the instance stops without a successor there.
		c.OnStartup(g.http.Open)
		c.OnRestart(g.http.Close)
		c.OnRestartFailed(g.http.Open)
		c.OnShutdown(g.http.Release)
		c.OnFinalShutdown(g.http.Close)
	}

	dnsserver.GetConfig(c).AddPlugin(func(next plugin.Handler) plugin.Handler {
		g.Next = next
		return g
	})
	return nil
}

// settings are what parse reads into values of its own: the properties it
// builds parts of the plugin from once every line is read (a later line, such
// as port or regions, may change what they build), and the region lines seen.
type settings struct {
	health        healthConfig
	reload        reloadConfig
	http          lists.Config
	httpWhere     string         // the Corefile line of http_rate, http_tls or http_auth, for the error without http
	transferWhere string         // the Corefile line of transfer_health
	regionLines   map[string]int // the line of each region property, to name it when a name repeats
}

// reloadConfig is the reload property.
type reloadConfig struct {
	interval time.Duration // between checks of the regions file; 0: never
	where    string        // the Corefile line of reload, "" when it is not given
}

func parse(c *caddy.Controller) (*MysqlGW, error) {
	g := &MysqlGW{stalls: ratelimit.LogLines(), opt: options{
		ttl:       defaultTTL,
		activeTTL: defaultActiveTTL,
		port:      defaultPort,
		failOpen:  true,
		soa:       defaultSOA,
	}}
	cfg := dnsserver.GetConfig(c)
	for _, h := range cfg.ListenHosts {
		if a, err := netip.ParseAddr(h); err == nil && !a.IsUnspecified() {
			g.opt.bindAddrs = append(g.opt.bindAddrs, a.Unmap())
		}
	}
	g.key, g.servers = keyOf(cfg), serverLabels(cfg)
	s := settings{
		health:      defaultHealth,
		reload:      reloadConfig{interval: defaultReload},
		http:        lists.Config{Rate: lists.DefaultRate, Log: log},
		regionLines: map[string]int{},
	}
	blocks := 0
	for c.Next() {
		if blocks++; blocks > 1 {
			return nil, plugin.ErrOnce
		}
		for _, z := range plugin.OriginsFromArgsOrServerBlock(c.RemainingArgs(), c.ServerBlockKeys) {
			if !validZone(z) {
				return nil, c.Errf("%s is not a zone name", gwtable.Quote(z))
			}
			switch {
			case z == ".":
				g.opt.zones = appendNew(g.opt.zones, defaultZone)
			case isReverseZone(z):
				g.opt.reverse = appendNew(g.opt.reverse, z)
			default:
				g.opt.zones = appendNew(g.opt.zones, z)
			}
		}
		for c.NextBlock() {
			if err := parseProperty(c, g, &s); err != nil {
				return nil, err
			}
		}
	}

	if len(g.opt.zones) == 0 && len(g.opt.reverse) == 0 {
		g.opt.zones = []string{defaultZone}
	}
	if g.opt.soa.minimum == 0 { // no soa line: parseSOA takes no 0
		g.opt.soa.minimum = g.opt.ttl // negative answers are cached as long as positive ones
	}
	if s.reload.where != "" && g.file == "" {
		return nil, fmt.Errorf("%s: reload needs a regions FILE to watch", s.reload.where)
	}
	if g.file != "" && s.reload.interval > 0 {
		g.watcher = &fileWatcher{path: g.file, interval: s.reload.interval, prepare: g.prepare, serve: g.serve}
	}
	if s.health.interval > 0 {
		s.health.probe.port = g.opt.port
		g.health = newHealthChecker(s.health, g.servers)
	}
	if g.opt.transferHealth {
		if g.health == nil {
			return nil, fmt.Errorf("%s: transfer_health needs healthcheck: without it active names always answer the primary", s.transferWhere)
		}
		g.transferWhere = s.transferWhere
		if g.watcher != nil {
			g.watcher.serialRises = true
		}
		g.health.onChange = g.healthChanged
	}
	if s.http.Addr == "" && s.httpWhere != "" {
		return nil, fmt.Errorf("%s: http_rate, http_tls and http_auth need an http ADDRESS", s.httpWhere)
	}
	if s.http.Addr != "" {
		h, err := lists.New(s.http)
		if err != nil {
			return nil, err
		}
		g.http = h
	}
	return g, nil
}

// parseProperty reads one property of the block into g, or into s for those
// parse builds from at the end.
func parseProperty(c *caddy.Controller, g *MysqlGW, s *settings) error {
	var err error
	switch c.Val() {
	case "ttl":
		g.opt.ttl, err = numArg[uint32](c, 0, maxTTL)
	case "active_ttl":
		g.opt.activeTTL, err = numArg[uint32](c, 0, maxTTL)
	case "port":
		g.opt.port, err = numArg[uint16](c, 1, 65535)
	case "max_records":
		g.opt.maxRecords, err = numArg[int](c, 1, maxMaxRecords)
	case "shard":
		g.opt.shard, err = numArg[int](c, 1, maxShard)
		g.opt.shardWhere = position(c)
	case "soa":
		g.opt.soa, err = parseSOA(c)
	case "ns":
		args := c.RemainingArgs()
		if len(args) == 0 {
			return argErr(c)
		}
		for _, arg := range args {
			a, err := gwtable.ParseAddress(arg)
			if err != nil {
				return c.Errf("ns: %v", err)
			}
			g.opt.nsAddrs = append(g.opt.nsAddrs, a)
		}
	case "failover":
		args := c.RemainingArgs()
		if len(args) != 1 {
			return argErr(c)
		}
		switch args[0] {
		case "open", "closed":
			g.opt.failOpen = args[0] == "open"
		default:
			return c.Errf("failover must be open or closed, got %s", gwtable.Quote(args[0]))
		}
	case "regions":
		args := c.RemainingArgs()
		if len(args) != 1 {
			return argErr(c)
		}
		if g.file != "" {
			return c.Errf("regions is given twice")
		}
		g.file = args[0]
		if root := dnsserver.GetConfig(c).Root; !filepath.IsAbs(g.file) && root != "" {
			g.file = filepath.Join(root, g.file)
		}
	case "reload":
		s.reload.where = position(c)
		s.reload.interval, err = durationArg(c)
		if err == nil && s.reload.interval != 0 && s.reload.interval < minReload {
			err = c.Errf("reload must be 0 (off) or at least %s, got %s", minReload, s.reload.interval)
		}
	case "region":
		r, err := gwtable.ParseRegion(c.RemainingArgs())
		if err != nil {
			return c.Errf("region: %v", err)
		}
		if prev, ok := s.regionLines[r.Name]; ok {
			return c.Errf("region %q is already defined on line %d", r.Name, prev)
		}
		s.regionLines[r.Name] = c.Line()
		g.overrides.regions = append(g.overrides.regions, r)
	case "alias":
		args := c.RemainingArgs()
		if len(args) != 2 {
			return argErr(c)
		}
		alias, target := strings.ToLower(args[0]), strings.ToLower(args[1])
		if err := gwtable.CheckRegionName(alias); err != nil {
			return c.Errf("alias: %v", err)
		}
		g.overrides.aliases = append(g.overrides.aliases, aliasRule{alias: alias, target: target, where: position(c)})
	case "fallthrough":
		g.Fall.SetZonesFromArgs(c.RemainingArgs())
	case "healthcheck":
		s.health.interval, s.health.probe.timeout, err = parseHealthcheck(c)
	case "rise":
		s.health.rise, err = numArg[int](c, 1, 100)
	case "fall":
		s.health.fall, err = numArg[int](c, 1, 100)
	case "probe":
		err = parseProbe(c, &s.health.probe)
	case "http":
		err = parseHTTP(c, &s.http)
	case "transfer_health":
		if c.NextArg() {
			return argErr(c)
		}
		g.opt.transferHealth, s.transferWhere = true, position(c)
	case "http_rate":
		s.httpWhere = position(c)
		s.http.Rate, err = numArg[int](c, 0, 1000000)
	case "http_tls":
		s.httpWhere, s.http.TLSWhere = position(c), position(c)
		err = twoArgs(c, &s.http.CertFile, &s.http.KeyFile)
	case "http_auth":
		s.httpWhere, s.http.AuthWhere = position(c), position(c)
		err = twoArgs(c, &s.http.User, &s.http.PasswordFile)
		if err == nil && strings.ContainsAny(s.http.User, ":") {
			err = c.Errf("http_auth: a user name cannot hold ':' (HTTP basic authentication), got %s", gwtable.Quote(s.http.User))
		}
	default:
		return c.Errf("unknown property %s", gwtable.Quote(c.Val()))
	}
	return err
}

// parseHealthcheck reads `healthcheck INTERVAL [TIMEOUT]`; the timeout is
// at most a second unless given.
func parseHealthcheck(c *caddy.Controller) (interval, timeout time.Duration, err error) {
	args := c.RemainingArgs()
	if len(args) < 1 || len(args) > 2 {
		return 0, 0, argErr(c)
	}
	if interval, err = parseDuration(c, "healthcheck", args[0]); err != nil {
		return 0, 0, err
	}
	if interval < minProbeInterval {
		return 0, 0, c.Errf("healthcheck interval must be at least %s, got %s", minProbeInterval, interval)
	}
	if len(args) == 1 {
		return interval, min(defaultProbeTimeout, interval), nil
	}
	if timeout, err = parseDuration(c, "healthcheck", args[1]); err != nil {
		return 0, 0, err
	}
	if timeout <= 0 || timeout > interval {
		return 0, 0, c.Errf("healthcheck timeout must be above 0 and at most the interval %s, got %s", interval, timeout)
	}
	return interval, timeout, nil
}

// parseProbe reads `probe mysql [USER]`, `probe greeting` or `probe
// connect` into p; a user given once stays for a later `probe mysql`.
func parseProbe(c *caddy.Controller, p *prober) error {
	args := c.RemainingArgs()
	if len(args) < 1 || len(args) > 2 || (len(args) == 2 && args[0] != "mysql") {
		return argErr(c)
	}
	switch args[0] {
	case "mysql":
		p.mode = probeLogin
		if len(args) == 2 {
			if err := checkProbeUser(args[1]); err != nil {
				return c.Errf("probe mysql: %v", err)
			}
			p.user = args[1]
		}
	case "greeting":
		p.mode = probeGreeting
	case "connect":
		p.mode = probeConnect
	default:
		return c.Errf("probe must be mysql, greeting or connect, got %s", gwtable.Quote(args[0]))
	}
	return nil
}

// position is the current line of the Corefile, "Corefile:12", for errors
// found after parse has moved on.
func position(c *caddy.Controller) string { return fmt.Sprintf("%s:%d", c.File(), c.Line()) }

// numArg reads the one integer argument of the current property, in [lo, hi]
// (which T holds).
func numArg[T int | uint16 | uint32](c *caddy.Controller, lo, hi int) (T, error) {
	name := c.Val()
	args := c.RemainingArgs()
	if len(args) != 1 {
		return 0, argErr(c)
	}
	n, err := strconv.Atoi(args[0])
	if err != nil {
		return 0, c.Errf("%s: %s is not a whole number", name, gwtable.Quote(args[0]))
	}
	if n < lo || n > hi {
		return 0, c.Errf("%s must be in range [%d, %d], got %d", name, lo, hi, n)
	}
	return T(n), nil
}

func durationArg(c *caddy.Controller) (time.Duration, error) {
	name := c.Val()
	args := c.RemainingArgs()
	if len(args) != 1 {
		return 0, argErr(c)
	}
	return parseDuration(c, name, args[0])
}

func parseDuration(c *caddy.Controller, name, s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, c.Errf("%s: %s is not a duration such as 5s or 1m", name, gwtable.Quote(s))
	}
	return d, nil
}

func appendNew(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// validZone accepts a domain name in presentation form made of printable
// characters other than quotes and escapes, which no zone of this table needs.
func validZone(z string) bool {
	if _, ok := dns.IsDomainName(z); !ok {
		return false
	}
	for i := 0; i < len(z); i++ {
		if c := z[i]; c <= ' ' || c >= 0x7f || c == '"' || c == '\\' || c == '(' || c == ')' || c == ';' {
			return false
		}
	}
	return true
}

// checkProbeUser accepts a MySQL user name the login probe can send: MySQL
// allows up to 80 characters (MariaDB 128), and the name travels
// NUL-terminated.
func checkProbeUser(user string) error {
	if len(user) > 80 {
		return fmt.Errorf("user name longer than 80 bytes: %s", gwtable.Quote(user))
	}
	if strings.ContainsRune(user, 0) || user == "" {
		return fmt.Errorf("%s is not a user name", gwtable.Quote(user))
	}
	return nil
}

// argErr is c.ArgErr with the token it names quoted short: caddy's shows it
// whole, control bytes and all.
func argErr(c *caddy.Controller) error {
	if c.Val() == "{" {
		return c.ArgErr()
	}
	return c.Errf("Wrong argument count or unexpected line ending after %s", gwtable.Quote(c.Val()))
}

// parseHTTP reads `http ADDRESS`, a host and port to listen on.
func parseHTTP(c *caddy.Controller, cfg *lists.Config) error {
	args := c.RemainingArgs()
	if len(args) != 1 {
		return argErr(c)
	}
	if cfg.Addr != "" {
		return c.Errf("http is given twice")
	}
	host, port, err := net.SplitHostPort(args[0])
	if err != nil {
		return c.Errf("http: %s is not HOST:PORT, such as 127.0.0.1:8053", gwtable.Quote(args[0]))
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return c.Errf("http: port %s is not in range [1, 65535]", gwtable.Quote(port))
	}
	if host != "" {
		if _, err := netip.ParseAddr(host); err != nil && host != "localhost" {
			return c.Errf("http: %s is not an IP address to listen on", gwtable.Quote(host))
		}
	}
	cfg.Addr = args[0]
	return nil
}

// twoArgs reads the two arguments of the current property.
func twoArgs(c *caddy.Controller, a, b *string) error {
	args := c.RemainingArgs()
	if len(args) != 2 {
		return argErr(c)
	}
	*a, *b = args[0], args[1]
	return nil
}

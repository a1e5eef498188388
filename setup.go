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

	// serial is the SOA serial: not a Corefile setting but the table's
	// ($SERIAL), set by swap for each table it builds.
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
		}
		self := "127.0.0.1"
		if len(g.opt.bindAddrs) > 0 {
			self = g.opt.bindAddrs[0].String()
		}
		g.notify(net.JoinHostPort(self, cfg.Port))
		return nil
	})
	// Background work starts with the server and stops with it: a reload
	// builds a new instance before the old one stops.
	c.OnStartup(g.start)
	c.OnShutdown(g.stop)

	dnsserver.GetConfig(c).AddPlugin(func(next plugin.Handler) plugin.Handler {
		g.Next = next
		return g
	})
	return nil
}

func parse(c *caddy.Controller) (*MysqlGW, error) {
	g := &MysqlGW{opt: options{
		ttl:       defaultTTL,
		activeTTL: defaultActiveTTL,
		port:      defaultPort,
		failOpen:  true,
		soa:       defaultSOA,
	}}
	for _, h := range dnsserver.GetConfig(c).ListenHosts {
		if a, err := netip.ParseAddr(h); err == nil && !a.IsUnspecified() {
			g.opt.bindAddrs = append(g.opt.bindAddrs, a.Unmap())
		}
	}
	soaSet := false
	var (
		reload            = defaultReload
		reloadSet         bool
		interval, timeout time.Duration
		rise, fall        = 2, 3
		probe             = prober{mode: probeLogin, user: defaultProbeUser}
		regionLines       = map[string]int{}
	)
	blocks := 0
	for c.Next() {
		if blocks++; blocks > 1 {
			return nil, plugin.ErrOnce
		}
		for _, z := range plugin.OriginsFromArgsOrServerBlock(c.RemainingArgs(), c.ServerBlockKeys) {
			if !validZone(z) {
				return nil, c.Errf("%q is not a zone name", z)
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
			switch c.Val() {
			case "ttl":
				ttl, err := intArg(c, 0, maxTTL)
				if err != nil {
					return nil, err
				}
				g.opt.ttl = uint32(ttl)
			case "active_ttl":
				ttl, err := intArg(c, 0, maxTTL)
				if err != nil {
					return nil, err
				}
				g.opt.activeTTL = uint32(ttl)
			case "port":
				port, err := intArg(c, 1, 65535)
				if err != nil {
					return nil, err
				}
				g.opt.port = uint16(port)
			case "regions":
				args := c.RemainingArgs()
				if len(args) != 1 {
					return nil, c.ArgErr()
				}
				if g.file != "" {
					return nil, c.Errf("regions is given twice")
				}
				g.file = args[0]
				if root := dnsserver.GetConfig(c).Root; !filepath.IsAbs(g.file) && root != "" {
					g.file = filepath.Join(root, g.file)
				}
			case "reload":
				d, err := durationArg(c)
				if err != nil {
					return nil, err
				}
				if d != 0 && d < minReload {
					return nil, c.Errf("reload must be 0 (off) or at least %s, got %s", minReload, d)
				}
				reload, reloadSet = d, true
			case "region":
				args := c.RemainingArgs()
				r, err := gwtable.ParseRegion(args)
				if err != nil {
					return nil, c.Errf("region: %v", err)
				}
				if prev, ok := regionLines[r.Name]; ok {
					return nil, c.Errf("region %q is already defined on line %d", r.Name, prev)
				}
				regionLines[r.Name] = c.Line()
				g.overrides.regions = append(g.overrides.regions, r)
			case "alias":
				args := c.RemainingArgs()
				if len(args) != 2 {
					return nil, c.ArgErr()
				}
				alias, target := strings.ToLower(args[0]), strings.ToLower(args[1])
				if err := gwtable.CheckRegionName(alias); err != nil {
					return nil, c.Errf("alias: %v", err)
				}
				g.overrides.aliases = append(g.overrides.aliases, aliasRule{
					alias: alias, target: target, where: fmt.Sprintf("%s:%d", c.File(), c.Line()),
				})
			case "fallthrough":
				g.Fall.SetZonesFromArgs(c.RemainingArgs())
			case "healthcheck":
				args := c.RemainingArgs()
				if len(args) < 1 || len(args) > 2 {
					return nil, c.ArgErr()
				}
				var err error
				if interval, err = parseDuration(c, "healthcheck", args[0]); err != nil {
					return nil, err
				}
				if interval < minProbeInterval {
					return nil, c.Errf("healthcheck interval must be at least %s, got %s", minProbeInterval, interval)
				}
				timeout = min(defaultProbeTimeout, interval)
				if len(args) == 2 {
					if timeout, err = parseDuration(c, "healthcheck", args[1]); err != nil {
						return nil, err
					}
					if timeout <= 0 || timeout > interval {
						return nil, c.Errf("healthcheck timeout must be above 0 and at most the interval %s, got %s", interval, timeout)
					}
				}
			case "rise":
				n, err := intArg(c, 1, 100)
				if err != nil {
					return nil, err
				}
				rise = n
			case "fall":
				n, err := intArg(c, 1, 100)
				if err != nil {
					return nil, err
				}
				fall = n
			case "probe":
				args := c.RemainingArgs()
				if len(args) < 1 || len(args) > 2 || (len(args) == 2 && args[0] != "mysql") {
					return nil, c.ArgErr()
				}
				switch args[0] {
				case "mysql":
					probe.mode = probeLogin
					if len(args) == 2 {
						if err := checkProbeUser(args[1]); err != nil {
							return nil, c.Errf("probe mysql: %v", err)
						}
						probe.user = args[1]
					}
				case "greeting":
					probe.mode = probeGreeting
				case "connect":
					probe.mode = probeConnect
				default:
					return nil, c.Errf("probe must be mysql, greeting or connect, got %q", args[0])
				}
			case "shard":
				n, err := intArg(c, 1, maxShard)
				if err != nil {
					return nil, err
				}
				g.opt.shard, g.opt.shardWhere = n, fmt.Sprintf("%s:%d", c.File(), c.Line())
			case "soa":
				t, err := parseSOA(c)
				if err != nil {
					return nil, err
				}
				g.opt.soa, soaSet = t, true
			case "ns":
				args := c.RemainingArgs()
				if len(args) == 0 {
					return nil, c.ArgErr()
				}
				for _, arg := range args {
					a, err := gwtable.ParseAddress(arg)
					if err != nil {
						return nil, c.Errf("ns: %v", err)
					}
					g.opt.nsAddrs = append(g.opt.nsAddrs, a)
				}
			case "max_records":
				n, err := intArg(c, 1, maxMaxRecords)
				if err != nil {
					return nil, err
				}
				g.opt.maxRecords = n
			case "failover":
				args := c.RemainingArgs()
				if len(args) != 1 {
					return nil, c.ArgErr()
				}
				switch args[0] {
				case "open":
					g.opt.failOpen = true
				case "closed":
					g.opt.failOpen = false
				default:
					return nil, c.Errf("failover must be open or closed, got %q", args[0])
				}
			default:
				return nil, c.Errf("unknown property '%s'", c.Val())
			}
		}
	}
	if len(g.opt.zones) == 0 && len(g.opt.reverse) == 0 {
		g.opt.zones = []string{defaultZone}
	}
	if !soaSet {
		g.opt.soa.minimum = g.opt.ttl // negative answers are cached as long as positive ones
	}
	if reloadSet && g.file == "" {
		return nil, c.Errf("reload needs a regions FILE to watch")
	}
	if g.file != "" && reload > 0 {
		g.watcher = &fileWatcher{path: g.file, interval: reload, swap: g.swap}
	}
	if interval > 0 {
		probe.port, probe.timeout = g.opt.port, timeout
		g.health = newHealthChecker(interval, probe, rise, fall)
	}
	return g, nil
}

// intArg reads the one integer argument of the current property, in [lo, hi].
func intArg(c *caddy.Controller, lo, hi int) (int, error) {
	name := c.Val()
	args := c.RemainingArgs()
	if len(args) != 1 {
		return 0, c.ArgErr()
	}
	n, err := strconv.Atoi(args[0])
	if err != nil {
		return 0, c.Errf("%s: %q is not a whole number", name, args[0])
	}
	if n < lo || n > hi {
		return 0, c.Errf("%s must be in range [%d, %d], got %d", name, lo, hi, n)
	}
	return n, nil
}

func durationArg(c *caddy.Controller) (time.Duration, error) {
	name := c.Val()
	args := c.RemainingArgs()
	if len(args) != 1 {
		return 0, c.ArgErr()
	}
	return parseDuration(c, name, args[0])
}

func parseDuration(c *caddy.Controller, name, s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, c.Errf("%s: %q is not a duration such as 5s or 1m", name, s)
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
		return fmt.Errorf("user name longer than 80 bytes: %q", user)
	}
	if strings.ContainsRune(user, 0) || user == "" {
		return fmt.Errorf("%q is not a user name", user)
	}
	return nil
}

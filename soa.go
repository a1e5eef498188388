package mysqlgw

import (
	"strconv"

	"github.com/coredns/caddy"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
)

// soaTimers are the SOA's refresh, retry, expire and minimum, in seconds.
type soaTimers struct{ refresh, retry, expire, minimum uint32 }

// defaultSOA is at or above the values secondaries are commonly advised to
// use (RIPE-203, RFC 1912): refresh 4 hours, retry 1 hour, expire 2 weeks;
// minimum, the negative-caching TTL (RFC 2308), is 0 here, which parseSOA
// never returns: parse then sets it to the ttl.
var defaultSOA = soaTimers{refresh: 14400, retry: 3600, expire: 1209600}

// parseSOA reads `soa REFRESH RETRY EXPIRE MINIMUM` and checks it as RFC 1912
// section 2.2 suggests: retry shorter than refresh, expire much longer than
// both (at least a week), a negative-caching TTL of at most a day.
func parseSOA(c *caddy.Controller) (soaTimers, error) {
	args := c.RemainingArgs()
	if len(args) != 4 {
		return soaTimers{}, argErr(c)
	}
	var v [4]uint32
	for i, arg := range args {
		n, err := strconv.ParseUint(arg, 10, 32)
		if err != nil || n == 0 {
			return soaTimers{}, c.Errf("soa: %s is not a number of seconds above 0", gwtable.Quote(arg))
		}
		v[i] = uint32(n)
	}
	t := soaTimers{refresh: v[0], retry: v[1], expire: v[2], minimum: v[3]}
	switch {
	case t.retry >= t.refresh:
		return soaTimers{}, c.Errf("soa: retry %d must be shorter than refresh %d", t.retry, t.refresh)
	case t.expire < 604800 || t.expire < 7*t.refresh:
		return soaTimers{}, c.Errf("soa: expire %d must be at least a week (604800) and 7 times refresh", t.expire)
	case t.minimum > maxTTL:
		return soaTimers{}, c.Errf("soa: minimum %d must be at most a day (86400)", t.minimum)
	}
	return t, nil
}

package mysqlgw

import (
	"testing"

	"github.com/miekg/dns"
)

func TestTypeLabel(t *testing.T) {
	for qtype, want := range map[uint16]string{
		dns.TypeA:     "A",
		dns.TypeAPL:   "APL",
		dns.TypeANY:   "ANY",
		dns.TypeHTTPS: "HTTPS",
		dns.TypeHINFO: "other", // answered to ANY, never asked for
		dns.TypeNULL:  "other",
		65280:         "other", // private use: a scanner's pick
	} {
		if got := typeLabel(qtype); got != want {
			t.Errorf("typeLabel(%d) = %q, want %q", qtype, got, want)
		}
	}
}

// TestTypeLabelCoversAnswers: every type a name of the table holds is
// counted under its own label, not as "other".
func TestTypeLabelCoversAnswers(t *testing.T) {
	g := newTestPlugin(t, "mysqlgw gateway.mysql.local in-addr.arpa ip6.arpa {\n healthcheck 1s\n region lab 2001:db8::1 191.239.224.107\n}")
	seen := map[uint16]bool{}
	for name, nd := range g.answers.Load().nodes {
		sets := nd.rrsets
		if nd.active != nil {
			sets = nil
			for _, choice := range nd.active.choices {
				sets = append(sets, choice...)
			}
		}
		for _, set := range sets {
			seen[set.qtype] = true
			if got := typeLabel(set.qtype); got != dns.TypeToString[set.qtype] {
				t.Errorf("%s %s is counted as %q", name, dns.TypeToString[set.qtype], got)
			}
		}
	}
	for _, qtype := range []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeTXT, dns.TypeSRV, dns.TypePTR, dns.TypeSOA, dns.TypeNS, dns.TypeAPL} {
		if !seen[qtype] {
			t.Errorf("no name holds %s: the walk missed part of the table", dns.TypeToString[qtype])
		}
	}
}

// TestRequestsCountAPL: an APL query for an allow name is counted as APL.
func TestRequestsCountAPL(t *testing.T) {
	g := newTestPlugin(t, "mysqlgw")
	series := requestCount.WithLabelValues("", defaultZone, "", "APL", kindAnswer)
	before := counterValue(series)
	m := new(dns.Msg)
	m.SetQuestion("allow.eastus2."+defaultZone, dns.TypeAPL)
	if resp, _ := serve(t, g, m); len(resp.Answer) != 1 || resp.Answer[0].Header().Rrtype != dns.TypeAPL {
		t.Fatalf("allow.eastus2 APL: %v", resp.Answer)
	}
	if got := counterValue(series) - before; got != 1 {
		t.Errorf("requests_total{type=\"APL\",kind=\"answer\"} rose by %v, want 1", got)
	}
}

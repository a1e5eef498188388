package mysqlgw

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// apexTXT asks for the zone apex's TXT set through g.
func apexTXT(t *testing.T, g *MysqlGW, zone string) []string {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(zone, dns.TypeTXT)
	resp, _ := serve(t, g, m)
	var texts []string
	for _, rr := range resp.Answer {
		texts = append(texts, strings.Join(rr.(*dns.TXT).Txt, ""))
	}
	return texts
}

// TestApexFacts: every forward zone's apex tells the table's serial, source,
// date and size; a reverse zone's does not; a table without provenance
// leaves those out.
func TestApexFacts(t *testing.T) {
	g := newTestPlugin(t, "mysqlgw gateway.mysql.local. example.org. 10.in-addr.arpa. {\n region lab 192.0.2.1 subnets 192.0.2.0/29\n}")
	want := "serial=2019052201 source=Connectivity architecture in Azure Database for MySQL published=2019-05-22 regions=32 addresses=48 prefixes=1"
	for _, z := range []string{"gateway.mysql.local.", "example.org."} {
		if got := strings.Join(apexTXT(t, g, z), " "); got != want {
			t.Errorf("%s TXT %q\nwant %q", z, got, want)
		}
	}
	if got := apexTXT(t, g, "10.in-addr.arpa."); len(got) != 0 {
		t.Errorf("reverse zone apex TXT %q", got)
	}

	path := filepath.Join(t.TempDir(), "regions")
	if err := os.WriteFile(path, []byte("$SERIAL 7\nlab 192.0.2.1 decommissioning 192.0.2.9\nlab2 192.0.2.1 subnets 2001:db8::/64\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	g = newTestPlugin(t, "mysqlgw {\n regions "+path+"\n}")
	if got := strings.Join(apexTXT(t, g, "gateway.mysql.local."), " "); got != "serial=7 regions=2 addresses=2 prefixes=1" {
		t.Errorf("TXT %q", got)
	}
	// With Redirect sets, their source, date and prefix count.
	if err := os.WriteFile(path, []byte("$SERIAL 8\n$REDIRECT-SOURCE tags.json\n$REDIRECT-PUBLISHED 2026-12-07\nlab 192.0.2.1 redirect 192.0.2.0/24 2001:db8::/48\nsqlonly redirect 192.0.2.0/24\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	g = newTestPlugin(t, "mysqlgw {\n regions "+path+"\n}")
	if got := strings.Join(apexTXT(t, g, "gateway.mysql.local."), " "); got != "serial=8 regions=2 addresses=1 prefixes=0 redirect-source=tags.json redirect-published=2026-12-07 redirect=2" {
		t.Errorf("TXT with Redirect sets %q", got)
	}
}

// TestTablePublishedMetric: the published date as Unix time, and no series
// for a table without one.
func TestTablePublishedMetric(t *testing.T) {
	newTestPlugin(t, "mysqlgw")
	var m dto.Metric
	if err := tablePublished.WithLabelValues("builtin", setGateway).Write(&m); err != nil || m.GetGauge().GetValue() != 1558483200 {
		t.Errorf("builtin published %v, want 1558483200 (2019-05-22): %v", m.GetGauge().GetValue(), err)
	}
	path := filepath.Join(t.TempDir(), "regions")
	os.WriteFile(path, []byte("$PUBLISHED 2026-05-18\nlab 192.0.2.1\n"), 0o644)
	g := newTestPlugin(t, "mysqlgw {\n regions "+path+"\n reload 1h\n}")
	if err := tablePublished.WithLabelValues(path, setGateway).Write(&m); err != nil || m.GetGauge().GetValue() != 1779062400 {
		t.Errorf("file published %v, want 1779062400: %v", m.GetGauge().GetValue(), err)
	}
	if tablePublished.DeleteLabelValues(path, setRedirect) {
		t.Error("a table without Redirect sets has a published series for them")
	}
	// The Redirect sets' date is a series of its own.
	os.WriteFile(path, []byte("$PUBLISHED 2026-05-18\n$REDIRECT-PUBLISHED 2026-12-07\nlab 192.0.2.1 redirect 192.0.2.0/24\n"), 0o644)
	g.watcher.check()
	g.watcher.check()
	if err := tablePublished.WithLabelValues(path, setRedirect).Write(&m); err != nil || m.GetGauge().GetValue() != 1796601600 {
		t.Errorf("redirect published %v, want 1796601600 (2026-12-07): %v", m.GetGauge().GetValue(), err)
	}
	os.WriteFile(path, []byte("lab 192.0.2.1\n"), 0o644)
	g.watcher.check()
	g.watcher.check()
	if tablePublished.DeleteLabelValues(path, setGateway) || tablePublished.DeleteLabelValues(path, setRedirect) {
		t.Error("a table without $PUBLISHED or $REDIRECT-PUBLISHED still has a published series")
	}
}

// TestTableLog: one line with the table's age at start-up (and where to get
// today's for the built-in table); at every change one line with the
// difference; nothing for a comment or a serial alone.
func TestTableLog(t *testing.T) {
	l := captureLog(t)
	newTestPlugin(t, "mysqlgw")
	days := thousands(int(time.Since(time.Date(2019, 5, 22, 0, 0, 0, 0, time.UTC)).Hours() / 24))
	for _, want := range []string{
		"[INFO] plugin/mysqlgw: Serving the built-in table: serial 2019052201, 31 regions, 47 addresses, 0 prefixes; source \"Connectivity architecture in Azure Database for MySQL\"; published 2019-05-22, " + days + " days ago; it is Microsoft's 2019 page for Azure Database for MySQL Single Server, retired on 2024-09-16",
	} {
		if !strings.Contains(l.String(), want) {
			t.Errorf("log\n%s\nlacks\n%s", l.String(), want)
		}
	}

	path := filepath.Join(t.TempDir(), "regions")
	os.WriteFile(path, []byte("$SERIAL 1\n$PUBLISHED 2026-05-18\nlab 192.0.2.1 subnets 198.51.100.0/29\n"), 0o644)
	g := newTestPlugin(t, "mysqlgw {\n regions "+path+"\n reload 1h\n}")
	poll := func(content string) {
		os.WriteFile(path, []byte(content), 0o644)
		g.watcher.check()
		g.watcher.check()
	}
	before := strings.Count(l.String(), "Serving "+path)
	poll("$SERIAL 2\n$PUBLISHED 2026-05-18\n# a comment\nlab 192.0.2.1 subnets 198.51.100.0/29\n")
	if n := strings.Count(l.String(), "Serving "+path); n != before {
		t.Errorf("a new serial and a comment were logged as a change:\n%s", l.String())
	}
	poll("$SERIAL 3\n$PUBLISHED 2026-06-02\nlab 192.0.2.2 subnets 198.51.100.0/29 2001:db8::/64\nlab2 192.0.2.3\n")
	for _, want := range []string{
		"Table " + path + " changed: serial 2 → 3; regions +1 -0, addresses +2 -1, prefixes +1 -0",
		"Serving " + path + ": serial 3, 2 regions, 2 addresses, 2 prefixes; published 2026-06-02, ",
	} {
		if !strings.Contains(l.String(), want) {
			t.Errorf("log\n%s\nlacks\n%s", l.String(), want)
		}
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 2567: "2,567", 1234567: "1,234,567", -4500: "-4,500"} {
		if got := thousands(n); got != want {
			t.Errorf("%d: %q", n, got)
		}
	}
}

// TestTableChangedMetric: the change time is set by a reload that changes
// what is served, and by nothing else: not the start, not a new serial or a
// comment alone. table_info follows the table, one series a file.
func TestTableChangedMetric(t *testing.T) {
	path := filepath.Join(t.TempDir(), "regions")
	write := func(content string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	info := func() []string {
		var got []string
		ch := make(chan prometheus.Metric)
		go func() {
			tableInfo.Collect(ch)
			close(ch)
		}()
		for m := range ch {
			var d dto.Metric
			m.Write(&d)
			labels := map[string]string{}
			for _, l := range d.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["file"] == path {
				got = append(got, fmt.Sprintf("serial=%s source=%s published=%s %v", labels["serial"], labels["source"], labels["published"], d.GetGauge().GetValue()))
			}
		}
		return got
	}
	write("$SERIAL 1\n$SOURCE https://example.com/a\n$PUBLISHED 2026-05-18\nlab 192.0.2.1\n")
	g := newTestPlugin(t, "mysqlgw {\n regions "+path+"\n reload 1h\n}")
	var m dto.Metric
	if err := tableChanged.WithLabelValues(path).Write(&m); err != nil {
		t.Fatal(err)
	}
	if tableChanged.DeleteLabelValues(path); m.GetGauge().GetValue() != 0 {
		t.Errorf("start-up set the change time to %v", m.GetGauge().GetValue())
	}
	if got := info(); !slices.Equal(got, []string{"serial=1 source=https://example.com/a published=2026-05-18 1"}) {
		t.Errorf("table_info at start %q", got)
	}
	reload := func(content string) {
		t.Helper()
		write(content)
		g.watcher.check()
		g.watcher.check()
	}
	// A new serial and a comment alone.
	reload("# a comment\n$SERIAL 2\n$SOURCE https://example.com/a\n$PUBLISHED 2026-05-18\nlab 192.0.2.1\n")
	if tableChanged.DeleteLabelValues(path) {
		t.Error("a new serial and a comment set the change time")
	}
	if got := info(); !slices.Equal(got, []string{"serial=2 source=https://example.com/a published=2026-05-18 1"}) {
		t.Errorf("table_info after a new serial %q", got)
	}
	// An address added.
	before := time.Now().Unix()
	reload("$SERIAL 3\nlab 192.0.2.1 192.0.2.2\n")
	if err := tableChanged.WithLabelValues(path).Write(&m); err != nil || int64(m.GetGauge().GetValue()) < before || int64(m.GetGauge().GetValue()) > time.Now().Unix() {
		t.Errorf("a change set the change time to %v, want between %d and now (%v)", m.GetGauge().GetValue(), before, err)
	}
	if got := info(); !slices.Equal(got, []string{"serial=3 source= published= 1"}) {
		t.Errorf("table_info after a change %q", got)
	}
}

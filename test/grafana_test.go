package test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mysqlgw/mysqlgw/internal/testutil"
)

// dashboardFile is the Grafana dashboard operators import.
const dashboardFile = "../deploy/grafana/mysqlgw.json"

// dashboard is what the test reads of a Grafana dashboard JSON model.
type dashboard struct {
	Templating struct {
		List []struct {
			Name, Type string
			Query      any // a string in the classic model
			Datasource any
		}
	}
	Panels []dashboardPanel
}

type dashboardPanel struct {
	ID         int
	Type       string
	Title      string
	Datasource any
	Panels     []dashboardPanel // a collapsed row's
	Targets    []struct {
		Expr         string
		LegendFormat string
		RefID        string
		Datasource   any
	}
}

// grafanaSelectAll stands for Grafana's variables as the dashboard's All
// (allValue) and for its intervals. ".+" rather than ".*": a panel that
// filters on a label its metric lacks then returns nothing and fails.
var grafanaSelectAll = strings.NewReplacer(
	"$__rate_interval", "1m", "${__rate_interval}", "1m",
	"$__interval", "15s", "${__interval}", "15s",
	"$__range", "5m", "${__range}", "5m",
	"${job}", ".+", "$job", ".+",
	"${instance}", ".+", "$instance", ".+",
	"${server}", ".+", "$server", ".+",
	"${region}", ".+", "$region", ".+",
)

// TestGrafanaDashboard runs every query of deploy/grafana/mysqlgw.json
// against a real Prometheus scraping the real binary, with every series
// the dashboard shows made to exist: queries of each kind, a reload
// applied and one rejected, probes of a stand-in gateway that is up and
// of an address that refuses, a NOTIFY to a loopback sink, HTTP lists. Each
// query must parse and return a series, each legend's labels must be in
// what it returns, and each template variable must have values. The same
// Prometheus loads the alert rules and must fire MysqlgwTableChanged for
// the reload that changed the table.
func TestGrafanaDashboard(t *testing.T) {
	promBin := requireTool(t, "prometheus")
	board := readDashboard(t)

	// The NOTIFY sink accepts every NOTIFY, so the round counts as ok.
	sink, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	notifySrv := &dns.Server{PacketConn: sink, NotifyStartedFunc: func() { close(started) }, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		w.WriteMsg(m)
	})}
	go notifySrv.ActivateAndServe()
	// Shutdown before the server serves would leave it running.
	<-started
	t.Cleanup(func() { notifySrv.Shutdown() })

	const up, refusing = "127.0.0.2", "127.0.0.3"
	gwPort := testutil.GatewayPort(t, up, refusing)
	standIn(t, up, gwPort)
	metricsPort, httpPort := freePort(t), freePort(t)
	regions := "$SERIAL 1\n$SOURCE grafana-test\n$PUBLISHED 2026-05-18\nlab " + up + " " + refusing + "\n"
	s := startServer(t, map[string]string{
		"Corefile": fmt.Sprintf(`gateway.mysql.local:{PORT} {
    bind 127.0.0.1
    prometheus 127.0.0.1:%d
    transfer {
        to %s
    }
    mysqlgw {
        regions regions
        reload 100ms
        port %d
        healthcheck 200ms
        http 127.0.0.1:%d
    }
}
`, metricsPort, sink.LocalAddr(), gwPort, httpPort),
		"regions": regions,
	})
	for _, q := range []struct {
		name  string
		qtype uint16
	}{{"lab.gateway.mysql.local.", dns.TypeA}, {"lab.gateway.mysql.local.", dns.TypeAAAA}, {"nowhere.gateway.mysql.local.", dns.TypeA}} {
		m := new(dns.Msg)
		m.SetQuestion(q.name, q.qtype)
		s.exchange(m, "udp")
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	testutil.Until(t, 10*time.Second, "a list over HTTP", func() bool {
		resp, err := http.Get(base + "/allow/lab")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	// One reload that changes the table, then one that is rejected.
	s.writeFile("regions", "$SERIAL 2\n$SOURCE grafana-test\n$PUBLISHED 2026-05-18\nlab "+up+" "+refusing+" subnets 127.0.1.0/29\n")
	s.waitLog("Table regions changed: serial 1 → 2", 10*time.Second)
	s.writeFile("regions", "$SERIAL 3\nlab not-an-address\n")
	s.waitLog("not-an-address", 10*time.Second)

	promDir := t.TempDir()
	rules, err := filepath.Abs(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
- job_name: mysqlgw
  static_configs:
  - targets: ['127.0.0.1:%d']
`, rules, metricsPort)
	if err := os.WriteFile(filepath.Join(promDir, "prometheus.yml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	promPort := freePort(t)
	prom := testutil.Start(t, exec.Command(promBin,
		"--config.file="+filepath.Join(promDir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(promDir, "data"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", promPort)), 10*time.Second)
	api := fmt.Sprintf("http://127.0.0.1:%d/api/v1/", promPort)

	type query struct{ where, expr, legend string }
	var queries []query
	var walk func([]dashboardPanel)
	walk = func(panels []dashboardPanel) {
		for _, p := range panels {
			walk(p.Panels)
			for _, target := range p.Targets {
				queries = append(queries, query{fmt.Sprintf("panel %d %q target %s", p.ID, p.Title, target.RefID), target.Expr, target.LegendFormat})
			}
		}
	}
	walk(board.Panels)
	if len(queries) < 15 {
		t.Fatalf("the dashboard has %d queries; did the test miss panels?", len(queries))
	}
	legendLabel := regexp.MustCompile(`\{\{\s*(\w+)\s*\}\}`)
	// Rates need two scrapes, and the probes and the reloads happened
	// before the first: poll until every query has a series.
	err = testutil.Poll(90*time.Second, prom.Exited, func() error {
		for _, q := range queries {
			expr := grafanaSelectAll.Replace(q.expr)
			if strings.Contains(expr, "$") {
				t.Fatalf("%s: a variable the test does not know in %s", q.where, expr)
			}
			var vector struct {
				Result []struct{ Metric map[string]string }
			}
			if err := promAPI(api+"query?query="+url.QueryEscape(expr), &vector); err != nil {
				return fmt.Errorf("%s: %s: %w", q.where, expr, err)
			}
			if len(vector.Result) == 0 {
				return fmt.Errorf("%s: no series for %s", q.where, expr)
			}
			for _, m := range legendLabel.FindAllStringSubmatch(q.legend, -1) {
				// code is empty, so never stored, but for error_greeting.
				if m[1] != "code" && !slices.ContainsFunc(vector.Result, func(r struct{ Metric map[string]string }) bool { return r.Metric[m[1]] != "" }) {
					return fmt.Errorf("%s: legend %q: no series of %s has %s", q.where, q.legend, expr, m[1])
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	labelValues := regexp.MustCompile(`^label_values\((.+),\s*(\w+)\)$`)
	for _, v := range board.Templating.List {
		switch v.Type {
		case "datasource":
			if v.Name != "datasource" || v.Query != "prometheus" {
				t.Errorf("data source variable %s of %v, want datasource of prometheus", v.Name, v.Query)
			}
			continue
		case "query":
		default:
			t.Errorf("variable %s of type %s: the test knows datasource and query", v.Name, v.Type)
			continue
		}
		query, _ := v.Query.(string)
		m := labelValues.FindStringSubmatch(query)
		if m == nil {
			t.Errorf("variable %s: %q is not label_values(SELECTOR, LABEL)", v.Name, query)
			continue
		}
		var values []string
		if err := promAPI(api+"label/"+m[2]+"/values?match[]="+url.QueryEscape(grafanaSelectAll.Replace(m[1])), &values); err != nil || len(values) == 0 {
			t.Errorf("variable %s: %s gave %q (%v)", v.Name, query, values, err)
		}
	}

	// MysqlgwTableChanged, on the real scrape of the reload above.
	err = testutil.Poll(30*time.Second, prom.Exited, func() error {
		var alerts struct {
			Alerts []struct {
				Labels, Annotations map[string]string
				State               string
			}
		}
		if err := promAPI(api+"alerts", &alerts); err != nil {
			return err
		}
		for _, a := range alerts.Alerts {
			if a.Labels["alertname"] == "MysqlgwTableChanged" && a.State == "firing" {
				if a.Labels["file"] != "regions" || a.Annotations["serial"] != "2" || a.Annotations["source"] != "grafana-test" || a.Annotations["published"] != "2026-05-18" {
					t.Fatalf("MysqlgwTableChanged fired with %v %v, want file regions, serial 2, source grafana-test, published 2026-05-18", a.Labels, a.Annotations)
				}
				return nil
			}
		}
		return fmt.Errorf("MysqlgwTableChanged is not firing: %+v", alerts.Alerts)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// readDashboard reads the dashboard and checks what an import needs: every
// panel and query on the ${datasource} variable, unique panel ids.
func readDashboard(t *testing.T) dashboard {
	t.Helper()
	content, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var board dashboard
	if err := json.Unmarshal(content, &board); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	wantDS := map[string]any{"type": "prometheus", "uid": "${datasource}"}
	ids := map[int]bool{}
	var walk func([]dashboardPanel)
	walk = func(panels []dashboardPanel) {
		for _, p := range panels {
			if ids[p.ID] {
				t.Errorf("panel id %d twice", p.ID)
			}
			ids[p.ID] = true
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if fmt.Sprint(p.Datasource) != fmt.Sprint(wantDS) {
				t.Errorf("panel %q: data source %v, want %v", p.Title, p.Datasource, wantDS)
			}
			for _, target := range p.Targets {
				if fmt.Sprint(target.Datasource) != fmt.Sprint(wantDS) || target.RefID == "" || target.Expr == "" {
					t.Errorf("panel %q: target %+v", p.Title, target)
				}
			}
		}
	}
	walk(board.Panels)
	return board
}

// promAPI gets a Prometheus API answer and decodes its data into data.
func promAPI(u string, data any) error {
	resp, err := http.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var answer struct {
		Status, Error string
		Data          json.RawMessage
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		return fmt.Errorf("%s: %v: %s", u, err, body)
	}
	if answer.Status != "success" {
		return fmt.Errorf("%s: %s", answer.Status, answer.Error)
	}
	return json.Unmarshal(answer.Data, data)
}

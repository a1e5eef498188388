package test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mysqlgw/mysqlgw/internal/testutil"
)

// rulesFile is the alert rule file operators load into Prometheus.
const rulesFile = "../deploy/prometheus/mysqlgw.rules.yml"

// alertTests feeds the alert rules with series shaped like mysqlgw's and
// says which alerts must fire when. promtool's clock starts at 0 (1970), so
// tables published 400 days before it have negative dates. A replica is
// told apart by the labels Prometheus adds to what it scrapes (instance,
// pod); a restart is a scrape that finds no series (stale), one that fails
// (_), and then the new process's series.
const alertTests = `rule_files: [rules.yml]
evaluation_interval: 1m
tests:
- interval: 1m
  input_series:
  - series: 'coredns_mysqlgw_reload_failures_total{file="/etc/coredns/regions"}'
    values: '0 0 0 1 1 1 1'
  - series: 'coredns_mysqlgw_gateway_up{region="eastus2",role="primary",address="191.239.224.107"}'
    values: '1 1 0 0 0 0 0'
  - series: 'coredns_mysqlgw_gateway_up{region="eastus2",role="secondary",address="40.79.84.180"}'
    values: '1 1 1 1 1 0 0'
  - series: 'coredns_mysqlgw_gateway_up{region="westus2",role="primary",address="13.66.226.202"}'
    values: '1 1 1 1 1 1 1'
  - series: 'coredns_mysqlgw_health_probe_results_total{address="191.239.224.107",result="error_greeting",code="1129"}'
    values: '0 0 0 0 0 0 0 0 0 0 0 3 9 15 15 15 15 15 15 15 15 15 15 15'
  - series: 'coredns_mysqlgw_health_probe_results_total{address="191.239.224.107",result="up",code=""}'
    values: '0 6 12 18 24 30 36 42 48 54 60 60 60 60 66 72 78 84 90 96 102 108 114 120'
  - series: 'coredns_mysqlgw_table_published_timestamp_seconds{file="builtin",set="gateway"}'
    values: '-40000000x24'
  - series: 'coredns_mysqlgw_table_published_timestamp_seconds{file="/data/regions",set="gateway"}'
    values: '-30000000x24'
  alert_rule_test:
  - eval_time: 1m
    alertname: MysqlgwReloadFailing
    exp_alerts: []
  - eval_time: 4m
    alertname: MysqlgwReloadFailing
    exp_alerts:
    - exp_labels: {severity: warning, file: /etc/coredns/regions}
  - eval_time: 1m
    alertname: MysqlgwActiveNotPrimary
    exp_alerts: []
  - eval_time: 4m
    alertname: MysqlgwActiveNotPrimary
    exp_alerts:
    - exp_labels: {severity: warning, region: eastus2}
  - eval_time: 4m
    alertname: MysqlgwRegionAllDown
    exp_alerts: []
  - eval_time: 6m
    alertname: MysqlgwRegionAllDown
    exp_alerts: []
  - eval_time: 7m
    alertname: MysqlgwRegionAllDown
    exp_alerts:
    - exp_labels: {severity: critical, region: eastus2}
  - eval_time: 10m
    alertname: MysqlgwProberRefused
    exp_alerts: []
  - eval_time: 12m
    alertname: MysqlgwProberRefused
    exp_alerts:
    - exp_labels: {severity: warning, address: 191.239.224.107, code: "1129"}
  - eval_time: 22m
    alertname: MysqlgwProberRefused
    exp_alerts: []
  - eval_time: 5m
    alertname: MysqlgwTableOld
    exp_alerts:
    - exp_labels: {severity: info, file: builtin, set: gateway}

# A change, taken by replica a at 10m and by b at 12m: one alert from 10m,
# naming the new table (b's old one left out while b still serves it),
# until an hour after b's change.
- interval: 1m
  input_series:
  - series: 'coredns_mysqlgw_table_info{job="mysqlgw",instance="10.1.0.5:9153",pod="mysqlgw-a",file="/var/lib/mysqlgw/regions",serial="2026051801",source="https://raw.githubusercontent.com/MicrosoftDocs/sql-docs/live/azure-sql/database/includes/gateway-ip-addresses.md",published="2026-05-18"}'
    values: '1x9 stale'
  - series: 'coredns_mysqlgw_table_info{job="mysqlgw",instance="10.1.0.5:9153",pod="mysqlgw-a",file="/var/lib/mysqlgw/regions",serial="2026060201",source="https://raw.githubusercontent.com/MicrosoftDocs/sql-docs/live/azure-sql/database/includes/gateway-ip-addresses.md",published="2026-06-02"}'
    values: '_x10 1x70'
  - series: 'coredns_mysqlgw_table_changed_timestamp_seconds{job="mysqlgw",instance="10.1.0.5:9153",pod="mysqlgw-a",file="/var/lib/mysqlgw/regions"}'
    values: '_x10 600x70'
  - series: 'coredns_mysqlgw_table_info{job="mysqlgw",instance="10.1.0.6:9153",pod="mysqlgw-b",file="/var/lib/mysqlgw/regions",serial="2026051801",source="https://raw.githubusercontent.com/MicrosoftDocs/sql-docs/live/azure-sql/database/includes/gateway-ip-addresses.md",published="2026-05-18"}'
    values: '1x11 stale'
  - series: 'coredns_mysqlgw_table_info{job="mysqlgw",instance="10.1.0.6:9153",pod="mysqlgw-b",file="/var/lib/mysqlgw/regions",serial="2026060201",source="https://raw.githubusercontent.com/MicrosoftDocs/sql-docs/live/azure-sql/database/includes/gateway-ip-addresses.md",published="2026-06-02"}'
    values: '_x12 1x68'
  - series: 'coredns_mysqlgw_table_changed_timestamp_seconds{job="mysqlgw",instance="10.1.0.6:9153",pod="mysqlgw-b",file="/var/lib/mysqlgw/regions"}'
    values: '_x12 720x68'
  alert_rule_test:
  - eval_time: 9m
    alertname: MysqlgwTableChanged
    exp_alerts: []
  - eval_time: 10m
    alertname: MysqlgwTableChanged
    exp_alerts:
    - exp_labels: {severity: info, file: /var/lib/mysqlgw/regions}
      exp_annotations:
        summary: "mysqlgw's table /var/lib/mysqlgw/regions changed at 1970-01-01 00:10:00 +0000 UTC"
        serial: "2026060201"
        source: https://raw.githubusercontent.com/MicrosoftDocs/sql-docs/live/azure-sql/database/includes/gateway-ip-addresses.md
        published: "2026-06-02"
  - eval_time: 30m
    alertname: MysqlgwTableChanged
    exp_alerts:
    - exp_labels: {severity: info, file: /var/lib/mysqlgw/regions}
      exp_annotations:
        summary: "mysqlgw's table /var/lib/mysqlgw/regions changed at 1970-01-01 00:12:00 +0000 UTC"
        serial: "2026060201"
        source: https://raw.githubusercontent.com/MicrosoftDocs/sql-docs/live/azure-sql/database/includes/gateway-ip-addresses.md
        published: "2026-06-02"
  - eval_time: 71m
    alertname: MysqlgwTableChanged
    exp_alerts:
    - exp_labels: {severity: info, file: /var/lib/mysqlgw/regions}
      exp_annotations:
        summary: "mysqlgw's table /var/lib/mysqlgw/regions changed at 1970-01-01 00:12:00 +0000 UTC"
        serial: "2026060201"
        source: https://raw.githubusercontent.com/MicrosoftDocs/sql-docs/live/azure-sql/database/includes/gateway-ip-addresses.md
        published: "2026-06-02"
  - eval_time: 72m
    alertname: MysqlgwTableChanged
    exp_alerts: []

# A failover with transfer_health: the primary goes down at 3m, the SOA
# serial moves and gateway_up with it; table_changed does not (absent on a,
# two hours old on b). MysqlgwActiveNotPrimary fires, MysqlgwTableChanged
# stays silent.
- interval: 1m
  input_series:
  - series: 'coredns_mysqlgw_table_info{job="mysqlgw",instance="10.1.0.5:9153",pod="mysqlgw-a",file="/var/lib/mysqlgw/regions",serial="2026051801",source="",published=""}'
    values: '1x20'
  - series: 'coredns_mysqlgw_table_info{job="mysqlgw",instance="10.1.0.6:9153",pod="mysqlgw-b",file="/var/lib/mysqlgw/regions",serial="2026051801",source="",published=""}'
    values: '1x20'
  - series: 'coredns_mysqlgw_table_changed_timestamp_seconds{job="mysqlgw",instance="10.1.0.6:9153",pod="mysqlgw-b",file="/var/lib/mysqlgw/regions"}'
    values: '-7200x20'
  - series: 'coredns_mysqlgw_serial{job="mysqlgw",instance="10.1.0.5:9153",pod="mysqlgw-a",server="dns://:1053",zone="gateway.mysql.local."}'
    values: '2040000000x2 2040000180x18'
  - series: 'coredns_mysqlgw_serial{job="mysqlgw",instance="10.1.0.6:9153",pod="mysqlgw-b",server="dns://:1053",zone="gateway.mysql.local."}'
    values: '2040000000x2 2040000181x18'
  - series: 'coredns_mysqlgw_gateway_up{job="mysqlgw",instance="10.1.0.5:9153",pod="mysqlgw-a",server="dns://:1053",region="eastus2",role="primary",address="52.167.105.38"}'
    values: '1x2 0x18'
  - series: 'coredns_mysqlgw_gateway_up{job="mysqlgw",instance="10.1.0.5:9153",pod="mysqlgw-a",server="dns://:1053",region="eastus2",role="secondary",address="40.70.144.38"}'
    values: '1x20'
  - series: 'coredns_mysqlgw_gateway_up{job="mysqlgw",instance="10.1.0.6:9153",pod="mysqlgw-b",server="dns://:1053",region="eastus2",role="primary",address="52.167.105.38"}'
    values: '1x2 0x18'
  - series: 'coredns_mysqlgw_gateway_up{job="mysqlgw",instance="10.1.0.6:9153",pod="mysqlgw-b",server="dns://:1053",region="eastus2",role="secondary",address="40.70.144.38"}'
    values: '1x20'
  alert_rule_test:
  - eval_time: 6m
    alertname: MysqlgwActiveNotPrimary
    exp_alerts:
    - exp_labels: {severity: warning, region: eastus2}
  - eval_time: 3m
    alertname: MysqlgwTableChanged
    exp_alerts: []
  - eval_time: 6m
    alertname: MysqlgwTableChanged
    exp_alerts: []
  - eval_time: 20m
    alertname: MysqlgwTableChanged
    exp_alerts: []

# A restart of replica a at 5m, two hours after both took a change: its
# series go stale, a scrape fails, then the new process reports a new
# start time and the same table, and no change. Silent throughout.
- interval: 1m
  input_series:
  - series: 'process_start_time_seconds{job="mysqlgw",instance="10.1.0.5:9153",pod="mysqlgw-a"}'
    values: '-10000x4 stale _ 400x13'
  - series: 'coredns_mysqlgw_table_info{job="mysqlgw",instance="10.1.0.5:9153",pod="mysqlgw-a",file="/var/lib/mysqlgw/regions",serial="2026051801",source="",published=""}'
    values: '1x4 stale _ 1x13'
  - series: 'coredns_mysqlgw_table_changed_timestamp_seconds{job="mysqlgw",instance="10.1.0.5:9153",pod="mysqlgw-a",file="/var/lib/mysqlgw/regions"}'
    values: '-7200x4 stale'
  - series: 'process_start_time_seconds{job="mysqlgw",instance="10.1.0.6:9153",pod="mysqlgw-b"}'
    values: '-10000x20'
  - series: 'coredns_mysqlgw_table_info{job="mysqlgw",instance="10.1.0.6:9153",pod="mysqlgw-b",file="/var/lib/mysqlgw/regions",serial="2026051801",source="",published=""}'
    values: '1x20'
  - series: 'coredns_mysqlgw_table_changed_timestamp_seconds{job="mysqlgw",instance="10.1.0.6:9153",pod="mysqlgw-b",file="/var/lib/mysqlgw/regions"}'
    values: '-7200x20'
  alert_rule_test:
  - eval_time: 4m
    alertname: MysqlgwTableChanged
    exp_alerts: []
  - eval_time: 5m
    alertname: MysqlgwTableChanged
    exp_alerts: []
  - eval_time: 6m
    alertname: MysqlgwTableChanged
    exp_alerts: []
  - eval_time: 7m
    alertname: MysqlgwTableChanged
    exp_alerts: []
  - eval_time: 20m
    alertname: MysqlgwTableChanged
    exp_alerts: []
`

// TestAlertRules runs the alert rules of deploy/prometheus through
// promtool's rule tests, so their PromQL parses and fires when it says.
func TestAlertRules(t *testing.T) {
	promtool := requireTool(t, "promtool")
	rules, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "rules.yml"), rules, 0o644)
	os.WriteFile(filepath.Join(dir, "tests.yml"), []byte(alertTests), 0o644)
	cmd := exec.Command(promtool, "test", "rules", "tests.yml")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}

// TestAlertRulesShown checks that docs/operations.md shows the rule file
// as it is, so the two cannot drift.
func TestAlertRulesShown(t *testing.T) {
	rules, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, block := range docBlocks(t) {
		if block.file == "docs/operations.md" && block.text == string(rules) {
			return
		}
	}
	t.Errorf("docs/operations.md does not show %s as it is; copy it there", rulesFile)
}

// TestAlertTableChangedMetric scrapes the real binary's /metrics: the
// series MysqlgwTableChanged reads appears only once the table's content
// changes, not at start-up nor for a new serial alone, while table_info
// follows every version.
func TestAlertTableChangedMetric(t *testing.T) {
	metricsPort := freePort(t)
	s := startServer(t, map[string]string{
		"Corefile": fmt.Sprintf(`gateway.mysql.local:{PORT} {
    bind 127.0.0.1
    prometheus 127.0.0.1:%d
    mysqlgw {
        regions regions
        reload 100ms
    }
}
`, metricsPort),
		"regions": "$SERIAL 1\n$PUBLISHED 2026-05-18\nlab 192.0.2.1\n",
	})
	changed := regexp.MustCompile(`(?m)^coredns_mysqlgw_table_changed_timestamp_seconds\{file="regions"\} (\S+)$`)
	// scrape polls /metrics until it shows info, and returns the body.
	scrape := func(info string) string {
		t.Helper()
		var body []byte
		err := testutil.Poll(10*time.Second, s.proc.Exited, func() error {
			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort))
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if body, err = io.ReadAll(resp.Body); err != nil {
				return err
			}
			if !strings.Contains(string(body), info) {
				return fmt.Errorf("/metrics lacks %s", info)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%v\n%s", err, body)
		}
		return string(body)
	}
	body := scrape(`coredns_mysqlgw_table_info{file="regions",published="2026-05-18",serial="1",source=""} 1`)
	if m := changed.FindString(body); m != "" {
		t.Errorf("at start-up: %s", m)
	}
	s.writeFile("regions", "# a comment\n$SERIAL 2\n$PUBLISHED 2026-05-18\nlab 192.0.2.1\n")
	body = scrape(`coredns_mysqlgw_table_info{file="regions",published="2026-05-18",serial="2",source=""} 1`)
	if m := changed.FindString(body); m != "" {
		t.Errorf("after a new serial and a comment: %s", m)
	}
	before := time.Now().Unix()
	s.writeFile("regions", "$SERIAL 3\n$PUBLISHED 2026-05-18\nlab 192.0.2.1 192.0.2.2\n")
	body = scrape(`coredns_mysqlgw_table_info{file="regions",published="2026-05-18",serial="3",source=""} 1`)
	m := changed.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no table_changed_timestamp_seconds after an address was added:\n%s", body)
	}
	if at, err := strconv.ParseFloat(m[1], 64); err != nil || int64(at) < before || int64(at) > time.Now().Unix() {
		t.Errorf("%s, want a time between %d and now", m[0], before)
	}
}

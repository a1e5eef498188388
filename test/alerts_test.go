package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// alertTests feeds the alert rules of docs/operations.md with series shaped like
// mysqlgw's and says which alerts must fire when. promtool's clock starts at
// 0 (1970), so tables published 400 days before it have negative dates.
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
  - series: 'coredns_mysqlgw_table_published_timestamp_seconds{file="builtin"}'
    values: '-40000000x24'
  - series: 'coredns_mysqlgw_table_published_timestamp_seconds{file="/data/regions"}'
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
    - exp_labels: {severity: info, file: builtin}
`

// TestReadmeAlerts runs the Prometheus alert rules of docs/operations.md
// through promtool's rule tests, so the PromQL there parses and fires when it
// says.
func TestReadmeAlerts(t *testing.T) {
	promtool := requireTool(t, "promtool")
	page, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(page)
	start := strings.Index(text, "~~~ yaml\ngroups:\n- name: mysqlgw\n")
	if start < 0 {
		t.Fatal("docs/operations.md has no mysqlgw alert rules")
	}
	text = text[start+len("~~~ yaml\n"):]
	rules := text[:strings.Index(text, "~~~")]
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "rules.yml"), []byte(rules), 0o644)
	os.WriteFile(filepath.Join(dir, "tests.yml"), []byte(alertTests), 0o644)
	cmd := exec.Command(promtool, "test", "rules", "tests.yml")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}

package test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// inOwnNamespace reports whether the test runs in a network and mount
// namespace of its own, where it may listen on any port and address and
// change the firewall without touching the machine. If not, it runs the test
// again in a new one (unshare, as root), with tools required first, and
// reports false once the child has passed. Without root the test skips on a
// laptop and fails in CI.
func inOwnNamespace(t *testing.T, tools ...string) bool {
	t.Helper()
	if os.Getenv("MYSQLGW_NETNS") == "1" {
		return true
	}
	for _, tool := range append([]string{"unshare"}, tools...) {
		requireTool(t, tool)
	}
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("network namespaces need root; CI runs as root")
		}
		t.Skip("network namespaces need root")
	}
	args := []string{"--net", "--mount", "--", os.Args[0], "-test.run", "^" + t.Name() + "$", "-test.v", "-test.timeout", "10m"}
	if testing.Short() {
		args = append(args, "-test.short")
	}
	cmd := exec.Command("unshare", args...)
	cmd.Env = append(os.Environ(), "MYSQLGW_NETNS=1", "MYSQLGW_COREDNS="+binary)
	out, err := cmd.CombinedOutput()
	t.Logf("in a network namespace:\n%s", out)
	if err != nil {
		t.Fatalf("the test in its namespace: %v", err)
	}
	if strings.Contains(string(out), "--- SKIP") {
		t.Fatal("the test skipped in its namespace")
	}
	return false
}

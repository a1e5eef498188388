// Package helm tests the Helm chart in deploy/helm/mysqlgw with helm v4 itself,
// built from the module of its own in deploy/helm/tools (so mysqlgw's go.mod,
// which every CoreDNS built with mysqlgw inherits, never requires helm):
// `helm lint --strict` and `helm template` pass with the default values and
// with each optional feature on; the default render is deploy/kubernetes/*.yaml
// field by field, but for the labels Helm charts add; and every render passes
// internal/k8scheck's checks, the ones deploy/kubernetes passes: strict
// decoding, the objects agreeing with each other, mysqlgw's setup of the
// Corefile, and the pod run with the image's binaries on loopback.
//
// Building helm takes minutes the first time (Go's build cache keeps it): CI
// builds it in a step of its own before the tests. On a machine that cannot
// build it (no module proxy, no module cache) the tests that need helm skip,
// saying why; with CI=true they fail instead.
package helm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"sigs.k8s.io/yaml"

	"github.com/mysqlgw/mysqlgw/internal/k8scheck"
	"github.com/mysqlgw/mysqlgw/internal/testutil"
)

const (
	chartDir = "mysqlgw"
	toolsMod = "tools/go.mod"
	release  = "mysqlgw" // the release name that gives deploy/kubernetes' names
)

// binDir holds the image's binaries, built once for every test that runs a
// pod.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mysqlgw-helm-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	helmOnce   sync.Once
	helmPath   string
	helmErr    error
	binaryOnce sync.Once
	binaryOK   bool
)

// helmBinary builds helm from deploy/helm/tools/go.mod, as CI does with
// `go tool -modfile=deploy/helm/tools/go.mod helm`, and returns its path in
// Go's build cache. When it cannot, the test skips saying why, or fails with
// CI=true.
func helmBinary(t *testing.T) string {
	t.Helper()
	helmOnce.Do(func() {
		root := k8scheck.Root(t)
		ctx := context.Background()
		if deadline, ok := t.Deadline(); ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, deadline.Add(-2*time.Minute))
			defer cancel()
		}
		start := time.Now()
		cmd := exec.CommandContext(ctx, "go", "tool", "-modfile="+filepath.Join(root, "deploy/helm", toolsMod), "-n", "helm")
		cmd.Dir = root
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		switch {
		case ctx.Err() != nil:
			helmErr = fmt.Errorf("building helm did not finish within the test's -timeout (%s so far); build it before the tests (go tool -modfile=deploy/helm/tools/go.mod helm version) or raise -timeout", time.Since(start).Round(time.Second))
		case err != nil:
			helmErr = fmt.Errorf("cannot build helm from deploy/helm/tools/go.mod, which needs helm's modules from the Go module proxy or the module cache: %v\n%s", err, tail(stderr.String(), 20))
		default:
			helmPath = strings.TrimSpace(string(out))
			t.Logf("helm built (or found in Go's build cache) in %s: %s", time.Since(start).Round(time.Millisecond), helmPath)
		}
	})
	if helmErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v\n(CI=true: .ci/run builds helm before the tests, so this is a failure, not a skip)", helmErr)
		}
		t.Skipf("skipped: %v", helmErr)
	}
	return helmPath
}

// imageBinaries builds the image's binaries once, with deploy/Dockerfile's
// own build command.
func imageBinaries(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the image's binaries")
	}
	binaryOnce.Do(func() {
		k8scheck.BuildImageBinaries(t, binDir)
		binaryOK = true // not reached when the build fails the test
	})
	if !binaryOK {
		t.Fatal("the image's binaries did not build (see the first test that built them)")
	}
	return binDir
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// helmRun runs helm with args, with its own home folders, and returns its
// standard output, or its error with everything it printed.
func helmRun(t *testing.T, args ...string) ([]byte, error) {
	t.Helper()
	home := t.TempDir()
	cmd := exec.Command(helmBinary(t), args...)
	cmd.Env = append(os.Environ(),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"),
		"KUBECONFIG="+filepath.Join(home, "kubeconfig"),
	)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("helm %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return out, nil
}

// valuesFile writes values as a YAML file for helm's --values.
func valuesFile(t *testing.T, values map[string]any) string {
	t.Helper()
	content, err := yaml.Marshal(values)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(file, content, 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// render lints the chart with values and renders it, and decodes the result
// strictly.
func render(t *testing.T, values map[string]any) k8scheck.Manifests {
	t.Helper()
	file := valuesFile(t, values)
	out, err := helmRun(t, "lint", "--strict", "--values", file, chartDir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "0 chart(s) failed") {
		t.Fatalf("helm lint:\n%s", out)
	}
	out, err = helmRun(t, "template", release, chartDir, "--values", file)
	if err != nil {
		t.Fatal(err)
	}
	return k8scheck.Decode(t, "helm template", out)
}

// TestToolsModule: helm is pinned in a module of its own, and mysqlgw's own
// go.mod does not require it.
func TestToolsModule(t *testing.T) {
	tools, err := os.ReadFile(toolsMod)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^tool helm\.sh/helm/v4/cmd/helm$`).Match(tools) {
		t.Errorf("%s has no line: tool helm.sh/helm/v4/cmd/helm", toolsMod)
	}
	if !regexp.MustCompile(`(?m)^\s*helm\.sh/helm/v4 v4\.\d+\.\d+\b`).Match(tools) {
		t.Errorf("%s does not pin helm.sh/helm/v4 at a release", toolsMod)
	}
	if _, err := os.Stat("tools/go.sum"); err != nil {
		t.Errorf("tools/go.sum: %v", err)
	}
	main, err := os.ReadFile(filepath.Join(k8scheck.Root(t), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(main, []byte("helm.sh/")) {
		t.Error("mysqlgw's go.mod requires helm: every CoreDNS built with mysqlgw would inherit it")
	}
}

// TestDefaults: with the default values the chart renders deploy/kubernetes,
// which passes every check, and its pod runs: seed, the server, the probes,
// DNS, the HTTP lists, and the fetch sidecar followed by the server.
func TestDefaults(t *testing.T) {
	m := render(t, nil)
	t.Run("AsDeployKubernetes", func(t *testing.T) {
		plain := k8scheck.LoadFiles(t, "../kubernetes/*.yaml")
		chart := readChart(t)
		for _, diff := range compare(plain, m, chart) {
			t.Error(diff)
		}
	})
	k8scheck.CheckAll(t, m)
	if !m.Fetches(t) || m.Corefile(t).HTTPPort(t) == 0 || m.NetworkPolicy != nil {
		t.Error("want seed and fetch, the http listener and no NetworkPolicy by default")
	}
	t.Run("Pod", func(t *testing.T) {
		pod := k8scheck.StartPod(t, m, imageBinaries(t))
		if pod.HTTP == "" {
			t.Error("no HTTP Service reaches the server")
		}
		pod.Fetch(t)
	})
}

// TestHTTPOff: without the http listener, no port and no Service for it, and
// the pod still serves DNS.
func TestHTTPOff(t *testing.T) {
	m := render(t, map[string]any{"mysqlgw": map[string]any{"http": map[string]any{"enabled": false}}})
	k8scheck.CheckAll(t, m)
	if p := m.Corefile(t).HTTPPort(t); p != 0 {
		t.Errorf("mysqlgw http on port %d with mysqlgw.http.enabled false", p)
	}
	if len(m.Services) != 1 {
		t.Errorf("%d Services, want the DNS one alone", len(m.Services))
	}
	t.Run("Pod", func(t *testing.T) {
		if pod := k8scheck.StartPod(t, m, imageBinaries(t)); pod.HTTP != "" {
			t.Errorf("the HTTP lists are served at %s", pod.HTTP)
		}
	})
}

// TestNetworkPolicy: turned on, the policy lets the pods send DNS and HTTPS
// (CheckNetworkPolicy), and the rest of the render is the default one; the
// peers given are the ones rendered.
func TestNetworkPolicy(t *testing.T) {
	defaults := render(t, nil)
	cluster := map[string]any{"namespaceSelector": map[string]any{"matchLabels": map[string]any{"kubernetes.io/metadata.name": "kube-system"}}}
	m := render(t, map[string]any{"networkPolicy": map[string]any{"enabled": true, "dnsTo": []any{cluster}}})
	k8scheck.CheckAll(t, m)
	if m.NetworkPolicy == nil {
		t.Fatal("no NetworkPolicy with networkPolicy.enabled")
	}
	var others []k8scheck.Object
	for _, o := range m.Objects {
		if o.Value != any(m.NetworkPolicy) {
			others = append(others, o)
		}
	}
	for _, diff := range diffObjects(defaults.Objects, others, nil) {
		t.Errorf("with the NetworkPolicy on: %s", diff)
	}
	var dnsRule, httpsRule bool
	for _, rule := range m.NetworkPolicy.Spec.Egress {
		for _, p := range rule.Ports {
			switch p.Port.IntVal {
			case 53:
				dnsRule = len(rule.To) == 1 && rule.To[0].NamespaceSelector != nil &&
					rule.To[0].NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] == "kube-system"
			case 443:
				httpsRule = len(rule.To) == 0
			}
		}
	}
	if !dnsRule || !httpsRule {
		t.Errorf("egress %+v: want DNS to networkPolicy.dnsTo and HTTPS anywhere", m.NetworkPolicy.Spec.Egress)
	}
	if slices.Contains(m.NetworkPolicy.Spec.PolicyTypes, "Ingress") {
		t.Error("the policy restricts ingress")
	}
}

// TestTransferHealth: transfer_health with the default table and fetch
// renders the transfer plugin with the secondaries, healthcheck and
// transfer_health on one replica, and passes the checks.
func TestTransferHealth(t *testing.T) {
	m := render(t, map[string]any{
		"replicaCount": 1,
		"transfer":     map[string]any{"to": []any{"192.0.2.53", "192.0.2.54:5353"}, "health": true},
	})
	k8scheck.CheckAll(t, m)
	cf := m.Corefile(t)
	if !cf.TransferHealth() {
		t.Error("no transfer_health in the mysqlgw block")
	}
	if args, ok := cf.Mysqlgw("healthcheck"); !ok || !slices.Equal(args, []string{"5s"}) {
		t.Errorf("mysqlgw healthcheck %q, want 5s", args)
	}
	if !strings.Contains(cf.Text, "transfer {\n        to 192.0.2.53 192.0.2.54:5353\n    }") {
		t.Errorf("Corefile has no transfer block to both secondaries:\n%s", cf.Text)
	}
}

// TestExtraValues: the places for more configuration render where they
// belong and the server starts with them: Corefile lines for the server
// block and the mysqlgw block, and fetch flags after the chart's own.
func TestExtraValues(t *testing.T) {
	m := render(t, map[string]any{
		"extraPlugins":   "log\nacl {\n    allow net 127.0.0.0/8\n    drop\n}\n",
		"mysqlgw":        map[string]any{"extraProperties": []any{"ttl 60"}},
		"fetch":          map[string]any{"extraArgs": []any{"-max-drop", "5"}, "env": []any{map[string]any{"name": "HTTPS_PROXY", "value": "http://127.0.0.1:3128"}}},
		"podAnnotations": map[string]any{"example.com/owner": "dns"},
		"service":        map[string]any{"http": map[string]any{"port": 80}},
	})
	k8scheck.CheckAll(t, m)
	cf := m.Corefile(t)
	if _, ok := cf.Plugins["log"]; !ok {
		t.Errorf("no log plugin in the Corefile:\n%s", cf.Text)
	}
	if !strings.Contains(cf.Text, "\n    acl {\n        allow net 127.0.0.0/8\n        drop\n    }\n") {
		t.Errorf("the acl block is not in the server block, indented:\n%s", cf.Text)
	}
	if args, ok := cf.Mysqlgw("ttl"); !ok || !slices.Equal(args, []string{"60"}) {
		t.Errorf("mysqlgw ttl %q, want 60", args)
	}
	pod := m.Deployment.Spec.Template
	fetch := k8scheck.FindContainer(t, pod.Spec.Containers, k8scheck.FetchName)
	if want := []string{"/mysqlgw-regions", "fetch", "-every", "24h", "-o", k8scheck.TableFile, "-max-drop", "5"}; !slices.Equal(fetch.Command, want) {
		t.Errorf("fetch command %q, want %q", fetch.Command, want)
	}
	if len(fetch.Env) != 1 || fetch.Env[0].Name != "HTTPS_PROXY" {
		t.Errorf("fetch env %v, want HTTPS_PROXY", fetch.Env)
	}
	if pod.Annotations["example.com/owner"] != "dns" {
		t.Errorf("pod annotations %v", pod.Annotations)
	}
	t.Run("Pod", func(t *testing.T) {
		k8scheck.StartPod(t, m, imageBinaries(t))
	})
}

// TestFetchRedirect: fetch.redirect runs fetch -redirect, before the extra
// flags; by default fetch writes the gateway table alone.
func TestFetchRedirect(t *testing.T) {
	for _, tc := range []struct {
		values map[string]any
		want   []string
	}{
		{nil, []string{"/mysqlgw-regions", "fetch", "-every", "24h", "-o", k8scheck.TableFile}},
		{map[string]any{"fetch": map[string]any{"redirect": true, "extraArgs": []any{"-max-drop", "5"}}},
			[]string{"/mysqlgw-regions", "fetch", "-every", "24h", "-o", k8scheck.TableFile, "-redirect", "-max-drop", "5"}},
	} {
		m := render(t, tc.values)
		fetch := k8scheck.FindContainer(t, m.Deployment.Spec.Template.Spec.Containers, k8scheck.FetchName)
		if !slices.Equal(fetch.Command, tc.want) {
			t.Errorf("values %v: fetch command %q, want %q", tc.values, fetch.Command, tc.want)
		}
	}
}

// TestRefusedValues: values that cannot work stop the render with a reason.
func TestRefusedValues(t *testing.T) {
	for _, tc := range []struct {
		values map[string]any
		want   string
	}{
		{map[string]any{"transfer": map[string]any{"to": []any{"192.0.2.53"}, "health": true}}, "transfer.health needs replicaCount 1, not 3"},
		{map[string]any{"replicaCount": 1, "transfer": map[string]any{"health": true}}, "transfer.health needs transfer.to"},
	} {
		_, err := helmRun(t, "template", release, chartDir, "--values", valuesFile(t, tc.values))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("values %v: %v, want an error saying %q", tc.values, err, tc.want)
		}
	}
}

// TestHiddenPrimary runs every optional feature at once: one replica as a
// zone's hidden primary with transfer_health, its own table of loopback
// gateways read from the ConfigMap (fetch off), no HTTP lists, and the
// NetworkPolicy. The pod starts and turns ready once its probes are back
// (every gateway refuses), notifies the secondary, and transfers the
// health-aware active answers to it; an edit of the ConfigMap's table is
// served without a restart.
func TestHiddenPrimary(t *testing.T) {
	notify := newNotifySink(t)
	gwPort := testutil.GatewayPort(t, "127.0.0.2", "127.0.0.3", "127.0.0.4")
	table := "$SERIAL 2026120101\n# loopback stand-ins, where nothing listens on the probed port\nlab 127.0.0.2 127.0.0.3\n"
	m := render(t, map[string]any{
		"replicaCount":  1,
		"regions":       table,
		"fetch":         map[string]any{"enabled": false},
		"mysqlgw":       map[string]any{"http": map[string]any{"enabled": false}, "extraProperties": []any{fmt.Sprintf("port %d", gwPort)}},
		"transfer":      map[string]any{"to": []any{notify.addr}, "health": true, "healthcheck": "1s"},
		"networkPolicy": map[string]any{"enabled": true},
	})
	k8scheck.CheckAll(t, m)
	if m.Fetches(t) || m.PDB != nil || m.NetworkPolicy == nil {
		t.Fatalf("want no seed and fetch, no PodDisruptionBudget and a NetworkPolicy; got objects %v", m.Objects)
	}

	pod := k8scheck.StartPod(t, m, imageBinaries(t))
	zone := pod.Corefile.Zone

	// Neither gateway answers, so with failover open active.lab is both; a
	// transfer carries that, under a serial transfer_health raised.
	var serial uint32
	err := testutil.Poll(30*time.Second, pod.Server.Exited, func() error {
		records, soa, err := axfr(pod.DNS, zone)
		if err != nil {
			return err
		}
		active := records["active.lab."+zone+" A"]
		sort.Strings(active)
		if !slices.Equal(active, []string{"127.0.0.2", "127.0.0.3"}) {
			return fmt.Errorf("active.lab A in the transfer %q, want both addresses", active)
		}
		if soa <= 2026120101 {
			return fmt.Errorf("serial %d, want one above $SERIAL", soa)
		}
		serial = soa
		return nil
	})
	if err != nil {
		t.Fatalf("transfer from the hidden primary: %v\n%s", err, pod.Server.Out.String())
	}
	err = testutil.Poll(30*time.Second, pod.Server.Exited, func() error {
		if !slices.Contains(notify.zones(), zone) {
			return fmt.Errorf("NOTIFY for %v, want %s", notify.zones(), zone)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("the secondary was not notified: %v\n%s", err, pod.Server.Out.String())
	}

	// The kubelet refreshes the mounted ConfigMap by renaming a new copy into
	// place; the server reads it without a restart.
	server := m.Server(t)
	regions := pod.Local(server, k8scheck.ConfigDir+"/regions")
	edited := "$SERIAL 2026120102\nlab 127.0.0.2 127.0.0.3\nlab2 127.0.0.4\n"
	tmp := regions + ".new"
	if err := os.WriteFile(tmp, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, regions); err != nil {
		t.Fatal(err)
	}
	err = testutil.Poll(30*time.Second, pod.Server.Exited, func() error {
		if got := k8scheck.TXT(t, "udp", pod.DNS, "lab2."+zone); !slices.Contains(got, "primary=127.0.0.4") {
			return fmt.Errorf("lab2 TXT %q", got)
		}
		if _, soa, err := axfr(pod.DNS, zone); err != nil || soa <= serial {
			return fmt.Errorf("serial %d after the edit, want above %d (%v)", soa, serial, err)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("the edited ConfigMap table is not served: %v\n%s", err, pod.Server.Out.String())
	}
}

// axfr transfers zone from addr over TCP and returns its records' values by
// "NAME TYPE", and the SOA serial.
func axfr(addr, zone string) (map[string][]string, uint32, error) {
	q := new(dns.Msg)
	q.SetAxfr(zone)
	tr := &dns.Transfer{DialTimeout: 5 * time.Second, ReadTimeout: 5 * time.Second}
	envelopes, err := tr.In(q, addr)
	if err != nil {
		return nil, 0, err
	}
	records := map[string][]string{}
	var serial uint32
	for e := range envelopes {
		if e.Error != nil {
			return nil, 0, e.Error
		}
		for _, rr := range e.RR {
			h := rr.Header()
			key := h.Name + " " + dns.TypeToString[h.Rrtype]
			value := strings.TrimPrefix(rr.String(), h.String())
			records[key] = append(records[key], value)
			if soa, ok := rr.(*dns.SOA); ok {
				serial = soa.Serial
			}
		}
	}
	if serial == 0 {
		return nil, 0, errors.New("a transfer without SOA")
	}
	return records, serial, nil
}

// notifySink is a secondary's NOTIFY port on loopback: it records the zones
// it is notified of and answers.
type notifySink struct {
	addr string
	mu   sync.Mutex
	seen []string
}

func newNotifySink(t *testing.T) *notifySink {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &notifySink{addr: conn.LocalAddr().String()}
	server := &dns.Server{PacketConn: conn, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		if r.Opcode == dns.OpcodeNotify && len(r.Question) == 1 {
			s.mu.Lock()
			s.seen = append(s.seen, r.Question[0].Name)
			s.mu.Unlock()
		}
		reply := new(dns.Msg)
		reply.SetReply(r)
		w.WriteMsg(reply)
	})}
	started := make(chan struct{})
	server.NotifyStartedFunc = func() { close(started) }
	go server.ActivateAndServe()
	<-started
	t.Cleanup(func() { server.Shutdown() })
	return s
}

func (s *notifySink) zones() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.seen)
}

// chartMeta is what the labels Helm charts add are made of.
type chartMeta struct {
	Name, Version string
}

func readChart(t *testing.T) chartMeta {
	t.Helper()
	content, err := os.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var c chartMeta
	if err := yaml.Unmarshal(content, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// compare lists every difference between deploy/kubernetes and the chart's
// render, but for the labels Helm charts conventionally add (helm.sh/chart,
// app.kubernetes.io/instance, managed-by and version), which must have their
// conventional values.
func compare(plain, chart k8scheck.Manifests, c chartMeta) []string {
	helmLabels := map[string]string{
		"helm.sh/chart":                c.Name + "-" + c.Version,
		"app.kubernetes.io/instance":   release,
		"app.kubernetes.io/managed-by": "Helm",
		"app.kubernetes.io/version":    "", // any: the chart's appVersion
	}
	return diffObjects(plain.Objects, chart.Objects, helmLabels)
}

// diffObjects compares two sets of objects by kind and name, field by field:
// every field of each must be in the other with the same value, but for the
// labels of allowed present only in b, with the value given (any, if "").
func diffObjects(a, b []k8scheck.Object, allowed map[string]string) []string {
	var diffs []string
	find := func(set []k8scheck.Object, o k8scheck.Object) *k8scheck.Object {
		for i := range set {
			if set[i].Kind == o.Kind && set[i].Name == o.Name {
				return &set[i]
			}
		}
		return nil
	}
	for _, o := range b {
		if find(a, o) == nil {
			diffs = append(diffs, fmt.Sprintf("%s %s (%s) is only in the render", o.Kind, o.Name, o.Where))
		}
	}
	for _, o := range a {
		other := find(b, o)
		if other == nil {
			diffs = append(diffs, fmt.Sprintf("%s %s (%s) is missing from the render", o.Kind, o.Name, o.Where))
			continue
		}
		diffs = append(diffs, diffValues(o.Kind+" "+o.Name, generic(o.Value), generic(other.Value), "", allowed)...)
	}
	return diffs
}

// generic is an object as JSON values, as the API server would see it.
func generic(obj any) any {
	content, err := json.Marshal(obj)
	if err != nil {
		panic(err)
	}
	var v any
	if err := json.Unmarshal(content, &v); err != nil {
		panic(err)
	}
	return v
}

// labelMaps are the fields that hold labels: an object's and its pods'
// labels, and the selectors that match them.
var labelMaps = map[string]bool{"labels": true, "matchLabels": true, "selector": true}

func diffValues(what string, a, b any, path string, allowed map[string]string) []string {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		var diffs []string
		isLabels := labelMaps[path[strings.LastIndex(path, ".")+1:]]
		for k, bv := range bm {
			if _, ok := am[k]; ok {
				continue
			}
			if want, ok := allowed[k]; ok && isLabels {
				if s, _ := bv.(string); want != "" && s != want {
					diffs = append(diffs, fmt.Sprintf("%s: %s.%s is %q, want %q", what, path, k, s, want))
				}
				continue
			}
			diffs = append(diffs, fmt.Sprintf("%s: %s.%s = %v only in the render", what, path, k, bv))
		}
		keys := make([]string, 0, len(am))
		for k := range am {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			bv, ok := bm[k]
			if !ok {
				diffs = append(diffs, fmt.Sprintf("%s: %s.%s = %v missing from the render", what, path, k, am[k]))
				continue
			}
			diffs = append(diffs, diffValues(what, am[k], bv, path+"."+k, allowed)...)
		}
		return diffs
	}
	al, aok := a.([]any)
	bl, bok := b.([]any)
	if aok && bok {
		var diffs []string
		if len(al) != len(bl) {
			diffs = append(diffs, fmt.Sprintf("%s: %s has %d items, the render %d", what, path, len(al), len(bl)))
		}
		for i := range min(len(al), len(bl)) {
			diffs = append(diffs, diffValues(what, al[i], bl[i], fmt.Sprintf("%s[%d]", path, i), allowed)...)
		}
		return diffs
	}
	if fmt.Sprint(a) != fmt.Sprint(b) || fmt.Sprintf("%T", a) != fmt.Sprintf("%T", b) {
		return []string{fmt.Sprintf("%s: %s is %v, the render %v", what, path, a, b)}
	}
	return nil
}

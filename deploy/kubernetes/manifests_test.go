// Package kubernetes holds the manifests that run mysqlgw in a cluster, and
// the test that keeps them honest: every manifest decodes strictly into the
// Kubernetes API types, the Deployment, Service, PodDisruptionBudget and
// ConfigMap agree with each other, the ConfigMap's mysqlgw block and regions
// file pass the plugin's own setup, and the binary that deploy/Dockerfile
// builds, with the command it builds it with, serves the ConfigMap's Corefile
// and answers the probes the Deployment sends.
package kubernetes

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/caddy/caddyfile"

	"github.com/miekg/dns"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	_ "github.com/mysqlgw/mysqlgw" // registers mysqlgw's setup
	"github.com/mysqlgw/mysqlgw/internal/testutil"
)

// manifests is everything in deploy/kubernetes/*.yaml, one of each kind.
type manifests struct {
	configMap  *corev1.ConfigMap
	deployment *appsv1.Deployment
	service    *corev1.Service
	pdb        *policyv1.PodDisruptionBudget
}

// loadManifests decodes every document of every *.yaml file strictly: an
// unknown or misspelt field, a duplicate key or an unexpected kind fails.
func loadManifests(t *testing.T) manifests {
	t.Helper()
	files, err := filepath.Glob("*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	var m manifests
	for _, file := range files {
		content, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range splitDocuments(content) {
			where := fmt.Sprintf("%s document %d", file, i+1)
			var meta metav1.TypeMeta
			if err := yaml.Unmarshal(doc, &meta); err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			var obj any
			switch meta.APIVersion + " " + meta.Kind {
			case "v1 ConfigMap":
				obj = once(t, where, &m.configMap)
			case "apps/v1 Deployment":
				obj = once(t, where, &m.deployment)
			case "v1 Service":
				obj = once(t, where, &m.service)
			case "policy/v1 PodDisruptionBudget":
				obj = once(t, where, &m.pdb)
			default:
				t.Fatalf("%s: unexpected %q %q", where, meta.APIVersion, meta.Kind)
			}
			if err := yaml.UnmarshalStrict(doc, obj); err != nil {
				t.Fatalf("%s: %v", where, err)
			}
		}
	}
	if m.configMap == nil || m.deployment == nil || m.service == nil || m.pdb == nil {
		t.Fatalf("want a ConfigMap, a Deployment, a Service and a PodDisruptionBudget, got %+v", m)
	}
	return m
}

// once allocates the object a document decodes into, refusing a second one.
func once[T any](t *testing.T, where string, p **T) *T {
	t.Helper()
	if *p != nil {
		t.Fatalf("%s: a second %T", where, *p)
	}
	*p = new(T)
	return *p
}

// splitDocuments splits a YAML stream at its "---" lines, dropping documents
// that hold only comments.
func splitDocuments(content []byte) [][]byte {
	var docs [][]byte
	var cur bytes.Buffer
	flush := func() {
		for _, line := range strings.Split(cur.String(), "\n") {
			if s := strings.TrimSpace(line); s != "" && !strings.HasPrefix(s, "#") {
				docs = append(docs, slices.Clone(cur.Bytes()))
				break
			}
		}
		cur.Reset()
	}
	scanner := bufio.NewScanner(bytes.NewReader(content))
	for scanner.Scan() {
		if strings.TrimRight(scanner.Text(), " ") == "---" {
			flush()
			continue
		}
		cur.WriteString(scanner.Text() + "\n")
	}
	flush()
	return docs
}

// corefile is what the test needs to know of the ConfigMap's Corefile.
type corefile struct {
	text    string
	block   caddyfile.ServerBlock // the one server block
	dnsPort int                   // from the block's key
	plugins map[string][]string   // directive -> its arguments on the first line
}

func parseCorefile(t *testing.T, text string) corefile {
	t.Helper()
	blocks, err := caddyfile.Parse("Corefile", strings.NewReader(text), nil)
	if err != nil {
		t.Fatalf("ConfigMap Corefile: %v", err)
	}
	if len(blocks) != 1 {
		t.Fatalf("ConfigMap Corefile: %d server blocks, want 1", len(blocks))
	}
	cf := corefile{text: text, block: blocks[0], plugins: map[string][]string{}}
	for _, key := range cf.block.Keys {
		_, port, err := net.SplitHostPort(key)
		if err != nil {
			t.Fatalf("ConfigMap Corefile: server block %q names no port: the image runs as non-root and cannot bind 53", key)
		}
		cf.dnsPort, _ = strconv.Atoi(port)
	}
	for name, tokens := range cf.block.Tokens {
		var args []string
		for _, tok := range tokens[1:] {
			if tok.Line != tokens[0].Line {
				break
			}
			args = append(args, tok.Text)
		}
		cf.plugins[name] = args
	}
	return cf
}

// pluginPort is the port of a plugin's ":PORT" listen address.
func (cf corefile) pluginPort(t *testing.T, name string) int {
	t.Helper()
	args, ok := cf.plugins[name]
	if !ok {
		t.Fatalf("ConfigMap Corefile has no %s plugin", name)
	}
	if len(args) == 0 {
		t.Fatalf("ConfigMap Corefile: %s has no address; give it one such as :8080 so that the probes name it", name)
	}
	_, port, err := net.SplitHostPort(args[0])
	if err != nil {
		t.Fatalf("ConfigMap Corefile: %s %s: %v", name, args[0], err)
	}
	n, _ := strconv.Atoi(port)
	return n
}

func coreDNSContainer(t *testing.T, d *appsv1.Deployment) *corev1.Container {
	t.Helper()
	cs := d.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("Deployment has %d containers, want 1", len(cs))
	}
	return &cs[0]
}

// containerPort resolves a probe's or Service's port, by name or number.
func containerPort(t *testing.T, c *corev1.Container, port intstr.IntOrString, proto corev1.Protocol) int {
	t.Helper()
	for _, p := range c.Ports {
		proto2 := p.Protocol
		if proto2 == "" {
			proto2 = corev1.ProtocolTCP
		}
		if proto2 != proto {
			continue
		}
		if (port.Type == intstr.String && p.Name == port.StrVal) || (port.Type == intstr.Int && p.ContainerPort == port.IntVal) {
			return int(p.ContainerPort)
		}
	}
	t.Fatalf("container %s has no %s port %s", c.Name, proto, port.String())
	return 0
}

func TestDeployment(t *testing.T) {
	m := loadManifests(t)
	d := m.deployment
	pod := d.Spec.Template
	if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
		t.Errorf("Deployment replicas %v, want at least 2", d.Spec.Replicas)
	}
	podLabels := labels.Set(pod.Labels)
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || sel.Empty() || !sel.Matches(podLabels) {
		t.Fatalf("Deployment selector %v does not select its pods %v (%v)", d.Spec.Selector, pod.Labels, err)
	}

	// Spread: no two replicas on one node.
	spread := false
	for _, c := range pod.Spec.TopologySpreadConstraints {
		s, err := metav1.LabelSelectorAsSelector(c.LabelSelector)
		if err == nil && c.TopologyKey == "kubernetes.io/hostname" && c.MaxSkew == 1 &&
			c.WhenUnsatisfiable == corev1.DoNotSchedule && !s.Empty() && s.Matches(podLabels) {
			spread = true
		}
	}
	if a := pod.Spec.Affinity; a != nil && a.PodAntiAffinity != nil {
		for _, term := range a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution {
			s, err := metav1.LabelSelectorAsSelector(term.LabelSelector)
			if err == nil && term.TopologyKey == "kubernetes.io/hostname" && s.Matches(podLabels) {
				spread = true
			}
		}
	}
	if !spread {
		t.Error("Deployment does not spread its replicas over nodes (topologySpreadConstraints on kubernetes.io/hostname with DoNotSchedule, or required pod anti-affinity)")
	}

	// Non-root, read-only, no capabilities.
	c := coreDNSContainer(t, d)
	psc, csc := pod.Spec.SecurityContext, c.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("pod securityContext %+v: want runAsNonRoot and a non-zero runAsUser", psc)
	}
	if csc == nil || csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem {
		t.Error("container securityContext: want readOnlyRootFilesystem: true")
	}
	if csc == nil || csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation {
		t.Error("container securityContext: want allowPrivilegeEscalation: false")
	}
	if csc == nil || csc.Capabilities == nil || !slices.Contains(csc.Capabilities.Drop, "ALL") || len(csc.Capabilities.Add) != 0 {
		t.Error("container securityContext: want capabilities drop [ALL] and none added (the server listens above 1024)")
	}

	// Requests and limits for CPU and memory, requests within limits.
	for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, okReq := c.Resources.Requests[res]
		lim, okLim := c.Resources.Limits[res]
		if !okReq || !okLim {
			t.Errorf("container resources: want a %s request and limit", res)
			continue
		}
		if req.Cmp(lim) > 0 {
			t.Errorf("container %s request %s is above its limit %s", res, req.String(), lim.String())
		}
	}

	// The probes point at the ports where the Corefile enables ready and
	// health; TestImageServesConfigMap sends them to the real server.
	cf := parseCorefile(t, m.configMap.Data["Corefile"])
	for _, p := range []struct {
		what   string
		probe  *corev1.Probe
		plugin string
		path   string
	}{
		{"readinessProbe", c.ReadinessProbe, "ready", "/ready"},
		{"livenessProbe", c.LivenessProbe, "health", "/health"},
	} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("%s: want an httpGet probe of %s", p.what, p.path)
			continue
		}
		if p.probe.HTTPGet.Path != p.path {
			t.Errorf("%s path %q, want %q", p.what, p.probe.HTTPGet.Path, p.path)
		}
		if got, want := containerPort(t, c, p.probe.HTTPGet.Port, corev1.ProtocolTCP), cf.pluginPort(t, p.plugin); got != want {
			t.Errorf("%s port %d, but the Corefile's %s listens on %d", p.what, got, p.plugin, want)
		}
	}
	for _, proto := range []corev1.Protocol{corev1.ProtocolUDP, corev1.ProtocolTCP} {
		found := false
		for _, p := range c.Ports {
			if p.Protocol == proto && int(p.ContainerPort) == cf.dnsPort {
				found = true
			}
		}
		if !found {
			t.Errorf("container declares no %s port %d, where the Corefile serves DNS", proto, cf.dnsPort)
		}
	}

	// The Corefile and regions come from the ConfigMap, mounted whole: a
	// subPath mount would never see an update.
	if !slices.Equal(c.Args, []string{"-conf", "/etc/coredns/Corefile"}) {
		t.Errorf("container args %q, want -conf /etc/coredns/Corefile", c.Args)
	}
	mounted := false
	for _, vm := range c.VolumeMounts {
		for _, v := range pod.Spec.Volumes {
			if v.Name == vm.Name && v.ConfigMap != nil && v.ConfigMap.Name == m.configMap.Name && vm.MountPath == "/etc/coredns" {
				mounted = true
				if vm.SubPath != "" || len(v.ConfigMap.Items) != 0 {
					t.Errorf("ConfigMap volume %s: mount it whole, without subPath or items, so that updates reach the pod", v.Name)
				}
			}
		}
	}
	if !mounted {
		t.Errorf("ConfigMap %s is not mounted at /etc/coredns", m.configMap.Name)
	}
}

func TestService(t *testing.T) {
	m := loadManifests(t)
	s, pod := m.service, m.deployment.Spec.Template
	if len(s.Spec.Selector) == 0 || !labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(pod.Labels)) {
		t.Fatalf("Service selector %v does not select the Deployment's pods %v", s.Spec.Selector, pod.Labels)
	}
	c := coreDNSContainer(t, m.deployment)
	cf := parseCorefile(t, m.configMap.Data["Corefile"])
	protocols := map[corev1.Protocol]bool{}
	for _, p := range s.Spec.Ports {
		if p.Port != 53 {
			t.Errorf("Service port %s is %d, want 53", p.Name, p.Port)
		}
		if got := containerPort(t, c, p.TargetPort, p.Protocol); got != cf.dnsPort {
			t.Errorf("Service port %s goes to %d, but the Corefile serves DNS on %d", p.Name, got, cf.dnsPort)
		}
		protocols[p.Protocol] = true
	}
	if !protocols[corev1.ProtocolUDP] || !protocols[corev1.ProtocolTCP] {
		t.Errorf("Service protocols %v, want UDP and TCP", protocols)
	}
}

func TestPodDisruptionBudget(t *testing.T) {
	m := loadManifests(t)
	pdb, pod := m.pdb, m.deployment.Spec.Template
	sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
	if err != nil || sel.Empty() || !sel.Matches(labels.Set(pod.Labels)) {
		t.Fatalf("PodDisruptionBudget selector %v does not select the Deployment's pods (%v)", pdb.Spec.Selector, err)
	}
	replicas := int(*m.deployment.Spec.Replicas)
	switch {
	case pdb.Spec.MaxUnavailable != nil:
		n, err := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MaxUnavailable, replicas, true)
		if err != nil || n < 1 || n >= replicas {
			t.Errorf("PodDisruptionBudget maxUnavailable %s of %d replicas: want at least 1 (drains can proceed) and fewer than all", pdb.Spec.MaxUnavailable.String(), replicas)
		}
	case pdb.Spec.MinAvailable != nil:
		n, err := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MinAvailable, replicas, true)
		if err != nil || n < 1 || n >= replicas {
			t.Errorf("PodDisruptionBudget minAvailable %s of %d replicas: want at least 1 and fewer than all", pdb.Spec.MinAvailable.String(), replicas)
		}
	default:
		t.Error("PodDisruptionBudget sets neither minAvailable nor maxUnavailable")
	}
}

// TestConfigMapMysqlgw runs the ConfigMap's mysqlgw block, with its regions
// file, through the setup function mysqlgw registers with CoreDNS.
func TestConfigMapMysqlgw(t *testing.T) {
	m := loadManifests(t)
	cf := parseCorefile(t, m.configMap.Data["Corefile"])
	for _, name := range []string{"reload", "mysqlgw"} {
		if _, ok := cf.plugins[name]; !ok {
			t.Errorf("ConfigMap Corefile has no %s: updates would need a restart", name)
		}
	}
	tokens := cf.block.Tokens["mysqlgw"]
	if len(tokens) == 0 {
		t.Fatal("ConfigMap Corefile has no mysqlgw block")
	}

	// The regions file lives in the ConfigMap, seen at /etc/coredns/KEY.
	dir := t.TempDir()
	for key, content := range m.configMap.Data {
		if err := os.WriteFile(filepath.Join(dir, key), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var regions, reload bool
	tokens = slices.Clone(tokens)
	for i := range tokens {
		switch {
		case tokens[i].Text == "reload" && i > 0 && tokens[i-1].Line != tokens[i].Line:
			reload = true
		case tokens[i].Text == "regions" && i+1 < len(tokens):
			path := tokens[i+1].Text
			key, ok := strings.CutPrefix(path, "/etc/coredns/")
			if _, inMap := m.configMap.Data[key]; !ok || !inMap {
				t.Fatalf("mysqlgw regions %s is not a key of the ConfigMap mounted at /etc/coredns", path)
			}
			tokens[i+1].Text = filepath.Join(dir, key)
			regions = true
		}
	}
	if !regions || !reload {
		t.Errorf("mysqlgw block: regions FILE %v, reload %v; want both", regions, reload)
	}

	setup, err := caddy.DirectiveAction("dns", "mysqlgw")
	if err != nil {
		t.Fatal(err)
	}
	c := caddy.NewTestController("dns", "")
	c.Dispenser = caddyfile.NewDispenserTokens("Corefile", tokens)
	c.ServerBlockKeys = cf.block.Keys
	if err := setup(c); err != nil {
		t.Fatalf("mysqlgw setup of the ConfigMap's block: %v", err)
	}
}

// TestImageServesConfigMap builds cmd/coredns with deploy/Dockerfile's own
// build command, checks that it is static, and runs it as the Deployment's
// user on the ConfigMap (ports and /etc/coredns moved to free ports and a
// temporary folder): it must answer DNS from the regions file and pass the
// Deployment's readiness and liveness probes. Docker itself is not needed.
func TestImageServesConfigMap(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the image's binary")
	}
	m := loadManifests(t)
	binary := buildImageBinary(t)
	checkStatic(t, binary)

	// The folder the ConfigMap is mounted at, readable by the pod's user.
	dir, err := os.MkdirTemp("", "mysqlgw-configmap")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cf := parseCorefile(t, m.configMap.Data["Corefile"])
	ports := map[int]int{}
	for _, p := range []int{cf.dnsPort, cf.pluginPort(t, "ready"), cf.pluginPort(t, "health"), cf.pluginPort(t, "prometheus")} {
		ports[p] = testutil.FreePort(t)
	}
	corefile := regexp.MustCompile(`:(\d+)\b`).ReplaceAllStringFunc(cf.text, func(s string) string {
		n, _ := strconv.Atoi(s[1:])
		if to, ok := ports[n]; ok {
			return fmt.Sprintf(":%d", to)
		}
		return s
	})
	corefile = strings.ReplaceAll(corefile, "/etc/coredns/", dir+"/")
	// Listen on loopback only.
	corefile = strings.Replace(corefile, "{\n", "{\n    bind 127.0.0.1\n", 1)
	for key, content := range map[string]string{"Corefile": corefile, "regions": m.configMap.Data["regions"]} {
		if err := os.WriteFile(filepath.Join(dir, key), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	c := coreDNSContainer(t, m.deployment)
	cmd := exec.Command(binary, "-conf", filepath.Join(dir, "Corefile"))
	cmd.Dir = "/"
	if uid := *m.deployment.Spec.Template.Spec.SecurityContext.RunAsUser; os.Geteuid() == 0 {
		gid := uid
		if g := m.deployment.Spec.Template.Spec.SecurityContext.RunAsGroup; g != nil {
			gid = *g
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	}
	proc := testutil.Start(t, cmd, 15*time.Second)

	// The probes, as the kubelet sends them.
	for _, probe := range []*corev1.Probe{c.ReadinessProbe, c.LivenessProbe} {
		port := ports[containerPort(t, c, probe.HTTPGet.Port, corev1.ProtocolTCP)]
		url := fmt.Sprintf("http://127.0.0.1:%d%s", port, probe.HTTPGet.Path)
		waitHTTP(t, url, proc)
	}

	// A region from the ConfigMap's regions file, over UDP and TCP.
	addr := fmt.Sprintf("127.0.0.1:%d", ports[cf.dnsPort])
	want := firstRegion(t, m.configMap.Data["regions"])
	for _, network := range []string{"udp", "tcp"} {
		q := new(dns.Msg)
		q.SetQuestion("primary."+want.name+".gateway.mysql.local.", dns.TypeA)
		r, _, err := (&dns.Client{Net: network, Timeout: 5 * time.Second}).Exchange(q, addr)
		if err != nil {
			t.Fatalf("%s over %s: %v", q.Question[0].Name, network, err)
		}
		if len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != want.primary {
			t.Errorf("%s over %s: %v, want %s", q.Question[0].Name, network, r.Answer, want.primary)
		}
	}
}

// buildImageBinary runs the Dockerfile's build step: the RUN line that calls
// deploy/build-image-binary.sh, with its output moved to a temporary folder.
func buildImageBinary(t *testing.T) string {
	t.Helper()
	content, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var run []string
	var user, copyFrom, builder string
	var stages int
	for _, line := range strings.Split(string(content), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		switch strings.ToUpper(fields[0]) {
		case "FROM":
			stages++
			user = ""
			if stages == 1 && len(fields) > 1 {
				builder = fields[1]
			}
		case "RUN":
			if strings.Contains(line, "build-image-binary.sh") {
				if run != nil {
					t.Fatal("Dockerfile runs build-image-binary.sh twice")
				}
				run = fields[1:]
			}
		case "USER":
			user = fields[1]
		case "COPY":
			if strings.HasPrefix(fields[1], "--from=") {
				copyFrom = fields[2]
			}
		}
	}
	if len(run) != 2 || run[0] != "deploy/build-image-binary.sh" {
		t.Fatalf("Dockerfile builds with %q, want RUN deploy/build-image-binary.sh OUTPUT", run)
	}
	if stages < 2 || copyFrom != run[1] {
		t.Errorf("Dockerfile: want a final stage copying %s from the build stage, got %d stages copying %q", run[1], stages, copyFrom)
	}
	if uid, _, _ := strings.Cut(user, ":"); uid == "" || uid == "0" || uid == "root" {
		t.Errorf("Dockerfile's final stage runs as user %q, want a non-root USER", user)
	}
	// The image builds with the Go that go.mod asks for.
	gomod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(gomod)
	if goVersion == nil || !strings.HasPrefix(builder, "golang:"+string(goVersion[1])+"-") {
		t.Errorf("Dockerfile builds on %q; want golang:%s-..., the Go of go.mod", builder, goVersion[1])
	}

	out := filepath.Join(t.TempDir(), "coredns")
	if err := os.Chmod(filepath.Dir(out), 0o755); err != nil {
		t.Fatal(err)
	}
	build := exec.Command("sh", run[0], out)
	build.Dir = "../.."
	if output, err := build.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", run[0], out, err, output)
	}
	// The pod's user must be able to reach the binary.
	for d := filepath.Dir(out); d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	return out
}

// checkStatic fails unless the binary needs no dynamic loader or shared
// library: distroless/static and scratch have none.
func checkStatic(t *testing.T, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s is dynamically linked (has an ELF interpreter)", path)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("%s needs shared libraries %v", path, libs)
	}
}

type region struct{ name, primary string }

// firstRegion reads the first line of the regions file, independently of
// the plugin's parser.
func firstRegion(t *testing.T, content string) region {
	t.Helper()
	for _, line := range strings.Split(content, "\n") {
		line, _, _ = strings.Cut(line, "#")
		if f := strings.Fields(line); len(f) >= 2 {
			return region{f[0], f[1]}
		}
	}
	t.Fatal("ConfigMap regions file has no region")
	return region{}
}

func waitHTTP(t *testing.T, url string, proc *testutil.Process) {
	t.Helper()
	err := testutil.Poll(30*time.Second, proc.Exited, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return errors.New(resp.Status)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("GET %s: %v, want 200 OK\n%s", url, err, proc.Out.String())
	}
}

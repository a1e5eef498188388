// Package kubernetes holds the manifests that run mysqlgw in a cluster, and
// the test that keeps them honest: every manifest decodes strictly into the
// Kubernetes API types, the Deployment, Service, PodDisruptionBudget and
// ConfigMap agree with each other, the ConfigMap's mysqlgw block and regions
// file pass the plugin's own setup, the seed init container and the fetch
// sidecar share the table volume the server reads, and the binaries that
// deploy/Dockerfile builds, with the command it builds them with, run as the
// pod runs them: seed fills the volume, the server serves the ConfigMap's
// Corefile and answers the probes the Deployment sends, and follows what
// fetch writes.
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
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
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

// The pod's containers: the server, the sidecar that keeps its table current,
// and the init container that seeds that table.
const (
	serverName = "coredns"
	fetchName  = "fetch"
	seedName   = "seed"
	tableFile  = "/var/lib/mysqlgw/regions" // the file seed writes, fetch keeps and the server reads
)

func coreDNSContainer(t *testing.T, d *appsv1.Deployment) *corev1.Container {
	t.Helper()
	return findContainer(t, d.Spec.Template.Spec.Containers, serverName)
}

func findContainer(t *testing.T, cs []corev1.Container, name string) *corev1.Container {
	t.Helper()
	for i := range cs {
		if cs[i].Name == name {
			return &cs[i]
		}
	}
	t.Fatalf("Deployment has no container %s", name)
	return nil
}

// flagValue is the value of the flag -name in args ("-name V" or "-name=V"),
// and whether it is there.
func flagValue(args []string, name string) (string, bool) {
	for i, a := range args {
		a = "-" + strings.TrimLeft(a, "-")
		if a == "-"+name && i+1 < len(args) {
			return args[i+1], true
		}
		if v, ok := strings.CutPrefix(a, "-"+name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// mountOf is the volume mount of c that holds path, or nil.
func mountOf(c *corev1.Container, path string) *corev1.VolumeMount {
	for i, vm := range c.VolumeMounts {
		if strings.HasPrefix(path, strings.TrimSuffix(vm.MountPath, "/")+"/") {
			return &c.VolumeMounts[i]
		}
	}
	return nil
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

	// The server and the fetch sidecar, after the seed init container.
	var names []string
	for _, c := range slices.Concat(pod.Spec.InitContainers, pod.Spec.Containers) {
		names = append(names, c.Name)
	}
	if want := []string{seedName, serverName, fetchName}; !slices.Equal(names, want) {
		t.Fatalf("Deployment containers %q (init containers first), want %q", names, want)
	}

	// Non-root, read-only, no capabilities, for every container.
	psc := pod.Spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("pod securityContext %+v: want runAsNonRoot and a non-zero runAsUser", psc)
	}
	for _, c := range slices.Concat(pod.Spec.InitContainers, pod.Spec.Containers) {
		csc := c.SecurityContext
		if csc == nil || csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem {
			t.Errorf("container %s securityContext: want readOnlyRootFilesystem: true", c.Name)
		}
		if csc == nil || csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation {
			t.Errorf("container %s securityContext: want allowPrivilegeEscalation: false", c.Name)
		}
		if csc == nil || csc.Capabilities == nil || !slices.Contains(csc.Capabilities.Drop, "ALL") || len(csc.Capabilities.Add) != 0 {
			t.Errorf("container %s securityContext: want capabilities drop [ALL] and none added (the server listens above 1024)", c.Name)
		}
		if csc != nil && (csc.RunAsUser != nil || csc.RunAsNonRoot != nil) {
			t.Errorf("container %s securityContext: leave the user to the pod's, which the table volume's files share", c.Name)
		}

		// Requests and limits for CPU and memory, requests within limits.
		for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, okReq := c.Resources.Requests[res]
			lim, okLim := c.Resources.Limits[res]
			if !okReq || !okLim {
				t.Errorf("container %s resources: want a %s request and limit", c.Name, res)
				continue
			}
			if req.Cmp(lim) > 0 {
				t.Errorf("container %s %s request %s is above its limit %s", c.Name, res, req.String(), lim.String())
			}
		}
	}
	c := coreDNSContainer(t, d)

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

// TestTableVolume: the seed init container and the fetch sidecar run the
// image's mysqlgw-regions on the file the server's Corefile names, in a
// per-pod emptyDir volume that they can write and the server only reads; seed
// copies the ConfigMap's regions file. TestImageServesConfigMap runs them.
func TestTableVolume(t *testing.T) {
	m := loadManifests(t)
	pod := m.deployment.Spec.Template.Spec
	server := coreDNSContainer(t, m.deployment)
	seed := findContainer(t, pod.InitContainers, seedName)
	fetch := findContainer(t, pod.Containers, fetchName)

	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v
	}
	// mustMount checks that c reaches path on the volume the server reads it
	// from, writable or not, and returns that volume.
	mustMount := func(c *corev1.Container, path string, writable bool) corev1.Volume {
		t.Helper()
		vm := mountOf(c, path)
		if vm == nil {
			t.Fatalf("container %s: %s is on no volume it mounts", c.Name, path)
		}
		if vm.SubPath != "" {
			t.Errorf("container %s mounts %s with a subPath: files replaced by rename would not be seen", c.Name, vm.Name)
		}
		if vm.ReadOnly == writable {
			t.Errorf("container %s mounts %s readOnly %v, want %v", c.Name, vm.Name, vm.ReadOnly, !writable)
		}
		v, ok := volumes[vm.Name]
		if !ok {
			t.Fatalf("container %s mounts %s, which the pod does not have", c.Name, vm.Name)
		}
		return v
	}

	// The server reads the table file from the volume, read-only.
	cf := parseCorefile(t, m.configMap.Data["Corefile"])
	if got := mysqlgwRegions(t, cf); got != tableFile {
		t.Errorf("ConfigMap Corefile: mysqlgw regions %s, want %s", got, tableFile)
	}
	table := mustMount(server, tableFile, false)
	if table.EmptyDir == nil {
		t.Errorf("volume %s holding %s: want an emptyDir, the pod's own copy that fetch writes", table.Name, tableFile)
	}

	image := server.Image
	for _, c := range []*corev1.Container{seed, fetch} {
		if c.Image != image || c.ImagePullPolicy != server.ImagePullPolicy {
			t.Errorf("container %s runs %s (%s), want the server's image %s (%s): one image, so the server is never older than fetch", c.Name, c.Image, c.ImagePullPolicy, image, server.ImagePullPolicy)
		}
		if len(c.Args) != 0 || len(c.Command) < 2 || c.Command[0] != "/mysqlgw-regions" {
			t.Fatalf("container %s command %q args %q, want the command [/mysqlgw-regions %s ...] (the image's entrypoint is the server)", c.Name, c.Command, c.Args, c.Name)
		}
		if c.Command[1] != c.Name {
			t.Errorf("container %s runs mysqlgw-regions %s, want %s", c.Name, c.Command[1], c.Name)
		}
		if out, _ := flagValue(c.Command[2:], "o"); out != tableFile {
			t.Errorf("container %s writes -o %q, want %s, the file the server reads", c.Name, out, tableFile)
		}
		if v := mustMount(c, tableFile, true); v.Name != table.Name {
			t.Errorf("container %s writes %s on volume %s, but the server reads volume %s", c.Name, tableFile, v.Name, table.Name)
		}
		if len(c.Ports) != 0 || c.ReadinessProbe != nil || c.LivenessProbe != nil {
			t.Errorf("container %s: no ports or probes; the pod's readiness is the server's", c.Name)
		}
	}

	// seed -o FILE SRC, SRC the ConfigMap's regions file.
	args := seed.Command[2:]
	src := args[len(args)-1]
	if v := mustMount(seed, src, false); v.ConfigMap == nil || v.ConfigMap.Name != m.configMap.Name {
		t.Errorf("seed copies %s, which is not on the ConfigMap %s", src, m.configMap.Name)
	} else if key := strings.TrimPrefix(src, mountOf(seed, src).MountPath+"/"); m.configMap.Data[key] == "" {
		t.Errorf("seed copies %s, but the ConfigMap has no key %q", src, key)
	}
	if !slices.Equal(args[:len(args)-1], []string{"-o", tableFile}) {
		t.Errorf("seed args %q, want -o %s SRC", args, tableFile)
	}

	// fetch keeps running, once a day, on Azure SQL's table (the ConfigMap's
	// seed is that table: another one would be refused as a shrink).
	if every, _ := flagValue(fetch.Command[2:], "every"); every == "" {
		t.Error("fetch has no -every: the sidecar would exit after one run and be restarted in a loop")
	} else if d, err := time.ParseDuration(every); err != nil || d < time.Hour || d > 7*24*time.Hour {
		t.Errorf("fetch -every %s: want from 1h to a week (%v)", every, err)
	}
	for _, name := range []string{"url", "force", "source"} {
		if _, ok := flagValue(fetch.Command[2:], name); ok {
			t.Errorf("fetch -%s: the sidecar fetches Azure SQL's table from Microsoft, guarded", name)
		}
	}
}

// mysqlgwRegions is the path of the mysqlgw block's regions file.
func mysqlgwRegions(t *testing.T, cf corefile) string {
	t.Helper()
	tokens := cf.block.Tokens["mysqlgw"]
	for i := range tokens {
		if tokens[i].Text == "regions" && i+1 < len(tokens) {
			return tokens[i+1].Text
		}
	}
	t.Fatal("ConfigMap Corefile: mysqlgw has no regions FILE")
	return ""
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

	// The server starts on the table seed copies from the ConfigMap
	// (TestTableVolume checks the paths).
	seeded := filepath.Join(t.TempDir(), "regions")
	if err := os.WriteFile(seeded, []byte(m.configMap.Data["regions"]), 0o644); err != nil {
		t.Fatal(err)
	}
	var regions, reload bool
	tokens = slices.Clone(tokens)
	for i := range tokens {
		switch {
		case tokens[i].Text == "reload" && i > 0 && tokens[i-1].Line != tokens[i].Line:
			reload = true
		case tokens[i].Text == "regions" && i+1 < len(tokens):
			tokens[i+1].Text = seeded
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

// TestImageServesConfigMap builds the image's binaries with deploy/Dockerfile's
// own build command, checks that they are static, and runs the pod as the
// Deployment gives it, as the Deployment's user (ports moved to free ones, each
// volume to a temporary folder, Microsoft to a loopback server): the seed init
// container fills the table volume from the ConfigMap; the server answers DNS
// from that table and passes the Deployment's readiness and liveness probes;
// the fetch sidecar downloads a changed table and keeps running, and the
// server serves the change; a restarted seed leaves fetch's table; a
// restarted sidecar refuses a shrunk table, logs it and keeps running, and the
// table stays. Docker itself is not needed.
func TestImageServesConfigMap(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the image's binaries")
	}
	m := loadManifests(t)
	bin := buildImageBinaries(t)
	pod := m.deployment.Spec.Template.Spec

	// The pod's volumes: the ConfigMap's keys, and an emptyDir that, as the
	// kubelet makes it, anyone may write.
	volumes := map[string]string{}
	for _, v := range pod.Volumes {
		dir, err := os.MkdirTemp("", "mysqlgw-volume-"+v.Name)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		mode := os.FileMode(0o755)
		if v.EmptyDir != nil {
			mode = 0o777
		}
		if err := os.Chmod(dir, mode); err != nil {
			t.Fatal(err)
		}
		volumes[v.Name] = dir
	}
	// local is where container c sees path, on this machine.
	local := func(c *corev1.Container, path string) string {
		t.Helper()
		vm := mountOf(c, path)
		if vm == nil {
			t.Fatalf("container %s: %s is on no volume it mounts", c.Name, path)
		}
		return volumes[vm.Name] + strings.TrimPrefix(path, vm.MountPath)
	}
	// command is container c's command, its paths moved to this machine.
	command := func(c *corev1.Container, extra ...string) *exec.Cmd {
		t.Helper()
		args := slices.Concat(c.Command, c.Args, extra)
		if len(c.Command) == 0 {
			args = slices.Concat([]string{"/" + imageEntrypoint}, args)
		}
		for i, a := range args {
			switch {
			case i == 0:
				args[i] = filepath.Join(bin, strings.TrimPrefix(a, "/")) // the image's binaries are at /
			case strings.HasPrefix(a, "/"):
				args[i] = local(c, a)
			}
		}
		return asPodUser(t, m.deployment, exec.Command(args[0], args[1:]...))
	}

	server := coreDNSContainer(t, m.deployment)
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
	for _, vm := range server.VolumeMounts {
		corefile = strings.ReplaceAll(corefile, vm.MountPath+"/", volumes[vm.Name]+"/")
	}
	// Listen on loopback only.
	corefile = strings.Replace(corefile, "{\n", "{\n    bind 127.0.0.1\n", 1)
	for key, content := range m.configMap.Data {
		if key == "Corefile" {
			content = corefile
		}
		if err := os.WriteFile(filepath.Join(local(server, "/etc/coredns/"+key)), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// The init container, run to completion before the others start.
	seed := findContainer(t, pod.InitContainers, seedName)
	if out, err := command(seed).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", seed.Name, err, out)
	}
	table := local(server, tableFile)
	if got, err := os.ReadFile(table); err != nil || string(got) != m.configMap.Data["regions"] {
		t.Fatalf("after seed, %s is not the ConfigMap's regions (%v)", table, err)
	}

	proc := testutil.Start(t, command(server), 15*time.Second)

	// The probes, as the kubelet sends them.
	for _, probe := range []*corev1.Probe{server.ReadinessProbe, server.LivenessProbe} {
		port := ports[containerPort(t, server, probe.HTTPGet.Port, corev1.ProtocolTCP)]
		url := fmt.Sprintf("http://127.0.0.1:%d%s", port, probe.HTTPGet.Path)
		waitHTTP(t, url, proc)
	}

	// A region from the ConfigMap's regions file, over UDP and TCP.
	addr := fmt.Sprintf("127.0.0.1:%d", ports[cf.dnsPort])
	want := firstRegion(t, m.configMap.Data["regions"])
	for _, network := range []string{"udp", "tcp"} {
		if got := txt(t, network, addr, want.name+".gateway.mysql.local."); !slices.Contains(got, want.text) {
			t.Errorf("%s.gateway.mysql.local TXT over %s: %q, want %q among them", want.name, network, got, want.text)
		}
	}

	// Microsoft, on loopback, publishes the seed's table with one more range
	// in East US.
	page, err := os.ReadFile("../../testdata/import/sql-2026-include.md")
	if err != nil {
		t.Fatal(err)
	}
	const before, after = "| East US | 20.42.65.64/29,", "| East US | 20.42.66.0/29, 20.42.65.64/29,"
	if !bytes.Contains(page, []byte(before)) {
		t.Fatalf("sql-2026-include.md has no %q", before)
	}
	page = bytes.Replace(page, []byte(before), []byte(after), 1)
	var serving atomic.Pointer[[]byte]
	serving.Store(&page)
	microsoft := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(*serving.Load()) }))
	defer microsoft.Close()

	// The sidecar, with its own -every: it fetches at once, then waits.
	fetch := command(findContainer(t, pod.Containers, fetchName), "-url", microsoft.URL+"/gateway-ip-addresses.md")
	sidecar := testutil.Start(t, fetch, 15*time.Second)
	err = testutil.Poll(30*time.Second, sidecar.Exited, func() error {
		got := txt(t, "udp", addr, "eastus.gateway.mysql.local.")
		if !slices.Contains(got, "subnet=20.42.66.0/29") {
			return fmt.Errorf("eastus TXT %q lacks subnet=20.42.66.0/29", got)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("the server does not serve what fetch wrote: %v\nfetch: %s\nserver: %s", err, sidecar.Out.String(), proc.Out.String())
	}
	if apex := txt(t, "udp", addr, "gateway.mysql.local."); !slices.Contains(apex, "serial=2026051802") || !slices.Contains(apex, "source="+microsoft.URL+"/gateway-ip-addresses.md") {
		t.Errorf("apex TXT %q, want serial=2026051802 (the seed's + 1, same publication date) and the sidecar's source", apex)
	}
	select {
	case <-sidecar.Exited:
		t.Fatalf("fetch exited after one run (%v), want it to wait -every:\n%s", fetch.ProcessState, sidecar.Out.String())
	default:
	}

	// A restarted seed keeps what fetch wrote.
	fetched, err := os.ReadFile(table)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := command(seed).CombinedOutput(); err != nil || !strings.Contains(string(out), "left as it is") {
		t.Fatalf("%s again: %v\n%s", seed.Name, err, out)
	}
	if got, err := os.ReadFile(table); err != nil || !bytes.Equal(got, fetched) {
		t.Errorf("a second seed changed %s (%v)", table, err)
	}

	// SIGTERM, as the kubelet stops the pod, ends the sidecar cleanly.
	if err := fetch.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	testutil.Until(t, 15*time.Second, "fetch exits on SIGTERM", func() bool {
		select {
		case <-sidecar.Exited:
			return true
		default:
			return false
		}
	})
	if !fetch.ProcessState.Success() {
		t.Errorf("fetch on SIGTERM: %v, want exit status 0\n%s", fetch.ProcessState, sidecar.Out.String())
	}

	// Microsoft drops two regions: the restarted sidecar's guard refuses, it
	// logs why and keeps running, and the file and the served table stay.
	shrunk, err := os.ReadFile("../../testdata/fetch/gateway-ip-addresses-shrunk.md")
	if err != nil {
		t.Fatal(err)
	}
	serving.Store(&shrunk)
	fetch = command(findContainer(t, pod.Containers, fetchName), "-url", microsoft.URL+"/gateway-ip-addresses.md")
	sidecar = testutil.Start(t, fetch, 15*time.Second)
	err = testutil.Poll(30*time.Second, sidecar.Exited, func() error {
		if !strings.Contains(sidecar.Out.String(), "left as it is: it would remove 2 region(s)") {
			return errors.New("no refusal logged yet")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("fetch of a shrunk table: %v\n%s", err, sidecar.Out.String())
	}
	if got, err := os.ReadFile(table); err != nil || !bytes.Equal(got, fetched) {
		t.Errorf("the refused fetch changed %s (%v)", table, err)
	}
	if got := txt(t, "udp", addr, "eastus.gateway.mysql.local."); !slices.Contains(got, "subnet=20.42.66.0/29") {
		t.Errorf("after the refusal, eastus TXT %q lacks subnet=20.42.66.0/29", got)
	}
	select {
	case <-sidecar.Exited:
		t.Errorf("fetch exited after a refusal (%v), want it to wait for the next run:\n%s", fetch.ProcessState, sidecar.Out.String())
	default:
	}
}

// asPodUser runs cmd as the pod's user when the test can (as root), from /.
func asPodUser(t *testing.T, d *appsv1.Deployment, cmd *exec.Cmd) *exec.Cmd {
	t.Helper()
	cmd.Dir = "/"
	psc := d.Spec.Template.Spec.SecurityContext
	if os.Geteuid() == 0 {
		uid, gid := *psc.RunAsUser, *psc.RunAsUser
		if psc.RunAsGroup != nil {
			gid = *psc.RunAsGroup
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	}
	return cmd
}

// txt queries name's TXT records and returns their strings.
func txt(t *testing.T, network, addr, name string) []string {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(name, dns.TypeTXT)
	r, _, err := (&dns.Client{Net: network, Timeout: 5 * time.Second}).Exchange(q, addr)
	if err != nil {
		t.Fatalf("%s TXT over %s: %v", name, network, err)
	}
	var out []string
	for _, rr := range r.Answer {
		if t, ok := rr.(*dns.TXT); ok {
			out = append(out, strings.Join(t.Txt, ""))
		}
	}
	return out
}

// imageBinaries are what the image carries, at /NAME: the server (its
// entrypoint) and the command of the seed and fetch containers.
var imageBinaries = []string{imageEntrypoint, "mysqlgw-regions"}

const imageEntrypoint = "coredns"

// buildImageBinaries runs the Dockerfile's build step: the RUN line that calls
// deploy/build-image-binary.sh, with its output folder moved to a temporary
// one, and returns that folder once every binary the image copies is there and
// static.
func buildImageBinaries(t *testing.T) string {
	t.Helper()
	content, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var run, copied []string
	var user, builder, entrypoint string
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
		case "ENTRYPOINT":
			entrypoint = strings.Join(fields[1:], " ")
		case "COPY":
			if strings.HasPrefix(fields[1], "--from=") && len(fields) > 3 {
				if dest := fields[len(fields)-1]; dest != "/" {
					t.Errorf("Dockerfile copies the binaries to %s, want / (the manifests run /coredns and /mysqlgw-regions)", dest)
				}
				copied = append(copied, fields[2:len(fields)-1]...)
			}
		}
	}
	if len(run) != 2 || run[0] != "deploy/build-image-binary.sh" {
		t.Fatalf("Dockerfile builds with %q, want RUN deploy/build-image-binary.sh OUTPUT", run)
	}
	if entrypoint != `["/`+imageEntrypoint+`"]` {
		t.Errorf("Dockerfile ENTRYPOINT %s, want [\"/%s\"], which the server container runs", entrypoint, imageEntrypoint)
	}
	var want []string
	for _, name := range imageBinaries {
		want = append(want, run[1]+"/"+name)
	}
	if stages < 2 || !slices.Equal(copied, want) {
		t.Errorf("Dockerfile: want a final stage copying %q from the build stage, got %d stages copying %q", want, stages, copied)
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

	out := t.TempDir()
	if err := os.Chmod(out, 0o755); err != nil {
		t.Fatal(err)
	}
	build := exec.Command("sh", run[0], out)
	build.Dir = "../.."
	if output, err := build.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", run[0], out, err, output)
	}
	// The pod's user must be able to reach the binary.
	for d := out; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	for _, name := range imageBinaries {
		checkStatic(t, filepath.Join(out, name))
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

// region is a region's name and one string its TXT record must hold.
type region struct{ name, text string }

// firstRegion reads the first region line of the regions file, independently
// of the plugin's parser: its primary address or its first subnet.
func firstRegion(t *testing.T, content string) region {
	t.Helper()
	for _, line := range strings.Split(content, "\n") {
		line, _, _ = strings.Cut(line, "#")
		switch f := strings.Fields(line); {
		case len(f) >= 3 && f[1] == "subnets":
			return region{f[0], "subnet=" + f[2]}
		case len(f) >= 2 && !strings.HasPrefix(f[0], "$"):
			return region{f[0], "primary=" + f[1]}
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

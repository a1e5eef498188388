package k8scheck

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/caddy/caddyfile"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	_ "github.com/mysqlgw/mysqlgw" // registers mysqlgw's setup
)

// CheckDeployment: replicas spread over nodes (one, with transfer_health),
// the containers the table's layout needs, non-root and read-only with no
// capabilities, requests within limits, probes and ports where the Corefile
// listens, and the ConfigMap mounted whole.
func CheckDeployment(t testing.TB, m Manifests) {
	t.Helper()
	d := m.Deployment
	pod := d.Spec.Template
	cf := m.Corefile(t)
	switch {
	case d.Spec.Replicas == nil:
		t.Errorf("Deployment sets no replicas")
	case cf.TransferHealth() && *d.Spec.Replicas != 1:
		t.Errorf("Deployment replicas %d with transfer_health, want 1: every replica numbers its own serials, and a zone's secondaries need one primary", *d.Spec.Replicas)
	case !cf.TransferHealth() && *d.Spec.Replicas < 2:
		t.Errorf("Deployment replicas %d, want at least 2", *d.Spec.Replicas)
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

	// The server and the fetch sidecar, after the seed init container; or
	// the server alone, reading the ConfigMap's table.
	var names []string
	for _, c := range slices.Concat(pod.Spec.InitContainers, pod.Spec.Containers) {
		names = append(names, c.Name)
	}
	want := []string{ServerName}
	if m.Fetches(t) {
		want = []string{SeedName, ServerName, FetchName}
	}
	if !slices.Equal(names, want) {
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
	c := m.Server(t)

	// The probes point at the ports where the Corefile enables ready and
	// health; StartPod sends them to the real server.
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
		if got, want := ContainerPort(t, c, p.probe.HTTPGet.Port, corev1.ProtocolTCP), cf.PluginPort(t, p.plugin); got != want {
			t.Errorf("%s port %d, but the Corefile's %s listens on %d", p.what, got, p.plugin, want)
		}
	}
	for _, proto := range []corev1.Protocol{corev1.ProtocolUDP, corev1.ProtocolTCP} {
		found := false
		for _, p := range c.Ports {
			if p.Protocol == proto && int(p.ContainerPort) == cf.DNSPort {
				found = true
			}
		}
		if !found {
			t.Errorf("container declares no %s port %d, where the Corefile serves DNS", proto, cf.DNSPort)
		}
	}
	// Every port the container declares is one the Corefile listens on.
	listens := map[int]bool{cf.DNSPort: true, cf.PluginPort(t, "health"): true, cf.PluginPort(t, "ready"): true, cf.PluginPort(t, "prometheus"): true}
	if p := cf.HTTPPort(t); p != 0 {
		listens[p] = true
	}
	declared := map[int]bool{}
	for _, p := range c.Ports {
		declared[int(p.ContainerPort)] = true
		if !listens[int(p.ContainerPort)] {
			t.Errorf("container port %s %d: the Corefile listens on no such port", p.Name, p.ContainerPort)
		}
	}
	for p := range listens {
		if !declared[p] {
			t.Errorf("the Corefile listens on %d, which the container does not declare", p)
		}
	}

	// The Corefile and regions come from the ConfigMap, mounted whole: a
	// subPath mount would never see an update.
	if !slices.Equal(c.Args, []string{"-conf", ConfigDir + "/Corefile"}) {
		t.Errorf("container args %q, want -conf %s/Corefile", c.Args, ConfigDir)
	}
	mounted := false
	for _, vm := range c.VolumeMounts {
		for _, v := range pod.Spec.Volumes {
			if v.Name == vm.Name && v.ConfigMap != nil && v.ConfigMap.Name == m.ConfigMap.Name && vm.MountPath == ConfigDir {
				mounted = true
				if vm.SubPath != "" || len(v.ConfigMap.Items) != 0 {
					t.Errorf("ConfigMap volume %s: mount it whole, without subPath or items, so that updates reach the pod", v.Name)
				}
			}
		}
	}
	if !mounted {
		t.Errorf("ConfigMap %s is not mounted at %s", m.ConfigMap.Name, ConfigDir)
	}
}

// CheckTableVolume: the server reads its table either from a per-pod
// emptyDir volume, which the seed init container and the fetch sidecar (the
// image's mysqlgw-regions) can write and it only reads, seed copying the
// ConfigMap's regions file; or, without them, from the ConfigMap itself.
// StartPod and Pod.Fetch run them.
func CheckTableVolume(t testing.TB, m Manifests) {
	t.Helper()
	pod := m.Deployment.Spec.Template.Spec
	server := m.Server(t)
	cf := m.Corefile(t)

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
	// onConfigMap checks that path, as c sees it, is a key of the ConfigMap.
	onConfigMap := func(c *corev1.Container, path string) {
		t.Helper()
		if v := mustMount(c, path, false); v.ConfigMap == nil || v.ConfigMap.Name != m.ConfigMap.Name {
			t.Errorf("container %s reads %s, which is not on the ConfigMap %s", c.Name, path, m.ConfigMap.Name)
		} else if key := strings.TrimPrefix(path, mountOf(c, path).MountPath+"/"); m.ConfigMap.Data[key] == "" {
			t.Errorf("container %s reads %s, but the ConfigMap has no key %q", c.Name, path, key)
		}
	}

	regions := mysqlgwRegions(t, cf)
	if !m.Fetches(t) {
		// The server follows the ConfigMap's regions: the kubelet refreshes
		// the mounted file, and mysqlgw's reload applies it.
		onConfigMap(server, regions)
		for _, v := range pod.Volumes {
			if v.EmptyDir != nil {
				t.Errorf("volume %s: without seed and fetch the pod needs no table volume", v.Name)
			}
		}
		return
	}

	// The server reads the table file from the volume, read-only.
	table := mustMount(server, TableFile, false)
	if table.EmptyDir == nil {
		t.Errorf("volume %s holding %s: want an emptyDir, the pod's own copy that fetch writes", table.Name, TableFile)
	}
	seed := FindContainer(t, pod.InitContainers, SeedName)
	fetch := FindContainer(t, pod.Containers, FetchName)

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
		if out, _ := FlagValue(c.Command[2:], "o"); out != TableFile {
			t.Errorf("container %s writes -o %q, want %s, the file the server reads", c.Name, out, TableFile)
		}
		if v := mustMount(c, TableFile, true); v.Name != table.Name {
			t.Errorf("container %s writes %s on volume %s, but the server reads volume %s", c.Name, TableFile, v.Name, table.Name)
		}
		if len(c.Ports) != 0 || c.ReadinessProbe != nil || c.LivenessProbe != nil {
			t.Errorf("container %s: no ports or probes; the pod's readiness is the server's", c.Name)
		}
	}

	// seed -o FILE SRC, SRC the ConfigMap's regions file.
	args := seed.Command[2:]
	onConfigMap(seed, args[len(args)-1])
	if !slices.Equal(args[:len(args)-1], []string{"-o", TableFile}) {
		t.Errorf("seed args %q, want -o %s SRC", args, TableFile)
	}

	// fetch keeps running, once a day, on Azure SQL's table (the ConfigMap's
	// seed is that table: another one would be refused as a shrink).
	if every, _ := FlagValue(fetch.Command[2:], "every"); every == "" {
		t.Error("fetch has no -every: the sidecar would exit after one run and be restarted in a loop")
	} else if d, err := time.ParseDuration(every); err != nil || d < time.Hour || d > 7*24*time.Hour {
		t.Errorf("fetch -every %s: want from 1h to a week (%v)", every, err)
	}
	for _, name := range []string{"url", "force", "source"} {
		if _, ok := FlagValue(fetch.Command[2:], name); ok {
			t.Errorf("fetch -%s: the sidecar fetches Azure SQL's table from Microsoft, guarded", name)
		}
	}
}

// CheckServices: every Service selects the Deployment's pods. One serves DNS
// on port 53, UDP and TCP, onto the port of the Corefile's server block; with
// the mysqlgw block's http listener, which must listen on every address of
// the pod, one more serves it over TCP; there is no other.
func CheckServices(t testing.TB, m Manifests) {
	t.Helper()
	pod := m.Deployment.Spec.Template
	c := m.Server(t)
	cf := m.Corefile(t)
	httpPort := cf.HTTPPort(t)
	var dnsServices, httpServices []string
	for _, s := range m.Services {
		if len(s.Spec.Selector) == 0 || !labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(pod.Labels)) {
			t.Errorf("Service %s selector %v does not select the Deployment's pods %v", s.Name, s.Spec.Selector, pod.Labels)
		}
		targets := map[int]bool{}
		for _, p := range s.Spec.Ports {
			targets[ContainerPort(t, c, p.TargetPort, p.Protocol)] = true
		}
		switch {
		case len(targets) == 1 && targets[cf.DNSPort]:
			dnsServices = append(dnsServices, s.Name)
			protocols := map[corev1.Protocol]bool{}
			for _, p := range s.Spec.Ports {
				if p.Port != 53 {
					t.Errorf("Service %s port %s is %d, want 53", s.Name, p.Name, p.Port)
				}
				protocols[p.Protocol] = true
			}
			if !protocols[corev1.ProtocolUDP] || !protocols[corev1.ProtocolTCP] {
				t.Errorf("Service %s protocols %v, want UDP and TCP", s.Name, protocols)
			}
		case httpPort != 0 && len(targets) == 1 && targets[httpPort]:
			httpServices = append(httpServices, s.Name)
			for _, p := range s.Spec.Ports {
				if p.Protocol != corev1.ProtocolTCP {
					t.Errorf("Service %s port %s is %s, want TCP", s.Name, p.Name, p.Protocol)
				}
			}
		default:
			t.Errorf("Service %s goes to container ports %v: want the Corefile's DNS port %d or its http port (%d) alone", s.Name, targets, cf.DNSPort, httpPort)
		}
	}
	if len(dnsServices) != 1 {
		t.Errorf("Services for DNS %q, want one", dnsServices)
	}
	if want := min(httpPort, 1); len(httpServices) != want {
		t.Errorf("Services for the HTTP lists %q, want %d (mysqlgw http port %d)", httpServices, want, httpPort)
	}
	if httpPort != 0 {
		args, _ := cf.Mysqlgw("http")
		host, _, _ := net.SplitHostPort(args[0])
		if a, err := netip.ParseAddr(host); host != "" && (err != nil || !a.IsUnspecified()) {
			t.Errorf("mysqlgw http %s: listen on every address of the pod (:PORT), or the Service cannot reach it", args[0])
		}
	}
}

// CheckPodDisruptionBudget: with two replicas or more, a budget that selects
// the pods and lets drains take some but not all of them; with one, none (it
// could only block drains or allow everything).
func CheckPodDisruptionBudget(t testing.TB, m Manifests) {
	t.Helper()
	pdb, pod := m.PDB, m.Deployment.Spec.Template
	replicas := int(*m.Deployment.Spec.Replicas)
	if replicas < 2 {
		if pdb != nil {
			t.Errorf("PodDisruptionBudget %s for %d replica: want none", pdb.Name, replicas)
		}
		return
	}
	if pdb == nil {
		t.Fatalf("no PodDisruptionBudget for %d replicas", replicas)
	}
	sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
	if err != nil || sel.Empty() || !sel.Matches(labels.Set(pod.Labels)) {
		t.Fatalf("PodDisruptionBudget selector %v does not select the Deployment's pods (%v)", pdb.Spec.Selector, err)
	}
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

// CheckConfigMapMysqlgw runs the ConfigMap's mysqlgw block, with its regions
// file, through the setup function mysqlgw registers with CoreDNS.
func CheckConfigMapMysqlgw(t testing.TB, m Manifests) {
	t.Helper()
	cf := m.Corefile(t)
	for _, name := range []string{"reload", "mysqlgw"} {
		if _, ok := cf.Plugins[name]; !ok {
			t.Errorf("ConfigMap Corefile has no %s: updates would need a restart", name)
		}
	}
	if _, ok := cf.Mysqlgw("reload"); !ok {
		t.Error("mysqlgw block has no reload: a new table would need a restart")
	}
	if cf.TransferHealth() {
		if _, ok := cf.Plugins["transfer"]; !ok {
			t.Error("mysqlgw transfer_health without the transfer plugin in the server block")
		}
	}
	tokens := cf.Block.Tokens["mysqlgw"]
	if len(tokens) == 0 {
		t.Fatal("ConfigMap Corefile has no mysqlgw block")
	}

	// The server starts on the ConfigMap's table, as seed copies it or as it
	// is mounted (CheckTableVolume checks the paths).
	seeded := filepath.Join(t.TempDir(), "regions")
	if err := os.WriteFile(seeded, []byte(m.ConfigMap.Data["regions"]), 0o644); err != nil {
		t.Fatal(err)
	}
	regions := mysqlgwRegions(t, cf)
	tokens = slices.Clone(tokens)
	for i := 1; i+1 < len(tokens); i++ {
		if tokens[i].Text == "regions" && tokens[i-1].Line != tokens[i].Line && tokens[i+1].Text == regions {
			tokens[i+1].Text = seeded
		}
	}

	setup, err := caddy.DirectiveAction("dns", "mysqlgw")
	if err != nil {
		t.Fatal(err)
	}
	c := caddy.NewTestController("dns", "")
	c.Dispenser = caddyfile.NewDispenserTokens("Corefile", tokens)
	c.ServerBlockKeys = cf.Block.Keys
	if err := setup(c); err != nil {
		t.Fatalf("mysqlgw setup of the ConfigMap's block: %v", err)
	}
}

// CheckNetworkPolicy: a NetworkPolicy, when there is one, selects the pods
// and lets them send DNS (UDP and TCP 53: lookups, and NOTIFY to the
// transfer plugin's secondaries) and HTTPS (TCP 443, fetch's download); it
// does not cut them off from their clients.
func CheckNetworkPolicy(t testing.TB, m Manifests) {
	t.Helper()
	np := m.NetworkPolicy
	if np == nil {
		return
	}
	pod := m.Deployment.Spec.Template
	sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
	if err != nil || sel.Empty() || !sel.Matches(labels.Set(pod.Labels)) {
		t.Fatalf("NetworkPolicy podSelector %v does not select the Deployment's pods (%v)", np.Spec.PodSelector, err)
	}
	if !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) {
		t.Errorf("NetworkPolicy policyTypes %v: want Egress", np.Spec.PolicyTypes)
	}
	if slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) && len(np.Spec.Ingress) == 0 {
		t.Error("NetworkPolicy has policyTypes Ingress with no ingress rule: it would cut the pods off from DNS clients and the kubelet's probes")
	}
	allows := func(port int, proto corev1.Protocol) bool {
		for _, rule := range np.Spec.Egress {
			if len(rule.Ports) == 0 {
				return true
			}
			for _, p := range rule.Ports {
				pp := corev1.ProtocolTCP
				if p.Protocol != nil {
					pp = *p.Protocol
				}
				if pp == proto && (p.Port == nil || (p.Port.Type == intstr.Int && int(p.Port.IntVal) == port)) {
					return true
				}
			}
		}
		return false
	}
	for _, want := range []struct {
		port  int
		proto corev1.Protocol
		why   string
	}{
		{53, corev1.ProtocolUDP, "name lookups and NOTIFY"},
		{53, corev1.ProtocolTCP, "name lookups over TCP"},
	} {
		if !allows(want.port, want.proto) {
			t.Errorf("NetworkPolicy allows no egress to %s %d (%s)", want.proto, want.port, want.why)
		}
	}
	if m.Fetches(t) && !allows(443, corev1.ProtocolTCP) {
		t.Error("NetworkPolicy allows no egress to TCP 443: the fetch sidecar downloads Microsoft's table over HTTPS")
	}
}

// CheckAll runs every static check: the manifests must pass each.
func CheckAll(t *testing.T, m Manifests) {
	t.Helper()
	for _, c := range []struct {
		name  string
		check func(testing.TB, Manifests)
	}{
		{"Deployment", CheckDeployment},
		{"TableVolume", CheckTableVolume},
		{"Services", CheckServices},
		{"PodDisruptionBudget", CheckPodDisruptionBudget},
		{"ConfigMapMysqlgw", CheckConfigMapMysqlgw},
		{"NetworkPolicy", CheckNetworkPolicy},
	} {
		t.Run(c.name, func(t *testing.T) { c.check(t, m) })
	}
}

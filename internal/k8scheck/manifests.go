// Package k8scheck holds the checks that mysqlgw's Kubernetes manifests must
// pass, whether written by hand (deploy/kubernetes) or rendered by the Helm
// chart (deploy/helm): every document decodes strictly into the Kubernetes
// API types; the Deployment, Services, PodDisruptionBudget, ConfigMap and
// NetworkPolicy agree with each other; the ConfigMap's mysqlgw block and
// regions file pass the plugin's own setup; and the pod runs as the
// Deployment gives it, with the binaries deploy/Dockerfile builds, against
// loopback servers (pod.go). Both tests call the same functions on a set of
// decoded manifests, so the chart cannot pass a weaker test than the plain
// manifests.
package k8scheck

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/coredns/caddy/caddyfile"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// Manifests is one deployment of mysqlgw: a ConfigMap, a Deployment, its
// Services, and the PodDisruptionBudget and NetworkPolicy when there are.
type Manifests struct {
	ConfigMap     *corev1.ConfigMap
	Deployment    *appsv1.Deployment
	Services      []*corev1.Service
	PDB           *policyv1.PodDisruptionBudget
	NetworkPolicy *networkingv1.NetworkPolicy
	// Objects is every object in the order decoded, for comparisons.
	Objects []Object
}

// Object is one decoded document.
type Object struct {
	Kind  string // apiVersion and kind, "apps/v1 Deployment"
	Name  string
	Where string // file and document number
	Value any    // a pointer to the typed object
}

// LoadFiles decodes every document of every file matching pattern.
func LoadFiles(t testing.TB, pattern string) Manifests {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests match %s: %v", pattern, err)
	}
	var m Manifests
	for _, file := range files {
		content, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		m.decode(t, file, content)
	}
	m.complete(t)
	return m
}

// Decode decodes a stream of YAML documents, such as helm template's output;
// where names it in errors.
func Decode(t testing.TB, where string, stream []byte) Manifests {
	t.Helper()
	var m Manifests
	m.decode(t, where, stream)
	m.complete(t)
	return m
}

// decode adds the documents of content strictly: an unknown or misspelt
// field, a duplicate key or an unexpected kind fails.
func (m *Manifests) decode(t testing.TB, file string, content []byte) {
	t.Helper()
	for i, doc := range SplitDocuments(content) {
		where := fmt.Sprintf("%s document %d", file, i+1)
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		kind := meta.APIVersion + " " + meta.Kind
		var obj any
		switch kind {
		case "v1 ConfigMap":
			obj = once(t, where, &m.ConfigMap)
		case "apps/v1 Deployment":
			obj = once(t, where, &m.Deployment)
		case "v1 Service":
			s := new(corev1.Service)
			m.Services = append(m.Services, s)
			obj = s
		case "policy/v1 PodDisruptionBudget":
			obj = once(t, where, &m.PDB)
		case "networking.k8s.io/v1 NetworkPolicy":
			obj = once(t, where, &m.NetworkPolicy)
		default:
			t.Fatalf("%s: unexpected %q %q", where, meta.APIVersion, meta.Kind)
		}
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		name := obj.(metav1.Object).GetName()
		for _, o := range m.Objects {
			if o.Kind == kind && o.Name == name {
				t.Fatalf("%s: a second %s %q (the first in %s)", where, kind, name, o.Where)
			}
		}
		m.Objects = append(m.Objects, Object{Kind: kind, Name: name, Where: where, Value: obj})
	}
}

// complete fails unless the set has what every deployment of mysqlgw has.
func (m *Manifests) complete(t testing.TB) {
	t.Helper()
	if m.ConfigMap == nil || m.Deployment == nil || len(m.Services) == 0 {
		t.Fatalf("want a ConfigMap, a Deployment and a Service, got %d objects: %+v", len(m.Objects), m.Objects)
	}
}

// once allocates the object a document decodes into, refusing a second one.
func once[T any](t testing.TB, where string, p **T) *T {
	t.Helper()
	if *p != nil {
		t.Fatalf("%s: a second %T", where, *p)
	}
	*p = new(T)
	return *p
}

// SplitDocuments splits a YAML stream at its "---" lines, dropping documents
// that hold only comments.
func SplitDocuments(content []byte) [][]byte {
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
	scanner.Buffer(nil, 1<<24)
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

// Corefile is what the checks need to know of the ConfigMap's Corefile.
type Corefile struct {
	Text    string
	Block   caddyfile.ServerBlock // the one server block
	Zone    string                // the zone of the block's key, with a final dot
	DNSPort int                   // from the block's key
	Plugins map[string][]string   // directive -> its arguments on the first line
}

// ParseCorefile parses the ConfigMap's Corefile, which must have one server
// block with a port (the image runs as non-root and cannot bind 53).
func ParseCorefile(t testing.TB, text string) Corefile {
	t.Helper()
	blocks, err := caddyfile.Parse("Corefile", strings.NewReader(text), nil)
	if err != nil {
		t.Fatalf("ConfigMap Corefile: %v", err)
	}
	if len(blocks) != 1 {
		t.Fatalf("ConfigMap Corefile: %d server blocks, want 1", len(blocks))
	}
	cf := Corefile{Text: text, Block: blocks[0], Plugins: map[string][]string{}}
	for _, key := range cf.Block.Keys {
		host, port, err := net.SplitHostPort(key)
		if err != nil {
			t.Fatalf("ConfigMap Corefile: server block %q names no port: the image runs as non-root and cannot bind 53", key)
		}
		cf.DNSPort, _ = strconv.Atoi(port)
		cf.Zone = strings.TrimSuffix(host, ".") + "."
	}
	for name, tokens := range cf.Block.Tokens {
		cf.Plugins[name] = lineArgs(tokens, 0)
	}
	return cf
}

// lineArgs is the words after tokens[i] on its line.
func lineArgs(tokens []caddyfile.Token, i int) []string {
	var args []string
	for _, tok := range tokens[i+1:] {
		if tok.Line != tokens[i].Line {
			break
		}
		args = append(args, tok.Text)
	}
	return args
}

// portOf is the port of a listen address the Corefile gives what.
func portOf(t testing.TB, what, addr string) int {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("ConfigMap Corefile: %s %s: %v", what, addr, err)
	}
	n, _ := strconv.Atoi(port)
	return n
}

// Corefile parses the ConfigMap's Corefile.
func (m Manifests) Corefile(t testing.TB) Corefile {
	t.Helper()
	return ParseCorefile(t, m.ConfigMap.Data["Corefile"])
}

// PluginPort is the port of a plugin's ":PORT" listen address.
func (cf Corefile) PluginPort(t testing.TB, name string) int {
	t.Helper()
	args, ok := cf.Plugins[name]
	if !ok {
		t.Fatalf("ConfigMap Corefile has no %s plugin", name)
	}
	if len(args) == 0 {
		t.Fatalf("ConfigMap Corefile: %s has no address; give it one such as :8080 so that the probes name it", name)
	}
	return portOf(t, name, args[0])
}

// Mysqlgw is the arguments of the mysqlgw block's property name, and whether
// the block has it.
func (cf Corefile) Mysqlgw(name string) ([]string, bool) {
	tokens := cf.Block.Tokens["mysqlgw"]
	for i := 1; i < len(tokens); i++ {
		if tokens[i].Text != name || tokens[i-1].Line == tokens[i].Line {
			continue // not the first word of a line
		}
		return lineArgs(tokens, i), true
	}
	return nil, false
}

// HTTPPort is the port of the mysqlgw block's http listener, or 0 without one.
func (cf Corefile) HTTPPort(t testing.TB) int {
	t.Helper()
	args, ok := cf.Mysqlgw("http")
	if !ok {
		return 0
	}
	if len(args) != 1 {
		t.Fatalf("ConfigMap Corefile: mysqlgw http %q, want one ADDRESS", args)
	}
	return portOf(t, "mysqlgw http", args[0])
}

// TransferHealth reports whether the mysqlgw block has transfer_health.
func (cf Corefile) TransferHealth() bool {
	_, ok := cf.Mysqlgw("transfer_health")
	return ok
}

// The pod's containers: the server, the sidecar that keeps its table current,
// and the init container that seeds that table.
const (
	ServerName = "coredns"
	FetchName  = "fetch"
	SeedName   = "seed"
	// TableFile is the file seed writes, fetch keeps and the server reads.
	TableFile = "/var/lib/mysqlgw/regions"
	// ConfigDir is where the ConfigMap is mounted.
	ConfigDir = "/etc/coredns"
)

// Server is the Deployment's CoreDNS container.
func (m Manifests) Server(t testing.TB) *corev1.Container {
	t.Helper()
	return FindContainer(t, m.Deployment.Spec.Template.Spec.Containers, ServerName)
}

// Fetches reports whether the pod keeps its own table: the server reads
// TableFile, which seed and fetch write. Otherwise it reads the ConfigMap's.
func (m Manifests) Fetches(t testing.TB) bool {
	t.Helper()
	return mysqlgwRegions(t, m.Corefile(t)) == TableFile
}

// FindContainer is the container called name.
func FindContainer(t testing.TB, cs []corev1.Container, name string) *corev1.Container {
	t.Helper()
	for i := range cs {
		if cs[i].Name == name {
			return &cs[i]
		}
	}
	t.Fatalf("Deployment has no container %s", name)
	return nil
}

// FlagValue is the value of the flag -name in args ("-name V" or "-name=V"),
// and whether it is there.
func FlagValue(args []string, name string) (string, bool) {
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

// ContainerPort resolves a probe's or Service's port, by name or number.
func ContainerPort(t testing.TB, c *corev1.Container, port intstr.IntOrString, proto corev1.Protocol) int {
	t.Helper()
	if p, ok := containerPort(c, port, proto); ok {
		return p
	}
	t.Fatalf("container %s has no %s port %s", c.Name, proto, port.String())
	return 0
}

func containerPort(c *corev1.Container, port intstr.IntOrString, proto corev1.Protocol) (int, bool) {
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	for _, p := range c.Ports {
		proto2 := p.Protocol
		if proto2 == "" {
			proto2 = corev1.ProtocolTCP
		}
		if proto2 != proto {
			continue
		}
		if (port.Type == intstr.String && p.Name == port.StrVal) || (port.Type == intstr.Int && p.ContainerPort == port.IntVal) {
			return int(p.ContainerPort), true
		}
	}
	return 0, false
}

// mysqlgwRegions is the path of the mysqlgw block's regions file.
func mysqlgwRegions(t testing.TB, cf Corefile) string {
	t.Helper()
	args, ok := cf.Mysqlgw("regions")
	if !ok || len(args) != 1 {
		t.Fatalf("ConfigMap Corefile: mysqlgw has no regions FILE (%q)", args)
	}
	return args[0]
}

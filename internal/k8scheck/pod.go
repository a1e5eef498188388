package k8scheck

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
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

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"

	"github.com/mysqlgw/mysqlgw/internal/testutil"
)

// Pod is the Deployment's pod run on this machine by StartPod: each volume
// a temporary folder, each listener on a free loopback port, the image's
// binaries in a folder of their own.
type Pod struct {
	t        testing.TB
	m        Manifests
	bin      string
	root     string
	volumes  map[string]string // volume name -> folder
	ports    map[int]int       // container port -> loopback port
	Corefile Corefile          // the ConfigMap's, as written
	Server   *testutil.Process
	DNS      string // 127.0.0.1:PORT, where the DNS Service's target listens
	HTTP     string // http://127.0.0.1:PORT of the HTTP Service's target, or ""
	Region   Region // the first region of the ConfigMap's table
}

// StartPod runs the pod as the Deployment gives it, as the Deployment's user
// (ports moved to free loopback ones, each volume to a temporary folder): the
// seed init container, when there is one, fills the table volume from the
// ConfigMap; then the server starts on the ConfigMap's Corefile and passes
// the Deployment's readiness and liveness probes, answers DNS through the
// DNS Service's port from that table over UDP and TCP, and serves the HTTP
// Service's port the region's allow list. bin holds the image's binaries
// (BuildImageBinaries). Docker itself is not needed.
func StartPod(t testing.TB, m Manifests, bin string) *Pod {
	t.Helper()
	p := &Pod{t: t, m: m, bin: bin, root: Root(t), volumes: map[string]string{}, ports: map[int]int{}}
	pod := m.Deployment.Spec.Template.Spec

	// The pod's volumes: the ConfigMap's keys, and an emptyDir that, as the
	// kubelet makes it, anyone may write.
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
		p.volumes[v.Name] = dir
	}

	server := m.Server(t)
	cf := m.Corefile(t)
	p.Corefile = cf
	listeners := []int{cf.DNSPort, cf.PluginPort(t, "ready"), cf.PluginPort(t, "health"), cf.PluginPort(t, "prometheus")}
	httpPort := cf.HTTPPort(t)
	if httpPort != 0 {
		listeners = append(listeners, httpPort)
	}
	for _, port := range listeners {
		p.ports[port] = testutil.FreePort(t)
	}
	// The server block's key and every ":PORT" listener move to a free port
	// of 127.0.0.1, and the server binds DNS to loopback only.
	corefile := cf.Text
	for _, key := range cf.Block.Keys {
		moved := strings.TrimSuffix(key, ":"+strconv.Itoa(cf.DNSPort)) + ":" + strconv.Itoa(p.ports[cf.DNSPort])
		corefile = strings.Replace(corefile, key, moved, 1)
	}
	listener := regexp.MustCompile(`(\s):(\d+)(\s)`)
	corefile = listener.ReplaceAllStringFunc(corefile, func(s string) string {
		sub := listener.FindStringSubmatch(s)
		n, _ := strconv.Atoi(sub[2])
		to, ok := p.ports[n]
		if !ok {
			t.Fatalf("the Corefile listens on :%d, which the test does not know", n)
		}
		return fmt.Sprintf("%s127.0.0.1:%d%s", sub[1], to, sub[3])
	})
	for _, vm := range server.VolumeMounts {
		corefile = strings.ReplaceAll(corefile, vm.MountPath+"/", p.volumes[vm.Name]+"/")
	}
	corefile = strings.Replace(corefile, "{\n", "{\n    bind 127.0.0.1\n", 1)
	for key, content := range m.ConfigMap.Data {
		if key == "Corefile" {
			content = corefile
		}
		if err := os.WriteFile(p.Local(server, ConfigDir+"/"+key), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// The init container, run to completion before the others start.
	table := p.Local(server, mysqlgwRegions(t, cf))
	for _, c := range pod.InitContainers {
		if out, err := p.Command(&c).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", c.Name, err, out)
		}
	}
	if got, err := os.ReadFile(table); err != nil || string(got) != m.ConfigMap.Data["regions"] {
		t.Fatalf("before the server starts, %s is not the ConfigMap's regions (%v)", table, err)
	}

	p.Server = testutil.Start(t, p.Command(server), 15*time.Second)

	// The probes, as the kubelet sends them.
	for _, probe := range []*corev1.Probe{server.ReadinessProbe, server.LivenessProbe} {
		port := p.ports[ContainerPort(t, server, probe.HTTPGet.Port, corev1.ProtocolTCP)]
		url := fmt.Sprintf("http://127.0.0.1:%d%s", port, probe.HTTPGet.Path)
		if _, err := p.get(url); err != nil {
			t.Fatalf("GET %s: %v, want 200 OK\n%s", url, err, p.Server.Out.String())
		}
	}

	// Where the Services send their clients.
	for _, s := range m.Services {
		for _, sp := range s.Spec.Ports {
			port := p.ports[ContainerPort(t, server, sp.TargetPort, sp.Protocol)]
			switch {
			case port == p.ports[cf.DNSPort]:
				p.DNS = fmt.Sprintf("127.0.0.1:%d", port)
			case httpPort != 0 && port == p.ports[httpPort]:
				p.HTTP = fmt.Sprintf("http://127.0.0.1:%d", port)
			}
		}
	}
	if p.DNS == "" {
		t.Fatal("no Service goes to the server's DNS port")
	}

	// A region from the ConfigMap's regions file, over UDP and TCP.
	p.Region = firstRegion(t, m.ConfigMap.Data["regions"])
	for _, network := range []string{"udp", "tcp"} {
		if got := TXT(t, network, p.DNS, p.Region.Name+"."+cf.Zone); !slices.Contains(got, p.Region.Text) {
			t.Errorf("%s.%s TXT over %s: %q, want %q among them", p.Region.Name, cf.Zone, network, got, p.Region.Text)
		}
	}
	// Its allow list over HTTP covers the same prefix.
	if p.HTTP != "" {
		body, err := p.get(p.HTTP + "/allow/" + p.Region.Name)
		if err != nil {
			t.Fatalf("GET /allow/%s: %v", p.Region.Name, err)
		}
		if !Covers(body, p.Region.Prefix) {
			t.Errorf("GET /allow/%s:\n%s\nwant a prefix that covers %s", p.Region.Name, body, p.Region.Prefix)
		}
	}
	return p
}

// Local is where container c sees path, on this machine.
func (p *Pod) Local(c *corev1.Container, path string) string {
	p.t.Helper()
	vm := mountOf(c, path)
	if vm == nil {
		p.t.Fatalf("container %s: %s is on no volume it mounts", c.Name, path)
	}
	return p.volumes[vm.Name] + strings.TrimPrefix(path, vm.MountPath)
}

// Command is container c's command, with extra arguments, its paths moved to
// this machine, to run as the pod's user.
func (p *Pod) Command(c *corev1.Container, extra ...string) *exec.Cmd {
	p.t.Helper()
	args := slices.Concat(c.Command, c.Args, extra)
	if len(c.Command) == 0 {
		args = slices.Concat([]string{"/" + imageEntrypoint}, args)
	}
	for i, a := range args {
		switch {
		case i == 0:
			args[i] = filepath.Join(p.bin, strings.TrimPrefix(a, "/")) // the image's binaries are at /
		case strings.HasPrefix(a, "/"):
			args[i] = p.Local(c, a)
		}
	}
	return p.asPodUser(exec.Command(args[0], args[1:]...))
}

// asPodUser runs cmd as the pod's user when the test can (as root), from /.
func (p *Pod) asPodUser(cmd *exec.Cmd) *exec.Cmd {
	cmd.Dir = "/"
	psc := p.m.Deployment.Spec.Template.Spec.SecurityContext
	if os.Geteuid() == 0 {
		uid, gid := *psc.RunAsUser, *psc.RunAsUser
		if psc.RunAsGroup != nil {
			gid = *psc.RunAsGroup
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	}
	return cmd
}

// get polls url until it answers 200 OK, while the server runs, and returns
// the body.
func (p *Pod) get(url string) (string, error) {
	var body []byte
	err := testutil.Poll(30*time.Second, p.Server.Exited, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return errors.New(resp.Status)
		}
		body, err = io.ReadAll(resp.Body)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("%w\n%s", err, p.Server.Out.String())
	}
	return string(body), nil
}

// Fetch runs the fetch sidecar as the Deployment gives it, against
// Microsoft on loopback: it downloads a changed table and keeps running,
// and the server serves the change; a restarted seed leaves fetch's table;
// SIGTERM ends the sidecar cleanly; a restarted sidecar refuses a shrunk
// table, logs it and keeps running, and the table stays.
func (p *Pod) Fetch(t testing.TB) {
	t.Helper()
	pod := p.m.Deployment.Spec.Template.Spec
	server := p.m.Server(t)
	table := p.Local(server, TableFile)
	zone := p.Corefile.Zone

	// Microsoft, on loopback, publishes the seed's table with one more range
	// in East US.
	page, err := os.ReadFile(filepath.Join(p.root, "testdata/import/sql-2026-include.md"))
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
	fetchC := FindContainer(t, pod.Containers, FetchName)
	fetch := p.Command(fetchC, "-url", microsoft.URL+"/gateway-ip-addresses.md")
	sidecar := testutil.Start(t, fetch, 15*time.Second)
	err = testutil.Poll(30*time.Second, sidecar.Exited, func() error {
		got := TXT(t, "udp", p.DNS, "eastus."+zone)
		if !slices.Contains(got, "subnet=20.42.66.0/29") {
			return fmt.Errorf("eastus TXT %q lacks subnet=20.42.66.0/29", got)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("the server does not serve what fetch wrote: %v\nfetch: %s\nserver: %s", err, sidecar.Out.String(), p.Server.Out.String())
	}
	if apex := TXT(t, "udp", p.DNS, zone); !slices.Contains(apex, "serial=2026051802") || !slices.Contains(apex, "source="+microsoft.URL+"/gateway-ip-addresses.md") {
		t.Errorf("apex TXT %q, want serial=2026051802 (the seed's + 1, same publication date) and the sidecar's source", apex)
	}
	if p.HTTP != "" {
		if body, err := p.get(p.HTTP + "/allow/eastus"); err != nil || !Covers(body, netip.MustParsePrefix("20.42.66.0/29")) {
			t.Errorf("GET /allow/eastus after fetch: %v\n%s\nwant 20.42.66.0/29 covered", err, body)
		}
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
	seed := FindContainer(t, pod.InitContainers, SeedName)
	if out, err := p.Command(seed).CombinedOutput(); err != nil || !strings.Contains(string(out), "left as it is") {
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
	shrunk, err := os.ReadFile(filepath.Join(p.root, "testdata/fetch/gateway-ip-addresses-shrunk.md"))
	if err != nil {
		t.Fatal(err)
	}
	serving.Store(&shrunk)
	fetch = p.Command(fetchC, "-url", microsoft.URL+"/gateway-ip-addresses.md")
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
	if got := TXT(t, "udp", p.DNS, "eastus."+zone); !slices.Contains(got, "subnet=20.42.66.0/29") {
		t.Errorf("after the refusal, eastus TXT %q lacks subnet=20.42.66.0/29", got)
	}
	select {
	case <-sidecar.Exited:
		t.Errorf("fetch exited after a refusal (%v), want it to wait for the next run:\n%s", fetch.ProcessState, sidecar.Out.String())
	default:
	}
}

// TXT queries name's TXT records at addr and returns their strings.
func TXT(t testing.TB, network, addr, name string) []string {
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

// Covers reports whether a list of prefixes, one a line, has one that holds
// all of want.
func Covers(list string, want netip.Prefix) bool {
	scanner := bufio.NewScanner(strings.NewReader(list))
	for scanner.Scan() {
		p, err := netip.ParsePrefix(strings.TrimSpace(scanner.Text()))
		if err == nil && p.Bits() <= want.Bits() && p.Contains(want.Addr()) {
			return true
		}
	}
	return false
}

// Region is a region's name, one string its TXT record must hold, and the
// prefix that string names.
type Region struct {
	Name, Text string
	Prefix     netip.Prefix
}

// firstRegion reads the first region line of the regions file, independently
// of the plugin's parser: its primary address or its first subnet.
func firstRegion(t testing.TB, content string) Region {
	t.Helper()
	for _, line := range strings.Split(content, "\n") {
		line, _, _ = strings.Cut(line, "#")
		switch f := strings.Fields(line); {
		case len(f) >= 3 && f[1] == "subnets":
			return Region{f[0], "subnet=" + f[2], netip.MustParsePrefix(f[2])}
		case len(f) >= 2 && !strings.HasPrefix(f[0], "$"):
			a := netip.MustParseAddr(f[1])
			return Region{f[0], "primary=" + f[1], netip.PrefixFrom(a, a.BitLen())}
		}
	}
	t.Fatal("ConfigMap regions file has no region")
	return Region{}
}

// Root is the root of the repository: the folder of mysqlgw's go.mod, above
// the test's working folder.
func Root(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && regexp.MustCompile(`(?m)^module github\.com/mysqlgw/mysqlgw$`).Match(gomod) {
			return dir
		}
		if parent := filepath.Dir(dir); parent != dir {
			dir = parent
			continue
		}
		t.Fatal("not inside mysqlgw's repository")
	}
}

// imageBinaries are what the image carries, at /NAME: the server (its
// entrypoint) and the command of the seed and fetch containers.
var imageBinaries = []string{imageEntrypoint, "mysqlgw-regions"}

const imageEntrypoint = "coredns"

// BuildImageBinaries runs the Dockerfile's build step: the RUN line that
// calls deploy/build-image-binary.sh, with its output folder moved to out,
// and returns out once every binary the image copies is there and static.
func BuildImageBinaries(t testing.TB, out string) string {
	t.Helper()
	root := Root(t)
	content, err := os.ReadFile(filepath.Join(root, "deploy/Dockerfile"))
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
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(gomod)
	if goVersion == nil || !strings.HasPrefix(builder, "golang:"+string(goVersion[1])+"-") {
		t.Errorf("Dockerfile builds on %q; want golang:%s-..., the Go of go.mod", builder, goVersion[1])
	}

	if err := os.Chmod(out, 0o755); err != nil {
		t.Fatal(err)
	}
	build := exec.Command("sh", run[0], out)
	build.Dir = root
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
func checkStatic(t testing.TB, path string) {
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

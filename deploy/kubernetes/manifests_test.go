// Package kubernetes holds the manifests that run mysqlgw in a cluster, and
// the test that keeps them honest with internal/k8scheck's checks, the ones
// the Helm chart's render passes too: every manifest decodes strictly into
// the Kubernetes API types, the Deployment, Services, PodDisruptionBudget and
// ConfigMap agree with each other, the ConfigMap's mysqlgw block and regions
// file pass the plugin's own setup, the seed init container and the fetch
// sidecar share the table volume the server reads, and the binaries that
// deploy/Dockerfile builds, with the command it builds them with, run as the
// pod runs them: seed fills the volume, the server serves the ConfigMap's
// Corefile, answers the probes the Deployment sends and the HTTP lists, and
// follows what fetch writes.
package kubernetes

import (
	"testing"

	"github.com/mysqlgw/mysqlgw/internal/k8scheck"
)

func load(t *testing.T) k8scheck.Manifests {
	t.Helper()
	return k8scheck.LoadFiles(t, "*.yaml")
}

// TestLayout: these manifests are the full layout: the pod keeps its own
// table with seed and fetch, serves the HTTP lists through a Service of their
// own, and has no NetworkPolicy (the chart has one to turn on).
func TestLayout(t *testing.T) {
	m := load(t)
	if !m.Fetches(t) {
		t.Error("the server does not read the table seed and fetch keep")
	}
	if m.Corefile(t).HTTPPort(t) == 0 {
		t.Error("the mysqlgw block has no http listener")
	}
	if m.NetworkPolicy != nil {
		t.Error("a NetworkPolicy: egress rules are the cluster's own; the chart's is optional")
	}
}

func TestDeployment(t *testing.T)          { k8scheck.CheckDeployment(t, load(t)) }
func TestTableVolume(t *testing.T)         { k8scheck.CheckTableVolume(t, load(t)) }
func TestServices(t *testing.T)            { k8scheck.CheckServices(t, load(t)) }
func TestPodDisruptionBudget(t *testing.T) { k8scheck.CheckPodDisruptionBudget(t, load(t)) }
func TestConfigMapMysqlgw(t *testing.T)    { k8scheck.CheckConfigMapMysqlgw(t, load(t)) }

// TestImageServesConfigMap builds the image's binaries with deploy/Dockerfile's
// own build command, checks that they are static, and runs the pod as the
// Deployment gives it (k8scheck.StartPod), then its fetch sidecar against a
// loopback Microsoft (Pod.Fetch).
func TestImageServesConfigMap(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the image's binaries")
	}
	m := load(t)
	pod := k8scheck.StartPod(t, m, k8scheck.BuildImageBinaries(t, t.TempDir()))
	pod.Fetch(t)
}

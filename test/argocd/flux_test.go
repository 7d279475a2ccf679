package argocd

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"
)

// Flux's kustomize-controller (`wait: true`, `healthChecks`) judges custom resources with
// kstatus (sigs.k8s.io/cli-utils), as do `kubectl wait --for=condition=Ready` users and
// kpt. The objects the Argo CD health checks are tested against (real, see
// TestTestdataIsReal) must get from kstatus what a Flux user expects: Current once the
// Secret holds a token for the current spec, InProgress while the operator works,
// Failed when it has stopped and needs a person.
var fluxWants = map[string]map[string]status.Status{
	"PersonalAccessToken": {
		"new":                 status.InProgressStatus, // not observed yet
		"issuing":             status.InProgressStatus,
		"backend-error":       status.InProgressStatus, // retrying on its own
		"ready":               status.CurrentStatus,
		"rotated":             status.CurrentStatus,
		"rotation-failing":    status.InProgressStatus, // Reconciling=True: kstatus waits (Argo CD: Healthy)
		"stalled-sso-account": status.FailedStatus,
		"old-generation":      status.InProgressStatus,
		"suspended":           status.CurrentStatus,
		"deleting":            status.TerminatingStatus,
	},
	"ServiceUser": {
		"new":                  status.InProgressStatus,
		"provisioning-error":   status.InProgressStatus,
		"ready":                status.CurrentStatus,
		"expiring-soon":        status.CurrentStatus,
		"stalled-unknown-role": status.FailedStatus,
		"stalled-while-ready":  status.FailedStatus,
		"old-generation":       status.InProgressStatus,
		"suspended":            status.CurrentStatus,
		"deleting":             status.TerminatingStatus,
	},
	"DevinAccount":        accountFluxWants("stalled-not-a-service-user"),
	"ClusterDevinAccount": accountFluxWants("stalled-namespace-not-allowed"),
}

// accountFluxWants are the kstatus expectations of an account kind's testdata: Current once
// its credential is known to work, InProgress while it is checked, Failed when it needs a
// person. stalled names the kind's own stalled state besides the common ones.
func accountFluxWants(stalled string) map[string]status.Status {
	return map[string]status.Status{
		"new":                    status.InProgressStatus,
		"ready":                  status.CurrentStatus,
		"expiring-soon":          status.CurrentStatus,
		"backend-error":          status.InProgressStatus, // retrying on its own
		"stalled-secret-missing": status.FailedStatus,
		"stalled-refused":        status.FailedStatus,
		stalled:                  status.FailedStatus,
		"old-generation":         status.InProgressStatus,
	}
}

func TestFluxStatus(t *testing.T) {
	for _, kind := range healthKinds() {
		dir := filepath.Join(kindDir(kind), "testdata")
		seen := 0
		for _, path := range testdataFiles(t, kind) {
			if filepath.Dir(path) != dir {
				continue // an action's input or output
			}
			name := strings.TrimSuffix(filepath.Base(path), ".yaml")
			want, ok := fluxWants[kind][name]
			if !ok {
				t.Errorf("%s: no kstatus expectation: add one to fluxWants", path)
				continue
			}
			seen++
			res, err := status.Compute(unstructuredObject(t, path))
			if err != nil {
				t.Errorf("%s: kstatus: %v", path, err)
				continue
			}
			if res.Status != want {
				t.Errorf("%s: kstatus says %s (%s), want %s", path, res.Status, res.Message, want)
			}
		}
		if seen != len(fluxWants[kind]) {
			t.Errorf("%s: %d objects in %s for %d expectations", kind, seen, dir, len(fluxWants[kind]))
		}
	}
}

// TestNewResourceIsInProgressForFlux: a resource just applied, before the operator has
// seen it, is what a real API server returns (the CRD defaults status.observedGeneration to
// 0), and kstatus reads it as InProgress: Flux's wait does not pass a credential before its
// token exists, nor an account before its credential is checked. Without the default,
// kstatus would call it Current.
func TestNewResourceIsInProgressForFlux(t *testing.T) {
	env := &envtest.Environment{CRDDirectoryPaths: []string{filepath.Join(root, "config", "crd", "bases")}, ErrorIfCRDPathMissing: true}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}}); err != nil {
		t.Fatal(err)
	}
	for _, kind := range healthKinds() {
		applied := unstructuredObject(t, filepath.Join(kindDir(kind), "testdata", "new.yaml"))
		applied.SetResourceVersion("")
		applied.SetUID("")
		unstructured.RemoveNestedField(applied.Object, "status")
		if err := c.Create(ctx, applied); err != nil {
			t.Fatalf("create %s: %v", kind, err)
		}
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(applied.GroupVersionKind())
		if err := c.Get(ctx, client.ObjectKeyFromObject(applied), got); err != nil {
			t.Fatal(err)
		}
		res, err := status.Compute(got)
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != status.InProgressStatus {
			t.Errorf("%s as the API server returns it before the operator has seen it: kstatus says %s (%s), want InProgress", kind, res.Status, res.Message)
		}
	}
}

// unstructuredObject reads an object as the API machinery decodes it (integers as int64,
// which kstatus requires).
func unstructuredObject(t *testing.T, path string) *unstructured.Unstructured {
	t.Helper()
	j, err := yaml.YAMLToJSON(readFile(t, path))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(j); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return u
}

// TestFluxExample: the GitOps page's Flux Kustomization waits for the resources' health
// (which TestFluxStatus shows kstatus reads), after the operator, with a timeout.
func TestFluxExample(t *testing.T) {
	doc := string(readFile(t, filepath.Join(root, "docs", "gitops.md")))
	m := regexp.MustCompile("(?s)<!-- flux-example -->\n```yaml\n(.*?)```").FindStringSubmatch(doc)
	if m == nil {
		t.Fatal("docs/gitops.md has no block marked <!-- flux-example -->")
	}
	var ks struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
		Spec struct {
			Interval  string `json:"interval"`
			Path      string `json:"path"`
			Prune     bool   `json:"prune"`
			Wait      bool   `json:"wait"`
			Timeout   string `json:"timeout"`
			DependsOn []struct {
				Name string `json:"name"`
			} `json:"dependsOn"`
			SourceRef struct {
				Kind string `json:"kind"`
				Name string `json:"name"`
			} `json:"sourceRef"`
		} `json:"spec"`
	}
	if err := yaml.UnmarshalStrict([]byte(m[1]), &ks); err != nil {
		t.Fatalf("the Flux example of docs/gitops.md: %v", err)
	}
	if ks.APIVersion != "kustomize.toolkit.fluxcd.io/v1" || ks.Kind != "Kustomization" {
		t.Errorf("the Flux example of docs/gitops.md is a %s %s, want a kustomize.toolkit.fluxcd.io/v1 Kustomization", ks.APIVersion, ks.Kind)
	}
	if !ks.Spec.Wait || ks.Spec.Timeout == "" || len(ks.Spec.DependsOn) == 0 || ks.Spec.SourceRef.Name == "" {
		t.Errorf("the Flux example of docs/gitops.md must wait for health (wait: true, a timeout) after the operator (dependsOn), from a source: %+v", ks.Spec)
	}
}

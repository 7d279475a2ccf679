package packaging_test

import (
	"bytes"
	"flag"
	"io"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/yaml"

	"github.com/cogtokens/token-operator/internal/operator"
)

// rendering is one way of installing the operator, as manifests.
type rendering struct {
	name      string
	namespace string
	objs      []*unstructured.Unstructured
	// certManager: the webhook certificate comes from cert-manager (else the operator makes
	// its own).
	certManager bool
}

func renderings(t *testing.T) []rendering {
	t.Helper()
	out := []rendering{{name: "bundle", namespace: bundleNamespace, objs: decode(t, installBundle(t)), certManager: true}}
	for _, v := range chartVariants {
		out = append(out, rendering{
			name: "chart/" + v.name, namespace: helmNamespace, objs: decode(t, helmTemplate(t, v)),
			certManager: slices.Contains(v.set, "webhook.certManager.enabled=true"),
		})
	}
	return out
}

// TestDeployment checks the manager Deployment of the bundle and of the chart: two replicas
// spread over nodes, the restricted security context, probes on 8081, resources, the pod
// namespace, flags the manager knows, and the webhook certificate mounted where it is read.
func TestDeployment(t *testing.T) {
	for _, r := range renderings(t) {
		t.Run(r.name, func(t *testing.T) {
			dep := one(t, r.objs, "Deployment", "controller-manager")
			if dep.GetNamespace() != r.namespace {
				t.Errorf("namespace %q, want %q", dep.GetNamespace(), r.namespace)
			}
			if n, _ := nestedOK[any](dep.Object, "spec", "replicas"); asInt(n) != 2 {
				t.Errorf("replicas %v, want 2", n)
			}
			pod := nested[map[string]any](t, dep.Object, "spec", "template", "spec")
			podLabels := nested[map[string]any](t, dep.Object, "spec", "template", "metadata", "labels")

			psc := nested[map[string]any](t, pod, "securityContext")
			expectValue(t, psc, true, "runAsNonRoot")
			expectValue(t, psc, "RuntimeDefault", "seccompProfile", "type")

			if _, ok := pod["topologySpreadConstraints"]; !ok {
				if _, ok := pod["affinity"].(map[string]any)["podAntiAffinity"]; !ok {
					t.Error("no topologySpreadConstraints and no podAntiAffinity: the replicas may share a node")
				}
			}

			containers := nested[[]any](t, pod, "containers")
			if len(containers) != 1 {
				t.Fatalf("%d containers, want 1", len(containers))
			}
			c := containers[0].(map[string]any)
			csc := nested[map[string]any](t, c, "securityContext")
			expectValue(t, csc, false, "allowPrivilegeEscalation")
			expectValue(t, csc, true, "readOnlyRootFilesystem")
			if drop, _ := nestedOK[[]any](csc, "capabilities", "drop"); !slices.Contains(drop, any("ALL")) {
				t.Errorf("capabilities.drop %v, want ALL", drop)
			}
			if _, ok := nestedOK[map[string]any](c, "resources", "requests"); !ok {
				t.Error("no resource requests")
			}
			if _, ok := nestedOK[map[string]any](c, "resources", "limits"); !ok {
				t.Error("no resource limits")
			}
			for probe, path := range map[string]string{"livenessProbe": "/healthz", "readinessProbe": "/readyz"} {
				get, ok := nestedOK[map[string]any](c, probe, "httpGet")
				if !ok {
					t.Errorf("no %s.httpGet", probe)
					continue
				}
				if get["path"] != path || containerPort(c, get["port"]) != 8081 {
					t.Errorf("%s: path %v port %v, want %s on 8081", probe, get["path"], get["port"], path)
				}
			}
			checkPodNamespaceEnv(t, c)

			args := stringList(t, c, "args")
			checkFlags(t, args)
			for _, want := range []string{"--credentials-secret-name=" + credentialsSecret, "--health-probe-bind-address=:8081", "--metrics-bind-address=:8443"} {
				if !slices.Contains(args, want) {
					t.Errorf("args %q lack %q", args, want)
				}
			}
			if !slices.Contains(args, "--leader-elect") && !slices.Contains(args, "--leader-elect=true") {
				t.Errorf("args %q: leader election is off", args)
			}

			checkWebhookCertMount(t, r, pod, c)
			checkPDB(t, r, podLabels)
		})
	}
}

// TestNoCredentialInManifests checks that neither the bundle nor the chart carries the admin
// credential: no Secret of that name, and no Secret with a value (the chart renders no
// certificate either: cert-manager or the operator makes it).
func TestNoCredentialInManifests(t *testing.T) {
	for _, r := range renderings(t) {
		t.Run(r.name, func(t *testing.T) {
			for _, s := range find(r.objs, "Secret", "") {
				if s.GetName() == credentialsSecret {
					t.Errorf("the manifests contain the credentials Secret %s", credentialsSecret)
				}
				_, hasData := s.Object["data"]
				_, hasString := s.Object["stringData"]
				if hasData || hasString {
					t.Errorf("Secret %s (type %v) carries a value", s.GetName(), s.Object["type"])
				}
			}
		})
	}
	for _, dir := range []string{"default", "samples", "prometheus", "network-policy", "tenancy/permissive-policy"} {
		if bytes.Contains(kustomizeBuild(t, dir), []byte("cog_")) {
			t.Errorf("config/%s contains what looks like a Devin API token (cog_)", dir)
		}
	}
}

// TestChartRBACMatchesGenerated: the chart's manager ClusterRole has exactly the rules that
// controller-gen wrote to config/rbac/role.yaml, and so has the bundle's.
func TestChartRBACMatchesGenerated(t *testing.T) {
	generated := decode(t, readFile(t, "config/rbac/role.yaml"))
	want := one(t, generated, "ClusterRole", "manager-role").Object["rules"]
	if want == nil {
		t.Fatal("config/rbac/role.yaml has no rules")
	}
	for _, r := range renderings(t) {
		got := one(t, r.objs, "ClusterRole", "-manager-role").Object["rules"]
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: manager ClusterRole rules differ from config/rbac/role.yaml (run `make helm-sync`):\ngot  %v\nwant %v", r.name, got, want)
		}
		binding := one(t, r.objs, "ClusterRoleBinding", "-manager-rolebinding")
		expectValue(t, binding.Object, one(t, r.objs, "ClusterRole", "-manager-role").GetName(), "roleRef", "name")
		sa := one(t, r.objs, "ServiceAccount", "controller-manager")
		subjects := nested[[]any](t, binding.Object, "subjects")
		if len(subjects) != 1 || subjects[0].(map[string]any)["name"] != sa.GetName() || subjects[0].(map[string]any)["namespace"] != r.namespace {
			t.Errorf("%s: manager binding subjects %v, want the ServiceAccount %s/%s", r.name, subjects, r.namespace, sa.GetName())
		}
		// Leader election is namespaced, in the operator's namespace.
		role := one(t, r.objs, "Role", "leader-election-role")
		if role.GetNamespace() != r.namespace {
			t.Errorf("%s: leader election Role in %q, want %q", r.name, role.GetNamespace(), r.namespace)
		}
	}
}

// TestWebhooksMatchGenerated: the bundle's and the chart's webhook configurations have the
// webhooks of config/webhook/manifests.yaml (rules, matchConditions, policies, paths), pointed
// at their own Service, with no caBundle (injected at run time by cert-manager or by the
// operator), and the chart's never call the webhook for its own namespace.
func TestWebhooksMatchGenerated(t *testing.T) {
	generated := decode(t, readFile(t, "config/webhook/manifests.yaml"))
	if len(generated) == 0 {
		t.Fatal("config/webhook/manifests.yaml has no webhook configuration")
	}
	if !bytes.Equal(readFile(t, "dist/chart/files/webhook-manifests.yaml"), readFile(t, "config/webhook/manifests.yaml")) {
		t.Error("dist/chart/files/webhook-manifests.yaml differs from config/webhook/manifests.yaml: run `make helm-sync`")
	}
	for _, r := range renderings(t) {
		t.Run(r.name, func(t *testing.T) {
			svc := one(t, r.objs, "Service", "webhook-service")
			for _, gen := range generated {
				cfg := one(t, r.objs, gen.GetKind(), gen.GetName())
				ann, injected := cfg.GetAnnotations()["cert-manager.io/inject-ca-from"]
				if r.certManager && ann != r.namespace+"/"+one(t, r.objs, "Certificate", "serving-cert").GetName() {
					t.Errorf("%s: cert-manager.io/inject-ca-from %q", cfg.GetName(), ann)
				}
				if !r.certManager && injected {
					t.Errorf("%s: cert-manager.io/inject-ca-from without cert-manager", cfg.GetName())
				}
				want := nested[[]any](t, gen.Object, "webhooks")
				got := nested[[]any](t, cfg.Object, "webhooks")
				if len(got) != len(want) {
					t.Fatalf("%s: %d webhooks, want %d", cfg.GetName(), len(got), len(want))
				}
				for i := range want {
					w, g := want[i].(map[string]any), got[i].(map[string]any)
					ref := nested[map[string]any](t, g, "clientConfig", "service")
					if ref["name"] != svc.GetName() || ref["namespace"] != r.namespace {
						t.Errorf("%s: service %v/%v, want %s/%s", g["name"], ref["namespace"], ref["name"], r.namespace, svc.GetName())
					}
					if ref["path"] != w["clientConfig"].(map[string]any)["service"].(map[string]any)["path"] {
						t.Errorf("%s: path %v", g["name"], ref["path"])
					}
					if _, ok := nested[map[string]any](t, g, "clientConfig")["caBundle"]; ok {
						t.Errorf("%s: a caBundle is rendered; it must be injected at run time (a sync would reset it)", g["name"])
					}
					if strings.HasPrefix(r.name, "chart") {
						sel, _ := yaml.Marshal(g["namespaceSelector"])
						if !strings.Contains(string(sel), "NotIn") || !strings.Contains(string(sel), "- "+r.namespace) {
							t.Errorf("%s: namespaceSelector does not exclude %s:\n%s", g["name"], r.namespace, sel)
						}
					}
					for _, field := range []string{"clientConfig", "namespaceSelector"} {
						w, g = without(w, field), without(g, field)
					}
					if !reflect.DeepEqual(g, w) {
						t.Errorf("webhook %v differs from config/webhook/manifests.yaml (run `make helm-sync`):\ngot  %v\nwant %v", w["name"], g, w)
					}
				}
			}
		})
	}
}

// TestChartLint: helm lint --strict is clean for both kinds of webhook certificates.
func TestChartLint(t *testing.T) {
	helm := tool(t, "helm")
	for _, v := range chartVariants {
		args := []string{"lint", "--strict", filepath.Join("dist", "chart"), "--namespace", helmNamespace}
		for _, s := range v.set {
			args = append(args, "--set", s)
		}
		out, err := run(t, 2*time.Minute, repoRoot(t), nil, helm, args...)
		if err != nil {
			t.Errorf("%s: %v", v.name, err)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, "[WARNING]") || strings.Contains(line, "[ERROR]") {
				t.Errorf("%s: %s", v.name, line)
			}
		}
	}
}

// TestKustomizations: the optional kustomizations build on their own.
func TestKustomizations(t *testing.T) {
	for dir, kinds := range map[string][]string{
		"prometheus":     {"ServiceMonitor"},
		"network-policy": {"NetworkPolicy", "NetworkPolicy", "NetworkPolicy"},
		"samples":        {"ClusterDevinAccount", "CredentialPolicy", "DevinAccount", "PersonalAccessToken", "ServiceUser"},
		// Opt-in, never in config/default (TestPermissivePolicyIsOptIn).
		"tenancy/permissive-policy": {"ClusterRole", "ClusterRoleBinding", "CredentialPolicy"},
	} {
		objs := decode(t, kustomizeBuild(t, dir))
		var got []string
		for _, o := range objs {
			got = append(got, o.GetKind())
		}
		slices.Sort(got)
		if !slices.Equal(got, kinds) {
			t.Errorf("config/%s: kinds %v, want %v", dir, got, kinds)
		}
	}
}

// TestProjectFile: PROJECT describes the project for the kubebuilder v4 CLI.
func TestProjectFile(t *testing.T) {
	var p struct {
		Domain      string   `json:"domain"`
		Layout      []string `json:"layout"`
		ProjectName string   `json:"projectName"`
		Repo        string   `json:"repo"`
		Version     string   `json:"version"`
		Resources   []struct {
			API struct {
				CRDVersion string `json:"crdVersion"`
				Namespaced bool   `json:"namespaced"`
			} `json:"api"`
			Controller bool   `json:"controller"`
			Domain     string `json:"domain"`
			Group      string `json:"group"`
			Kind       string `json:"kind"`
			Path       string `json:"path"`
			Version    string `json:"version"`
			Webhooks   struct {
				Defaulting     bool   `json:"defaulting"`
				Validation     bool   `json:"validation"`
				WebhookVersion string `json:"webhookVersion"`
			} `json:"webhooks"`
		} `json:"resources"`
	}
	if err := yaml.UnmarshalStrict(readFile(t, "PROJECT"), &p); err != nil {
		t.Fatalf("PROJECT: %v", err)
	}
	if p.Version != "3" || !slices.Equal(p.Layout, []string{"go.kubebuilder.io/v4"}) || p.Domain != "devin.ai" ||
		p.ProjectName != "token-operator" || p.Repo != "github.com/cogtokens/token-operator" {
		t.Errorf("PROJECT header: %+v", p)
	}
	// The credentials are namespaced and have validating webhooks; the policy and the cluster
	// account are cluster-scoped, and the policy and both accounts are validated by CEL alone.
	namespaced := map[string]bool{"ServiceUser": true, "PersonalAccessToken": true, "CredentialPolicy": false,
		"DevinAccount": true, "ClusterDevinAccount": false}
	kinds := map[string]bool{}
	for _, r := range p.Resources {
		kinds[r.Kind] = true
		credential := r.Kind == "ServiceUser" || r.Kind == "PersonalAccessToken"
		if r.Group != "iam" || r.Version != "v1alpha1" || r.Domain != "devin.ai" || !r.Controller ||
			r.API.CRDVersion != "v1" || r.API.Namespaced != namespaced[r.Kind] || r.Path != "github.com/cogtokens/token-operator/api/v1alpha1" ||
			r.Webhooks.Validation != credential || (credential && r.Webhooks.WebhookVersion != "v1") {
			t.Errorf("PROJECT resource %s: %+v", r.Kind, r)
		}
		if r.Webhooks.Defaulting != (r.Kind == "PersonalAccessToken") {
			t.Errorf("PROJECT resource %s: defaulting webhook %v", r.Kind, r.Webhooks.Defaulting)
		}
	}
	if len(p.Resources) != len(namespaced) || len(kinds) != len(namespaced) {
		t.Errorf("PROJECT resources %v, want %v", kinds, namespaced)
	}
	for kind := range namespaced {
		if !kinds[kind] {
			t.Errorf("PROJECT has no resource %s", kind)
		}
	}
}

// checkFlags parses the manager's arguments with the manager's own flags, so that a typo or a
// removed flag in the manifests fails here rather than in a crash-looping pod. It returns the
// options the manager would run with.
func checkFlags(t *testing.T, args []string) operator.Options {
	t.Helper()
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	opts := operator.DefaultOptions()
	opts.BindFlags(fs)
	zapOpts := zap.Options{}
	zapOpts.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Errorf("the manager rejects its arguments %q: %v", args, err)
	}
	if fs.NArg() != 0 {
		t.Errorf("stray arguments %q", fs.Args())
	}
	return opts
}

func checkPodNamespaceEnv(t *testing.T, c map[string]any) {
	t.Helper()
	env, _ := nestedOK[[]any](c, "env")
	for _, e := range env {
		e := e.(map[string]any)
		if e["name"] != "POD_NAMESPACE" {
			continue
		}
		if path, _ := nestedOK[string](e, "valueFrom", "fieldRef", "fieldPath"); path != "metadata.namespace" {
			t.Errorf("POD_NAMESPACE comes from %v, want the downward API metadata.namespace", e["valueFrom"])
		}
		return
	}
	t.Error("no POD_NAMESPACE environment variable")
}

// checkWebhookCertMount: the webhook certificate is where the manager reads it: cert-manager's
// Secret mounted read-only or, when the operator makes its own, a writable in-memory emptyDir
// that the operator fills from its Secret.
func checkWebhookCertMount(t *testing.T, r rendering, pod, c map[string]any) {
	t.Helper()
	var secretName string
	if r.certManager {
		cert := one(t, r.objs, "Certificate", "serving-cert")
		secretName, _ = nestedOK[string](cert.Object, "spec", "secretName")
	}
	volumes, _ := nestedOK[[]any](pod, "volumes")
	var volume string
	for _, v := range volumes {
		v := v.(map[string]any)
		name, _ := nestedOK[string](v, "secret", "secretName")
		medium, _ := nestedOK[string](v, "emptyDir", "medium")
		if (r.certManager && name == secretName) || (!r.certManager && medium == "Memory") {
			volume = v["name"].(string)
		}
	}
	if volume == "" {
		t.Fatalf("no volume of the webhook certificate (cert-manager: %v): %v", r.certManager, volumes)
	}
	mounts, _ := nestedOK[[]any](c, "volumeMounts")
	for _, m := range mounts {
		m := m.(map[string]any)
		if m["name"] == volume && m["mountPath"] == "/tmp/k8s-webhook-server/serving-certs" && m["readOnly"] == r.certManager {
			return
		}
	}
	t.Errorf("the webhook certificate is not mounted at /tmp/k8s-webhook-server/serving-certs (readOnly %v): %v", r.certManager, mounts)
}

// checkPDB: a PodDisruptionBudget keeps one replica of these pods.
func checkPDB(t *testing.T, r rendering, podLabels map[string]any) {
	t.Helper()
	pdb := one(t, r.objs, "PodDisruptionBudget", "controller-manager")
	if n, _ := nestedOK[any](pdb.Object, "spec", "minAvailable"); asInt(n) != 1 {
		t.Errorf("PodDisruptionBudget minAvailable %v, want 1", n)
	}
	sel := nested[map[string]any](t, pdb.Object, "spec", "selector", "matchLabels")
	for k, v := range sel {
		if podLabels[k] != v {
			t.Errorf("PodDisruptionBudget selects %s=%v, the pods have %v", k, v, podLabels[k])
		}
	}
}

// containerPort resolves a probe's port (a number or a port name) to a number.
func containerPort(c map[string]any, port any) int64 {
	if name, ok := port.(string); ok {
		ports, _ := nestedOK[[]any](c, "ports")
		for _, cp := range ports {
			if cp := cp.(map[string]any); cp["name"] == name {
				return asInt(cp["containerPort"])
			}
		}
		return 0
	}
	return asInt(port)
}

// asInt is a YAML number as an integer (-1 for anything else); YAML decodes to JSON numbers.
func asInt(v any) int64 {
	switch n := v.(type) {
	case int64:
		return n
	case float64:
		return int64(n)
	}
	return -1
}

func stringList(t *testing.T, m map[string]any, path ...string) []string {
	t.Helper()
	var out []string
	for _, v := range nested[[]any](t, m, path...) {
		out = append(out, v.(string))
	}
	return out
}

// nested returns the value at path, or fails.
func nested[T any](t testing.TB, m map[string]any, path ...string) T {
	t.Helper()
	v, ok := nestedOK[T](m, path...)
	if !ok {
		t.Fatalf("no %s", strings.Join(path, "."))
	}
	return v
}

func nestedOK[T any](m map[string]any, path ...string) (T, bool) {
	var zero T
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return zero, false
		}
		cur, ok = mm[p]
		if !ok {
			return zero, false
		}
	}
	v, ok := cur.(T)
	return v, ok
}

func expectValue(t *testing.T, m map[string]any, want any, path ...string) {
	t.Helper()
	got, _ := nestedOK[any](m, path...)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %v, want %v", strings.Join(path, "."), got, want)
	}
}

func without(m map[string]any, key string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if k != key {
			out[k] = v
		}
	}
	return out
}

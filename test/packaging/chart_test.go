package packaging_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// renderTimeFuncs are the template functions whose output depends on the cluster or on
// chance: a chart that calls them renders differently under Argo CD (helm template, no
// cluster) on every sync.
var renderTimeFuncs = regexp.MustCompile(`(\{\{-?|\(|\||:?=)\s*(lookup|genCA|genCAWithKey|genSignedCert|genSignedCertWithKey|genSelfSignedCert|genSelfSignedCertWithKey|genPrivateKey|randAlpha|randAlphaNum|randNumeric|randAscii|randBytes|randInt|uuidv4|now)\b`)

// TestChartRendersIdentically: with the default values, and with cert-manager, two renders
// give the same bytes, as Argo CD and Flux need: nothing is looked up in the cluster or
// generated at render time, so a sync never replaces the webhook CA. No certificate, Secret or
// caBundle is rendered: the operator (or cert-manager) makes and injects them at run time.
func TestChartRendersIdentically(t *testing.T) {
	for _, v := range []chartVariant{{name: "defaults"}, chartVariants[1]} {
		first, err := renderChart(t, v.set...)
		if err != nil {
			t.Fatal(err)
		}
		second, err := renderChart(t, v.set...)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first, second) {
			t.Errorf("%s: two renders differ at byte %d", v.name, firstDifference(first, second))
		}
		for _, o := range decode(t, first) {
			if o.GetKind() == "Secret" {
				t.Errorf("%s: renders the Secret %s", v.name, o.GetName())
			}
		}
		if bytes.Contains(first, []byte("caBundle")) {
			t.Errorf("%s: renders a caBundle", v.name)
		}
	}
	templates, _ := filepath.Glob(filepath.Join(repoRoot(t), "dist", "chart", "templates", "*"))
	for _, path := range templates {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if m := renderTimeFuncs.FindSubmatch(data); m != nil {
			t.Errorf("%s calls %s: its output would change from one render to the next", filepath.Base(path), m[2])
		}
	}
}

func firstDifference(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestChartOperatorCerts: without cert-manager the operator's flags name the chart's own
// Service and webhook configurations, and its extra ClusterRole lets it update those two and
// nothing else.
func TestChartOperatorCerts(t *testing.T) {
	objs := decode(t, helmTemplate(t, chartVariants[0]))
	args := managerArgs(t, objs)
	mutating := one(t, objs, "MutatingWebhookConfiguration", "").GetName()
	validating := one(t, objs, "ValidatingWebhookConfiguration", "").GetName()
	for flag, want := range map[string]string{
		"--webhook-cert-secret-name":       helmRelease + "-webhook-certs",
		"--webhook-service-name":           one(t, objs, "Service", "webhook-service").GetName(),
		"--mutating-webhook-config-name":   mutating,
		"--validating-webhook-config-name": validating,
	} {
		if got := flagValue(args, flag); got != want {
			t.Errorf("%s=%q, want %q", flag, got, want)
		}
	}
	if len(find(objs, "Certificate", "")) != 0 || len(find(objs, "Issuer", "")) != 0 {
		t.Error("cert-manager objects without cert-manager")
	}
	role := one(t, objs, "ClusterRole", "-webhook-certs-role")
	want := []any{
		map[string]any{"apiGroups": []any{"admissionregistration.k8s.io"}, "resources": []any{"mutatingwebhookconfigurations"},
			"resourceNames": []any{mutating}, "verbs": []any{"list", "watch", "update"}},
		map[string]any{"apiGroups": []any{"admissionregistration.k8s.io"}, "resources": []any{"validatingwebhookconfigurations"},
			"resourceNames": []any{validating}, "verbs": []any{"list", "watch", "update"}},
	}
	if got := role.Object["rules"]; !reflect.DeepEqual(got, want) {
		t.Errorf("webhook-certs ClusterRole rules:\ngot  %v\nwant %v", got, want)
	}
	binding := one(t, objs, "ClusterRoleBinding", "-webhook-certs-rolebinding")
	expectValue(t, binding.Object, role.GetName(), "roleRef", "name")
	subjects := nested[[]any](t, binding.Object, "subjects")
	if sa := one(t, objs, "ServiceAccount", "controller-manager"); len(subjects) != 1 || subjects[0].(map[string]any)["name"] != sa.GetName() {
		t.Errorf("webhook-certs binding subjects %v, want the ServiceAccount %s", subjects, sa.GetName())
	}
}

// TestChartWithCertManager: with webhook.certManager.enabled cert-manager issues the webhook
// and metrics certificates and injects the CA; the operator makes none and gets no right on
// the webhook configurations.
func TestChartWithCertManager(t *testing.T) {
	objs := decode(t, helmTemplate(t, chartVariants[1]))
	one(t, objs, "Issuer", "selfsigned-issuer")
	svc := one(t, objs, "Service", "webhook-service").GetName() + "." + helmNamespace + ".svc"
	cert := one(t, objs, "Certificate", "serving-cert")
	if names := stringList(t, cert.Object, "spec", "dnsNames"); !slices.Equal(names, []string{svc, svc + ".cluster.local"}) {
		t.Errorf("serving certificate DNS names %v", names)
	}
	one(t, objs, "Certificate", "metrics-certs")
	for _, a := range managerArgs(t, objs) {
		if strings.HasPrefix(a, "--webhook-cert-secret-name") || strings.HasSuffix(a, "-webhook-config-name") {
			t.Errorf("the operator makes its own certificates with cert-manager too: %s", a)
		}
	}
	if roles := find(objs, "ClusterRole", "-webhook-certs-role"); len(roles) != 0 {
		t.Error("a role on the webhook configurations that only cert-manager's cainjector needs")
	}
}

// TestChartCRDs: the CRDs are templates (so `helm upgrade` upgrades them), made from
// byte-for-byte copies of config/crd/bases in files/crds/, kept on uninstall unless
// crds.keep=false, and left out with crds.enabled=false.
func TestChartCRDs(t *testing.T) {
	root := repoRoot(t)
	if _, err := os.Stat(filepath.Join(root, "dist", "chart", "crds")); err == nil {
		t.Error("dist/chart/crds exists: Helm installs it once and never upgrades it (run `make helm-sync`)")
	}
	want, _ := filepath.Glob(filepath.Join(root, "config", "crd", "bases", "*.yaml"))
	got, _ := filepath.Glob(filepath.Join(root, "dist", "chart", "files", "crds", "*.yaml"))
	if len(want) == 0 {
		t.Fatal("no CRDs in config/crd/bases: run `make manifests`")
	}
	base := func(paths []string) (out []string) {
		for _, p := range paths {
			out = append(out, filepath.Base(p))
		}
		return out
	}
	if !slices.Equal(base(want), base(got)) {
		t.Fatalf("dist/chart/files/crds has %v, config/crd/bases has %v: run `make helm-sync`", base(got), base(want))
	}
	rendered := decode(t, helmTemplate(t, chartVariants[0]))
	for _, p := range want {
		rel := filepath.Join("dist", "chart", "files", "crds", filepath.Base(p))
		generated := readFile(t, filepath.Join("config", "crd", "bases", filepath.Base(p)))
		if !bytes.Equal(readFile(t, rel), generated) {
			t.Errorf("%s differs from config/crd/bases: run `make helm-sync`", rel)
		}
		gen := decode(t, generated)[0]
		crd := named(t, rendered, "CustomResourceDefinition", gen.GetName())
		if !reflect.DeepEqual(crd.Object["spec"], gen.Object["spec"]) {
			t.Errorf("the chart renders CRD %s with another spec than config/crd/bases", gen.GetName())
		}
		if crd.GetAnnotations()["helm.sh/resource-policy"] != "keep" {
			t.Errorf("CRD %s is not kept on uninstall", gen.GetName())
		}
	}
	for set, check := range map[string]func([]*unstructured.Unstructured) bool{
		"crds.keep=false": func(objs []*unstructured.Unstructured) bool {
			crds := find(objs, "CustomResourceDefinition", "")
			return len(crds) == len(want) && crds[0].GetAnnotations()["helm.sh/resource-policy"] == ""
		},
		"crds.enabled=false": func(objs []*unstructured.Unstructured) bool {
			return len(find(objs, "CustomResourceDefinition", "")) == 0
		},
	} {
		out, err := renderChart(t, set)
		if err != nil {
			t.Fatal(err)
		}
		if !check(decode(t, out)) {
			t.Errorf("%s: not rendered as documented", set)
		}
	}
}

// TestChartNetworkPolicy: the optional NetworkPolicy lets in only the webhook and metrics
// ports, and lets out only the API server (its CIDRs, 443 and 6443), the cluster DNS (53) and
// the Devin API (443); without the API server's CIDRs the chart refuses to render.
func TestChartNetworkPolicy(t *testing.T) {
	if n := find(decode(t, helmTemplate(t, chartVariants[0])), "NetworkPolicy", ""); len(n) != 0 {
		t.Error("a NetworkPolicy by default")
	}
	objs := decode(t, helmTemplate(t, chartVariants[2]))
	np := one(t, objs, "NetworkPolicy", "controller-manager")
	podLabels := nested[map[string]any](t, one(t, objs, "Deployment", "controller-manager").Object, "spec", "template", "metadata", "labels")
	for k, v := range nested[map[string]any](t, np.Object, "spec", "podSelector", "matchLabels") {
		if podLabels[k] != v {
			t.Errorf("the NetworkPolicy selects %s=%v, the pods have %v", k, v, podLabels[k])
		}
	}
	if types := stringList(t, np.Object, "spec", "policyTypes"); !slices.Equal(types, []string{"Ingress", "Egress"}) {
		t.Errorf("policyTypes %v", types)
	}
	if got := rulePorts(t, nested[[]any](t, np.Object, "spec", "ingress")); !reflect.DeepEqual(got, [][]string{{"TCP/9443"}, {"TCP/8443"}}) {
		t.Errorf("ingress ports %v, want the webhook's and the metrics'", got)
	}
	egress := nested[[]any](t, np.Object, "spec", "egress")
	if got := rulePorts(t, egress); !reflect.DeepEqual(got, [][]string{{"TCP/443", "TCP/6443"}, {"UDP/53", "TCP/53"}, {"TCP/443"}}) {
		t.Errorf("egress ports %v, want the API server, DNS and the Devin API", got)
	}
	var cidrs []string
	for _, peer := range nested[[]any](t, egress[0].(map[string]any), "to") {
		cidrs = append(cidrs, nested[string](t, peer.(map[string]any), "ipBlock", "cidr"))
	}
	if !slices.Equal(cidrs, []string{"10.0.0.10/32", "10.0.0.11/32"}) {
		t.Errorf("API server CIDRs %v", cidrs)
	}
	dns := nested[[]any](t, egress[1].(map[string]any), "to")[0].(map[string]any)
	expectValue(t, dns, "kube-system", "namespaceSelector", "matchLabels", "kubernetes.io/metadata.name")
	expectValue(t, dns, "kube-dns", "podSelector", "matchLabels", "k8s-app")

	_, err := renderChart(t, "networkPolicy.enabled=true")
	if err == nil || !strings.Contains(err.Error(), "networkPolicy.apiServer.cidrs is required") {
		t.Errorf("renders without the API server's CIDRs: %v", err)
	}
}

// rulePorts lists each rule's ports as protocol/port.
func rulePorts(t *testing.T, rules []any) [][]string {
	t.Helper()
	var out [][]string
	for _, r := range rules {
		var ports []string
		for _, p := range nested[[]any](t, r.(map[string]any), "ports") {
			p := p.(map[string]any)
			ports = append(ports, fmt.Sprintf("%v/%d", p["protocol"], asInt(p["port"])))
		}
		out = append(out, ports)
	}
	return out
}

// managerArgs are the manager container's arguments.
func managerArgs(t *testing.T, objs []*unstructured.Unstructured) []string {
	t.Helper()
	dep := one(t, objs, "Deployment", "controller-manager")
	c := nested[[]any](t, dep.Object, "spec", "template", "spec", "containers")[0].(map[string]any)
	return stringList(t, c, "args")
}

// flagValue is the value of --name=value in args, "" when absent.
func flagValue(args []string, name string) string {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	return ""
}

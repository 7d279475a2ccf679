package packaging_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"
)

// standInCRDs stand in for the CRDs of cert-manager and of the Prometheus Operator, which
// envtest does not have: they accept any content, so that the server's dry run gets past the
// Certificates, Issuers and ServiceMonitors and checks everything else.
const standInCRDs = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: certificates.cert-manager.io
spec:
  group: cert-manager.io
  names: {kind: Certificate, listKind: CertificateList, plural: certificates, singular: certificate}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: issuers.cert-manager.io
spec:
  group: cert-manager.io
  names: {kind: Issuer, listKind: IssuerList, plural: issuers, singular: issuer}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: servicemonitors.monitoring.coreos.com
spec:
  group: monitoring.coreos.com
  names: {kind: ServiceMonitor, listKind: ServiceMonitorList, plural: servicemonitors, singular: servicemonitor}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
`

// TestServerDryRun applies the install bundle, the chart (generated and cert-manager
// certificates) and the samples to a real API server with a server-side dry run: every object
// must pass the server's validation (schemas, CEL in the webhook matchConditions and in the
// CRDs, Pod Security admission of the restricted namespace), not only parse.
func TestServerDryRun(t *testing.T) {
	kubectl := startKubectl(t)

	if _, err := kubectl(t, []byte(standInCRDs), "apply", "--server-side", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	if _, err := kubectl(t, nil, "wait", "--for=condition=Established", "--timeout=60s",
		"crd/certificates.cert-manager.io", "crd/issuers.cert-manager.io", "crd/servicemonitors.monitoring.coreos.com"); err != nil {
		t.Fatal(err)
	}

	t.Run("bundle", func(t *testing.T) {
		bundle := installBundle(t)
		// The namespace must exist before the dry run of what goes in it.
		applyForReal(t, kubectl, bundle, "Namespace")
		dryRun(t, kubectl, bundle)
	})

	for _, v := range chartVariants {
		t.Run("chart/"+v.name, func(t *testing.T) {
			ns := []byte(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"` + helmNamespace +
				`","labels":{"pod-security.kubernetes.io/enforce":"restricted"}}}`)
			if _, err := kubectl(t, ns, "apply", "--server-side", "-f", "-"); err != nil {
				t.Fatal(err)
			}
			dryRun(t, kubectl, helmTemplate(t, v))
		})
	}

	t.Run("samples", func(t *testing.T) {
		// The samples need the CRDs for real (their schemas and CEL rules validate them).
		applyForReal(t, kubectl, installBundle(t), "CustomResourceDefinition")
		if _, err := kubectl(t, nil, "wait", "--for=condition=Established", "--timeout=60s",
			"crd/personalaccesstokens.iam.devin.ai", "crd/serviceusers.iam.devin.ai", "crd/credentialpolicies.iam.devin.ai",
			"crd/devinaccounts.iam.devin.ai", "crd/clusterdevinaccounts.iam.devin.ai"); err != nil {
			t.Fatal(err)
		}
		if _, err := kubectl(t, nil, "create", "namespace", "team-a"); err != nil {
			t.Fatal(err)
		}
		out, err := kubectl(t, kustomizeBuild(t, "samples"), "apply", "--server-side", "--dry-run=server", "-n", "team-a", "-f", "-")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s", out)
	})

	// The opt-in permissive policy, of the chart (with a delegate group) and of
	// config/tenancy/permissive-policy, passes the CredentialPolicy CRD's schema and CEL rules.
	t.Run("permissive-policy", func(t *testing.T) {
		applyForReal(t, kubectl, installBundle(t), "CustomResourceDefinition")
		if _, err := kubectl(t, nil, "wait", "--for=condition=Established", "--timeout=60s", "crd/credentialpolicies.iam.devin.ai"); err != nil {
			t.Fatal(err)
		}
		dryRun(t, kubectl, kustomizeBuild(t, "tenancy/permissive-policy"))
		chart, err := renderChartArgs(t, "--show-only", "templates/permissive-policy.yaml",
			"--set", "tenancy.permissivePolicy.enabled=true", "--set", "tenancy.permissivePolicy.delegateGroups={gitops}")
		if err != nil {
			t.Fatal(err)
		}
		dryRun(t, kubectl, chart)
	})
}

// kubectlFunc runs kubectl against the test's API server with stdin; it returns stdout and
// fails on a non-zero exit or a warning.
type kubectlFunc func(t *testing.T, stdin []byte, args ...string) ([]byte, error)

// startKubectl starts a control plane without CRDs and returns a kubectl for it as a cluster
// admin.
func startKubectl(t *testing.T) kubectlFunc {
	t.Helper()
	_, kubectl := startControlPlane(t)
	return kubectl
}

// startControlPlane starts a control plane without CRDs and returns a cluster admin's REST
// config and kubectl.
func startControlPlane(t *testing.T) (*rest.Config, kubectlFunc) {
	t.Helper()
	kubectlBin, err := exec.LookPath("kubectl")
	if err != nil {
		kubectlBin = "/usr/bin/kubectl"
	}
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		// `make test` sets it; `go test` alone gets it from the same script.
		out, err := run(t, 30*time.Minute, repoRoot(t), nil, filepath.Join(repoRoot(t), "hack", "setup-envtest.sh"), "--print-path")
		if err != nil {
			t.Fatalf("envtest binaries: %v", err)
		}
		t.Setenv("KUBEBUILDER_ASSETS", strings.TrimSpace(string(out)))
	}
	env := &envtest.Environment{}
	if _, err := env.Start(); err != nil {
		t.Fatalf("start envtest: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Logf("stop envtest: %v", err)
		}
	})
	admin, err := env.AddUser(envtest.User{Name: "packaging-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatalf("add admin user: %v", err)
	}
	kubeconfig, err := admin.KubeConfig()
	if err != nil {
		t.Fatalf("admin kubeconfig: %v", err)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, kubeconfig, 0o600); err != nil {
		t.Fatal(err)
	}
	return admin.Config(), func(t *testing.T, stdin []byte, args ...string) ([]byte, error) {
		t.Helper()
		full := append([]string{"--kubeconfig", path}, args...)
		if args[0] == "apply" {
			full = append(full, "--field-manager=packaging-test")
		}
		stdout, stderr, err := runSplit(2*time.Minute, repoRoot(t), stdin, kubectlBin, full...)
		if err != nil {
			return stdout, &kubectlError{args: args, err: err, stderr: stderr}
		}
		// Warnings are failures: a deprecated API, an unknown field, or a pod template that
		// the namespace's Pod Security level would refuse.
		if w := strings.TrimSpace(string(stderr)); w != "" {
			t.Errorf("kubectl %s warns:\n%s", strings.Join(args, " "), w)
		}
		return stdout, nil
	}
}

type kubectlError struct {
	args   []string
	err    error
	stderr []byte
}

func (e *kubectlError) Error() string {
	return "kubectl " + strings.Join(e.args, " ") + ": " + e.err.Error() + "\n" + string(e.stderr)
}

// applyForReal creates the objects of one kind from a manifest stream.
func applyForReal(t *testing.T, kubectl kubectlFunc, manifests []byte, kind string) {
	t.Helper()
	var buf bytes.Buffer
	for _, o := range decode(t, manifests) {
		if o.GetKind() != kind {
			continue
		}
		data, err := yaml.Marshal(o.Object)
		if err != nil {
			t.Fatal(err)
		}
		buf.WriteString("---\n")
		buf.Write(data)
	}
	if buf.Len() == 0 {
		t.Fatalf("no %s in the manifests", kind)
	}
	if _, err := kubectl(t, buf.Bytes(), "apply", "--server-side", "-f", "-"); err != nil {
		t.Fatal(err)
	}
}

// dryRun applies a manifest stream with a server-side dry run and checks that the server
// accepted every object.
func dryRun(t *testing.T, kubectl kubectlFunc, manifests []byte) {
	t.Helper()
	out, err := kubectl(t, manifests, "apply", "--server-side", "--dry-run=server", "-f", "-")
	if err != nil {
		t.Fatal(err)
	}
	objs := decode(t, manifests)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(objs) {
		t.Errorf("the server answered for %d objects, the manifests have %d:\n%s", len(lines), len(objs), out)
	}
	for _, o := range objs {
		if !strings.Contains(string(out), strings.ToLower(kindResource(o))+"/"+o.GetName()+" ") {
			t.Errorf("no answer for %s %s:\n%s", o.GetKind(), o.GetName(), out)
		}
	}
}

// kindResource is how kubectl names an object's kind in its output ("deployment.apps").
func kindResource(o *unstructured.Unstructured) string {
	gv := o.GroupVersionKind()
	if gv.Group == "" {
		return gv.Kind
	}
	return gv.Kind + "." + gv.Group
}

package packaging_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/cogtokens/token-operator/internal/operator"
)

// TestOperatorWebhookCerts installs the chart's default rendering (CRDs, RBAC, Service,
// webhook configurations) on a real API server and runs two replicas of the operator with the
// chart's arguments, as the chart's ServiceAccount: they must agree on one certificate in one
// Secret, inject its CA into both webhook configurations, become ready, and serve that
// certificate, trusted by the injected CA, for the Service's name. Nothing is refused: the
// chart's RBAC suffices (list and watch by name work with resourceNames).
func TestOperatorWebhookCerts(t *testing.T) {
	admin, kubectl := startControlPlane(t)
	objs := decode(t, helmTemplate(t, chartVariants[0]))
	ns := []byte(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"` + helmNamespace + `"}}`)
	if _, err := kubectl(t, ns, "apply", "--server-side", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	var install bytes.Buffer
	for _, o := range objs {
		switch o.GetKind() {
		case "CustomResourceDefinition", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding",
			"Service", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration":
			data, err := yaml.Marshal(o.Object)
			if err != nil {
				t.Fatal(err)
			}
			install.WriteString("---\n")
			install.Write(data)
		}
	}
	if _, err := kubectl(t, install.Bytes(), "apply", "--server-side", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	if _, err := kubectl(t, nil, "wait", "--for=condition=Established", "--timeout=60s",
		"crd/personalaccesstokens.iam.devin.ai", "crd/serviceusers.iam.devin.ai"); err != nil {
		t.Fatal(err)
	}
	sa := one(t, objs, "ServiceAccount", "controller-manager").GetName()
	asSA := rest.CopyConfig(admin)
	asSA.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + helmNamespace + ":" + sa,
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + helmNamespace, "system:authenticated"},
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var replicas []replica
	for range 2 {
		r := replica{webhookPort: freePort(t), probePort: freePort(t)}
		replicas = append(replicas, r)
		mgr, err := operator.NewManager(asSA, replicaOptions(t, managerArgs(t, objs), r.webhookPort, r.probePort))
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- mgr.Start(ctx) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("manager: %v", err)
			}
		})
	}

	c, err := client.New(admin, client.Options{Scheme: operator.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(90 * time.Second)
	var last error
	for {
		if last = checkServedCertificates(ctx, c, replicas); last == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 90s: %v", last)
		}
		time.Sleep(time.Second)
	}
}

// replica is one operator process of the test: its webhook and probe ports.
type replica struct{ webhookPort, probePort int }

// replicaOptions are the options of the chart's arguments, with this test's ports and a
// certificate directory of its own.
func replicaOptions(t *testing.T, args []string, webhookPort, probePort int) operator.Options {
	t.Helper()
	t.Setenv("POD_NAMESPACE", helmNamespace)
	o := operator.DefaultOptions()
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o.BindFlags(fs)
	fs.String("zap-log-level", "", "")
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	o.LeaderElect, o.MetricsAddr = false, "0"
	o.ProbeAddr = "127.0.0.1:" + strconv.Itoa(probePort)
	o.WebhookHost, o.WebhookPort, o.WebhookCertDir = "127.0.0.1", webhookPort, t.TempDir()
	o.SkipNameValidation = true
	return o
}

// checkServedCertificates: one Secret, its CA in every webhook, every replica ready and
// serving the Secret's certificate for the Service's name.
func checkServedCertificates(ctx context.Context, c client.Client, replicas []replica) error {
	sec := &corev1.Secret{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: helmNamespace, Name: helmRelease + "-webhook-certs"}, sec); err != nil {
		return err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(sec.Data["ca.crt"]) {
		return fmt.Errorf("no CA in the Secret")
	}
	var bundles [][]byte
	m := &admissionregistrationv1.MutatingWebhookConfiguration{}
	if err := c.Get(ctx, client.ObjectKey{Name: helmRelease + "-mutating-webhook-configuration"}, m); err != nil {
		return err
	}
	for _, w := range m.Webhooks {
		bundles = append(bundles, w.ClientConfig.CABundle)
	}
	v := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	if err := c.Get(ctx, client.ObjectKey{Name: helmRelease + "-validating-webhook-configuration"}, v); err != nil {
		return err
	}
	for _, w := range v.Webhooks {
		bundles = append(bundles, w.ClientConfig.CABundle)
	}
	for _, b := range bundles {
		if !bytes.Equal(b, sec.Data["ca.crt"]) {
			return fmt.Errorf("a caBundle is not the Secret's CA")
		}
	}
	serverName := helmRelease + "-webhook-service." + helmNamespace + ".svc"
	for _, r := range replicas {
		resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(r.probePort) + "/readyz/webhook-certs")
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("replica on %d: readyz/webhook-certs %d", r.webhookPort, resp.StatusCode)
		}
		conn, err := tls.Dial("tcp", "127.0.0.1:"+strconv.Itoa(r.webhookPort), &tls.Config{RootCAs: roots, ServerName: serverName})
		if err != nil {
			return fmt.Errorf("replica on %d: %w", r.webhookPort, err)
		}
		served := conn.ConnectionState().PeerCertificates[0].Raw
		_ = conn.Close()
		if want, _ := pem.Decode(sec.Data["tls.crt"]); want == nil || !bytes.Equal(served, want.Bytes) {
			return fmt.Errorf("replica on %d serves another certificate than the Secret's", r.webhookPort)
		}
	}
	return nil
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

package certs

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

const (
	testCertNS     = "ops"
	testCertSecret = "webhook-certs"
	testDNSName    = "webhook-service.ops.svc"
)

var testCertsStart = time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)

// testWebhookConfigs are a mutating configuration with one webhook and a validating one with
// two, without a CA, as the chart renders them.
func testWebhookConfigs() []client.Object {
	svc := func(path string) admissionregistrationv1.WebhookClientConfig {
		return admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{Namespace: testCertNS, Name: "webhook-service", Path: &path}}
	}
	return []client.Object{
		&admissionregistrationv1.MutatingWebhookConfiguration{
			ObjectMeta: metav1.ObjectMeta{Name: "mutating"},
			Webhooks:   []admissionregistrationv1.MutatingWebhook{{Name: "m.iam.devin.ai", ClientConfig: svc("/m")}},
		},
		&admissionregistrationv1.ValidatingWebhookConfiguration{
			ObjectMeta: metav1.ObjectMeta{Name: "validating"},
			Webhooks: []admissionregistrationv1.ValidatingWebhook{
				{Name: "v1.iam.devin.ai", ClientConfig: svc("/v1")}, {Name: "v2.iam.devin.ai", ClientConfig: svc("/v2")},
			},
		},
	}
}

// newTestWebhookCerts is one replica's loop on c, with its own certificate directory.
func newTestWebhookCerts(t *testing.T, c client.Client, clk *clocktesting.FakePassiveClock) *webhookCerts {
	t.Helper()
	w := newWebhookCerts(Config{
		SecretNamespace: testCertNS, SecretName: testCertSecret, ServiceName: "webhook-service",
		CertDir: t.TempDir(), CertName: "tls.crt", KeyName: "tls.key",
		MutatingConfig: "mutating", ValidatingConfig: "validating", Clock: clk,
	})
	w.reader, w.writer = c, c
	return w
}

func newFakeCluster(objs ...client.Object) client.WithWatch {
	return fake.NewClientBuilder().WithScheme(clientgoscheme.Scheme).WithObjects(objs...).Build()
}

func getSecret(t *testing.T, c client.Client) *corev1.Secret {
	t.Helper()
	sec := &corev1.Secret{}
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: testCertNS, Name: testCertSecret}, sec); err != nil {
		t.Fatal(err)
	}
	return sec
}

// injected returns the caBundle of every webhook of both configurations.
func injected(t *testing.T, c client.Client) [][]byte {
	t.Helper()
	var out [][]byte
	for _, proto := range testWebhookConfigs() {
		obj := proto.DeepCopyObject().(client.Object)
		if err := c.Get(context.Background(), client.ObjectKeyFromObject(proto), obj); err != nil {
			t.Fatal(err)
		}
		for _, b := range caBundles(obj) {
			out = append(out, *b)
		}
	}
	return out
}

// served is the certificate in the replica's directory, checked to be trusted by every
// injected caBundle for the Service's name.
func served(t *testing.T, c client.Client, w *webhookCerts) *x509.Certificate {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(w.certFile, w.keyFile)
	if err != nil {
		t.Fatalf("the webhook server cannot load its certificate: %v", err)
	}
	for _, b := range injected(t, c) {
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(b)
		if _, err := pair.Leaf.Verify(x509.VerifyOptions{DNSName: testDNSName, Roots: roots, CurrentTime: w.clock.Now()}); err != nil {
			t.Errorf("the API server would not trust the served certificate: %v", err)
		}
	}
	return pair.Leaf
}

func TestWebhookCertsFirstSync(t *testing.T) {
	c := newFakeCluster(testWebhookConfigs()...)
	w := newTestWebhookCerts(t, c, clocktesting.NewFakePassiveClock(testCertsStart))
	if w.ReadyCheck(nil) == nil {
		t.Fatal("ready before the first sync")
	}
	next, err := w.sync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	sec := getSecret(t, c)
	if sec.Type != corev1.SecretTypeTLS || len(sec.Data[caKeyKey]) == 0 {
		t.Errorf("Secret type %s, keys %v", sec.Type, len(sec.Data))
	}
	for _, b := range injected(t, c) {
		if !bytes.Equal(b, sec.Data[caCertKey]) {
			t.Error("a webhook's caBundle is not the Secret's ca.crt")
		}
	}
	cert := served(t, c, w)
	if !bytes.Equal(cert.Raw, parseCerts(sec.Data[corev1.TLSCertKey])[0].Raw) {
		t.Error("the served certificate is not the Secret's")
	}
	if want := []string{testDNSName, testDNSName + ".cluster.local"}; !slices.Equal(cert.DNSNames, want) {
		t.Errorf("DNS names %v, want %v", cert.DNSNames, want)
	}
	if want := testCertsStart.Add(webhookServingValidity); !cert.NotAfter.Equal(want) {
		t.Errorf("expires %v, want %v", cert.NotAfter, want)
	}
	if want := renewAt(cert); !next.Equal(want) || next.Before(testCertsStart.Add(59*24*time.Hour)) {
		t.Errorf("next sync %v, want the renewal %v, two months on", next, want)
	}
	if err := w.ReadyCheck(nil); err != nil {
		t.Errorf("not ready after the certificate is served: %v", err)
	}
}

// Every replica serves the Secret's certificate; only the first one writes.
func TestWebhookCertsReplicasShareOneCertificate(t *testing.T) {
	c := newFakeCluster(testWebhookConfigs()...)
	clk := clocktesting.NewFakePassiveClock(testCertsStart)
	a, b := newTestWebhookCerts(t, c, clk), newTestWebhookCerts(t, c, clk)
	if _, err := a.sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	rv := getSecret(t, c).ResourceVersion
	if _, err := b.sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := getSecret(t, c).ResourceVersion; got != rv {
		t.Errorf("the second replica rewrote a valid Secret (resourceVersion %s -> %s)", rv, got)
	}
	if !served(t, c, a).Equal(served(t, c, b)) {
		t.Error("the replicas serve different certificates")
	}
}

// A replica that read a stale Secret loses the race to write and gets the error that makes
// it wait for its watch.
func TestWebhookCertsLosingTheRace(t *testing.T) {
	for name, tc := range map[string]struct {
		stale    func(t *testing.T, c client.Client) []client.Object // what the loser's cache holds
		advance  time.Duration
		wantKind func(error) bool
	}{
		"both find no Secret": {
			stale:    func(*testing.T, client.Client) []client.Object { return nil },
			wantKind: apierrors.IsAlreadyExists,
		},
		"both renew the same Secret": {
			stale: func(t *testing.T, c client.Client) []client.Object {
				return []client.Object{getSecret(t, c)}
			},
			advance:  61 * 24 * time.Hour,
			wantKind: apierrors.IsConflict,
		},
	} {
		t.Run(name, func(t *testing.T) {
			c := newFakeCluster(testWebhookConfigs()...)
			clk := clocktesting.NewFakePassiveClock(testCertsStart)
			winner := newTestWebhookCerts(t, c, clk)
			if _, err := winner.sync(context.Background()); err != nil {
				t.Fatal(err)
			}
			stale := tc.stale(t, c)
			clk.SetTime(testCertsStart.Add(tc.advance))
			if tc.advance > 0 {
				if _, err := winner.sync(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			want := getSecret(t, c)
			loser := newTestWebhookCerts(t, c, clk)
			loser.reader = newFakeCluster(append(stale, testWebhookConfigs()...)...)
			_, err := loser.sync(context.Background())
			if !tc.wantKind(err) {
				t.Fatalf("sync: %v", err)
			}
			if got := getSecret(t, c); !bytes.Equal(got.Data[corev1.TLSCertKey], want.Data[corev1.TLSCertKey]) {
				t.Error("the loser overwrote the winner's certificate")
			}
			loser.reader = c // its watch brings the winner's Secret
			if _, err := loser.sync(context.Background()); err != nil {
				t.Fatal(err)
			}
			if !served(t, c, loser).Equal(served(t, c, winner)) {
				t.Error("the loser does not serve the winner's certificate")
			}
		})
	}
}

// The serving certificate is renewed under the same CA; the CA is renewed with an overlap in
// which both the previous and the new serving certificates are trusted.
func TestWebhookCertsRenewal(t *testing.T) {
	c := newFakeCluster(testWebhookConfigs()...)
	clk := clocktesting.NewFakePassiveClock(testCertsStart)
	w := newTestWebhookCerts(t, c, clk)
	if _, err := w.sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	first := served(t, c, w)
	ca := getSecret(t, c).Data[caCertKey]

	clk.SetTime(testCertsStart.Add(59 * 24 * time.Hour))
	if _, err := w.sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !served(t, c, w).Equal(first) {
		t.Error("renewed a month before its time")
	}
	clk.SetTime(testCertsStart.Add(61 * 24 * time.Hour))
	if _, err := w.sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	second := served(t, c, w)
	if second.Equal(first) || !bytes.Equal(getSecret(t, c).Data[caCertKey], ca) {
		t.Error("want a new serving certificate under the same CA")
	}

	caRenewal := testCertsStart.Add(-certBackdate).Add(webhookCAValidity * 2 / 3)
	clk.SetTime(caRenewal.Add(-24 * time.Hour))
	if _, err := w.sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	previous := served(t, c, w)
	if !bytes.Equal(getSecret(t, c).Data[caCertKey], ca) {
		t.Fatal("a new CA a day before its renewal")
	}
	clk.SetTime(caRenewal.Add(time.Hour))
	if _, err := w.sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	third := served(t, c, w)
	trusted := parseCerts(getSecret(t, c).Data[caCertKey])
	if len(trusted) != 2 || !bytes.Equal(trusted[1].Raw, parseCerts(ca)[0].Raw) {
		t.Fatalf("after a new CA, ca.crt has %d CAs, want the new one and the previous one", len(trusted))
	}
	if third.CheckSignatureFrom(trusted[0]) != nil {
		t.Error("the new serving certificate is not signed by the new CA")
	}
	for _, b := range injected(t, c) {
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(b)
		if _, err := previous.Verify(x509.VerifyOptions{DNSName: testDNSName, Roots: roots, CurrentTime: clk.Now()}); err != nil {
			t.Errorf("replicas that still serve the previous certificate are refused: %v", err)
		}
	}
}

// A replica serves a certificate only once the API server trusts it.
func TestWebhookCertsServeOnlyWhatIsTrusted(t *testing.T) {
	t.Run("the configurations cannot be updated", func(t *testing.T) {
		c := fake.NewClientBuilder().WithScheme(clientgoscheme.Scheme).WithObjects(testWebhookConfigs()...).
			WithInterceptorFuncs(interceptor.Funcs{Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
				if _, ok := obj.(*corev1.Secret); ok {
					return c.Update(ctx, obj, opts...)
				}
				return apierrors.NewForbidden(schema.GroupResource{Group: "admissionregistration.k8s.io"}, obj.GetName(), errors.New("no RBAC"))
			}}).Build()
		w := newTestWebhookCerts(t, c, clocktesting.NewFakePassiveClock(testCertsStart))
		if _, err := w.sync(context.Background()); !apierrors.IsForbidden(err) {
			t.Fatalf("sync: %v", err)
		}
		if _, err := os.Stat(w.certFile); err == nil || w.ReadyCheck(nil) == nil {
			t.Error("serves a certificate that no webhook configuration trusts")
		}
	})
	t.Run("a newer CA is injected than the Secret this replica read", func(t *testing.T) {
		c := newFakeCluster(testWebhookConfigs()...)
		clk := clocktesting.NewFakePassiveClock(testCertsStart)
		old := newTestWebhookCerts(t, c, clk)
		if _, err := old.sync(context.Background()); err != nil {
			t.Fatal(err)
		}
		stale := getSecret(t, c)
		if err := c.Delete(context.Background(), stale); err != nil {
			t.Fatal(err)
		}
		clk.SetTime(testCertsStart.Add(time.Hour))
		if _, err := newTestWebhookCerts(t, c, clk).sync(context.Background()); err != nil {
			t.Fatal(err)
		}
		newer := injected(t, c)
		w := newTestWebhookCerts(t, c, clk)
		stale.ResourceVersion = ""
		w.reader = readerWithConfigsFrom{Reader: newFakeCluster(stale), configs: c}
		if _, err := w.sync(context.Background()); !errors.Is(err, errCANotInjected) {
			t.Fatalf("sync: %v, want %v", err, errCANotInjected)
		}
		for i, b := range injected(t, c) {
			if !bytes.Equal(b, newer[i]) {
				t.Error("a replica with a stale Secret replaced a newer CA")
			}
		}
	})
	t.Run("no webhook configuration yet", func(t *testing.T) {
		c := newFakeCluster()
		w := newTestWebhookCerts(t, c, clocktesting.NewFakePassiveClock(testCertsStart))
		if _, err := w.sync(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, err := tls.LoadX509KeyPair(w.certFile, w.keyFile); err != nil || w.ReadyCheck(nil) != nil {
			t.Errorf("not served without configurations: %v", err)
		}
	})
}

// readerWithConfigsFrom reads Secrets from a stale view and webhook configurations from the
// cluster.
type readerWithConfigsFrom struct {
	client.Reader
	configs client.Reader
}

func (r readerWithConfigsFrom) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if _, ok := obj.(*corev1.Secret); ok {
		return r.Reader.Get(ctx, key, obj, opts...)
	}
	return r.configs.Get(ctx, key, obj, opts...)
}

func TestWebhookCertsDue(t *testing.T) {
	c := newFakeCluster()
	w := newTestWebhookCerts(t, c, clocktesting.NewFakePassiveClock(testCertsStart))
	if _, err := w.sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	good := getSecret(t, c).Data
	other := newTestWebhookCerts(t, newFakeCluster(), clocktesting.NewFakePassiveClock(testCertsStart))
	with := func(key string, v []byte) map[string][]byte {
		d := map[string][]byte{}
		for k, val := range good {
			d[k] = val
		}
		d[key] = v
		return d
	}
	otherData, err := other.renew(testCertsStart, &webhookCertSet{}, true)
	if err != nil {
		t.Fatal(err)
	}
	day := 24 * time.Hour
	for name, tc := range map[string]struct {
		data          map[string][]byte
		at            time.Duration
		dnsNames      []string
		wantCA, wantS bool
	}{
		"fresh":                             {data: good},
		"59 days on":                        {data: good, at: 59 * day},
		"61 days on: serving":               {data: good, at: 61 * day, wantS: true},
		"two thirds of the CA's life: both": {data: good, at: webhookCAValidity*2/3 + day, wantCA: true, wantS: true},
		"no Secret":                         {data: nil, wantCA: true, wantS: true},
		"CA key missing":                    {data: with(caKeyKey, nil), wantCA: true, wantS: true},
		"CA key of another CA":              {data: with(caKeyKey, otherData[caKeyKey]), wantCA: true, wantS: true},
		"serving key missing":               {data: with(corev1.TLSPrivateKeyKey, nil), wantS: true},
		"serving certificate of another CA": {data: with(corev1.TLSCertKey, otherData[corev1.TLSCertKey]), wantS: true},
		"the Service was renamed":           {data: good, dnsNames: []string{"other.ops.svc"}, wantS: true},
	} {
		t.Run(name, func(t *testing.T) {
			d := &webhookCerts{dnsNames: w.dnsNames}
			if tc.dnsNames != nil {
				d.dnsNames = tc.dnsNames
			}
			newCA, newServing := d.due(testCertsStart.Add(tc.at), parseWebhookCerts(tc.data))
			if newCA != tc.wantCA || newServing != tc.wantS {
				t.Errorf("due: new CA %v, new serving %v; want %v, %v", newCA, newServing, tc.wantCA, tc.wantS)
			}
		})
	}
}

// Before the first sync the webhook server needs a certificate to start with; one that is
// there is left alone.
func TestWebhookCertsEnsureServable(t *testing.T) {
	w := newTestWebhookCerts(t, newFakeCluster(), clocktesting.NewFakePassiveClock(testCertsStart))
	w.certFile = filepath.Join(t.TempDir(), "missing", "tls.crt")
	w.keyFile = filepath.Join(filepath.Dir(w.certFile), "tls.key")
	if err := w.ensureServable(); err != nil {
		t.Fatal(err)
	}
	first, err := os.ReadFile(w.certFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tls.LoadX509KeyPair(w.certFile, w.keyFile); err != nil {
		t.Fatalf("the webhook server cannot start with the placeholder: %v", err)
	}
	if err := w.ensureServable(); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(w.certFile); !bytes.Equal(again, first) {
		t.Error("replaced a loadable certificate")
	}
	if info, _ := os.Stat(w.keyFile); info.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", info.Mode().Perm())
	}
}

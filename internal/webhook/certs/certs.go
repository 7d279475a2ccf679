// Package certs keeps the webhook server's own serving certificate and CA, for installs
// without cert-manager.
package certs

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// The operator makes its own webhook serving certificate and CA where cert-manager does not:
// the Helm chart rendered by Argo CD or Flux cannot keep a CA between two renders. The Secret
// is the one source of truth, and every replica runs the same loop, leader or not (every
// replica serves the webhook, and the certificate must be made and renewed while nobody leads):
//
//  1. Whoever finds the Secret missing, unusable or due for renewal writes a new one with
//     optimistic locking (create, or update at the resourceVersion it read). A replica that
//     loses the race gets a conflict and adopts the winner's Secret from its watch, so every
//     replica serves the same certificate.
//  2. Every replica injects the Secret's CA bundle into the webhook configurations (update at
//     the resourceVersion it read), never with a Secret older than the CA injected there.
//  3. A replica writes the serving certificate where the webhook server reads it (and
//     controller-runtime's certwatcher reloads it) only once every webhook configuration
//     trusts its CA, and is ready only from then on.
//
// A new CA goes in front of the previous ones, which stay trusted until they expire: replicas
// still serving the previous certificate keep working until they reload.
//
// RBAC: the manager's ClusterRole already has get, list, watch, create and update on Secrets
// (it writes the token Secrets); the Helm chart grants list, watch and update on the two
// webhook configurations by name (resourceNames), only when it enables this. No marker: the
// install bundle uses cert-manager, and its role must grant nothing unused.

// Lifetimes: a certificate is renewed when two thirds of its lifetime have passed.
const (
	webhookCAValidity      = 3 * 365 * 24 * time.Hour
	webhookServingValidity = 90 * 24 * time.Hour
	// certBackdate absorbs clock skew between the replicas and the API server.
	certBackdate = time.Hour
	// webhookCertsRecheck bounds the wait between two checks without any event.
	webhookCertsRecheck = time.Hour
	// Data keys of the Secret besides tls.crt and tls.key: the trusted CAs (the current one
	// first) and the current CA's private key.
	caCertKey = "ca.crt"
	caKeyKey  = "ca.key"
)

// errCANotInjected: a webhook configuration does not trust the serving certificate yet.
var errCANotInjected = errors.New("the CA is not injected yet")

// webhookCerts keeps the webhook serving certificate: in a Secret, in the webhook
// configurations' caBundle and in the webhook server's directory.
type webhookCerts struct {
	secret   types.NamespacedName
	dnsNames []string
	// configs are empty webhook configurations that name those to inject the CA into.
	configs           []client.Object
	certFile, keyFile string
	clock             clock.PassiveClock

	reader client.Reader // a cache of the Secret and the configurations, by name
	writer client.Writer
	cache  cache.Cache // nil in unit tests, which call sync

	wake    chan struct{}
	problem atomic.Pointer[string] // why the pod is not ready; nil once loaded
}

// Config names what the loop keeps: the Secret, the Service whose names the certificate
// carries, the webhook server's files and the webhook configurations to inject the CA into.
type Config struct {
	SecretNamespace, SecretName string
	// ServiceName is the webhook Service in SecretNamespace.
	ServiceName string
	// CertDir, CertName and KeyName are where the webhook server reads its certificate.
	CertDir, CertName, KeyName string
	// MutatingConfig and ValidatingConfig name the webhook configurations (either may be empty).
	MutatingConfig, ValidatingConfig string
	Clock                            clock.PassiveClock
}

// Add adds the webhook certificate loop and its ready check to mgr, with a cache of its own
// that watches only the Secret and the configurations, by name.
func Add(mgr manager.Manager, cfg *rest.Config, c Config) error {
	if c.ServiceName == "" {
		return errors.New("the webhook Service's name is required")
	}
	w := newWebhookCerts(c)
	w.writer = mgr.GetClient()
	byName := func(name string) cache.ByObject {
		return cache.ByObject{Field: fields.OneTermEqualSelector("metadata.name", name)}
	}
	byObject := map[client.Object]cache.ByObject{&corev1.Secret{}: byName(w.secret.Name)}
	for _, c := range w.configs {
		byObject[c.DeepCopyObject().(client.Object)] = byName(c.GetName())
	}
	ca, err := cache.New(cfg, cache.Options{
		Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper(), ByObject: byObject,
		DefaultNamespaces: map[string]cache.Config{w.secret.Namespace: {}},
	})
	if err != nil {
		return fmt.Errorf("create cache of the webhook certificates: %w", err)
	}
	w.cache, w.reader = ca, ca
	if err := w.ensureServable(); err != nil {
		return err
	}
	if err := mgr.Add(w); err != nil {
		return fmt.Errorf("add webhook certificates: %w", err)
	}
	if err := mgr.AddReadyzCheck("webhook-certs", w.ReadyCheck); err != nil {
		return fmt.Errorf("add ready check: %w", err)
	}
	return nil
}

func newWebhookCerts(c Config) *webhookCerts {
	svc := c.ServiceName + "." + c.SecretNamespace + ".svc"
	w := &webhookCerts{
		secret:   types.NamespacedName{Namespace: c.SecretNamespace, Name: c.SecretName},
		dnsNames: []string{svc, svc + ".cluster.local"},
		certFile: filepath.Join(c.CertDir, c.CertName),
		keyFile:  filepath.Join(c.CertDir, c.KeyName),
		clock:    c.Clock,
		wake:     make(chan struct{}, 1),
	}
	if c.MutatingConfig != "" {
		w.configs = append(w.configs, &admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: c.MutatingConfig}})
	}
	if c.ValidatingConfig != "" {
		w.configs = append(w.configs, &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: c.ValidatingConfig}})
	}
	w.setProblem(fmt.Sprintf("the webhook serving certificate is not loaded yet (Secret %s)", w.secret))
	return w
}

// NeedLeaderElection is false: every replica serves the webhook and needs the certificate.
func (w *webhookCerts) NeedLeaderElection() bool { return false }

// ReadyCheck fails until a certificate that the API server trusts is in the webhook
// server's directory.
func (w *webhookCerts) ReadyCheck(_ *http.Request) error {
	if p := w.problem.Load(); p != nil {
		return errors.New(*p)
	}
	return nil
}

func (w *webhookCerts) setProblem(p string) { w.problem.Store(&p) }

// Start syncs on every change of the Secret or the configurations, at the next renewal, and
// at least every webhookCertsRecheck; failures are retried with a growing delay.
func (w *webhookCerts) Start(ctx context.Context) error {
	log := ctrl.LoggerFrom(ctx).WithName("webhook-certs").WithValues("secret", w.secret.String())
	ctx = ctrl.LoggerInto(ctx, log)
	poke := func(any) {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
	for _, obj := range append([]client.Object{&corev1.Secret{}}, w.configs...) {
		inf, err := w.cache.GetInformer(ctx, obj)
		if err != nil {
			return fmt.Errorf("watch %T: %w", obj, err)
		}
		if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc: poke, UpdateFunc: func(_, o any) { poke(o) }, DeleteFunc: poke,
		}); err != nil {
			return fmt.Errorf("watch %T: %w", obj, err)
		}
	}
	go func() {
		if err := w.cache.Start(ctx); err != nil {
			log.Error(err, "cache of the webhook certificates stopped")
		}
	}()
	if !w.cache.WaitForCacheSync(ctx) {
		return nil // stopping
	}
	backoff := time.Duration(0)
	for {
		next, err := w.sync(ctx)
		wait := min(max(next.Sub(w.clock.Now()), 0), webhookCertsRecheck)
		switch {
		case err == nil:
			backoff = 0
		case errors.Is(err, errCANotInjected):
			log.Info("waiting for the CA to be injected before serving the certificate", "reason", err.Error())
			wait = webhookCertsRecheck // the configuration's update wakes the loop
		default:
			backoff = min(max(2*backoff, time.Second), time.Minute)
			wait = backoff
			if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
				// Another replica (or writer) was first: the watch brings its version.
				log.Info("lost a race to write; syncing again with the current version", "reason", err.Error())
			} else {
				log.Error(err, "cannot sync the webhook certificates", "retryIn", wait)
			}
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-w.wake:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// sync makes the Secret hold a valid certificate, injects its CA and serves the certificate;
// it returns when the certificates are due for renewal.
func (w *webhookCerts) sync(ctx context.Context) (time.Time, error) {
	set, err := w.ensureSecret(ctx)
	if err != nil {
		return time.Time{}, err
	}
	live, err := w.inject(ctx, set)
	if err != nil {
		return time.Time{}, err
	}
	if err := w.load(live, set); err != nil {
		return time.Time{}, err
	}
	if at := renewAt(set.serving); at.Before(renewAt(set.ca)) {
		return at, nil
	}
	return renewAt(set.ca), nil
}

// ensureSecret returns the Secret's certificates, after writing new ones when it is missing,
// unusable or due for renewal. Losing a race is a conflict or already-exists error.
func (w *webhookCerts) ensureSecret(ctx context.Context) (*webhookCertSet, error) {
	sec := &corev1.Secret{}
	err := w.reader.Get(ctx, w.secret, sec)
	exists := err == nil
	if err != nil && !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("read Secret %s: %w", w.secret, err)
	}
	set := parseWebhookCerts(sec.Data)
	now := w.clock.Now()
	newCA, newServing := w.due(now, set)
	if !newServing {
		return set, nil
	}
	data, err := w.renew(now, set, newCA)
	if err != nil {
		return nil, err
	}
	ctrl.LoggerFrom(ctx).Info("writing a new webhook serving certificate", "newCA", newCA)
	if !exists {
		sec = &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: w.secret.Name, Namespace: w.secret.Namespace, Labels: map[string]string{
				"app.kubernetes.io/name": "token-operator", "app.kubernetes.io/component": "webhook-certs",
			}},
			Type: corev1.SecretTypeTLS, Data: data,
		}
		err = w.writer.Create(ctx, sec)
	} else {
		if sec.Data == nil {
			sec.Data = map[string][]byte{}
		}
		for k, v := range data {
			sec.Data[k] = v
		}
		err = w.writer.Update(ctx, sec) // at the resourceVersion read: a conflict if another replica wrote
	}
	if err != nil {
		return nil, fmt.Errorf("write Secret %s: %w", w.secret, err)
	}
	return parseWebhookCerts(sec.Data), nil
}

// inject sets the Secret's CA bundle in every webhook of the configurations, and returns
// those that exist as they are now. It leaves a bundle alone that has one of this Secret's
// CAs newer than the Secret this replica read: its watch will bring that Secret.
func (w *webhookCerts) inject(ctx context.Context, set *webhookCertSet) ([]client.Object, error) {
	bundle := set.data[caCertKey]
	var live []client.Object
	for _, proto := range w.configs {
		obj := proto.DeepCopyObject().(client.Object)
		if err := w.reader.Get(ctx, client.ObjectKeyFromObject(proto), obj); apierrors.IsNotFound(err) {
			continue
		} else if err != nil {
			return nil, fmt.Errorf("read %T %s: %w", obj, proto.GetName(), err)
		}
		changed := false
		for _, b := range caBundles(obj) {
			if !bytes.Equal(*b, bundle) && !hasNewerCA(*b, set.ca) {
				*b, changed = bundle, true
			}
		}
		if changed {
			if err := w.writer.Update(ctx, obj); err != nil {
				return nil, fmt.Errorf("inject the CA into %T %s: %w", obj, proto.GetName(), err)
			}
			ctrl.LoggerFrom(ctx).Info("injected the webhook CA", "configuration", proto.GetName())
		}
		live = append(live, obj)
	}
	return live, nil
}

// caBundles points at the caBundle of every webhook of a configuration.
func caBundles(obj client.Object) []*[]byte {
	var out []*[]byte
	switch o := obj.(type) {
	case *admissionregistrationv1.MutatingWebhookConfiguration:
		for i := range o.Webhooks {
			out = append(out, &o.Webhooks[i].ClientConfig.CABundle)
		}
	case *admissionregistrationv1.ValidatingWebhookConfiguration:
		for i := range o.Webhooks {
			out = append(out, &o.Webhooks[i].ClientConfig.CABundle)
		}
	}
	return out
}

// load writes the serving certificate where the webhook server reads it, once every webhook
// of the live configurations trusts it.
func (w *webhookCerts) load(live []client.Object, set *webhookCertSet) error {
	for _, obj := range live {
		for _, b := range caBundles(obj) {
			roots := x509.NewCertPool()
			roots.AppendCertsFromPEM(*b)
			if _, err := set.serving.Verify(x509.VerifyOptions{
				DNSName: w.dnsNames[0], Roots: roots, CurrentTime: w.clock.Now(),
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			}); err != nil {
				return fmt.Errorf("%w into %s", errCANotInjected, obj.GetName())
			}
		}
	}
	// The key first: certwatcher keeps the previous pair while the two files do not match.
	if err := writeFileAtomic(w.keyFile, set.data[corev1.TLSPrivateKeyKey], 0o600); err != nil {
		return err
	}
	if err := writeFileAtomic(w.certFile, set.data[corev1.TLSCertKey], 0o644); err != nil {
		return err
	}
	w.problem.Store(nil)
	return nil
}

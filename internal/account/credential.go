// Package account is the Devin account the operator acts as: its credential, kept in step
// with a Secret without a restart, and what the Devin API says about it (the self-check: a
// service user's key, and when it expires). Each value serves one account, so that the
// operator can keep several.
package account

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cogtokens/token-operator/internal/devinapi"
)

// CredentialWatcher keeps a credential of the Devin API client in step with a Secret: a
// rotated credential is used from the next request on, without a restart. It watches that
// one Secret through its own small cache (the manager's cache holds only the Secrets the
// operator writes).
type CredentialWatcher struct {
	// what names the credential in logs and checks, e.g. "the Devin API credential".
	what                 string
	name, namespace, key string
	source               *devinapi.SwappableToken
	cache                cache.Cache
	loaded               atomic.Bool
	// OnChange, when set, runs after each new value is in use.
	OnChange func(ctx context.Context, sec *corev1.Secret)
	// OnDelete, when set, runs when the Secret is deleted (the last value stays in use).
	OnDelete func()
}

// SecretRef names a data key of a Secret.
type SecretRef struct{ Namespace, Name, Key string }

// NewCredentialWatcher watches the Secret ref names and sets source from it; what names the
// credential in logs and checks.
func NewCredentialWatcher(cfg *rest.Config, scheme *runtime.Scheme, what string, ref SecretRef, source *devinapi.SwappableToken) (*CredentialWatcher, error) {
	// The cache holds Secrets only: a fixed mapping spares a discovery of the API server per
	// watch.
	mapper := meta.NewDefaultRESTMapper(nil)
	mapper.Add(corev1.SchemeGroupVersion.WithKind("Secret"), meta.RESTScopeNamespace)
	c, err := cache.New(cfg, cache.Options{
		Scheme:            scheme,
		Mapper:            mapper,
		DefaultNamespaces: map[string]cache.Config{ref.Namespace: {}},
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}: {Field: fields.OneTermEqualSelector("metadata.name", ref.Name)},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("create cache of %s: %w", what, err)
	}
	return &CredentialWatcher{what: what, name: ref.Name, namespace: ref.Namespace, key: ref.Key, source: source, cache: c}, nil
}

// Start runs the cache and updates the credential on every change of the Secret.
func (w *CredentialWatcher) Start(ctx context.Context) error {
	log := ctrl.LoggerFrom(ctx).WithName("credentials").WithValues("secret", w.namespace+"/"+w.name)
	inf, err := w.cache.GetInformer(ctx, &corev1.Secret{})
	if err != nil {
		return fmt.Errorf("watch %s: %w", w.what, err)
	}
	update := func(obj any) {
		sec, ok := obj.(*corev1.Secret)
		if !ok || sec.Name != w.name {
			return
		}
		v := sec.Data[w.key]
		if len(v) == 0 {
			log.Info("the Secret has no value under its key; keeping the previous one", "credential", w.what, "key", w.key)
			return
		}
		w.source.Set(devinapi.NewToken(string(v)))
		if !w.loaded.Swap(true) {
			log.Info("loaded", "credential", w.what)
		} else {
			log.Info("changed; using the new one from now on", "credential", w.what)
		}
		if w.OnChange != nil {
			go w.OnChange(ctx, sec)
		}
	}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    update,
		UpdateFunc: func(_, obj any) { update(obj) },
		DeleteFunc: func(any) {
			log.Info("the Secret was deleted; keeping the last value", "credential", w.what)
			if w.OnDelete != nil {
				w.OnDelete()
			}
		},
	}); err != nil {
		return fmt.Errorf("watch %s: %w", w.what, err)
	}
	return w.cache.Start(ctx)
}

// NeedLeaderElection is false: every replica serves the webhook, which calls the API too.
func (w *CredentialWatcher) NeedLeaderElection() bool { return false }

// ReadyCheck fails until the credential is loaded.
func (w *CredentialWatcher) ReadyCheck(_ *http.Request) error {
	if !w.loaded.Load() {
		return fmt.Errorf("%s is not loaded yet (Secret %s/%s)", w.what, w.namespace, w.name)
	}
	return nil
}

// Secret returns the watched Secret once the watch has synced; nil when it does not exist.
// It holds the credential: never log or print it.
func (w *CredentialWatcher) Secret(ctx context.Context) (*corev1.Secret, error) {
	if !w.cache.WaitForCacheSync(ctx) {
		return nil, fmt.Errorf("watch of %s has not synced: %w", w.what, ctx.Err())
	}
	sec := &corev1.Secret{}
	if err := w.cache.Get(ctx, client.ObjectKey{Namespace: w.namespace, Name: w.name}, sec); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("read %s: %w", w.what, err)
	}
	return sec, nil
}

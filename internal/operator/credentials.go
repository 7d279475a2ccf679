package operator

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cogtokens/token-operator/internal/devinapi"
)

// credentialsWatcher keeps the Devin API client's credential in step with the credentials
// Secret: a rotated credential is used from the next request on, without a restart. It
// watches that one Secret through its own small cache (the manager's cache holds only the
// Secrets the operator writes).
type credentialsWatcher struct {
	name, namespace, key string
	source               *devinapi.SwappableToken
	cache                cache.Cache
	loaded               atomic.Bool
}

func newCredentialsWatcher(cfg *rest.Config, scheme *runtime.Scheme, o Options, source *devinapi.SwappableToken) (*credentialsWatcher, error) {
	c, err := cache.New(cfg, cache.Options{
		Scheme:            scheme,
		DefaultNamespaces: map[string]cache.Config{o.CredentialsSecretNamespace: {}},
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}: {Field: fields.OneTermEqualSelector("metadata.name", o.CredentialsSecretName)},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("create credentials cache: %w", err)
	}
	return &credentialsWatcher{
		name: o.CredentialsSecretName, namespace: o.CredentialsSecretNamespace, key: o.CredentialsSecretKey,
		source: source, cache: c,
	}, nil
}

// Start runs the cache and updates the credential on every change of the Secret.
func (w *credentialsWatcher) Start(ctx context.Context) error {
	log := ctrl.LoggerFrom(ctx).WithName("credentials").WithValues("secret", w.namespace+"/"+w.name)
	inf, err := w.cache.GetInformer(ctx, &corev1.Secret{})
	if err != nil {
		return fmt.Errorf("watch credentials secret: %w", err)
	}
	update := func(obj any) {
		sec, ok := obj.(*corev1.Secret)
		if !ok || sec.Name != w.name {
			return
		}
		v := sec.Data[w.key]
		if len(v) == 0 {
			log.Info("credentials secret has no value under its key; keeping the previous credential", "key", w.key)
			return
		}
		w.source.Set(devinapi.NewToken(string(v)))
		if !w.loaded.Swap(true) {
			log.Info("loaded the Devin API credential")
		} else {
			log.Info("the Devin API credential changed; using the new one from now on")
		}
	}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    update,
		UpdateFunc: func(_, obj any) { update(obj) },
		DeleteFunc: func(any) { log.Info("credentials secret deleted; keeping the last credential") },
	}); err != nil {
		return fmt.Errorf("watch credentials secret: %w", err)
	}
	return w.cache.Start(ctx)
}

// NeedLeaderElection is false: every replica serves the webhook, which calls the API too.
func (w *credentialsWatcher) NeedLeaderElection() bool { return false }

// ReadyCheck fails until the credential is loaded.
func (w *credentialsWatcher) ReadyCheck(_ *http.Request) error {
	if !w.loaded.Load() {
		return errors.New("the Devin API credential is not loaded yet (credentials Secret " + w.namespace + "/" + w.name + ")")
	}
	return nil
}

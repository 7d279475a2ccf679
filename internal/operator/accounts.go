package operator

import (
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/controllers"
	"github.com/cogtokens/token-operator/internal/account"
	"github.com/cogtokens/token-operator/internal/devinapi"
	"github.com/cogtokens/token-operator/internal/directory"
)

// addAccountControllers sets up the DevinAccount and ClusterDevinAccount controllers and
// the connections (a client and a watch of the Secret) they keep per account.
func addAccountControllers(mgr manager.Manager, o Options) (*account.Connections, error) {
	changed := map[string]chan event.GenericEvent{
		"DevinAccount":        make(chan event.GenericEvent, 64),
		"ClusterDevinAccount": make(chan event.GenericEvent, 64),
	}
	conns := &account.Connections{Config: mgr.GetConfig(), Scheme: mgr.GetScheme(), Timeout: o.APITimeout, Registerer: metrics.Registry,
		Changed: func(key string) {
			kind, nn, ok := controllers.ParseAccountKey(key)
			ch, known := changed[kind]
			if !ok || !known {
				return
			}
			var obj client.Object = &iamv1alpha1.DevinAccount{}
			if kind == "ClusterDevinAccount" {
				obj = &iamv1alpha1.ClusterDevinAccount{}
			}
			obj.SetNamespace(nn.Namespace)
			obj.SetName(nn.Name)
			go func() { ch <- event.GenericEvent{Object: obj} }()
		}}
	if err := mgr.Add(conns); err != nil {
		return nil, fmt.Errorf("add account connections: %w", err)
	}
	kinds := map[string]func() controllers.AccountObject{
		"DevinAccount":        func() controllers.AccountObject { return &iamv1alpha1.DevinAccount{} },
		"ClusterDevinAccount": func() controllers.AccountObject { return &iamv1alpha1.ClusterDevinAccount{} },
	}
	for kind, newObj := range kinds {
		r := &controllers.DevinAccountReconciler{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Connections: conns, Recorder: mgr.GetEventRecorder("token-operator"),
			Clock: o.Clock, Kind: kind, New: newObj, OperatorNamespace: o.CredentialsSecretNamespace,
			SecretNamespaces: o.ClusterAccountSecretNamespaces, APIURLs: o.AccountAPIURLs, Changed: changed[kind],
			Expiry: account.ExpiryGauge(metrics.Registry)}
		if err := r.SetupWithManager(mgr); err != nil {
			return nil, fmt.Errorf("set up %s controller: %w", kind, err)
		}
	}
	return conns, nil
}

// newBackends resolves the account a resource names: def for none, otherwise the
// connection the account's controller keeps, with a directory of its own.
func newBackends(mgr manager.Manager, o Options, conns *account.Connections, def *account.Backend) *account.Backends {
	return &account.Backends{
		Default: def, Reader: mgr.GetClient(), Connections: conns,
		NewDirectory: func(api *devinapi.Client, ssoEnforced bool) *directory.Directory {
			return directory.New(api, directory.Options{TTL: o.LookupCacheTTL, Clock: o.Clock, SSOEnforced: ssoEnforced})
		},
	}
}

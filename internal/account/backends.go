package account

import (
	"context"
	"errors"
	"fmt"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/conditions"
	"github.com/cogtokens/token-operator/internal/devinapi"
	"github.com/cogtokens/token-operator/internal/directory"
)

// Backend is what the operator acts through for one account: its client and the caches of
// what it reads upstream. Nothing is shared between two backends, so a resource sees only
// its own account's users, roles, service users and tokens.
type Backend struct {
	// Name is the account as status.account says it: default, DevinAccount/NAME or
	// ClusterDevinAccount/NAME.
	Name                string
	API                 *devinapi.Client
	Directory           *directory.Directory
	DefaultOrganization string
	ssoEnforced         bool

	mu     sync.Mutex
	caches map[string]any
}

// Cache returns the backend's cache called name, made by make on first use: the controllers
// keep their listings per account this way.
func Cache[T any](b *Backend, name string, make func() T) T {
	b.mu.Lock()
	defer b.mu.Unlock()
	if c, ok := b.caches[name]; ok {
		return c.(T)
	}
	if b.caches == nil {
		b.caches = map[string]any{}
	}
	c := make()
	b.caches[name] = c
	return c
}

// SSOEnforced is the ssoMode of an account whose enterprise enforces SSO for every member.
const SSOEnforced = "enforced"

// ErrNotReady is wrapped by Backends.For's error when the account named cannot be used now:
// it does not exist, is not Ready for its current spec, or its connection is not made yet.
var ErrNotReady = errors.New("the account cannot be used now")

// Backends resolves the account a resource names to its backend. Default serves resources
// without accountRef; the others are made from the connections the account controllers keep
// (one per Ready account), at most one backend per connection.
type Backends struct {
	Default *Backend
	// Reader reads DevinAccounts and ClusterDevinAccounts (the manager's cache).
	Reader      client.Reader
	Connections *Connections
	// NewDirectory makes an account's directory of users and roles; ssoEnforced says every
	// member of the account's enterprise is SSO-linked.
	NewDirectory func(api *devinapi.Client, ssoEnforced bool) *directory.Directory

	mu     sync.Mutex
	byConn map[*Connection]*Backend
}

// For returns the backend of the account ref names for a resource in namespace (nil ref:
// the default account). A DevinAccount is always read from namespace itself.
func (bs *Backends) For(ctx context.Context, namespace string, ref *iamv1alpha1.AccountRef) (*Backend, error) {
	if ref == nil {
		return bs.Default, nil
	}
	if bs.Connections == nil || bs.Reader == nil {
		return nil, fmt.Errorf("%w: %s: this operator serves only its default account", ErrNotReady, ref)
	}
	var obj interface {
		client.Object
		AccountSpec() *iamv1alpha1.DevinAccountSpec
		AccountStatus() *iamv1alpha1.DevinAccountStatus
	}
	key := types.NamespacedName{Name: ref.Name}
	switch ref.Kind {
	case iamv1alpha1.KindDevinAccount:
		obj, key.Namespace = &iamv1alpha1.DevinAccount{}, namespace
	case iamv1alpha1.KindClusterDevinAccount:
		obj = &iamv1alpha1.ClusterDevinAccount{}
	default:
		return nil, fmt.Errorf("%w: unknown account kind %q", ErrNotReady, ref.Kind)
	}
	if err := bs.Reader.Get(ctx, key, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("%w: %s does not exist", ErrNotReady, describe(ref, namespace))
		}
		return nil, err
	}
	st := obj.AccountStatus()
	if !conditions.IsReady(st.Conditions, obj.GetGeneration()) {
		ready := meta.FindStatusCondition(st.Conditions, iamv1alpha1.ConditionReady)
		why := "it has not been checked yet"
		switch {
		case ref.Kind == iamv1alpha1.KindClusterDevinAccount:
			// A tenant reads this: what is wrong with a cluster account is its admins' to see.
			why = "kubectl describe clusterdevinaccount " + ref.Name + " says why; ask a cluster administrator"
		case ready != nil && ready.Status != metav1.ConditionTrue:
			why = ready.Reason + ": " + ready.Message
		}
		return nil, fmt.Errorf("%w: %s is not Ready (%s)", ErrNotReady, describe(ref, namespace), why)
	}
	conn := bs.Connections.Lookup(ConnectionKey(ref.Kind, key))
	if conn == nil {
		return nil, fmt.Errorf("%w: %s is Ready but its connection is not made yet (the operator is starting)", ErrNotReady, describe(ref, namespace))
	}
	spec := obj.AccountSpec()
	return bs.backendOf(conn, ref.String(), spec.DefaultOrganization, spec.SSOMode == SSOEnforced), nil
}

// backendOf returns the backend of conn, made once per connection: a connection remade
// (the account's endpoint changed) starts with empty caches.
func (bs *Backends) backendOf(conn *Connection, name, defaultOrg string, ssoEnforced bool) *Backend {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	if b, ok := bs.byConn[conn]; ok && b.DefaultOrganization == defaultOrg && b.ssoEnforced == ssoEnforced {
		return b
	}
	if bs.byConn == nil {
		bs.byConn = map[*Connection]*Backend{}
	}
	for c := range bs.byConn { // drop the backends of connections closed since
		if c.closed() {
			delete(bs.byConn, c)
		}
	}
	b := &Backend{Name: name, API: conn.Client, Directory: bs.NewDirectory(conn.Client, ssoEnforced), DefaultOrganization: defaultOrg, ssoEnforced: ssoEnforced}
	bs.byConn[conn] = b
	return b
}

// ConnectionKey is the key of an account among the connections: kind/namespace/name.
func ConnectionKey(kind string, key types.NamespacedName) string {
	return kind + "/" + key.Namespace + "/" + key.Name
}

func describe(ref *iamv1alpha1.AccountRef, namespace string) string {
	if ref.Kind == iamv1alpha1.KindDevinAccount {
		return fmt.Sprintf("DevinAccount %s/%s", namespace, ref.Name)
	}
	return "ClusterDevinAccount " + ref.Name
}

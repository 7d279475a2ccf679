package controllers

import (
	"context"
	"errors"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/account"
	"github.com/cogtokens/token-operator/internal/credential"
)

// Accounts resolves the account a resource acts through (account.Backends).
type Accounts interface {
	For(ctx context.Context, namespace string, ref *iamv1alpha1.AccountRef) (*account.Backend, error)
}

// accountRetry is how soon a resource waiting for its account looks again on its own; a
// change of the account's status wakes it sooner.
const accountRetry = time.Minute

// backendFor returns the backend of the account ref names for a resource in namespace; nil
// (and no error) for the default account, which the reconciler's own fields serve. An
// account that cannot be used now is a Problem the resource reports (AccountNotReady).
func backendFor(ctx context.Context, accounts Accounts, namespace string, ref *iamv1alpha1.AccountRef) (*account.Backend, error) {
	if ref == nil {
		return nil, nil
	}
	if accounts == nil {
		return nil, credential.Stall(iamv1alpha1.ReasonAccountNotReady, ref.String()+": this operator serves only its default account", nil)
	}
	b, err := accounts.For(ctx, namespace, ref)
	if errors.Is(err, account.ErrNotReady) {
		return nil, &credential.Problem{Reason: iamv1alpha1.ReasonAccountNotReady, Message: err.Error(), RetryAfter: accountRetry}
	}
	return b, err
}

// watchAccounts wakes the resources of list's kind that name an account when it changes
// (it turns Ready, say): they wait for it without polling.
func watchAccounts(b *builder.Builder, c client.Reader, list client.ObjectList) *builder.Builder {
	return b.
		Watches(&iamv1alpha1.DevinAccount{}, handler.EnqueueRequestsFromMapFunc(usersOf(c, list, iamv1alpha1.KindDevinAccount))).
		Watches(&iamv1alpha1.ClusterDevinAccount{}, handler.EnqueueRequestsFromMapFunc(usersOf(c, list, iamv1alpha1.KindClusterDevinAccount)))
}

// usersOf maps an event of an account of kind to a request for every resource of list's kind
// that names it (a DevinAccount's are in its own namespace).
func usersOf(c client.Reader, list client.ObjectList, kind string) handler.MapFunc {
	return func(ctx context.Context, acc client.Object) []reconcile.Request {
		l := list.DeepCopyObject().(client.ObjectList)
		var opts []client.ListOption
		if acc.GetNamespace() != "" {
			opts = append(opts, client.InNamespace(acc.GetNamespace()))
		}
		if err := c.List(ctx, l, opts...); err != nil {
			return nil
		}
		var out []reconcile.Request
		_ = meta.EachListItem(l, func(o runtime.Object) error {
			if co, ok := o.(credential.Object); ok && names(co, kind, acc.GetName()) {
				out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(co)})
			}
			return nil
		})
		return out
	}
}

// names reports whether the resource's accountRef names the account kind/name (a
// DevinAccount's users are in its own namespace: the caller lists only that one).
func names(obj credential.Object, kind, name string) bool {
	ref := obj.AccountReference()
	return ref != nil && ref.Kind == kind && ref.Name == name
}

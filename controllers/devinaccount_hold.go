package controllers

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/credential"
)

// An account outlives the resources that act through it: its finalizer, and one on the
// Secret that holds its credential, stay until no PersonalAccessToken or ServiceUser names
// it. Deleting a namespace deletes them all at once; the resources revoke their
// credentials through the account, then the account and its Secret go. The finalizers are
// in the API server, so a restart in between changes nothing.

// users counts the resources that name the account (being deleted or not).
func (r *DevinAccountReconciler) users(ctx context.Context, obj AccountObject) (int32, error) {
	var opts []client.ListOption
	if obj.GetNamespace() != "" {
		opts = append(opts, client.InNamespace(obj.GetNamespace()))
	}
	var n int32
	for _, list := range []client.ObjectList{&iamv1alpha1.PersonalAccessTokenList{}, &iamv1alpha1.ServiceUserList{}} {
		if err := r.Client.List(ctx, list, opts...); err != nil {
			return 0, fmt.Errorf("list the resources that may use the account: %w", err)
		}
		_ = meta.EachListItem(list, func(o runtime.Object) error {
			if co, ok := o.(credential.Object); ok && names(co, r.Kind, obj.GetName()) {
				n++
			}
			return nil
		})
	}
	return n, nil
}

// holdAccount puts the account's finalizer on it.
func (r *DevinAccountReconciler) holdAccount(ctx context.Context, obj AccountObject) error {
	base := obj.DeepCopyObject().(client.Object)
	if !controllerutil.AddFinalizer(obj, iamv1alpha1.AccountFinalizer) {
		return nil
	}
	if err := r.Client.Patch(ctx, obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("add the account's finalizer: %w", err)
	}
	return nil
}

// holdSecret puts the account's Secret finalizer on sec (read through the account's watch)
// and records it; a Secret held before, that the account no longer names, is let go. It
// returns the Secret as it now is.
func (r *DevinAccountReconciler) holdSecret(ctx context.Context, obj AccountObject, sec *corev1.Secret) (*corev1.Secret, error) {
	st := obj.AccountStatus()
	name := sec.Namespace + "/" + sec.Name
	if st.HeldSecret != "" && st.HeldSecret != name {
		if err := r.letGo(ctx, obj, st.HeldSecret); err != nil {
			return nil, err
		}
	}
	st.HeldSecret = name
	if controllerutil.ContainsFinalizer(sec, iamv1alpha1.AccountSecretFinalizer) || !sec.DeletionTimestamp.IsZero() {
		return sec, nil
	}
	held := sec.DeepCopy()
	controllerutil.AddFinalizer(held, iamv1alpha1.AccountSecretFinalizer)
	if err := r.Client.Patch(ctx, held, client.MergeFromWithOptions(sec, client.MergeFromWithOptimisticLock{})); err != nil {
		return nil, fmt.Errorf("hold Secret %s for the account: %w", name, err)
	}
	return held, nil
}

// release lets the account go once nothing names it: its Secret first, then the account.
func (r *DevinAccountReconciler) release(ctx context.Context, key string, obj AccountObject) error {
	if held := obj.AccountStatus().HeldSecret; held != "" {
		if err := r.letGo(ctx, obj, held); err != nil {
			return err
		}
	}
	r.Connections.Forget(key)
	base := obj.DeepCopyObject().(client.Object)
	if !controllerutil.RemoveFinalizer(obj, iamv1alpha1.AccountFinalizer) {
		return nil
	}
	if err := r.Client.Patch(ctx, obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return client.IgnoreNotFound(fmt.Errorf("remove the account's finalizer: %w", err))
	}
	return nil
}

// letGo removes the Secret finalizer from the Secret named namespace/name, unless another
// account still holds it.
func (r *DevinAccountReconciler) letGo(ctx context.Context, obj AccountObject, held string) error {
	others, err := r.othersHolding(ctx, obj, held)
	if err != nil || others {
		return err
	}
	nn := splitNamespaced(held)
	sec := &corev1.Secret{}
	if err := r.Reader.Get(ctx, nn, sec); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("read Secret %s: %w", held, err)
	}
	base := sec.DeepCopy()
	if !controllerutil.RemoveFinalizer(sec, iamv1alpha1.AccountSecretFinalizer) {
		return nil
	}
	if err := r.Client.Patch(ctx, sec, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return client.IgnoreNotFound(fmt.Errorf("let Secret %s go: %w", held, err))
	}
	return nil
}

// othersHolding reports whether an account other than obj (of either kind) holds the Secret.
func (r *DevinAccountReconciler) othersHolding(ctx context.Context, obj AccountObject, held string) (bool, error) {
	das, cdas := &iamv1alpha1.DevinAccountList{}, &iamv1alpha1.ClusterDevinAccountList{}
	if err := r.Client.List(ctx, das); err != nil {
		return false, fmt.Errorf("list DevinAccounts: %w", err)
	}
	if err := r.Client.List(ctx, cdas); err != nil {
		return false, fmt.Errorf("list ClusterDevinAccounts: %w", err)
	}
	self := obj.GetUID()
	for i := range das.Items {
		if a := &das.Items[i]; a.UID != self && a.Status.HeldSecret == held {
			return true, nil
		}
	}
	for i := range cdas.Items {
		if a := &cdas.Items[i]; a.UID != self && a.Status.HeldSecret == held {
			return true, nil
		}
	}
	return false, nil
}

func splitNamespaced(s string) types.NamespacedName {
	ns, name, _ := strings.Cut(s, "/")
	return types.NamespacedName{Namespace: ns, Name: name}
}

// accountOfUser maps a PersonalAccessToken or ServiceUser to the account of this kind it
// names: a deleting account learns when its last user went.
func (r *DevinAccountReconciler) accountOfUser(_ context.Context, obj client.Object) []reconcile.Request {
	co, ok := obj.(credential.Object)
	if !ok {
		return nil
	}
	ref := co.AccountReference()
	if ref == nil || ref.Kind != r.Kind {
		return nil
	}
	key := types.NamespacedName{Name: ref.Name}
	if ref.Kind == iamv1alpha1.KindDevinAccount {
		key.Namespace = obj.GetNamespace()
	}
	return []reconcile.Request{{NamespacedName: key}}
}

package credential

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// RestoreAdopter is an Issuer that must take over more than a token after a restore (a
// ServiceUser's service user): AdoptRestored proves that the upstream object the record
// names carries one of the resource's owner markers (restored ones included) and records it
// in status; it returns what undoes that when the adoption does not go through.
type RestoreAdopter interface {
	AdoptRestored(ctx context.Context, rec RestoreRecord) (undo func(), err error)
}

// adoptRestored takes over a Secret restored from a backup beside a resource re-created
// with a new UID, when everything proves it is this resource's: adoption is on, the Secret
// carries the operator's label and a restore record sealed by this operator for the same
// kind, namespace and name, the record names the token the Secret holds (and the owner the
// Secret's owner reference names, if any), and the Devin API lists that token (and its
// service user) under one of the record's owner markers. It returns the Secret, now
// controlled by the resource, or nil (the SecretConflict stands) when anything is missing.
func (l *Lifecycle) adoptRestored(ctx context.Context, obj Object, want secretShape, iss Issuer) (*corev1.Secret, error) {
	sec, rec, ok := l.restoredSecret(ctx, obj, want.name)
	if !ok {
		return nil, nil
	}
	st := obj.CredentialStatus()
	before := st.RestoredFrom
	st.RestoredFrom = sec.Annotations[iamv1alpha1.RestoreRecordAnnotation]
	undo := func() { st.RestoredFrom = before }
	if a, ok := iss.(RestoreAdopter); ok {
		undoIssuer, err := a.AdoptRestored(ctx, rec)
		if err != nil || undoIssuer == nil {
			undo()
			return nil, err
		}
		undo = func() { st.RestoredFrom = before; undoIssuer() }
	}
	listing, err := iss.Owned(ctx, true)
	if err != nil || !listing.has(rec.TokenID) {
		undo()
		if err == nil {
			ctrl.LoggerFrom(ctx).Info("not adopting a restored Secret: the Devin API does not list its token under the record's owners", "tokenID", rec.TokenID, "secret", sec.Name)
		}
		return nil, err
	}
	taken, err := l.takeOver(ctx, obj, sec, rec.TokenID)
	if err != nil || !l.adopt(obj, want, taken, l.Clock.Now()) {
		undo()
		return nil, err
	}
	l.event(obj, corev1.EventTypeNormal, iamv1alpha1.EventRestoredAdopted, "Adopt",
		"adopted token %s of the restored Secret %s: this operator's sealed restore record names it for this %s (--adopt-restored)", rec.TokenID, sec.Name, l.Kind)
	return taken, nil
}

// restoredSecret reads the Secret around the cache and returns it with its verified restore
// record when it may be adopted by obj; ok is false otherwise.
func (l *Lifecycle) restoredSecret(ctx context.Context, obj Object, name string) (*corev1.Secret, RestoreRecord, bool) {
	reader := l.Reader
	if reader == nil {
		reader = l.Client
	}
	sec := &corev1.Secret{}
	if err := reader.Get(ctx, types.NamespacedName{Namespace: obj.GetNamespace(), Name: name}, sec); err != nil {
		return nil, RestoreRecord{}, false
	}
	value := sec.Annotations[iamv1alpha1.RestoreRecordAnnotation]
	if sec.Labels[iamv1alpha1.ManagedByLabel] != iamv1alpha1.ManagedByValue || value == "" {
		return nil, RestoreRecord{}, false
	}
	rec, err := l.Restore.open(ctx, value)
	if err != nil {
		ctrl.LoggerFrom(ctx).Info("not adopting a restored Secret: its restore record does not verify", "secret", name, "error", err.Error())
		return nil, RestoreRecord{}, false
	}
	tok, ok := tokenFromSecret(sec)
	owner := metav1.GetControllerOf(sec)
	switch {
	case !rec.about(l.Kind, obj), !ok, tok.ID != rec.TokenID, owner != nil && !rec.names(owner.UID), owner != nil && owner.UID == obj.GetUID():
		ctrl.LoggerFrom(ctx).Info("not adopting a restored Secret: its restore record is about another resource or token", "secret", name)
		return nil, RestoreRecord{}, false
	}
	return sec, rec, true
}

// takeOver makes the resource the controller of the restored Secret (in place of the owner
// reference to the resource it was restored for, which no longer exists) and seals a record
// for it; the write is conditional on the version read, so that a Secret changed since is
// read again.
func (l *Lifecycle) takeOver(ctx context.Context, obj Object, sec *corev1.Secret, tokenID string) (*corev1.Secret, error) {
	gvk, err := l.Client.GroupVersionKindFor(obj)
	if err != nil {
		return nil, fmt.Errorf("take over secret %s: %w", sec.Name, err)
	}
	ref := metav1.NewControllerRef(obj, gvk)
	record := l.Restore.seal(ctx, l.Kind, obj, l.Owner(obj), tokenID)
	patch := map[string]any{"metadata": map[string]any{
		"resourceVersion": sec.ResourceVersion,
		"ownerReferences": []metav1.OwnerReference{*ref},
		"annotations":     map[string]any{iamv1alpha1.RestoreRecordAnnotation: nilIfEmpty(record)},
	}}
	taken, err := l.patchSecret(ctx, sec, patch)
	if apierrors.IsConflict(err) {
		return nil, fmt.Errorf("take over secret %s: it changed meanwhile: %w", sec.Name, err)
	}
	return taken, err
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// isSecretConflict reports whether err is the SecretConflict problem.
func isSecretConflict(err error) bool {
	var p *Problem
	return err != nil && asProblem(err, &p) && p.Reason == iamv1alpha1.ReasonSecretConflict
}

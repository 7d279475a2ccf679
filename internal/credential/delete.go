package credential

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// Revoke revokes every upstream token of a resource that is being deleted: the current one,
// those waiting for their grace period, and any other the resource owns upstream (a token
// whose value was lost). It removes the Secret once nothing is left. Errors are returned for
// the controller to retry and report; tokens already gone count as revoked.
func (l *Lifecycle) Revoke(ctx context.Context, obj Object, iss Issuer) error {
	st := obj.CredentialStatus()
	if err := l.WaitSettled(obj); err != nil {
		return err
	}
	listing, err := iss.Owned(ctx, true)
	if err != nil {
		return fmt.Errorf("list tokens to revoke: %w", err)
	}
	ids := map[string]bool{}
	for _, k := range listing.Keys {
		ids[k.ID] = true
	}
	var errs []error
	for id := range ids {
		if err := iss.Revoke(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("revoke token %s: %w", id, err))
			continue
		}
		l.Metrics.revoked(l.Kind)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if len(ids) > 0 {
		l.event(obj, corev1.EventTypeNormal, "TokenRevoked", "Revoke", "revoked %d token(s) upstream on deletion", len(ids))
		ctrl.LoggerFrom(ctx).Info("revoked tokens on deletion", "count", len(ids))
	}
	st.Token, st.PendingRevocations, st.PendingIssue = nil, nil, nil
	return l.Forget(ctx, obj)
}

// WaitSettled returns a RevocationPending problem while an interrupted create of the
// resource may still land upstream: revoking before then could miss its token, which no
// resource would own afterwards.
func (l *Lifecycle) WaitSettled(obj Object) error {
	wait := l.Unsettled(obj)
	if wait <= 0 {
		return nil
	}
	return &Problem{
		Reason:     iamv1alpha1.ReasonRevocationPending,
		RetryAfter: wait,
		Message: fmt.Sprintf("a create upstream was interrupted (its answer was lost); waiting %s for it to settle "+
			"so that whatever it created is revoked too", wait.Round(time.Second)),
	}
}

// Forget deletes the resource's Secret and its metrics, leaving the upstream tokens alone
// (deletionPolicy Orphan, or after Revoke).
func (l *Lifecycle) Forget(ctx context.Context, obj Object) error {
	st := obj.CredentialStatus()
	for _, name := range []string{SecretName(obj), st.SecretName} {
		if name == "" {
			continue
		}
		if err := l.deleteSecret(ctx, obj, name); err != nil {
			return err
		}
	}
	l.Metrics.forget(l.Kind, obj)
	return nil
}

// IsDeletionPolicyOrphan reports whether deletion leaves the upstream credential alone.
func IsDeletionPolicyOrphan(p iamv1alpha1.DeletionPolicy) bool {
	return p == iamv1alpha1.DeletionPolicyOrphan
}

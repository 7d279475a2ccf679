package credential

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// Revocation: every way a token of the resource ends upstream. A replaced token waits for
// its grace period (scheduleRevocation, revokeDue); a token status does not name is a stray
// and is revoked once status is confirmed to be the latest (revokeStrays); on deletion every
// token of the resource goes (Revoke), once no interrupted create can still land
// (WaitSettled).

// scheduleRevocation keeps tok, replaced at now for reason, valid for the grace period at
// most. After a renewal or a requested rotation, it is revoked as soon as its consumers have
// switched (see consumersSwitched); a token replaced because it may have leaked (the Secret
// was altered or deleted, a rotation requested as "compromised") waits for nobody.
func (l *Lifecycle) scheduleRevocation(obj Object, tok *iamv1alpha1.IssuedToken, now time.Time, reason string) {
	st := obj.CredentialStatus()
	for _, p := range st.PendingRevocations {
		if p.ID == tok.ID {
			return
		}
	}
	revokeAt := RevokeAt(obj.Credential(), tok, now)
	if compromised(obj) {
		revokeAt = now
	}
	st.PendingRevocations = append(st.PendingRevocations, iamv1alpha1.PendingRevocation{
		ID:               tok.ID,
		Name:             tok.Name,
		RevokeAt:         metav1.NewTime(revokeAt),
		Since:            timePtr(now),
		WaitForConsumers: (reason == iamv1alpha1.RotationRenewal || reason == iamv1alpha1.RotationRequested) && !compromised(obj),
	})
}

// revokeStrays revokes every listed token that status does not know (neither current nor
// waiting for its grace period). Before the first, persist confirms that status is the
// latest: a reconcile working from a stale cache would not know a token that another
// reconcile has just issued and written to the Secret, and must not revoke it.
func (l *Lifecycle) revokeStrays(ctx context.Context, obj Object, want secretShape, iss Issuer, listing Listing, persist Persister, note string) error {
	st := obj.CredentialStatus()
	known := map[string]bool{}
	if st.Token != nil {
		known[st.Token.ID] = true
	}
	for _, p := range st.PendingRevocations {
		known[p.ID] = true
	}
	confirmed := false
	for _, k := range listing.Keys {
		if known[k.ID] {
			continue
		}
		if !confirmed {
			held, err := l.confirmStrays(ctx, obj, want, persist)
			if err != nil {
				return fmt.Errorf("confirm status before revoking token %s: %w", k.ID, err)
			}
			known[held] = held != ""
			confirmed = true
			if known[k.ID] {
				continue
			}
		}
		if err := iss.Revoke(ctx, k.ID); err != nil {
			return fmt.Errorf("revoke stray token %s: %w", k.ID, err)
		}
		l.Metrics.orphanRevoked(l.Kind)
		l.event(obj, corev1.EventTypeNormal, iamv1alpha1.EventOrphanRevoked, "Revoke", note, k.ID)
		ctrl.LoggerFrom(ctx).Info("revoked stray token", "tokenID", k.ID)
	}
	return nil
}

// confirmStrays makes sure, before any revocation of a token status does not name, that the
// reconcile does not work from stale reads: status is confirmed with a write locked on the
// resourceVersion the reconcile started from, and the Secret is read around the cache. It
// returns the ID of the token the Secret really holds, which is never revoked as a stray
// (a rotation whose status write was lost put it there; the next reconcile adopts it).
func (l *Lifecycle) confirmStrays(ctx context.Context, obj Object, want secretShape, persist Persister) (string, error) {
	if err := persist.Confirm(ctx); err != nil {
		return "", err
	}
	live, err := l.readAround(ctx, obj, want.name)
	if err != nil {
		var p *Problem
		if asProblem(err, &p) && p.Reason == iamv1alpha1.ReasonSecretConflict {
			return "", nil // not the resource's Secret: it holds none of its tokens
		}
		return "", err
	}
	if live == nil {
		return "", nil
	}
	return live.Annotations[iamv1alpha1.TokenIDAnnotation], nil
}

// revokeDue revokes the replaced tokens whose consumers have switched or whose grace period
// has ended, and returns when to look again (zero when none waits).
func (l *Lifecycle) revokeDue(ctx context.Context, obj Object, iss Issuer, now time.Time) (time.Time, error) {
	st := obj.CredentialStatus()
	var next time.Time
	kept := st.PendingRevocations[:0]
	var firstErr error
	for _, p := range st.PendingRevocations {
		due, inUse, wake, err := l.revocationDue(ctx, obj, iss, &p, now)
		if err == nil && due {
			err = l.revokeReplaced(ctx, obj, iss, p, inUse)
		}
		if err != nil && firstErr == nil {
			firstErr = err
		}
		if err != nil || !due {
			kept = append(kept, p)
			if next.IsZero() || wake.Before(next) {
				next = wake
			}
		}
		if firstErr != nil {
			continue
		}
	}
	st.PendingRevocations = kept
	return next, firstErr
}

// revocationDue decides whether a replaced token is revoked now: at the end of its grace
// period (inUse says whether its consumers were still on it), or earlier once they have
// switched. It returns when to look again otherwise, and records what it waits for.
func (l *Lifecycle) revocationDue(ctx context.Context, obj Object, iss Issuer, p *iamv1alpha1.PendingRevocation, now time.Time) (due, inUse bool, wake time.Time, err error) {
	if !p.WaitForConsumers {
		return !now.Before(p.RevokeAt.Time), false, p.RevokeAt.Time, nil
	}
	switched, why, recheck, err := l.consumersSwitched(ctx, obj, iss, p, now)
	if err != nil {
		return false, false, now.Add(recheckConsumers), err
	}
	p.WaitingFor = why
	if !now.Before(p.RevokeAt.Time) {
		return true, !switched, p.RevokeAt.Time, nil
	}
	return switched, false, minTime(recheck, p.RevokeAt.Time), nil
}

// revokeReplaced revokes a replaced token; one revoked while its consumers still used it is
// reported.
func (l *Lifecycle) revokeReplaced(ctx context.Context, obj Object, iss Issuer, p iamv1alpha1.PendingRevocation, inUse bool) error {
	if err := iss.Revoke(ctx, p.ID); err != nil {
		return fmt.Errorf("revoke replaced token %s: %w", p.ID, err)
	}
	l.Metrics.revoked(l.Kind)
	switch {
	case inUse:
		l.Metrics.revokedInUse(l.Kind)
		l.event(obj, corev1.EventTypeWarning, iamv1alpha1.EventRevokedWhileInUse, "Revoke",
			"revoked replaced token %s at the end of its grace period although %s", p.ID, p.WaitingFor)
	case p.WaitForConsumers:
		l.event(obj, corev1.EventTypeNormal, iamv1alpha1.EventTokenRevoked, "Revoke",
			"revoked replaced token %s: its consumers have switched to the new one", p.ID)
	default:
		l.event(obj, corev1.EventTypeNormal, iamv1alpha1.EventTokenRevoked, "Revoke", "revoked replaced token %s after its grace period", p.ID)
	}
	return nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

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
		l.event(obj, corev1.EventTypeNormal, iamv1alpha1.EventTokenRevoked, "Revoke", "revoked %d token(s) upstream on deletion", len(ids))
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

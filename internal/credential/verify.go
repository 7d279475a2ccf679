package credential

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// VerifyDue reports whether the periodic upstream check of the resource is due.
// An interrupted create makes a check due once it has settled, whatever the interval.
func (l *Lifecycle) VerifyDue(obj Object, now time.Time) bool {
	st := obj.CredentialStatus()
	if st.Token == nil {
		return false
	}
	if st.LastInterruptedIssue != nil {
		return !now.Before(st.LastInterruptedIssue.Add(l.settle()))
	}
	if l.VerifyInterval <= 0 {
		return false
	}
	return !now.Before(l.checks.lastCheck(obj.GetUID(), now, l.VerifyInterval).Add(l.VerifyInterval))
}

// verify checks the resource's tokens upstream: the current one must still be active (it
// may have been revoked or may have expired out of band), and any other active token of the
// resource that status does not know (a stray left by a lost answer) is revoked. It returns
// a rotation reason when the current token is gone; when it is there, out gets what its
// listing says of its use.
func (l *Lifecycle) verify(ctx context.Context, obj Object, want secretShape, iss Issuer, now time.Time, persist Persister, reissue bool, out *Outcome) (string, error) {
	st := obj.CredentialStatus()
	listing, err := iss.Owned(ctx, false)
	if err != nil {
		return "", fmt.Errorf("verify tokens upstream: %w", err)
	}
	if listing.At.Before(st.Token.IssuedAt.Time) {
		// A cached list older than the token cannot tell whether it is alive.
		if listing, err = iss.Owned(ctx, true); err != nil {
			return "", fmt.Errorf("verify tokens upstream: %w", err)
		}
	}
	if err := l.revokeStrays(ctx, obj, want, iss, listing, persist,
		"revoked token %s: it belongs to this resource but no Secret holds it"); err != nil {
		return "", err
	}
	active := map[string]bool{}
	for _, k := range listing.Keys {
		active[k.ID] = true
	}
	// Replaced tokens already gone upstream need no revocation.
	kept := st.PendingRevocations[:0]
	for _, p := range st.PendingRevocations {
		if active[p.ID] {
			kept = append(kept, p)
		}
	}
	st.PendingRevocations = kept
	// The check counts once status holds what it found: a check whose write is lost (a
	// conflict with a newer version of the resource) is made again by the next reconcile,
	// instead of being remembered while what it found (the token gone) is forgotten.
	uid := obj.GetUID()
	persist.AfterWrite(func() {
		l.checks.checked(uid, now)
		l.Metrics.checked(l.Kind, obj, now)
	})
	if st.LastInterruptedIssue != nil && !now.Before(st.LastInterruptedIssue.Add(l.settle())) {
		st.LastInterruptedIssue = nil // whatever it created has landed and was revoked above
	}
	key, ok := currentKey(listing, st.Token.ID)
	if !ok {
		return l.currentGone(ctx, obj, iss, reissue)
	}
	l.observeUse(obj, key, now, out)
	return "", nil
}

// currentGone decides what follows when the current token is no longer active upstream: an
// expired one is replaced; one revoked by someone else stops the resource until a person
// asks for a new one (see waitForPerson), unless the operator is told to reissue.
func (l *Lifecycle) currentGone(ctx context.Context, obj Object, iss Issuer, reissue bool) (string, error) {
	st := obj.CredentialStatus()
	id := st.Token.ID
	revoked, err := iss.Revoked(ctx, id)
	if err != nil {
		return "", fmt.Errorf("find out why token %s is gone: %w", id, err)
	}
	log := ctrl.LoggerFrom(ctx)
	switch {
	case !revoked:
		l.event(obj, corev1.EventTypeNormal, iamv1alpha1.EventTokenRevokedUpstream, "Verify",
			"token %s has expired upstream; issuing a new one", id)
		log.Info("current token expired upstream", "tokenID", id)
		return iamv1alpha1.RotationExpired, nil
	case reissue:
		l.event(obj, corev1.EventTypeWarning, iamv1alpha1.EventTokenRevokedUpstream, "Verify",
			"token %s was revoked upstream by someone else; issuing a new one (--on-upstream-revocation=reissue)", id)
		log.Info("current token revoked upstream; reissuing", "tokenID", id)
		return iamv1alpha1.RotationUpstreamRevoked, nil
	}
	l.event(obj, corev1.EventTypeWarning, iamv1alpha1.EventTokenRevokedUpstream, "Verify",
		"token %s was revoked upstream by someone else; no new token is issued until %s changes", id, iamv1alpha1.RotateAnnotation)
	log.Info("current token revoked upstream; waiting for a person", "tokenID", id)
	st.Token = nil
	st.RevokedUpstream = timePtr(l.Clock.Now())
	l.Metrics.revokedUpstream(l.Kind)
	return "", l.waitForPerson(obj)
}

package credential

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// End is when a token should stop being used: its upstream expiry, or the end of the
// lifetime the spec asks for, whichever comes first (a service user's first key may live
// longer upstream than the spec wants).
func End(spec *iamv1alpha1.CredentialSpec, tok *iamv1alpha1.IssuedToken) time.Time {
	end := tok.IssuedAt.Add(spec.Lifetime())
	if tok.ExpiresAt != nil && tok.ExpiresAt.Time.Before(end) {
		end = tok.ExpiresAt.Time
	}
	return end
}

// RenewAt is when a token is replaced: renewBefore ahead of its end, by default a third of
// its life ahead; never sooner than MinRenewalInterval after its issue (or two thirds of its
// life, for a token that lives less than that), whatever the spec says: a renewal due at
// once would renew again and again.
func RenewAt(spec *iamv1alpha1.CredentialSpec, tok *iamv1alpha1.IssuedToken) time.Time {
	end := End(spec, tok)
	life := end.Sub(tok.IssuedAt.Time)
	before := life / 3
	if spec.RenewBefore != nil && spec.RenewBefore.Duration > 0 {
		before = spec.RenewBefore.Duration
	}
	earliest := tok.IssuedAt.Add(min(iamv1alpha1.MinRenewalInterval, life*2/3))
	if at := end.Add(-before); at.After(earliest) {
		return at
	}
	return earliest
}

// RevokeAt is when a token replaced at now is revoked: after the grace period, but no later
// than its own expiry.
func RevokeAt(spec *iamv1alpha1.CredentialSpec, tok *iamv1alpha1.IssuedToken, now time.Time) time.Time {
	at := now.Add(spec.GracePeriod())
	if tok.ExpiresAt != nil && tok.ExpiresAt.Time.Before(at) {
		at = tok.ExpiresAt.Time
	}
	return at
}

// nextWake is the earliest of the times at which the lifecycle must act again.
func nextWake(now time.Time, times ...time.Time) time.Duration {
	var next time.Duration
	for _, t := range times {
		if t.IsZero() {
			continue
		}
		d := t.Sub(now)
		if d < time.Second {
			d = time.Second
		}
		if next == 0 || d < next {
			next = d
		}
	}
	return next
}

func timePtr(t time.Time) *metav1.Time {
	mt := metav1.NewTime(t)
	return &mt
}

// earliestTime is the sooner of two times; a zero time means none.
func earliestTime(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

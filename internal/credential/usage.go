package credential

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/devinapi"
)

// observeUse reads, from the key the periodic check listed anyway, when the current token
// was last used: it becomes a metric, and, with spec unusedAfter, the verdict Unused. The
// verdict's message names no time that moves while nothing flips, so a check that finds the
// key still used (or still unused) writes nothing.
func (l *Lifecycle) observeUse(obj Object, key devinapi.APIKey, now time.Time, out *Outcome) {
	l.Metrics.lastUsed(l.Kind, obj, key.LastUsedAt)
	after := obj.Credential().UnusedAfter
	if after == nil {
		return
	}
	since, what := key.CreatedAt, "since it was issued"
	if key.LastUsedAt != nil {
		since, what = *key.LastUsedAt, "since "+key.LastUsedAt.UTC().Format(time.DateOnly)
	}
	if tok := obj.CredentialStatus().Token; key.LastUsedAt == nil && tok != nil && tok.IssuedAt.After(since) {
		since = tok.IssuedAt.Time // an imported or adopted key counts from when this resource took it
	}
	if now.Sub(since) < after.Duration {
		out.Unused = &Verdict{Status: metav1.ConditionFalse, Reason: iamv1alpha1.ReasonKeyUsed,
			Message: fmt.Sprintf("key %s was used or issued within the last %s", key.ID, after.Duration)}
		return
	}
	out.Unused = &Verdict{Status: metav1.ConditionTrue, Reason: iamv1alpha1.ReasonKeyUnused,
		Message: fmt.Sprintf("key %s has not been used %s (unusedAfter %s): if nothing needs it, delete the %s", key.ID, what, after.Duration, l.Kind)}
	if !meta.IsStatusConditionTrue(obj.CredentialStatus().Conditions, iamv1alpha1.ConditionUnused) {
		l.event(obj, corev1.EventTypeWarning, iamv1alpha1.EventKeyUnused, "Verify", "%s", out.Unused.Message)
	}
}

// currentKey finds the current token in a listing.
func currentKey(listing Listing, id string) (devinapi.APIKey, bool) {
	for _, k := range listing.Keys {
		if k.ID == id && id != "" {
			return k, true
		}
	}
	return devinapi.APIKey{}, false
}

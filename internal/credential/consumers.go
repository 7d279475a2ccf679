package credential

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// Consumers restarts the workloads that consume a resource's Secret (its
// rolloutRestartTargets) and tells when they have rolled out.
type Consumers interface {
	Restart(ctx context.Context, ns string, targets []iamv1alpha1.RolloutRestartTarget, at time.Time) ([]string, error)
	RolledOut(ctx context.Context, ns string, targets []iamv1alpha1.RolloutRestartTarget, since time.Time) (bool, string, error)
}

// UsageReporter is an Issuer whose upstream reports when a token was last used (a service
// user's API keys: last_used_at). Personal access tokens report nothing.
type UsageReporter interface {
	LastUsed(ctx context.Context, id string) (*time.Time, error)
}

const (
	// restartDebounce is how long after a rotation the consumers are restarted: a burst of
	// rotations restarts them once.
	restartDebounce = 5 * time.Second
	// recheckConsumers is how often, at most, a revocation that waits for its consumers
	// looks again; it looks sooner while the replacement is recent (see recheck).
	recheckConsumers = 30 * time.Second
	// recheckConsumersFirst is how soon it looks again right after the replacement: a
	// rollout often finishes within seconds, and the previous token should not outlive it
	// by half a minute.
	recheckConsumersFirst = 2 * time.Second
	// defaultQuietPeriod is spec.revocationQuietPeriod's default.
	defaultQuietPeriod = 5 * time.Minute
)

// compromised reports whether the last rotation was requested as "compromised": the
// previous token is then revoked at once, whoever still uses it.
func compromised(obj Object) bool {
	return strings.HasPrefix(obj.GetAnnotations()[iamv1alpha1.RotateAnnotation], iamv1alpha1.RotateCompromised)
}

// consumersSwitched reports whether the consumers of a replaced token have switched to the
// new one: the restart targets have rolled out, and, where the upstream reports use, the
// token has not been used for the quiet period since it was replaced. Otherwise it says what
// it waits for and when to look again.
func (l *Lifecycle) consumersSwitched(ctx context.Context, obj Object, iss Issuer, p *iamv1alpha1.PendingRevocation, now time.Time) (bool, string, time.Time, error) {
	spec := obj.Credential()
	since := now
	if p.Since != nil {
		since = p.Since.Time
	}
	if len(spec.RolloutRestartTargets) > 0 && l.Consumers != nil {
		ok, why, err := l.Consumers.RolledOut(ctx, obj.GetNamespace(), spec.RolloutRestartTargets, since)
		if err != nil {
			return false, "", now, fmt.Errorf("check the rollout of the consumers: %w", err)
		}
		if !ok {
			return false, why, now.Add(recheck(since, now)), nil
		}
	}
	reporter, ok := iss.(UsageReporter)
	if !ok {
		if len(spec.RolloutRestartTargets) == 0 {
			return false, "the grace period (the upstream reports no use of this token)", p.RevokeAt.Time, nil
		}
		return true, "", now, nil
	}
	quiet := defaultQuietPeriod
	if spec.RevocationQuietPeriod != nil {
		quiet = spec.RevocationQuietPeriod.Duration
	}
	last, err := reporter.LastUsed(ctx, p.ID)
	if err != nil {
		return false, "", now, fmt.Errorf("read when token %s was last used: %w", p.ID, err)
	}
	quietFrom := since
	if last != nil && last.After(quietFrom) {
		quietFrom = *last
	}
	if end := quietFrom.Add(quiet); now.Before(end) {
		why := fmt.Sprintf("%s without use of the token (quiet period)", quiet)
		if last != nil && last.After(since) {
			why = fmt.Sprintf("a consumer still used it at %s", last.UTC().Format(time.RFC3339))
		}
		return false, why, minTime(end, now.Add(recheck(since, now))), nil
	}
	return true, "", now, nil
}

// restartConsumers restarts the resource's rolloutRestartTargets once the Secret holds a new
// token (a short while after the last rotation, so that a burst restarts once), and returns
// when to look again. Targets missing or not patchable make a condition, not a failure.
// Before it restarts anything, persist confirms that the reconcile works from the latest
// state: one working from a stale cache, which has not seen status record the restart,
// would restart the workloads a second time (and, with a later timestamp, restart a rollout
// that the first one began).
func (l *Lifecycle) restartConsumers(ctx context.Context, obj Object, now time.Time, persist Persister, out *Outcome) (time.Time, error) {
	st := obj.CredentialStatus()
	targets := obj.Credential().RolloutRestartTargets
	if len(targets) == 0 || l.Consumers == nil || st.Token == nil || st.LastRotationTime == nil {
		return time.Time{}, nil
	}
	if st.Restart != nil && st.Restart.TokenID == st.Token.ID {
		return time.Time{}, nil
	}
	if due := st.LastRotationTime.Add(restartDebounce); now.Before(due) {
		return due, nil
	}
	if err := persist.Confirm(ctx); err != nil {
		return time.Time{}, fmt.Errorf("confirm status before restarting the consumers: %w", err)
	}
	done, err := l.Consumers.Restart(ctx, obj.GetNamespace(), targets, now)
	st.Restart = &iamv1alpha1.RestartStatus{TokenID: st.Token.ID, At: metav1.NewTime(now), Targets: done}
	for range done {
		l.Metrics.consumerRestarted(l.Kind)
	}
	if len(done) > 0 {
		l.event(obj, corev1.EventTypeNormal, iamv1alpha1.EventConsumersRestarted, "Restart",
			"restarted %s for token %s", strings.Join(done, ", "), st.Token.ID)
	}
	cond := func(status metav1.ConditionStatus, reason, msg string) {
		out.ConsumersRestarted = &Verdict{Status: status, Reason: reason, Message: msg}
	}
	if err != nil {
		ctrl.LoggerFrom(ctx).Info("could not restart every consumer", "error", err.Error())
		l.event(obj, corev1.EventTypeWarning, iamv1alpha1.ReasonRestartFailed, "Restart", "%s", err.Error())
		cond(metav1.ConditionFalse, iamv1alpha1.ReasonRestartFailed, err.Error())
		return time.Time{}, nil
	}
	cond(metav1.ConditionTrue, iamv1alpha1.ReasonRestarted, fmt.Sprintf("restarted %s for token %s", strings.Join(done, ", "), st.Token.ID))
	return time.Time{}, nil
}

// recheck is how long a revocation that waits for its consumers waits before it looks
// again: a quarter of the time since the token was replaced, from recheckConsumersFirst up
// to recheckConsumers. A rollout that finishes soon is seen within seconds, and one that
// takes long costs no more than a look every half minute (the workloads are read, not
// cached: the operator watches no workloads).
func recheck(since, now time.Time) time.Duration {
	return min(max(now.Sub(since)/4, recheckConsumersFirst), recheckConsumers)
}

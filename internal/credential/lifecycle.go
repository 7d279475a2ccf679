package credential

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// Lifecycle issues, stores, rotates, verifies and revokes the credential of one resource at
// a time. One Lifecycle serves every resource of a kind; it holds no per-resource state.
type Lifecycle struct {
	// Client reads and writes Secrets; its cache holds only Secrets the operator labelled.
	Client client.Client
	// Reader reads around the cache: a Secret of the resource that lost the operator's label
	// is not in the cache but is still the resource's. Nil skips that check.
	Reader client.Reader
	// Recorder emits events on the resource.
	Recorder events.EventRecorder
	// Clock tells the time; tests inject a fake one.
	Clock clock.PassiveClock
	// Kind labels metrics, e.g. "PersonalAccessToken".
	Kind string
	// VerifyInterval is how often the upstream token is checked (revoked or expired out of
	// band, strays to clean up). Zero disables the check.
	VerifyInterval time.Duration
	// Metrics receives counters; nil records nothing.
	Metrics *Metrics
	// Settle is how long a create whose answer was lost may still land upstream: the Devin
	// API client's timeout and a margin. Zero means DefaultSettle.
	Settle time.Duration
	// Cluster identifies this cluster in upstream names (see Owner).
	Cluster string
	// Admission applies the tenancy policy before every create; nil allows everything.
	Admission Admission
	// Consumers restarts the workloads that consume a Secret; nil restarts nothing.
	Consumers Consumers
	// APIURL and DefaultOrganization fill the Secret's extra entries (extraKeys).
	APIURL, DefaultOrganization string
	// MintBudget is how many creates upstream one resource may cause per hour, whatever
	// the reason; zero means DefaultMintBudget.
	MintBudget int
	// checks remembers when each resource was last checked upstream.
	checks checkTimes
	// mints remembers each resource's recent creates (the mint budget).
	mints mintLog
	// residents maps names to UIDs, to drop the memory of resources that vanish.
	residents residents
	// verdicts remembers the last tenancy verdict on each resource.
	verdicts verdicts
	// ReissueRevoked makes the lifecycle replace a token revoked upstream by someone else at
	// once, as it replaces an expired one. By default it stops and waits for a person
	// (iam.devin.ai/rotate): a token revoked because it leaked must not be replaced in the
	// Secret it leaked from without anybody noticing.
	ReissueRevoked bool
	// Restore seals a restore record onto every Secret the lifecycle writes a token into,
	// and adopts a restored Secret a verified record names (when its Adopt is set); nil:
	// neither.
	Restore *Restore
}

// DefaultSettle is the Settle of a Lifecycle that names none.
const DefaultSettle = time.Minute

func (l *Lifecycle) settle() time.Duration {
	if l.Settle > 0 {
		return l.Settle
	}
	return DefaultSettle
}

// Unsettled returns how long until no interrupted create of the resource can still land
// upstream (zero when none can). A pending create is taken as interrupted now, if its time
// is not known: it is resolved into status.lastInterruptedIssue.
func (l *Lifecycle) Unsettled(obj Object) time.Duration {
	st := obj.CredentialStatus()
	if in := l.pendingIntent(obj); in != nil {
		l.resolveIntent(obj, in)
	}
	if st.LastInterruptedIssue == nil {
		return 0
	}
	return max(st.LastInterruptedIssue.Add(l.settle()).Sub(l.Clock.Now()), 0)
}

// Reconcile brings the resource's credential to its spec: it finishes an interrupted issue,
// issues or rotates when needed, keeps the Secret in shape, verifies the token upstream
// now and then and revokes replaced tokens after their grace period. It returns when to look
// again and the verdicts the status step writes as conditions (with what was decided, also on
// an error). persist is called before every create upstream.
func (l *Lifecycle) Reconcile(ctx context.Context, obj Object, iss Issuer, persist Persister) (out Outcome, _ error) {
	now := l.Clock.Now()
	if _, err := nextIssue(obj); err != nil {
		l.remember(obj, false)
		return out, l.stalled(ctx, obj, iss, now, err)
	}
	// Judged first: a spec no admission record covers moves no Secret, restarts nothing and
	// mints nothing; the resource keeps serving what was admitted.
	adm, cached, refused := l.admit(ctx, obj, false, &out)
	l.remember(obj, refused == nil)
	defer func() { l.remember(obj, refused == nil) }() // what this reconcile created counts too
	if adm.Err != nil {
		return out, refused
	}
	want := l.wantedSecret(obj)
	sec, err := l.currentSecret(ctx, obj, want, iss, persist, refused == nil)
	if err != nil {
		return out, err
	}
	if err := l.waitForPerson(obj); err != nil {
		return out, l.stalled(ctx, obj, iss, now, err)
	}
	reason := l.reissueReason(obj, want, sec, now)
	verified := false
	if reason == "" && l.VerifyDue(obj, now) {
		if reason, err = l.verify(ctx, obj, want, iss, now, persist, l.reissueRevoked(adm), &out); err != nil {
			return out, err
		}
		verified = true
	}
	if reason != "" && cached {
		// A create upstream is decided afresh (RBAC may have changed since).
		if adm, _, refused = l.admit(ctx, obj, true, &out); adm.Err != nil {
			return out, refused
		}
	}
	if err := l.act(ctx, obj, want, iss, sec, reason, refused, persist); err != nil {
		return out, err
	}
	var nextRestart time.Time
	if refused == nil {
		if nextRestart, err = l.restartConsumers(ctx, obj, now, persist, &out); err != nil {
			return out, err
		}
	}
	nextRevoke, err := l.revokeDue(ctx, obj, iss, now)
	if err != nil {
		return out, err
	}
	out.Wake = l.schedule(obj, want, now, earliestTime(nextRevoke, nextRestart), verified)
	return out, nil
}

// act issues a token for reason (when the spec is admitted, and not suspended while a token
// is there), or brings the Secret in shape when there is no reason to.
func (l *Lifecycle) act(ctx context.Context, obj Object, want secretShape, iss Issuer, sec *corev1.Secret, reason string, refused error, persist Persister) error {
	switch {
	case reason != "" && obj.Suspended() && obj.CredentialStatus().Token != nil:
		return nil // suspended: keep what is there, revoke nothing new, issue nothing
	case reason != "" && refused != nil:
		return refused // the tenancy policy allows nothing new; the current token stays
	case reason != "":
		return l.issue(ctx, obj, want, iss, sec, reason, persist)
	}
	return l.syncSecret(ctx, obj, want, sec)
}

// stalled reports why the resource waits for a person, and meanwhile still revokes the
// replaced tokens whose grace period has ended: a stalled resource never keeps more tokens
// valid than a healthy one.
func (l *Lifecycle) stalled(ctx context.Context, obj Object, iss Issuer, now time.Time, why error) error {
	if _, err := l.revokeDue(ctx, obj, iss, now); err != nil {
		return fmt.Errorf("%w; and: %w", why, err)
	}
	return why
}

// currentSecret reads the resource's Secret and brings status in line with it first: an
// interrupted issue is finished, a status that was lost is adopted from the Secret, and a
// Secret the spec renamed is moved (when the spec is admitted: mayMove).
func (l *Lifecycle) currentSecret(ctx context.Context, obj Object, want secretShape, iss Issuer, persist Persister, mayMove bool) (*corev1.Secret, error) {
	st := obj.CredentialStatus()
	name := want.name
	sec, secErr := l.getSecret(ctx, obj, name)
	if secErr == nil && sec != nil && truncated(sec) {
		// The cache keeps the fingerprints of a few data keys only: read all of them.
		sec, secErr = l.readAround(ctx, obj, name)
	}
	if secErr == nil && sec == nil {
		// Not in the cache: make sure no Secret of that name exists (someone else's, or ours
		// with its label removed) before a token is minted for it.
		sec, secErr = l.readAround(ctx, obj, name)
	}
	if isSecretConflict(secErr) && st.Token == nil && st.IssueCount == 0 && l.Restore != nil && l.Restore.Adopt {
		// Re-created from a backup beside its restored Secret, whose owner reference names
		// the resource's earlier UID: adopted only on proof (see adoptRestored), before the
		// restored intent annotation (the earlier resource's) is looked into.
		restored, err := l.adoptRestored(ctx, obj, want, iss)
		if err != nil {
			return nil, err
		}
		if restored != nil {
			sec, secErr = restored, nil
		}
	}
	if in := l.pendingIntent(obj); in != nil {
		if err := l.recoverPendingIssue(ctx, obj, want, iss, sec, in, persist); err != nil {
			return nil, err
		}
	}
	if secErr != nil {
		return nil, secErr
	}
	if st.Token == nil && st.IssueCount == 0 && sec != nil {
		// Status was lost (restored from a backup without it, say): the Secret says which
		// token the resource has, if the backend lists it as the resource's own.
		if err := l.adoptListed(ctx, obj, want, iss, sec); err != nil {
			return nil, err
		}
	}
	if sec == nil && st.SecretName != "" && st.SecretName != name && mayMove {
		return l.moveSecret(ctx, obj, want, st.SecretName)
	}
	return sec, nil
}

// schedule records where the token is, when it expires and when it is renewed, and returns
// when the lifecycle must act again: the renewal, the next revocation or the next check
// (an interval from now when this reconcile checked: its check is remembered only once
// status is written).
func (l *Lifecycle) schedule(obj Object, want secretShape, now, nextRevoke time.Time, verified bool) time.Duration {
	st := obj.CredentialStatus()
	st.SecretName = want.name
	st.RenewAt, st.ExpiresAt = nil, nil
	if st.Token != nil && renewable(obj, st.Token) {
		st.RenewAt = timePtr(RenewAt(obj.Credential(), st.Token))
		l.Metrics.observeExpiry(l.Kind, obj, st.Token)
	}
	if st.Token != nil {
		st.ExpiresAt = st.Token.ExpiresAt
	}
	st.LastVerifiedTime = nil // no longer kept in status: see checkTimes
	var nextVerify time.Time
	switch {
	case l.VerifyInterval > 0 && st.Token != nil && verified:
		nextVerify = now.Add(l.VerifyInterval)
	case l.VerifyInterval > 0 && st.Token != nil:
		nextVerify = l.checks.lastCheck(obj.GetUID(), now, l.VerifyInterval).Add(l.VerifyInterval)
	}
	if st.LastInterruptedIssue != nil {
		nextVerify = st.LastInterruptedIssue.Add(l.settle())
	}
	var renew time.Time
	if st.RenewAt != nil && !obj.Suspended() {
		renew = st.RenewAt.Time
	}
	return nextWake(now, renew, nextRevoke, nextVerify)
}

// OwnerGone forgets the tokens of an upstream owner that is gone and took them with it (a
// service user deleted or expired upstream): nothing is left to keep or revoke, and the
// next token is issued for reason. An owner deleted by someone else (not expired) is
// treated as a token revoked upstream: nothing new until a person asks.
func (l *Lifecycle) OwnerGone(obj Object, reason string, deleted bool) {
	st := obj.CredentialStatus()
	st.Token, st.PendingRevocations = nil, nil
	st.LastRotationReason = reason
	if deleted && !l.ReissueRevoked {
		st.RevokedUpstream = timePtr(l.Clock.Now())
		l.Metrics.revokedUpstream(l.Kind)
	}
}

// waitForPerson keeps a resource whose token was revoked upstream by someone else stopped
// until a person asks for a new one by changing iam.devin.ai/rotate.
func (l *Lifecycle) waitForPerson(obj Object) error {
	st := obj.CredentialStatus()
	if st.RevokedUpstream == nil {
		return nil
	}
	if req := obj.GetAnnotations()[iamv1alpha1.RotateAnnotation]; req != "" && req != st.RotateRequest {
		st.RevokedUpstream = nil // asked: issue again
		return nil
	}
	return Stall(iamv1alpha1.ReasonRevokedUpstream, fmt.Sprintf("the token was revoked upstream by someone else at %s (a leak being answered?); no new token "+
		"is written into the Secret on its own: set the annotation %s to a new value to issue one",
		st.RevokedUpstream.UTC().Format(time.RFC3339), iamv1alpha1.RotateAnnotation), nil)
}

// renewable reports whether a token is renewed by the operator: not an imported one (its
// owner renews it), nor one whose end is its owner's expiry (a service user's key cannot
// outlive the service user: a new key would end at the same time).
func renewable(obj Object, tok *iamv1alpha1.IssuedToken) bool {
	if obj.Imported() {
		return false
	}
	owner := obj.OwnerExpiresAt()
	return owner == nil || End(obj.Credential(), tok).Before(owner.Time)
}

// reissueReason says why a new token is needed now, or "" when the current one is fine.
func (l *Lifecycle) reissueReason(obj Object, want secretShape, sec *corev1.Secret, now time.Time) string {
	st := obj.CredentialStatus()
	spec := obj.Credential()
	switch {
	case st.Token == nil:
		return iamv1alpha1.ReasonIssuing
	case sec == nil:
		return iamv1alpha1.RotationSecretDeleted
	}
	if _, ok := tokenKey(sec, want.key, st.SecretHash); !ok {
		return iamv1alpha1.RotationSecretModified
	}
	if req := obj.GetAnnotations()[iamv1alpha1.RotateAnnotation]; req != "" && req != st.RotateRequest {
		return iamv1alpha1.RotationRequested
	}
	// RenewAt follows the spec: a lifetime shortened in the spec brings it forward.
	if renewable(obj, st.Token) && !now.Before(RenewAt(spec, st.Token)) {
		return iamv1alpha1.RotationRenewal
	}
	return ""
}

// syncSecret keeps the Secret's labels, annotations and data key in line with the template,
// without touching the token. Only a renamed data key needs the token's value, read around
// the cache.
func (l *Lifecycle) syncSecret(ctx context.Context, obj Object, want secretShape, sec *corev1.Secret) error {
	st := obj.CredentialStatus()
	if sec == nil || st.Token == nil || !secretNeedsSync(want, sec, st.Token) {
		return nil
	}
	if fingerprints(sec)[want.key] == st.SecretHash {
		_, err := l.patchSecret(ctx, sec, secretPatch(want, sec, nil, st.Token, ""))
		return err
	}
	live, err := l.readAround(ctx, obj, sec.Name)
	if err != nil || live == nil {
		return ignoreConflict(err)
	}
	value, ok := tokenValue(live, want.key, st.SecretHash)
	if !ok {
		return nil // changed meanwhile: the next reconcile sees it
	}
	_, err = l.writeSecret(ctx, obj, want, live, value, st.Token)
	return err
}

// moveSecret copies the token from the Secret the resource used before to the one its spec
// now names, and deletes the old one. It returns the new Secret, or nil when the old one
// does not hold the token any more (a new token is issued then).
func (l *Lifecycle) moveSecret(ctx context.Context, obj Object, want secretShape, from string) (*corev1.Secret, error) {
	st := obj.CredentialStatus()
	if st.Token == nil {
		return nil, nil
	}
	old, err := l.readAround(ctx, obj, from)
	if err != nil || old == nil {
		return nil, ignoreConflict(err)
	}
	value, ok := tokenValue(old, want.key, st.SecretHash)
	if !ok {
		return nil, nil
	}
	sec, err := l.writeSecret(ctx, obj, want, nil, value, st.Token)
	if err != nil {
		return nil, err
	}
	if err := l.deleteSecret(ctx, obj, from); err != nil {
		return nil, err
	}
	ctrl.LoggerFrom(ctx).Info("moved token to new secret", "from", from, "to", want.name)
	return sec, nil
}

func ignoreConflict(err error) error {
	var p *Problem
	if err != nil && asProblem(err, &p) && p.Reason == iamv1alpha1.ReasonSecretConflict {
		return nil
	}
	return err
}

func (l *Lifecycle) event(obj Object, eventType, reason, action, note string, args ...any) {
	if l.Recorder == nil {
		return
	}
	l.Recorder.Eventf(obj, nil, eventType, reason, action, note, args...)
}

// reissueRevoked is what to do with a token revoked upstream by someone else: the policy's
// choice, or the operator's.
func (l *Lifecycle) reissueRevoked(adm AdmissionResult) bool {
	if adm.ReissueRevoked != nil {
		return *adm.ReissueRevoked
	}
	return l.ReissueRevoked
}

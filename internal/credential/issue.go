package credential

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/util/retry"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/devinapi"
)

// issue creates a new token and stores it, in the crash-safe order: intent persisted, token
// created, Secret written, status updated. The token it replaces waits for its grace period.
func (l *Lifecycle) issue(ctx context.Context, obj Object, want secretShape, iss Issuer, sec *corev1.Secret, reason string, persist Persister) error {
	st := obj.CredentialStatus()
	now := l.Clock.Now()
	if err := iss.Prepare(ctx); err != nil {
		return err
	}
	// A token whose Secret the API server refuses would be lost, and minted again and again.
	if err := l.checkWritable(ctx, obj, want, sec); err != nil {
		return err
	}
	n, err := nextIssue(obj)
	if err != nil {
		return err
	}
	name := l.Owner(obj).TokenName(displayName(obj), n)
	if err := l.mintAllowed(obj, now); err != nil {
		return err
	}
	if err := persist.PatchMetadata(ctx, func(o client.Object) { recordIntent(o, n) }); err != nil {
		return fmt.Errorf("record intent to issue %q: %w", name, err)
	}
	l.spendMint(obj, now)

	key, err := iss.Issue(ctx, name, now.Add(obj.Credential().Lifetime()))
	if err != nil {
		if !mayHaveCreated(err) {
			st.IssueCount = n // nothing was created: the intent is done with
		}
		return fmt.Errorf("issue token %q: %w", name, err)
	}
	tok := issuedToken(key, now)
	value := []byte(key.Token.Reveal())
	written, err := l.store(ctx, obj, want, sec, value, tok)
	if err != nil {
		if refusedSecret(err) && iss.Revoke(ctx, tok.ID) == nil {
			// The Secret can never hold this token: it is revoked now rather than left live
			// until the intent is resolved. The refusal in status (or, if that write is lost,
			// the intent annotation) makes the next create wait for a dry run that passes.
			st.IssueCount = n
		}
		return fmt.Errorf("store token %s: %w", tok.ID, err)
	}
	previous := st.Token
	st.IssueCount = n // the intent is fulfilled: the Secret holds its token
	l.recordIssued(obj, tok, value, written.Name, now, reason)
	l.announce(ctx, obj, reason, previous, tok, written.Name+issueNote(iss))
	// Status is written by the caller at the end of the reconcile; if that write is lost, the
	// Secret names the token and the next reconcile adopts it.
	return nil
}

// store writes a new token's value into the Secret. The value exists only in memory: the
// write is retried a few times on conflicts or transient API errors; if it still fails, the
// intent stays and the next reconcile revokes this token by its name and issues another.
func (l *Lifecycle) store(ctx context.Context, obj Object, want secretShape, sec *corev1.Secret, value []byte, tok *iamv1alpha1.IssuedToken) (*corev1.Secret, error) {
	var written *corev1.Secret
	err := retry.OnError(retry.DefaultBackoff, retriableWrite, func() error {
		var werr error
		written, werr = l.writeSecret(ctx, obj, want, sec, value, tok)
		if werr != nil && sec != nil {
			sec, _ = l.readAround(ctx, obj, want.name) // the cache may lag behind
		}
		return werr
	})
	return written, err
}

// recordIssued makes tok the resource's current token, held by the Secret secretName, and
// schedules the revocation of the one it replaces.
func (l *Lifecycle) recordIssued(obj Object, tok *iamv1alpha1.IssuedToken, value []byte, secretName string, now time.Time, reason string) {
	st := obj.CredentialStatus()
	previous := st.Token
	st.Token = tok
	st.PendingIssue = nil
	st.SecretHash = hashToken(value)
	st.SecretName = secretName
	// An issue is no check (it lists nothing): a renewal more often than the check interval
	// must not keep the check from ever coming. Only a first issue starts the clock.
	l.checks.seed(obj.GetUID(), now)
	if req := obj.GetAnnotations()[iamv1alpha1.RotateAnnotation]; req != "" {
		st.RotateRequest = req
	}
	// An imported token cannot be revoked by the operator: its owner does.
	if previous != nil && previous.ID != tok.ID && !obj.Imported() {
		l.scheduleRevocation(obj, previous, now, reason)
	}
}

// IssueNoter is an Issuer that has more to say about its last Issue (a service user
// provisioned with the key): said in the issue's one event, not in an event of its own.
type IssueNoter interface {
	IssueNote() string
}

// issueNote is what iss adds to the event of its last Issue ("" when nothing), as a clause.
func issueNote(iss Issuer) string {
	if n, ok := iss.(IssueNoter); ok && n.IssueNote() != "" {
		return "; " + n.IssueNote()
	}
	return ""
}

// announce counts, logs and reports a new token: the first one, or a rotation for reason.
func (l *Lifecycle) announce(ctx context.Context, obj Object, reason string, previous, tok *iamv1alpha1.IssuedToken, secretName string) {
	log := ctrl.LoggerFrom(ctx)
	st := obj.CredentialStatus()
	if reason == iamv1alpha1.ReasonIssuing && previous == nil {
		l.Metrics.issued(l.Kind)
		l.event(obj, corev1.EventTypeNormal, iamv1alpha1.EventTokenIssued, "Issue",
			"issued token %s, expiring %s, into Secret %s", tok.ID, formatExpiry(tok), secretName)
		log.Info("issued token", "tokenID", tok.ID, "secret", secretName)
		return
	}
	st.LastRotationTime = timePtr(l.Clock.Now())
	st.LastRotationReason = reason
	l.Metrics.rotated(l.Kind, reason)
	l.event(obj, corev1.EventTypeNormal, iamv1alpha1.EventTokenRotated, "Rotate",
		"rotated token (%s): new token %s in Secret %s; the previous one is revoked after the grace period", reason, tok.ID, secretName)
	log.Info("rotated token", "reason", reason, "tokenID", tok.ID, "secret", secretName)
}

// recoverPendingIssue finishes a mint that was interrupted between recording the intent and
// recording the result: the Secret already holds a token issued under the intent, which the
// backend lists as the resource's own (adopt it), or the token's value is lost (revoke
// every token of the resource that status does not know).
func (l *Lifecycle) recoverPendingIssue(ctx context.Context, obj Object, want secretShape, iss Issuer, sec *corev1.Secret, in *intent, persist Persister) error {
	st := obj.CredentialStatus()
	now := l.Clock.Now()
	listing, err := iss.Owned(ctx, true)
	if err != nil {
		return fmt.Errorf("look for token %q: %w", in.name, err)
	}
	previous := st.Token
	if sec != nil && holdsTokenOf(sec, st, in) && listing.has(sec.Annotations[iamv1alpha1.TokenIDAnnotation]) &&
		l.adopt(obj, want, sec, now) {
		if previous != nil && previous.ID != st.Token.ID {
			l.scheduleRevocation(obj, previous, now, "") // why it was replaced is lost: no waiting
		}
		st.PendingIssue = nil
		st.IssueCount = max(st.IssueCount, in.n)
		// The intent answered the rotation request seen when it was recorded.
		if req := obj.GetAnnotations()[iamv1alpha1.RotateAnnotation]; req != "" {
			st.RotateRequest = req
		}
		ctrl.LoggerFrom(ctx).Info("adopted token written before an interruption", "tokenID", st.Token.ID)
		return nil
	}
	if err := l.revokeStrays(ctx, obj, want, iss, listing, persist,
		"revoked token %s: it was created but its value was lost before it reached the Secret"); err != nil {
		return err
	}
	// A create whose answer was lost may also land after this list: look again once it has
	// settled (see VerifyDue), and make deletion wait for it.
	l.resolveIntent(obj, in)
	return nil
}

// adoptListed adopts the token a Secret names when status was lost, but only if the backend
// lists it as the resource's own: an ownerReference and an annotation are easy to forge,
// and a forged one must not make the operator take (and later revoke) someone else's key.
func (l *Lifecycle) adoptListed(ctx context.Context, obj Object, want secretShape, iss Issuer, sec *corev1.Secret) error {
	tok, ok := tokenFromSecret(sec)
	if !ok {
		return nil
	}
	listing, err := iss.Owned(ctx, true)
	if err != nil {
		return fmt.Errorf("check token %s named by Secret %s: %w", tok.ID, sec.Name, err)
	}
	if !listing.has(tok.ID) {
		ctrl.LoggerFrom(ctx).Info("not adopting a token the backend does not list as this resource's", "tokenID", tok.ID, "secret", sec.Name)
		return nil
	}
	l.adopt(obj, want, sec, l.Clock.Now())
	return nil
}

// holdsTokenOf reports whether the Secret holds the token intended by in: by its name, or
// because it holds a token other than status names (a service user's first key is named by
// the backend), issued after the intent when its time is known. The caller also checks that
// the backend lists it as the resource's own.
func holdsTokenOf(sec *corev1.Secret, st *iamv1alpha1.CredentialStatus, in *intent) bool {
	tok, ok := tokenFromSecret(sec)
	if !ok {
		return false
	}
	if tok.Name == in.name {
		return true
	}
	newer := in.since.IsZero() || !tok.IssuedAt.Time.Before(in.since.Truncate(time.Second))
	return (st.Token == nil || tok.ID != st.Token.ID) && newer
}

// adopt takes the token the Secret holds as the resource's current token (status was lost
// or not yet written), and reports whether it did: the Secret must name a token and hold a
// value under the resource's key. The callers check that the backend lists it as the
// resource's own.
func (l *Lifecycle) adopt(obj Object, want secretShape, sec *corev1.Secret, now time.Time) bool {
	st := obj.CredentialStatus()
	tok, ok := tokenFromSecret(sec)
	if !ok {
		return false
	}
	hash, ok := fingerprints(sec)[want.key]
	if !ok {
		return false
	}
	st.Token = tok
	st.SecretHash = hash
	st.SecretName = sec.Name
	if n, ok := l.Owner(obj).IssueNumber(tok.Name); ok && n > st.IssueCount {
		st.IssueCount = n
	}
	l.checks.checked(obj.GetUID(), now)
	return true
}

// mayHaveCreated reports whether a failed create could still have created the token: the
// answer was lost or the backend failed mid-way.
func mayHaveCreated(err error) bool {
	return errors.Is(err, devinapi.ErrRetryable) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// refusedSecret reports whether err is the API server refusing the Secret for good.
func refusedSecret(err error) bool {
	var p *Problem
	return asProblem(err, &p) && p.Reason == iamv1alpha1.ReasonSecretRejected
}

func retriableWrite(err error) bool {
	var p *Problem
	return !asProblem(err, &p)
}

func formatExpiry(tok *iamv1alpha1.IssuedToken) string {
	if tok.ExpiresAt == nil {
		return "never"
	}
	return tok.ExpiresAt.UTC().Format(time.RFC3339)
}

// displayName is the readable part of the upstream token name.
func displayName(obj Object) string {
	if d, ok := obj.(interface{ TokenDisplayName() string }); ok {
		if n := d.TokenDisplayName(); n != "" {
			return n
		}
	}
	return obj.GetNamespace() + "/" + obj.GetName()
}

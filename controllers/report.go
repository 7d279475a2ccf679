package controllers

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/conditions"
	"github.com/cogtokens/token-operator/internal/credential"
	"github.com/cogtokens/token-operator/internal/logging"
	"github.com/cogtokens/token-operator/internal/patch"
)

// report is the status step of both credential kinds: the one place where the outcome of a
// reconcile (the verdicts out carries, then the error) becomes conditions, an event, a log
// line and the result handed to controller-runtime. A Problem with a RetryAfter (the
// backend's Retry-After, or a Stalled recheck) is honoured as RequeueAfter; other errors are
// returned for controller-runtime's exponential backoff.
func report(ctx context.Context, rec events.EventRecorder, obj credential.Object, out credential.Outcome, res ctrl.Result, err error) (ctrl.Result, error) {
	st := obj.CredentialStatus()
	gen := obj.GetGeneration()
	st.ObservedGeneration = gen
	out.SetConditions(obj)
	if err == nil {
		if obj.GetDeletionTimestamp().IsZero() {
			conditions.Ready(&st.Conditions, gen, readyReason(obj), readyMessage(obj))
		}
		return withJitter(res), nil
	}
	if apierrors.IsConflict(err) {
		// Someone else changed the object: read it again, quietly.
		return ctrl.Result{Requeue: true}, nil //nolint:staticcheck // an immediate requeue is what we want
	}
	p := credential.Classify(err)
	// A resource whose Secret still holds a live token stays Ready while a rotation or a
	// check fails; deletion and missing tokens make it not Ready.
	keepReady := st.Token != nil && st.PendingIssue == nil && obj.GetDeletionTimestamp().IsZero() &&
		p.Reason != iamv1alpha1.ReasonSecretConflict
	// Errors of the Kubernetes API quote what was sent (a Secret's data, say): scrub them as
	// the logs are before they reach a condition or an event.
	msg := logging.Scrub(p.Error())
	if p.Stalled {
		conditions.Stalled(&st.Conditions, gen, p.Reason, msg, keepReady)
	} else {
		conditions.Progressing(&st.Conditions, gen, p.Reason, msg, keepReady)
	}
	if rec != nil {
		rec.Eventf(obj, nil, corev1.EventTypeWarning, p.Reason, "Reconcile", "%s", msg)
	}
	log := ctrl.LoggerFrom(ctx)
	if p.Stalled {
		log.Info("cannot progress until the spec or the upstream account changes", "reason", p.Reason, "message", msg)
	}
	if p.RetryAfter > 0 {
		if !p.Stalled {
			log.Info("retrying later", "reason", p.Reason, "after", p.RetryAfter, "error", err.Error())
		}
		return ctrl.Result{RequeueAfter: p.RetryAfter}, nil
	}
	return ctrl.Result{}, err
}

// writeStatus writes what the reconcile changed in status. A conflict means the reconcile
// worked from a state that is no longer the latest (a stale cache, another writer): nothing
// it computed is written, and the resource is read again, quietly.
func writeStatus(ctx context.Context, status *patch.StatusPatcher, res ctrl.Result, err error) (ctrl.Result, error) {
	werr := status.PatchIfExists(ctx)
	switch {
	case werr == nil || err != nil:
		return res, err
	case apierrors.IsConflict(werr):
		return ctrl.Result{Requeue: true}, nil //nolint:staticcheck // an immediate requeue is what we want
	default:
		return res, werr
	}
}

func readyReason(obj credential.Object) string {
	if obj.Suspended() {
		return iamv1alpha1.ReasonSuspended
	}
	return iamv1alpha1.ReasonTokenIssued
}

func readyMessage(obj credential.Object) string {
	st := obj.CredentialStatus()
	if st.Token == nil {
		return "no token"
	}
	msg := fmt.Sprintf("Secret %s holds token %s", st.SecretName, st.Token.ID)
	if st.ExpiresAt != nil {
		msg += ", expiring " + st.ExpiresAt.UTC().Format(time.RFC3339)
	}
	if st.RenewAt != nil && !obj.Suspended() {
		msg += ", renewed from " + st.RenewAt.UTC().Format(time.RFC3339)
	}
	if obj.Suspended() {
		msg += "; suspended: no rotation or repair until spec.suspend is false"
	}
	if obj.Imported() {
		msg += "; imported from spec.importFrom: its owner renews and revokes it in account settings (deleting this resource leaves it valid)"
	}
	return msg
}

// withJitter spreads requeues of many resources that were created together, so that their
// rotations and checks do not all hit the backend in the same second.
func withJitter(res ctrl.Result) ctrl.Result {
	if res.RequeueAfter > time.Minute {
		res.RequeueAfter += time.Duration(rand.Int64N(int64(res.RequeueAfter / 20)))
	}
	return res
}

// Retry delays of a resource whose reconcile failed (without a Retry-After from the backend):
// exponential per resource from RetryBaseDelay to RetryMaxDelay, and at most RetryQPS
// retries a second over all resources. controller-runtime's default grows to 16 minutes,
// too long for a token that a workload waits for once the backend is back.
const (
	RetryBaseDelay = 100 * time.Millisecond
	RetryMaxDelay  = 15 * time.Second
	RetryQPS       = 20
)

func retryLimiter() workqueue.TypedRateLimiter[reconcile.Request] {
	return workqueue.NewTypedMaxOfRateLimiter(
		workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](RetryBaseDelay, RetryMaxDelay),
		&workqueue.TypedBucketRateLimiter[reconcile.Request]{Limiter: rate.NewLimiter(rate.Limit(RetryQPS), 10*RetryQPS)},
	)
}

// errRevocationPending wraps a failure to revoke upstream during deletion, for report().
func errRevocationPending(err error) error {
	p := credential.Classify(err)
	return &credential.Problem{
		Reason:     iamv1alpha1.ReasonRevocationPending,
		RetryAfter: p.RetryAfter,
		Err:        err,
		Message: "waiting for the Devin API to revoke the upstream credentials before the resource is deleted " +
			"(set spec.deletionPolicy: Orphan to delete without revoking)",
	}
}

var errNoOrganization = errors.New("no organization")

// gone answers a failed read of the resource: one that no longer exists is forgotten (the
// lifecycle's memory of it dropped, finalizer or not) and, when it vanished without its
// deletion's work (its finalizer removed by someone else) while it had credentials upstream,
// those are swept: found by the resource's marker and revoked. Anything else is retried.
// The API server, not the cache, says whether it vanished (credential.Lifecycle.Vanished):
// one relabelled out of this shard is still there, and keeps its credentials.
func gone(ctx context.Context, l *credential.Lifecycle, req ctrl.Request, err error, probe credential.Object, sweep func(context.Context, credential.Tombstone) error) error {
	if !apierrors.IsNotFound(err) {
		return err
	}
	t, ok, err := l.Vanished(ctx, req.NamespacedName, probe)
	if err != nil || !ok {
		return err
	}
	if err := sweep(ctx, t); err != nil {
		return fmt.Errorf("revoke what %s left upstream when it was deleted without its finalizer: %w", req.NamespacedName, err)
	}
	l.Buried(req.NamespacedName, t.UID)
	ctrl.LoggerFrom(ctx).Info("swept the credentials of a resource deleted without its finalizer", "uid", t.UID)
	return nil
}

package credential

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// intent is a create upstream that was announced and whose result status does not record
// yet: the operator may have crashed, or the answer been lost, after sending it.
type intent struct {
	// n is the create's number; name is the upstream name it was sent with.
	n    int64
	name string
	// since is when it was recorded; zero when unknown (an intent in the annotation, which
	// carries no time).
	since time.Time
}

// pendingIntent is the resource's unfinished create, if any: the annotation announces a
// create number above status.issueCount, or status names a pending issue (how status
// recorded an intent before the annotation existed).
func (l *Lifecycle) pendingIntent(obj Object) *intent {
	st := obj.CredentialStatus()
	if p := st.PendingIssue; p != nil {
		return &intent{name: p.Name, since: p.Since.Time}
	}
	if !IntentPending(obj) {
		return nil
	}
	n, err := announced(obj)
	if err != nil {
		// Unknown: what it may have created carries the owner marker, and is looked for
		// once the first time it was seen has settled (not from every reconcile anew).
		in := &intent{}
		if st.LastInterruptedIssue != nil {
			in.since = st.LastInterruptedIssue.Time
		}
		return in
	}
	return &intent{n: n, name: l.Owner(obj).TokenName(displayName(obj), n)}
}

// announced is the create number the intent annotation announces, 0 when none. The
// annotation is metadata anyone who may patch the resource can write: a value the operator
// never writes (not a number from 1 to MaxIssueCount) is an error the resource reports,
// never a number to count from.
func announced(obj Object) (int64, error) {
	v, ok := obj.GetAnnotations()[iamv1alpha1.IssueIntentAnnotation]
	if !ok {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 || n > iamv1alpha1.MaxIssueCount {
		return 0, Stall(iamv1alpha1.ReasonIntentMalformed, fmt.Sprintf("annotation %s holds %.40q, which the operator never writes (a create number from 1 to %d); remove it: nothing is created until then",
			iamv1alpha1.IssueIntentAnnotation, v, iamv1alpha1.MaxIssueCount), nil)
	}
	return n, nil
}

// issueCount is status.issueCount, refused when past MaxIssueCount (status written by
// someone else, which the CRD refuses today).
func issueCount(obj Object) (int64, error) {
	if n := obj.CredentialStatus().IssueCount; n >= 0 && n <= iamv1alpha1.MaxIssueCount {
		return n, nil
	}
	return 0, Stall(iamv1alpha1.ReasonIntentMalformed, fmt.Sprintf("status.issueCount is outside 0..%d, which the operator never writes", iamv1alpha1.MaxIssueCount), nil)
}

// nextIssue is the number of the next create: above every one recorded or announced, and
// never past MaxIssueCount.
func nextIssue(obj Object) (int64, error) {
	n, err := announced(obj)
	if err != nil {
		return 0, err
	}
	count, err := issueCount(obj)
	if err != nil {
		return 0, err
	}
	if next := max(count, n) + 1; next <= iamv1alpha1.MaxIssueCount {
		return next, nil
	}
	// Nothing can help but a new resource: no recheck of its own.
	return 0, Stall(iamv1alpha1.ReasonIntentMalformed, "this resource has used every create number", nil).After(0)
}

// resolveIntent marks the pending create as done with: its number is used, and what it may
// have created is looked for again once it has settled (a create whose answer was lost may
// land later). An intent with no recorded time settles from now.
func (l *Lifecycle) resolveIntent(obj Object, in *intent) {
	st := obj.CredentialStatus()
	since := in.since
	if since.IsZero() {
		since = l.Clock.Now()
	}
	st.LastInterruptedIssue = timePtr(since)
	st.IssueCount = max(st.IssueCount, in.n)
	st.PendingIssue = nil
}

// EverIssued reports whether the resource may have tokens upstream: one was issued, or a
// create was announced.
func (l *Lifecycle) EverIssued(obj Object) bool {
	return obj.CredentialStatus().IssueCount > 0 || l.pendingIntent(obj) != nil
}

// IntentPending reports whether a create of the resource is announced but not known to be
// finished: while it is, the resource may have a token upstream that no Secret holds yet.
func IntentPending(obj Object) bool {
	st := obj.CredentialStatus()
	n, err := announced(obj)
	return st.PendingIssue != nil || err != nil || n > st.IssueCount
}

// Latest replaces obj, read from the cache, with the API server's copy when it announces a
// create that its status does not account for. Most often the cache has not yet seen the
// status write of the reconcile that made the create (the next reconcile starts as soon as
// that one ends): resuming the "interrupted" create from it would cost Devin API calls and
// a write that conflicts, for nothing. One read, only then.
func (l *Lifecycle) Latest(ctx context.Context, obj Object) error {
	if !IntentPending(obj) || l.Reader == nil {
		return nil
	}
	if err := l.Reader.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
		return fmt.Errorf("read the resource around the cache: %w", err)
	}
	return nil
}

// recordIntent is the metadata write made before create number n is sent upstream: the
// intent annotation, so that a token whose value is lost is found after a crash, and the
// finalizer that makes deletion revoke it, in one write.
func recordIntent(o client.Object, n int64) {
	a := o.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a[iamv1alpha1.IssueIntentAnnotation] = strconv.FormatInt(n, 10)
	o.SetAnnotations(a)
	controllerutil.AddFinalizer(o, iamv1alpha1.Finalizer)
}

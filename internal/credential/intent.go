package credential

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

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
// create number above status.issueCount, or (recorded by an earlier release) status names
// a pending issue.
func (l *Lifecycle) pendingIntent(obj Object) *intent {
	st := obj.CredentialStatus()
	if p := st.PendingIssue; p != nil {
		return &intent{name: p.Name, since: p.Since.Time}
	}
	if !IntentPending(obj) {
		return nil
	}
	n := announced(obj)
	return &intent{n: n, name: l.Owner(obj).TokenName(displayName(obj), n)}
}

// announced is the create number the intent annotation announces, 0 when none.
func announced(obj Object) int64 {
	n, err := strconv.ParseInt(obj.GetAnnotations()[iamv1alpha1.IssueIntentAnnotation], 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// nextIssue is the number of the next create: above every one recorded or announced.
func nextIssue(obj Object) int64 {
	return max(obj.CredentialStatus().IssueCount, announced(obj)) + 1
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
	return st.PendingIssue != nil || announced(obj) > st.IssueCount
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

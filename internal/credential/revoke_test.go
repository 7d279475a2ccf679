package credential

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/devinapi"
)

// The periodic check: strays are revoked only after status is confirmed; a current token
// gone upstream is replaced; replaced tokens already gone need no revocation.
func TestPeriodicCheck(t *testing.T) {
	cases := map[string]struct {
		lastCheck    time.Duration // before now
		stray        bool
		currentGone  bool
		expired      bool // the current one expired rather than was revoked
		reissue      bool // --on-upstream-revocation=reissue
		wantStopped  bool
		pendingGone  bool
		persist      error
		wantListed   bool
		wantRevoked  []string
		wantReason   string
		wantErr      bool
		wantPending  int
		wantEvents   []string
		staleListing bool
	}{
		"not due: nothing asked":  {lastCheck: 10 * time.Minute},
		"due, all well":           {lastCheck: 2 * time.Hour, wantListed: true},
		"a stray is revoked":      {lastCheck: 2 * time.Hour, stray: true, wantListed: true, wantRevoked: []string{"key-2"}, wantEvents: []string{iamv1alpha1.EventOrphanRevoked}},
		"stale status: no revoke": {lastCheck: 2 * time.Hour, stray: true, persist: errConflict, wantListed: true, wantErr: true},
		"current revoked upstream by someone else: stopped until a person asks": {
			lastCheck: 2 * time.Hour, currentGone: true, wantListed: true, wantErr: true, wantStopped: true,
			wantEvents: []string{iamv1alpha1.EventTokenRevokedUpstream},
		},
		"current revoked upstream, reissue configured: replaced": {
			lastCheck: 2 * time.Hour, currentGone: true, reissue: true, wantListed: true, wantReason: iamv1alpha1.RotationUpstreamRevoked, wantPending: 1,
			wantEvents: []string{iamv1alpha1.EventTokenRevokedUpstream, iamv1alpha1.EventTokenRotated},
		},
		"current expired upstream: replaced": {
			lastCheck: 2 * time.Hour, currentGone: true, expired: true, wantListed: true, wantReason: iamv1alpha1.RotationExpired, wantPending: 1,
			wantEvents: []string{iamv1alpha1.EventTokenRevokedUpstream, iamv1alpha1.EventTokenRotated},
		},
		"a replaced token gone upstream is dropped": {lastCheck: 2 * time.Hour, pendingGone: true, wantListed: true},
		"a cached list older than the token is read again": {
			lastCheck: 2 * time.Hour, staleListing: true, wantListed: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			tok := w.withToken(t0)
			w.clk.SetTime(t0.Add(tc.lastCheck))
			if tc.stray {
				w.iss.mint(testOwner.TokenName("team-a/ci", 2), t0.Add(100*time.Hour))
			}
			if tc.currentGone {
				_ = w.iss.Revoke(context.Background(), tok.ID)
				w.iss.revoked = nil
				w.iss.RevokedFn = func(context.Context, string) (bool, error) { return !tc.expired, nil }
			}
			w.l.ReissueRevoked = tc.reissue
			if tc.pendingGone {
				w.pat.Status.PendingRevocations = []iamv1alpha1.PendingRevocation{{ID: "gone", RevokeAt: metav1.NewTime(t0.Add(100 * time.Hour))}}
			}
			if tc.staleListing {
				w.iss.OwnedFn = func(_ context.Context, fresh bool) (Listing, error) {
					at := t0.Add(-time.Minute) // read before the token was issued
					if fresh {
						at = w.clk.Now()
					}
					return Listing{Keys: []devinapi.APIKey{{ID: tok.ID, IsActive: true}}, At: at}, nil
				}
			}
			w.persistE = tc.persist
			w.log = nil
			_, err := w.reconcile()
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v", err)
			}
			if listed := indexOf(w.log, "owned") >= 0; listed != tc.wantListed {
				t.Fatalf("calls %q: listed %v, want %v", w.log, listed, tc.wantListed)
			}
			if tc.staleListing && indexOf(w.log, "owned fresh=true") < 0 {
				t.Fatalf("calls %q: the stale list was not read again", w.log)
			}
			if !slices.Equal(w.iss.revoked, tc.wantRevoked) {
				t.Fatalf("revoked %q, want %q", w.iss.revoked, tc.wantRevoked)
			}
			st := w.pat.CredentialStatus()
			if st.LastRotationReason != tc.wantReason || len(st.PendingRevocations) != tc.wantPending {
				t.Fatalf("rotation %q, pending %+v; want %q, %d", st.LastRotationReason, st.PendingRevocations, tc.wantReason, tc.wantPending)
			}
			if got := w.events(); !slices.Equal(got, tc.wantEvents) {
				t.Fatalf("events %q, want %q", got, tc.wantEvents)
			}
			if stopped := st.RevokedUpstream != nil; stopped != tc.wantStopped || (stopped && (st.Token != nil || reasonOf(err) != iamv1alpha1.ReasonRevokedUpstream)) {
				t.Fatalf("revokedUpstream %v, token %+v, err %v; want stopped %v", st.RevokedUpstream, st.Token, err, tc.wantStopped)
			}
			if last := w.l.checks.lastCheck(w.pat.UID, w.clk.Now(), time.Hour); (!tc.wantErr || tc.wantStopped) && tc.wantListed && !last.Equal(w.clk.Now()) {
				t.Fatalf("last check %v, want now", last)
			}
		})
	}
}

// Replaced tokens are revoked once their grace period has ended, not before; a failed
// revocation is kept for the next try.
func TestRevocationAfterGracePeriod(t *testing.T) {
	cases := map[string]struct {
		revokeAt    []time.Duration // from now
		fail        bool
		wantRevoked []string
		wantKept    []string
		wantWake    time.Duration
		wantErr     bool
	}{
		"due":                 {revokeAt: []time.Duration{-time.Second}, wantRevoked: []string{"old-0"}, wantWake: time.Hour},
		"not yet":             {revokeAt: []time.Duration{10 * time.Minute}, wantKept: []string{"old-0"}, wantWake: 10 * time.Minute},
		"at its time exactly": {revokeAt: []time.Duration{0}, wantRevoked: []string{"old-0"}, wantWake: time.Hour},
		"one of two":          {revokeAt: []time.Duration{-time.Minute, 20 * time.Minute}, wantRevoked: []string{"old-0"}, wantKept: []string{"old-1"}, wantWake: 20 * time.Minute},
		"the backend fails":   {revokeAt: []time.Duration{-time.Second}, fail: true, wantKept: []string{"old-0"}, wantErr: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			w.withToken(t0)
			st := w.pat.CredentialStatus()
			for i, d := range tc.revokeAt {
				st.PendingRevocations = append(st.PendingRevocations, iamv1alpha1.PendingRevocation{
					ID: "old-" + string(rune('0'+i)), RevokeAt: metav1.NewTime(t0.Add(d)),
				})
			}
			if tc.fail {
				w.iss.RevokeFn = func(context.Context, string) error { return devinapi.ErrRetryable }
			}
			wake, err := w.reconcile()
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v", err)
			}
			var kept []string
			for _, p := range st.PendingRevocations {
				kept = append(kept, p.ID)
			}
			if !slices.Equal(w.iss.revoked, tc.wantRevoked) || !slices.Equal(kept, tc.wantKept) {
				t.Fatalf("revoked %q, kept %q; want %q, %q", w.iss.revoked, kept, tc.wantRevoked, tc.wantKept)
			}
			if !tc.wantErr && wake != tc.wantWake {
				t.Fatalf("wake %v, want %v", wake, tc.wantWake)
			}
		})
	}
}

// A rotation keeps the previous token valid for the grace period, but never past its own
// expiry.
func TestRotationSchedulesTheRevocation(t *testing.T) {
	w := newWorld(t)
	w.pat.Spec.RotationGracePeriod = dur(30 * time.Minute)
	old := w.withToken(t0)
	w.pat.Annotations = map[string]string{iamv1alpha1.RotateAnnotation: "now"}
	if _, err := w.reconcile(); err != nil {
		t.Fatal(err)
	}
	st := w.pat.CredentialStatus()
	want := []iamv1alpha1.PendingRevocation{{ID: old.ID, Name: old.Name, RevokeAt: metav1.NewTime(t0.Add(30 * time.Minute))}}
	if !slices.EqualFunc(st.PendingRevocations, want, func(a, b iamv1alpha1.PendingRevocation) bool {
		return a.ID == b.ID && a.Name == b.Name && a.RevokeAt.Equal(&b.RevokeAt)
	}) {
		t.Fatalf("pending %+v, want %+v", st.PendingRevocations, want)
	}
	if st.Token.ID == old.ID || st.RotateRequest != "now" || st.LastRotationReason != iamv1alpha1.RotationRequested {
		t.Fatalf("token %s, request %q, reason %q", st.Token.ID, st.RotateRequest, st.LastRotationReason)
	}
	if !holds(w.secret("ci"), st.Token.ID) {
		t.Fatal("the secret does not hold the new token")
	}
}

// Deletion: wait for interrupted creates to settle, then revoke every token the resource
// owns upstream and delete its Secret; a Secret it does not control is left alone.
func TestRevokeOnDeletion(t *testing.T) {
	cases := map[string]struct {
		unsettled   bool
		fail        bool
		wantRevoked []string
		wantSecret  bool
		wantReason  string
	}{
		"every token revoked, the secret deleted": {wantRevoked: []string{"key-1", "key-2"}},
		"an interrupted create may land: wait":    {unsettled: true, wantSecret: true, wantReason: iamv1alpha1.ReasonRevocationPending},
		"the backend fails: retry, secret kept":   {fail: true, wantSecret: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			w.withToken(t0)
			w.iss.mint(testOwner.TokenName("team-a/ci", 2), t0.Add(time.Hour)) // a lost one
			if tc.unsettled {
				w.pat.Status.LastInterruptedIssue = timePtr(t0.Add(-10 * time.Second))
			}
			if tc.fail {
				w.iss.RevokeFn = func(context.Context, string) error { return devinapi.ErrRetryable }
			}
			err := w.l.Revoke(context.Background(), w.pat, w.iss)
			if (err != nil) != (tc.fail || tc.unsettled) {
				t.Fatalf("err = %v", err)
			}
			var p *Problem
			if tc.wantReason != "" && (!errors.As(err, &p) || p.Reason != tc.wantReason || p.RetryAfter != 50*time.Second) {
				t.Fatalf("err = %v, want %s retried after the 50s left", err, tc.wantReason)
			}
			got := append([]string(nil), w.iss.revoked...)
			slices.Sort(got)
			if !slices.Equal(got, tc.wantRevoked) {
				t.Fatalf("revoked %q, want %q", got, tc.wantRevoked)
			}
			if (w.secret("ci") != nil) != tc.wantSecret {
				t.Fatalf("secret kept %v, want %v", w.secret("ci") != nil, tc.wantSecret)
			}
		})
	}
}

// Forget never deletes a Secret the resource does not control.
func TestForgetLeavesOthersSecretsAlone(t *testing.T) {
	w := newWorld(t)
	w.put(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "ci", Namespace: "team-a"}})
	if err := w.l.Forget(context.Background(), w.pat); err != nil {
		t.Fatal(err)
	}
	if w.secret("ci") == nil {
		t.Fatal("someone else's secret was deleted")
	}
}

// A resource stopped because its token was revoked upstream stays stopped, whatever the
// schedule says, until a person changes iam.devin.ai/rotate; then it gets a new token.
func TestRevokedUpstreamWaitsForAPerson(t *testing.T) {
	w := newWorld(t)
	tok := w.withToken(t0)
	_ = w.iss.Revoke(context.Background(), tok.ID)
	w.clk.SetTime(t0.Add(2 * time.Hour))
	if _, err := w.reconcile(); reasonOf(err) != iamv1alpha1.ReasonRevokedUpstream {
		t.Fatalf("err = %v", err)
	}
	w.clk.SetTime(t0.Add(2000 * time.Hour)) // long past any renewal
	w.log = nil
	if _, err := w.reconcile(); reasonOf(err) != iamv1alpha1.ReasonRevokedUpstream || indexOf(w.log, "issue ") >= 0 {
		t.Fatalf("err %v, calls %q: nothing may be issued before a person asks", err, w.log)
	}
	w.pat.Annotations = map[string]string{iamv1alpha1.RotateAnnotation: "incident-42"}
	if _, err := w.reconcile(); err != nil {
		t.Fatal(err)
	}
	st := w.pat.CredentialStatus()
	if st.Token == nil || st.Token.ID == tok.ID || st.RevokedUpstream != nil || st.RotateRequest != "incident-42" || !holds(w.secret("ci"), st.Token.ID) {
		t.Fatalf("status %+v", st)
	}
}

// Before revoking a token status does not name, the Secret is read around the cache: the
// token it really holds (a rotation whose status write was lost) is never revoked.
func TestStrayHeldByTheLiveSecretIsNotRevoked(t *testing.T) {
	w := newWorld(t)
	w.withToken(t0)
	// A rotation that lost its status write: key-2 is in the Secret, status names key-1.
	next := w.iss.mint(testOwner.TokenName("team-a/ci", 2), t0.Add(2160*time.Hour))
	live := ownedSecret(w, "ci", issuedToken(next, t0), next.Token.Reveal())
	sec := w.secret("ci")
	stale := sec.DeepCopy() // the cache lags behind: it holds the Secret as it was
	sec.Annotations, sec.Data = live.Annotations, live.Data
	if err := w.kube.Update(context.Background(), sec); err != nil {
		t.Fatal(err)
	}
	w.clk.SetTime(t0.Add(2 * time.Hour))
	w.l.Client = staleSecrets{Client: w.kube, sec: stale}
	w.log = nil
	_, _ = w.reconcile()
	if indexOf(w.log, "owned") < 0 || indexOf(w.log, "persist") < 0 {
		t.Fatalf("calls %q: the check did not reach the stray", w.log)
	}
	if slices.Contains(w.iss.revoked, next.ID) {
		t.Fatalf("revoked %q: the token the Secret holds was revoked as a stray", w.iss.revoked)
	}
}

// A check whose status write is lost (it conflicts with a newer version of the resource,
// say a person's annotation made while the reconcile ran) is not remembered: the next
// reconcile, from the latest state, checks again and finds the token gone, instead of
// waiting a whole interval with status still naming a revoked token.
func TestCheckWithLostStatusWriteIsMadeAgain(t *testing.T) {
	w := newWorld(t)
	tok := w.withToken(t0)
	_ = w.iss.Revoke(context.Background(), tok.ID)
	w.clk.SetTime(t0.Add(61 * time.Minute))
	w.loseWrite = true
	if _, err := w.reconcile(); reasonOf(err) != iamv1alpha1.ReasonRevokedUpstream {
		t.Fatalf("err = %v", err)
	}
	if st := w.pat.CredentialStatus(); st.Token == nil || st.Token.ID != tok.ID {
		t.Fatalf("the lost write kept status %+v", st)
	}
	w.log = nil
	_, err := w.reconcile()
	if reasonOf(err) != iamv1alpha1.ReasonRevokedUpstream || indexOf(w.log, "owned") < 0 {
		t.Fatalf("err %v, calls %q: the check whose write was lost was not made again", err, w.log)
	}
	if st := w.pat.CredentialStatus(); st.Token != nil || st.RevokedUpstream == nil {
		t.Fatalf("status %+v still names the revoked token", st)
	}
}

// A resource stopped because its token was revoked upstream still revokes the replaced
// tokens whose grace period has ended: waiting for a person never keeps more tokens valid.
func TestStalledResourceStillRevokesWhatIsDue(t *testing.T) {
	w := newWorld(t)
	tok := w.withToken(t0)
	old := w.iss.mint(testOwner.TokenName("team-a/ci", 0), t0.Add(100*time.Hour))
	w.pat.Status.PendingRevocations = []iamv1alpha1.PendingRevocation{{ID: old.ID, RevokeAt: metav1.NewTime(t0.Add(time.Minute))}}
	_ = w.iss.Revoke(context.Background(), tok.ID)
	w.iss.revoked = nil
	w.clk.SetTime(t0.Add(2 * time.Hour))
	if _, err := w.reconcile(); reasonOf(err) != iamv1alpha1.ReasonRevokedUpstream {
		t.Fatalf("err = %v", err)
	}
	w.pat.Status.PendingRevocations = []iamv1alpha1.PendingRevocation{{ID: old.ID, RevokeAt: metav1.NewTime(w.clk.Now().Add(time.Minute))}}
	w.clk.Step(time.Minute)
	if _, err := w.reconcile(); reasonOf(err) != iamv1alpha1.ReasonRevokedUpstream {
		t.Fatalf("err = %v", err)
	}
	if slices.Contains(w.iss.active(), old.ID) {
		t.Fatalf("replaced token %s still active while the resource waits for a person (active %q)", old.ID, w.iss.active())
	}
}

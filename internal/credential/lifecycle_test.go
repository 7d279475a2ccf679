package credential

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/conditions"
	"github.com/cogtokens/token-operator/internal/devinapi"
)

var errConflict = apierrors.NewConflict(schema.GroupResource{Group: "iam.devin.ai", Resource: "personalaccesstokens"}, "ci", errors.New("stale"))

// Which rotation reason wins when several apply: the one that says the Secret no longer
// holds the token, then a person's request, then the schedule.
func TestReissueReason(t *testing.T) {
	renewAt := t0.Add(1440 * time.Hour) // default lifetime 2160h, renewed a third before its end
	cases := map[string]struct {
		noToken    bool
		noSecret   bool
		alter      bool
		renameKey  bool
		rotate     string
		answered   string
		now        time.Time
		wantReason string
	}{
		"no token yet":                           {noToken: true, wantReason: iamv1alpha1.ReasonIssuing},
		"nothing to do":                          {},
		"secret deleted":                         {noSecret: true, wantReason: iamv1alpha1.RotationSecretDeleted},
		"secret deleted wins over a request":     {noSecret: true, rotate: "1", wantReason: iamv1alpha1.RotationSecretDeleted},
		"secret modified":                        {alter: true, wantReason: iamv1alpha1.RotationSecretModified},
		"secret modified wins over renewal":      {alter: true, now: renewAt, wantReason: iamv1alpha1.RotationSecretModified},
		"secret modified wins over a request":    {alter: true, rotate: "1", wantReason: iamv1alpha1.RotationSecretModified},
		"token under a renamed key is not moved": {renameKey: true},
		"rotation requested":                     {rotate: "1", wantReason: iamv1alpha1.RotationRequested},
		"a request answered before":              {rotate: "1", answered: "1"},
		"a new request after one answered":       {rotate: "2", answered: "1", wantReason: iamv1alpha1.RotationRequested},
		"request wins over renewal":              {rotate: "1", now: renewAt, wantReason: iamv1alpha1.RotationRequested},
		"renewal due":                            {now: renewAt, wantReason: iamv1alpha1.RotationRenewal},
		"a second before the renewal":            {now: renewAt.Add(-time.Second)},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			tok := w.withToken(t0)
			sec := w.secret("ci")
			st := w.pat.CredentialStatus()
			if tc.noToken {
				st.Token = nil
			}
			if tc.noSecret {
				sec = nil
			}
			if tc.alter {
				sec.Data[iamv1alpha1.DefaultSecretKey] = []byte("edited by hand")
			}
			if tc.renameKey {
				sec.Data = map[string][]byte{"other": sec.Data[iamv1alpha1.DefaultSecretKey]}
			}
			if tc.rotate != "" {
				w.pat.Annotations = map[string]string{iamv1alpha1.RotateAnnotation: tc.rotate}
			}
			st.RotateRequest = tc.answered
			now := tc.now
			if now.IsZero() {
				now = t0.Add(time.Hour)
			}
			if got := w.l.reissueReason(w.pat, w.l.wantedSecret(w.pat), sec, now); got != tc.wantReason {
				t.Fatalf("reissueReason = %q, want %q (token %s)", got, tc.wantReason, tok.ID)
			}
		})
	}
}

// A first token: the intent is durable before anything is created upstream, and the Secret
// holds the token before status names it.
func TestFirstIssue(t *testing.T) {
	w := newWorld(t)
	wake, err := w.reconcile()
	if err != nil {
		t.Fatal(err)
	}
	name := testOwner.TokenName("team-a/ci", 1)
	if p, i := indexOf(w.log, "persist"), indexOf(w.log, "issue "+name); p < 0 || i < 0 || p > i || indexOf(w.log, "prepare") > p {
		t.Fatalf("calls %q: want prepare, then persist of the intent, then the create of %q", w.log, name)
	}
	st := w.pat.CredentialStatus()
	if st.Token == nil || st.Token.ID != "key-1" || st.PendingIssue != nil || st.IssueCount != 1 {
		t.Fatalf("status token %+v, intent %+v, count %d", st.Token, st.PendingIssue, st.IssueCount)
	}
	if sec := w.secret("ci"); !holds(sec, "key-1") || sec.Labels[iamv1alpha1.ManagedByLabel] != iamv1alpha1.ManagedByValue {
		t.Fatalf("secret %+v does not hold key-1 with the managed-by label", sec)
	}
	if !metav1.IsControlledBy(w.secret("ci"), w.pat) {
		t.Fatal("the secret is not controlled by the resource")
	}
	if got := w.events(); !slices.Equal(got, []string{iamv1alpha1.EventTokenIssued}) {
		t.Fatalf("events %q", got)
	}
	if wake != time.Hour {
		t.Fatalf("wake after %v, want the next check in 1h", wake)
	}
	if st.SecretName != "ci" || st.ExpiresAt == nil || st.RenewAt == nil || !st.RenewAt.Equal(&metav1.Time{Time: t0.Add(1440 * time.Hour)}) {
		t.Fatalf("secretName %q, expiresAt %v, renewAt %v", st.SecretName, st.ExpiresAt, st.RenewAt)
	}
}

// What a failed issue leaves behind: an intent only when the create may have happened.
func TestIssueFailures(t *testing.T) {
	cases := map[string]struct {
		prepare    error
		persist    error
		issue      error
		wantIntent bool
		wantCount  int64
		wantCreate bool
	}{
		"lookup fails: no intent, nothing sent":        {prepare: devinapi.ErrRetryable},
		"intent not durable: nothing created":          {persist: errConflict},
		"refused: the intent is done with":             {issue: fmt.Errorf("create: %w", devinapi.ErrInvalid), wantCount: 1, wantCreate: true},
		"answer lost: the intent stays to be resolved": {issue: fmt.Errorf("create: %w", devinapi.ErrRetryable), wantIntent: true, wantCreate: true},
		"timed out: the intent stays":                  {issue: context.DeadlineExceeded, wantIntent: true, wantCreate: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			w.persistE = tc.persist
			w.iss.PrepareFn = func(context.Context) error { return tc.prepare }
			w.iss.IssueFn = func(context.Context, string, time.Time) (*devinapi.IssuedKey, error) { return nil, tc.issue }
			if _, err := w.reconcile(); err == nil {
				t.Fatal("reconcile succeeded")
			}
			st := w.pat.CredentialStatus()
			if (w.l.pendingIntent(w.pat) != nil) != tc.wantIntent || st.IssueCount != tc.wantCount {
				t.Fatalf("intent %+v, count %d; want intent %v, count %d", w.l.pendingIntent(w.pat), st.IssueCount, tc.wantIntent, tc.wantCount)
			}
			if created := indexOf(w.log, "issue ") >= 0; created != tc.wantCreate {
				t.Fatalf("calls %q: create sent %v, want %v", w.log, created, tc.wantCreate)
			}
			if w.secret("ci") != nil {
				t.Fatal("a secret was written without a token")
			}
		})
	}
}

// A Secret the API server refuses (a full quota, a policy) costs at most one token, which
// is revoked at once, and no more while the refusal lasts: no dry run is made before a first
// token (the happy path), but the refusal is recorded before another create is decided, in
// status or, when that write is lost, by the intent annotation, and every create after it
// waits for a dry run that passes.
func TestSecretRefused(t *testing.T) {
	quota := apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, "ci", errors.New("exceeded quota"))
	cases := map[string]struct {
		recorded  bool // status already says SecretRejected (a refusal seen before)
		loseWrite bool // the status write after the refused write is lost
		wantMints int
	}{
		"refused on the first write: one token, revoked at once":   {wantMints: 1},
		"the refusal's status write is lost: still one token":      {loseWrite: true, wantMints: 1},
		"a refusal on record: the dry run says so, nothing minted": {recorded: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			w.dryRunErr, w.createErr = quota, quota
			if tc.recorded {
				conditions.Stalled(&w.pat.Status.Conditions, 1, iamv1alpha1.ReasonSecretRejected, "refused", false)
			}
			w.loseWrite = tc.loseWrite
			_, err := w.reconcile()
			var p *Problem
			if !errors.As(err, &p) || p.Reason != iamv1alpha1.ReasonSecretRejected || !p.Stalled || p.RetryAfter != RefusalRecheck {
				t.Fatalf("err = %v, want a Stalled SecretRejected", err)
			}
			if len(w.iss.active()) != 0 {
				t.Fatalf("tokens %q left active upstream after the refusal", w.iss.active())
			}
			for range 3 { // the refusal lasts
				w.clk.Step(RefusalRecheck)
				if _, err := w.reconcile(); err == nil {
					t.Fatal("a reconcile succeeded while the Secret is refused")
				}
			}
			if got := len(w.iss.revoked) + len(w.iss.active()); got != tc.wantMints {
				t.Fatalf("%d tokens minted, want %d (calls %q)", got, tc.wantMints, w.log)
			}
			if len(w.iss.active()) != 0 {
				t.Fatalf("tokens %q left active upstream", w.iss.active())
			}
			st := w.pat.CredentialStatus()
			if st.Token != nil || w.l.pendingIntent(w.pat) != nil {
				t.Fatalf("token %+v, intent %+v", st.Token, w.l.pendingIntent(w.pat))
			}
			w.dryRunErr, w.createErr = nil, nil // the quota was raised
			if _, err := w.reconcile(); err != nil || !holds(w.secret("ci"), w.pat.Status.Token.ID) {
				t.Fatalf("err %v, token %+v", err, w.pat.Status.Token)
			}
		})
	}
}

// The dry run is a round trip before the create: a first token for a missing Secret and a
// rotation of a Secret in shape go without it; a Secret that must change shape (a new
// template) is tried first.
func TestDryRunOnlyWhereARefusalIsLikely(t *testing.T) {
	w := newWorld(t)
	if _, err := w.reconcile(); err != nil {
		t.Fatal(err)
	}
	if w.dryRuns != 0 {
		t.Fatalf("the first token cost %d dry runs", w.dryRuns)
	}
	first := w.pat.Status.Token.ID
	w.pat.Annotations[iamv1alpha1.RotateAnnotation] = "r1"
	w.clk.Step(time.Minute)
	if _, err := w.reconcile(); err != nil {
		t.Fatal(err)
	}
	if w.pat.Status.Token.ID == first || w.dryRuns != 0 {
		t.Fatalf("rotation: token %s (was %s), %d dry runs; want a new token and none", w.pat.Status.Token.ID, first, w.dryRuns)
	}
	w.pat.Spec.SecretTemplate = &iamv1alpha1.SecretTemplate{Labels: map[string]iamv1alpha1.LabelValue{"team": "a"}}
	w.pat.Generation++
	w.pat.Annotations[iamv1alpha1.RotateAnnotation] = "r2"
	w.clk.Step(time.Minute)
	if _, err := w.reconcile(); err != nil {
		t.Fatal(err)
	}
	if w.dryRuns != 1 {
		t.Fatalf("a token for a Secret that changes shape cost %d dry runs, want 1", w.dryRuns)
	}
}

// After an interruption between the intent and the status write, the next reconcile
// finishes the job from what it finds.
func TestRecoverInterruptedIssue(t *testing.T) {
	intentName := testOwner.TokenName("team-a/ci", 1)
	cases := map[string]struct {
		secretHolds  bool   // the Secret was written before the interruption
		forgedID     string // the Secret's annotation names this key instead
		landed       bool   // the create reached the backend
		foreign      bool   // a Secret of that name that the resource does not control
		persist      error
		wantErr      string
		wantRevoked  []string
		wantToken    string
		wantActive   []string
		wantListed   bool
		wantSettling bool
	}{
		"the secret holds the intended token: adopted": {
			secretHolds: true, landed: true, wantListed: true, wantToken: "key-1", wantActive: []string{"key-1"},
		},
		"the secret names a token the backend does not list as ours: not adopted": {
			secretHolds: true, forgedID: "someone-elses-key", landed: true, wantListed: true,
			wantRevoked: []string{"key-1"}, wantToken: "key-2", wantActive: []string{"key-2"}, wantSettling: true,
		},
		"value lost: revoked by its name, a new one issued": {
			landed: true, wantListed: true, wantRevoked: []string{"key-1"}, wantToken: "key-2", wantActive: []string{"key-2"}, wantSettling: true,
		},
		"value lost, nothing landed: a new one issued": {
			wantListed: true, wantToken: "key-1", wantActive: []string{"key-1"}, wantSettling: true,
		},
		"someone else's secret: the lost token is revoked, nothing new issued": {
			landed: true, foreign: true, wantListed: true, wantRevoked: []string{"key-1"}, wantErr: iamv1alpha1.ReasonSecretConflict, wantSettling: true,
		},
		"stale status: nothing revoked": {
			landed: true, persist: errConflict, wantListed: true, wantErr: "confirm status", wantActive: []string{"key-1"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			st := w.pat.CredentialStatus()
			st.IssueCount = 1
			st.PendingIssue = &iamv1alpha1.PendingIssue{Name: intentName, Since: metav1.NewTime(t0)}
			if tc.landed {
				key := w.iss.mint(intentName, t0.Add(2160*time.Hour))
				if tc.secretHolds {
					tok := issuedToken(key, t0)
					if tc.forgedID != "" {
						tok.ID = tc.forgedID
					}
					w.put(ownedSecret(w, "ci", tok, key.Token.Reveal()))
				}
			}
			if tc.foreign {
				w.put(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "ci", Namespace: "team-a"}})
			}
			w.persistE = tc.persist
			w.log = nil
			_, err := w.reconcile()
			if (err != nil) != (tc.wantErr != "") || (err != nil && !strings.Contains(err.Error()+reasonOf(err), tc.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			if listed := indexOf(w.log, "owned fresh=true") >= 0; listed != tc.wantListed {
				t.Fatalf("calls %q: listed upstream %v, want %v", w.log, listed, tc.wantListed)
			}
			if !slices.Equal(w.iss.revoked, tc.wantRevoked) || !slices.Equal(w.iss.active(), tc.wantActive) {
				t.Fatalf("revoked %q, active %q; want %q, %q", w.iss.revoked, w.iss.active(), tc.wantRevoked, tc.wantActive)
			}
			if r := indexOf(w.log, "revoke "); r >= 0 && indexOf(w.log, "persist") > r {
				t.Fatalf("calls %q: revoked before status was confirmed", w.log)
			}
			if tc.wantToken != "" && (st.Token == nil || st.Token.ID != tc.wantToken || !holds(w.secret("ci"), tc.wantToken)) {
				t.Fatalf("token %+v, secret %v; want %s in both", st.Token, w.secret("ci"), tc.wantToken)
			}
			if settling := st.LastInterruptedIssue != nil; settling != tc.wantSettling {
				t.Fatalf("lastInterruptedIssue %v, want set %v", st.LastInterruptedIssue, tc.wantSettling)
			}
		})
	}
}

func reasonOf(err error) string {
	var p *Problem
	if errors.As(err, &p) {
		return p.Reason
	}
	return ""
}

// A Secret whose ownerReference and annotations were forged to name someone else's key is
// not adopted: the key is not listed as the resource's, is never revoked, and the resource
// gets a token of its own.
func TestForgedSecretIsNotAdopted(t *testing.T) {
	w := newWorld(t)
	forged := &iamv1alpha1.IssuedToken{ID: "victims-key", Name: testOwner.TokenName("team-a/ci", 5), IssuedAt: metav1.NewTime(t0)}
	w.put(ownedSecret(w, "ci", forged, "whatever"))
	if _, err := w.reconcile(); err != nil {
		t.Fatal(err)
	}
	st := w.pat.CredentialStatus()
	if st.Token == nil || st.Token.ID == "victims-key" || indexOf(w.log, "revoke victims-key") >= 0 {
		t.Fatalf("token %+v, calls %q: the forged key was adopted or revoked", st.Token, w.log)
	}
	if !holds(w.secret("ci"), st.Token.ID) {
		t.Fatal("the Secret does not hold the resource's own token")
	}
}

// A status lost (restored from a backup without it): the Secret says which token the
// resource has, and its counter continues from the token's name.
func TestAdoptSecretWhenStatusIsLost(t *testing.T) {
	w := newWorld(t)
	key := w.iss.mint(testOwner.TokenName("team-a/ci", 3), t0.Add(2160*time.Hour))
	w.put(ownedSecret(w, "ci", issuedToken(key, t0), key.Token.Reveal()))
	w.log = nil
	if _, err := w.reconcile(); err != nil {
		t.Fatal(err)
	}
	st := w.pat.CredentialStatus()
	if st.Token == nil || st.Token.ID != key.ID || st.IssueCount != 3 || indexOf(w.log, "issue ") >= 0 {
		t.Fatalf("token %+v, count %d, calls %q: want key adopted as #3, nothing issued", st.Token, st.IssueCount, w.log)
	}
	if st.SecretHash != hashToken([]byte(key.Token.Reveal())) {
		t.Fatal("the hash of the adopted secret is not recorded")
	}
}

// Suspended: a due renewal issues nothing; the token and the Secret stay.
func TestSuspendedIssuesNothing(t *testing.T) {
	w := newWorld(t)
	tok := w.withToken(t0)
	w.pat.Spec.Suspend = true
	w.clk.SetTime(t0.Add(1500 * time.Hour))
	w.l.VerifyInterval = 0
	wake, err := w.reconcile()
	if err != nil || indexOf(w.log, "issue ") >= 0 || w.pat.Status.Token.ID != tok.ID {
		t.Fatalf("err %v, calls %q, token %+v", err, w.log, w.pat.Status.Token)
	}
	if wake != 0 {
		t.Fatalf("wake %v: a suspended resource with nothing scheduled needs no wake", wake)
	}
}

// When the lifecycle must act again: the earliest of the renewal, the next revocation, the
// next check and the end of a settling interrupted create.
func TestReconcileWakesAtTheEarliestDeadline(t *testing.T) {
	cases := map[string]struct {
		verify      time.Duration
		lifetime    time.Duration
		revokeIn    time.Duration
		interrupted bool
		want        time.Duration
	}{
		"the renewal":                {lifetime: 3 * time.Hour, want: 2 * time.Hour},
		"the check":                  {verify: time.Hour, want: time.Hour},
		"the revocation":             {verify: time.Hour, revokeIn: 5 * time.Minute, want: 5 * time.Minute},
		"an interrupted create":      {verify: time.Hour, interrupted: true, want: time.Minute},
		"the renewal before a check": {verify: 4 * time.Hour, lifetime: 3 * time.Hour, want: 2 * time.Hour},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			w.l.VerifyInterval = tc.verify
			if tc.lifetime > 0 {
				w.pat.Spec.ExpiresAfter = dur(tc.lifetime)
			}
			w.withToken(t0)
			st := w.pat.CredentialStatus()
			if tc.revokeIn > 0 {
				st.PendingRevocations = []iamv1alpha1.PendingRevocation{{ID: "old", RevokeAt: metav1.NewTime(t0.Add(tc.revokeIn))}}
			}
			if tc.interrupted {
				st.LastInterruptedIssue = timePtr(t0)
			}
			wake, err := w.reconcile()
			if err != nil || wake != tc.want {
				t.Fatalf("wake %v, err %v; want %v", wake, err, tc.want)
			}
		})
	}
}

// The Secret follows the template, and moves when the spec names another one, with the
// token unchanged.
func TestSecretFollowsTheSpec(t *testing.T) {
	w := newWorld(t)
	tok := w.withToken(t0)
	w.pat.Spec.SecretTemplate = &iamv1alpha1.SecretTemplate{Labels: map[string]iamv1alpha1.LabelValue{"team": "a"}, Annotations: map[string]string{"reloader": "on"}}
	if _, err := w.reconcile(); err != nil {
		t.Fatal(err)
	}
	if sec := w.secret("ci"); !holds(sec, tok.ID) || sec.Labels["team"] != "a" || sec.Annotations["reloader"] != "on" {
		t.Fatalf("secret %+v: want the template applied and the token kept", sec)
	}
	w.pat.Spec.SecretName = "ci-moved"
	if _, err := w.reconcile(); err != nil {
		t.Fatal(err)
	}
	if !holds(w.secret("ci-moved"), tok.ID) || w.secret("ci") != nil || w.pat.Status.SecretName != "ci-moved" {
		t.Fatalf("after the move: new %v, old %v, status %q", w.secret("ci-moved"), w.secret("ci"), w.pat.Status.SecretName)
	}
	if indexOf(w.log, "issue ") >= 0 {
		t.Fatalf("calls %q: nothing should have been issued", w.log)
	}
}

// An owner gone upstream took its tokens: nothing left to keep or revoke.
func TestOwnerGone(t *testing.T) {
	w := newWorld(t)
	w.withToken(t0)
	w.pat.Status.PendingRevocations = []iamv1alpha1.PendingRevocation{{ID: "old"}}
	w.l.OwnerGone(w.pat, iamv1alpha1.RotationServiceUserGone, false)
	st := w.pat.CredentialStatus()
	if st.Token != nil || st.PendingRevocations != nil || st.LastRotationReason != iamv1alpha1.RotationServiceUserGone {
		t.Fatalf("status %+v", st)
	}
}

// The operator owns only what it writes on its Secret: labels and annotations other tools
// add (Argo CD's tracking, Reloader's) survive rotations; a template key that is dropped is
// removed; extra entries follow the token.
func TestSecretKeepsWhatOthersOwn(t *testing.T) {
	w := newWorld(t)
	w.l.APIURL = "https://api.devin.ai"
	w.pat.Spec.SecretTemplate = &iamv1alpha1.SecretTemplate{
		Key:       "DEVIN_API_KEY",
		Labels:    map[string]iamv1alpha1.LabelValue{"team": "a"},
		ExtraKeys: &iamv1alpha1.SecretExtraKeys{APIURL: "DEVIN_API_URL", TokenID: "DEVIN_TOKEN_ID"},
	}
	if _, err := w.reconcile(); err != nil {
		t.Fatal(err)
	}
	sec := w.secret("ci")
	sec.Labels["argocd.argoproj.io/instance"] = "team-a"
	sec.Annotations["reloader.stakater.com/last-reloaded-from"] = "x"
	if err := w.kube.Update(context.Background(), sec); err != nil {
		t.Fatal(err)
	}
	w.pat.Spec.SecretTemplate.Labels = map[string]iamv1alpha1.LabelValue{"tier": "b"} // "team" dropped
	w.pat.Annotations = map[string]string{iamv1alpha1.RotateAnnotation: "1"}
	if _, err := w.reconcile(); err != nil {
		t.Fatal(err)
	}
	sec = w.secret("ci")
	tok := w.pat.Status.Token
	if sec.Labels["argocd.argoproj.io/instance"] != "team-a" || sec.Annotations["reloader.stakater.com/last-reloaded-from"] != "x" {
		t.Fatalf("others' metadata lost: labels %v, annotations %v", sec.Labels, sec.Annotations)
	}
	if _, ok := sec.Labels["team"]; ok || sec.Labels["tier"] != "b" {
		t.Fatalf("labels %v: want the dropped template label removed and the new one set", sec.Labels)
	}
	want := map[string]string{"DEVIN_API_KEY": "value-of-" + tok.ID, "DEVIN_API_URL": "https://api.devin.ai", "DEVIN_TOKEN_ID": tok.ID}
	if len(sec.Data) != len(want) {
		t.Fatalf("data keys %v, want %v", slices.Sorted(maps.Keys(sec.Data)), slices.Sorted(maps.Keys(want)))
	}
	for k, v := range want {
		if string(sec.Data[k]) != v {
			t.Fatalf("data[%s] = %q, want %q", k, sec.Data[k], v)
		}
	}
	w.log = nil
	if _, err := w.reconcile(); err != nil || len(w.log) != 0 {
		t.Fatalf("err %v, calls %q: a Secret in shape needs nothing", err, w.log)
	}
}

// A reconcile handed a cached copy that announces a create its status does not account
// for reads the resource around the cache first: when the create was recorded meanwhile,
// there is nothing to resume (no Devin call, no conflicting write). Without an announced
// create, it reads nothing.
func TestLatestReadsAroundTheCacheOnlyForAnAnnouncedCreate(t *testing.T) {
	w := newWorld(t)
	w.pat.Annotations = map[string]string{iamv1alpha1.IssueIntentAnnotation: "1"}
	recorded := w.pat.DeepCopy()
	recorded.Status.IssueCount = 1
	recorded.Status.Token = &iamv1alpha1.IssuedToken{ID: "key-1", Name: "n", IssuedAt: metav1.NewTime(t0)}
	w.put(recorded)
	if err := w.l.Latest(context.Background(), w.pat); err != nil {
		t.Fatal(err)
	}
	if IntentPending(w.pat) || w.pat.Status.Token == nil || w.pat.Status.Token.ID != "key-1" {
		t.Fatalf("status %+v: the API server's copy (create 1 recorded) must replace the cached one", w.pat.Status)
	}

	other := &iamv1alpha1.PersonalAccessToken{ObjectMeta: metav1.ObjectMeta{Name: "absent", Namespace: "team-a"}}
	if err := w.l.Latest(context.Background(), other); err != nil {
		t.Fatalf("%v: no announced create, no read", err)
	}
}

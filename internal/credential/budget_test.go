package credential

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// issues counts the creates sent upstream so far.
func (w *world) issues() int {
	n := 0
	for _, l := range w.log {
		if indexOf([]string{l}, "issue ") == 0 {
			n++
		}
	}
	return n
}

// Whatever asks for new tokens (here a person, or a script, changing iam.devin.ai/rotate
// again and again), one resource causes at most the mint budget's creates per hour. The
// budget survives a restart (status keeps it) and a status writer who clears it (memory
// keeps it); past it the resource is Stalled with the time it may mint again, one event
// says so, and it mints again once the oldest create is an hour old.
func TestMintBudgetBoundsCreatesPerHour(t *testing.T) {
	w := newWorld(t)
	w.l.MintBudget = 3
	var err error
	for i := range 10 {
		w.clk.Step(time.Second)
		w.pat.Annotations = map[string]string{iamv1alpha1.RotateAnnotation: fmt.Sprint(i)}
		var wake time.Duration
		wake, err = w.reconcile()
		if i >= 3 && (reasonOf(err) != iamv1alpha1.ReasonMintBudgetExhausted || wake != 0) {
			t.Fatalf("rotation %d: err %v: want the budget exhausted", i, err)
		}
	}
	if n := w.issues(); n != 3 {
		t.Fatalf("%d creates upstream in a minute, want the budget's 3", n)
	}
	var p *Problem
	if !asProblem(err, &p) || !p.Stalled || p.RetryAfter <= 59*time.Minute || p.RetryAfter > time.Hour {
		t.Fatalf("problem %+v: want Stalled until the first create is an hour old", p)
	}
	if got := w.events(); slices.Index(got, iamv1alpha1.EventMintBudgetExhausted) < 0 {
		t.Fatalf("events %q: the exhausted budget was not reported", got)
	}

	restarted := w.l.mints.at
	w.l.mints.at = nil // a restart: memory is gone, status remains
	if _, err := w.reconcile(); reasonOf(err) != iamv1alpha1.ReasonMintBudgetExhausted || w.issues() != 3 {
		t.Fatalf("after a restart: err %v, %d creates", err, w.issues())
	}
	w.l.mints.at = restarted
	w.pat.Status.RecentIssues = nil // someone who may write status clears it
	if _, err := w.reconcile(); reasonOf(err) != iamv1alpha1.ReasonMintBudgetExhausted || w.issues() != 3 {
		t.Fatalf("after status was cleared: err %v, %d creates", err, w.issues())
	}

	w.clk.Step(time.Hour)
	if _, err := w.reconcile(); err != nil || w.issues() != 4 {
		t.Fatalf("an hour later: err %v, %d creates; want a fourth", err, w.issues())
	}
}

// An extra key that names the token's own key (the CRD refuses it; an object stored before
// that rule, or a spec that slips past it, must still not loop) never overwrites the token:
// the Secret stays as written and nothing is minted again.
func TestExtraKeyOnTheTokenKeyDoesNotMintAgain(t *testing.T) {
	for _, key := range []string{"", "creds"} {
		t.Run("key="+key, func(t *testing.T) {
			w := newWorld(t)
			tokenKey := iamv1alpha1.DefaultSecretKey
			if key != "" {
				tokenKey = key
			}
			w.pat.Spec.SecretTemplate = &iamv1alpha1.SecretTemplate{Key: key, ExtraKeys: &iamv1alpha1.SecretExtraKeys{TokenID: tokenKey, APIURL: tokenKey}}
			w.l.APIURL = "https://api.devin.ai"
			for range 5 {
				if _, err := w.reconcile(); err != nil {
					t.Fatal(err)
				}
				w.clk.Step(time.Minute)
			}
			if n := w.issues(); n != 1 {
				t.Fatalf("%d creates, want 1", n)
			}
			st := w.pat.CredentialStatus()
			if got := string(w.secret("ci").Data[tokenKey]); got != "value-of-"+st.Token.ID {
				t.Fatalf("the Secret's %s entry was overwritten", tokenKey)
			}
		})
	}
}

// The intent annotation is metadata anyone who may patch the resource can write. A value
// the operator never writes (past MaxIssueCount, where the counter would overflow into
// negative, unparseable names; not a number; zero or less) is reported, creates nothing,
// and deletion still revokes every token of the resource once an interrupted create could
// have landed.
func TestMalformedIntentIsReportedNotCounted(t *testing.T) {
	for _, v := range []string{"9223372036854775807", "1000000001", "-1", "0", "two", ""} {
		t.Run(v, func(t *testing.T) {
			w := newWorld(t)
			tok := w.withToken(t0)
			w.pat.Annotations = map[string]string{iamv1alpha1.IssueIntentAnnotation: v, iamv1alpha1.RotateAnnotation: "now"}
			if _, err := w.reconcile(); reasonOf(err) != iamv1alpha1.ReasonIntentMalformed {
				t.Fatalf("err = %v, want %s", err, iamv1alpha1.ReasonIntentMalformed)
			}
			if n := w.issues(); n != 0 {
				t.Fatalf("%d creates from a malformed intent", n)
			}
			if err := w.l.Revoke(context.Background(), w.pat, w.iss); reasonOf(err) != iamv1alpha1.ReasonRevocationPending {
				t.Fatalf("deletion: err %v, want to wait for a create that may land", err)
			}
			w.clk.Step(2 * time.Minute)
			if err := w.l.Revoke(context.Background(), w.pat, w.iss); err != nil || !slices.Contains(w.iss.revoked, tok.ID) {
				t.Fatalf("deletion: err %v, revoked %q", err, w.iss.revoked)
			}
		})
	}
}

// A status write (or an object stored before the CRD bounded it) cannot push the create
// counter past MaxIssueCount either.
func TestIssueCountPastTheBoundIsReported(t *testing.T) {
	w := newWorld(t)
	w.withToken(t0)
	w.pat.Status.IssueCount = math.MaxInt64
	w.pat.Annotations = map[string]string{iamv1alpha1.RotateAnnotation: "now"}
	if _, err := w.reconcile(); reasonOf(err) != iamv1alpha1.ReasonIntentMalformed || w.issues() != 0 {
		t.Fatalf("err %v, %d creates", err, w.issues())
	}
}

// What the lifecycle remembers per resource (check time, verdict, mint log, metrics) is
// dropped when the resource vanishes without going through Forget (deleted before it had a
// finalizer, or its finalizer removed by someone else), and when another resource of the
// same name replaces it: memory stays bounded by the resources that exist.
func TestMemoryOfAVanishedResourceIsDropped(t *testing.T) {
	w := newWorld(t)
	w.l.Metrics = NewMetrics(prometheus.NewRegistry())
	if _, err := w.reconcile(); err != nil {
		t.Fatal(err)
	}
	uid, key := w.pat.UID, types.NamespacedName{Namespace: "team-a", Name: "ci"}
	remembered := func(uid types.UID) []string {
		var what []string
		if _, ok := w.l.checks.last[uid]; ok {
			what = append(what, "check time")
		}
		if len(w.l.mints.at[uid]) > 0 {
			what = append(what, "mint log")
		}
		if got, ok := w.l.residents.uid(key); ok && got == uid {
			what = append(what, "name")
		}
		if testutil.CollectAndCount(w.l.Metrics.Expiry) > 0 {
			what = append(what, "expiry metric")
		}
		return what
	}
	if got := remembered(uid); len(got) != 4 {
		t.Fatalf("remembered only %q after a reconcile", got)
	}

	w.pat.UID = "another-resource-of-the-same-name"
	w.pat.Status = iamv1alpha1.PersonalAccessTokenStatus{}
	w.pat.Annotations = nil
	// (It finds the first one's Secret, which it may not take over: that does not matter here.)
	if _, err := w.reconcile(); reasonOf(err) != iamv1alpha1.ReasonSecretConflict {
		t.Fatalf("err = %v", err)
	}
	if got := remembered(uid); len(got) != 0 {
		t.Fatalf("the replaced resource's %q is still remembered", got)
	}
	if _, sweep := w.l.Gone(key); sweep {
		t.Fatal("a resource that created nothing upstream left a tombstone to sweep")
	}
	if got := remembered(w.pat.UID); len(got) != 0 {
		t.Fatalf("the vanished resource's %q is still remembered", got)
	}

	// One that had a token and vanished without its deletion's work leaves a tombstone,
	// kept until its credentials are swept.
	w2 := newWorld(t)
	w2.withToken(t0)
	w2.clk.Step(time.Minute)
	if _, err := w2.reconcile(); err != nil {
		t.Fatal(err)
	}
	tomb, sweep := w2.l.Gone(key)
	if !sweep || tomb.UID != w2.pat.UID || !tomb.Issued {
		t.Fatalf("tombstone %+v, sweep %v: want one to sweep", tomb, sweep)
	}
	w2.l.Buried(key, tomb.UID)
	if _, ok := w2.l.residents.get(key); ok {
		t.Fatal("a swept resource is still remembered")
	}
}

// A resource the cache no longer holds but the API server still has under the same UID
// (relabelled out of this process's shard) did not vanish: nothing is swept, and its memory
// is dropped. Once the API server has no such resource, or another of the same name, the
// tombstone is swept.
func TestVanishedOnlyWhenTheAPIServerSaysSo(t *testing.T) {
	key := types.NamespacedName{Namespace: "team-a", Name: "ci"}
	cases := map[string]struct {
		stored    func(w *world) client.Object // what the API server holds of that name; nil: nothing
		wantSweep bool
	}{
		"still there, same UID (left the shard)": {stored: func(w *world) client.Object { return w.pat.DeepCopy() }},
		"deleted":                                {wantSweep: true},
		"another of the same name": {wantSweep: true, stored: func(w *world) client.Object {
			o := w.pat.DeepCopy()
			o.UID = "a-new-resource"
			return o
		}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			w.withToken(t0)
			w.clk.Step(time.Minute)
			if _, err := w.reconcile(); err != nil {
				t.Fatal(err)
			}
			if tc.stored != nil {
				o := tc.stored(w)
				o.SetResourceVersion("")
				if err := w.kube.Create(context.Background(), o); err != nil {
					t.Fatal(err)
				}
			}
			tomb, sweep, err := w.l.Vanished(context.Background(), key, &iamv1alpha1.PersonalAccessToken{})
			if err != nil || sweep != tc.wantSweep {
				t.Fatalf("Vanished = %+v, %v, %v; want sweep %v", tomb, sweep, err, tc.wantSweep)
			}
			if sweep && tomb.UID != w.pat.UID {
				t.Fatalf("tombstone of %q, want the vanished %q", tomb.UID, w.pat.UID)
			}
			if _, ok := w.l.residents.get(key); ok != sweep {
				t.Fatalf("remembered %v after Vanished, want %v (kept until swept)", ok, sweep)
			}
		})
	}
}

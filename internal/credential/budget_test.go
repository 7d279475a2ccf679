package credential

import (
	"fmt"
	"slices"
	"testing"
	"time"

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

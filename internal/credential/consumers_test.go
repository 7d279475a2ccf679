package credential

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// usageIssuer is a fake Issuer whose upstream reports when each token was last used.
type usageIssuer struct {
	*fakeIssuer
	used map[string]time.Time
}

func (u *usageIssuer) LastUsed(_ context.Context, id string) (*time.Time, error) {
	if t, ok := u.used[id]; ok {
		return &t, nil
	}
	return nil, nil
}

// fakeConsumers records restarts and answers RolledOut with its field.
type fakeConsumers struct {
	restarts  [][]string
	rolledOut bool
	fail      error
}

func (f *fakeConsumers) Restart(_ context.Context, _ string, targets []iamv1alpha1.RolloutRestartTarget, _ time.Time) ([]string, error) {
	var names []string
	for _, t := range targets {
		names = append(names, t.Kind+"/"+t.Name)
	}
	f.restarts = append(f.restarts, names)
	return names, f.fail
}

func (f *fakeConsumers) RolledOut(context.Context, string, []iamv1alpha1.RolloutRestartTarget, time.Time) (bool, string, error) {
	if f.rolledOut {
		return true, "", nil
	}
	return false, "the rollout of Deployment/app", nil
}

// After a renewal or a requested rotation, the previous key stays valid while a consumer
// still uses it, and is revoked once it has been quiet for the quiet period; at the end of
// the grace period it is revoked anyway, and that is reported.
func TestRevocationWaitsForConsumersToSwitch(t *testing.T) {
	cases := map[string]struct {
		annotation  string
		usedUntil   time.Duration // after the rotation; 0: not used since
		step        time.Duration
		wantRevoked bool
		wantEvent   string
	}{
		"still used: kept":                          {annotation: "1", usedUntil: 4 * time.Minute, step: 6 * time.Minute},
		"quiet for the quiet period: revoked":       {annotation: "1", usedUntil: time.Minute, step: 7 * time.Minute, wantRevoked: true, wantEvent: iamv1alpha1.EventTokenRevoked},
		"never used again: revoked":                 {annotation: "1", step: 5 * time.Minute, wantRevoked: true, wantEvent: iamv1alpha1.EventTokenRevoked},
		"grace over while still used: reported":     {annotation: "1", usedUntil: 59 * time.Minute, step: 61 * time.Minute, wantRevoked: true, wantEvent: iamv1alpha1.EventRevokedWhileInUse},
		"compromised: revoked at once, used or not": {annotation: "compromised-incident-7", usedUntil: 59 * time.Minute, wantRevoked: true, wantEvent: iamv1alpha1.EventTokenRevoked},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			old := w.withToken(t0)
			iss := &usageIssuer{fakeIssuer: w.iss, used: map[string]time.Time{}}
			w.pat.Annotations = map[string]string{iamv1alpha1.RotateAnnotation: tc.annotation}
			if _, err := w.reconcileWith(iss); err != nil {
				t.Fatal(err)
			}
			if tc.usedUntil > 0 {
				iss.used[old.ID] = t0.Add(tc.usedUntil)
			}
			w.clk.SetTime(t0.Add(tc.step))
			if _, err := w.reconcileWith(iss); err != nil {
				t.Fatal(err)
			}
			if revoked := slices.Contains(w.iss.revoked, old.ID); revoked != tc.wantRevoked {
				t.Fatalf("revoked %v, want %v (pending %+v)", w.iss.revoked, tc.wantRevoked, w.pat.Status.PendingRevocations)
			}
			if got := w.events(); tc.wantEvent != "" && !slices.Contains(got, tc.wantEvent) {
				t.Fatalf("events %q, want %s", got, tc.wantEvent)
			}
			if !tc.wantRevoked && w.pat.Status.PendingRevocations[0].WaitingFor == "" {
				t.Fatal("status does not say what the revocation waits for")
			}
		})
	}
}

// A token replaced because the Secret was altered (it may have leaked) waits for nobody's
// use: it keeps only its fixed grace period.
func TestLeakDrivenRotationDoesNotWaitForUse(t *testing.T) {
	w := newWorld(t)
	old := w.withToken(t0)
	iss := &usageIssuer{fakeIssuer: w.iss, used: map[string]time.Time{}}
	sec := w.secret("ci")
	sec.Data["token"] = []byte("edited")
	if err := w.kube.Update(context.Background(), sec); err != nil {
		t.Fatal(err)
	}
	if _, err := w.reconcileWith(iss); err != nil {
		t.Fatal(err)
	}
	p := w.pat.Status.PendingRevocations
	if len(p) != 1 || p[0].WaitForConsumers || !p[0].RevokeAt.Time.Equal(t0.Add(time.Hour)) {
		t.Fatalf("pending %+v", p)
	}
	w.clk.SetTime(t0.Add(10 * time.Minute)) // unused, but the grace period holds
	if _, err := w.reconcileWith(iss); err != nil || slices.Contains(w.iss.revoked, old.ID) {
		t.Fatalf("err %v, revoked %q", err, w.iss.revoked)
	}
}

// The restart targets are restarted once for a burst of rotations, a while after the last
// one; the previous token waits for their rollout. A target that cannot be restarted is a
// condition, not a failure of the rotation.
func TestConsumersRestartedOnceAndWaitedFor(t *testing.T) {
	w := newWorld(t)
	cons := &fakeConsumers{}
	w.l.Consumers = cons
	w.pat.Spec.RolloutRestartTargets = []iamv1alpha1.RolloutRestartTarget{{Kind: "Deployment", Name: "app"}}
	w.withToken(t0)
	for i, v := range []string{"1", "2", "3"} { // a burst of rotations
		w.clk.SetTime(t0.Add(time.Duration(i) * time.Second))
		w.pat.Annotations = map[string]string{iamv1alpha1.RotateAnnotation: v}
		wake, err := w.reconcile()
		if err != nil || wake > restartDebounce {
			t.Fatalf("err %v, wake %v: want a wake at the end of the debounce", err, wake)
		}
	}
	if len(cons.restarts) != 0 {
		t.Fatalf("restarted during the burst: %v", cons.restarts)
	}
	w.clk.SetTime(t0.Add(10 * time.Second))
	for range 2 {
		if _, err := w.reconcile(); err != nil {
			t.Fatal(err)
		}
	}
	if len(cons.restarts) != 1 {
		t.Fatalf("restarts %v, want one for the burst", cons.restarts)
	}
	if c := meta.FindStatusCondition(w.pat.Status.Conditions, iamv1alpha1.ConditionConsumersRestarted); c == nil || c.Status != "True" {
		t.Fatalf("condition %+v", c)
	}
	if len(w.iss.revoked) != 0 {
		t.Fatalf("revoked %q before the consumers rolled out", w.iss.revoked)
	}
	cons.rolledOut = true
	if _, err := w.reconcile(); err != nil || len(w.iss.revoked) != 3 {
		t.Fatalf("err %v, revoked %q: want the three replaced tokens revoked once rolled out", err, w.iss.revoked)
	}

	cons.fail = errors.New("Deployment/app: not found")
	w.pat.Annotations = map[string]string{iamv1alpha1.RotateAnnotation: "4"}
	if _, err := w.reconcile(); err != nil {
		t.Fatal(err)
	}
	w.clk.SetTime(w.clk.Now().Add(time.Minute))
	if _, err := w.reconcile(); err != nil {
		t.Fatalf("a failed restart failed the reconcile: %v", err)
	}
	if c := meta.FindStatusCondition(w.pat.Status.Conditions, iamv1alpha1.ConditionConsumersRestarted); c == nil || c.Reason != iamv1alpha1.ReasonRestartFailed {
		t.Fatalf("condition %+v", c)
	}
}

// A reconcile that works from a stale copy of the resource (it has not seen status record
// the restart) restarts nothing: it must first prove, by a write locked on its version,
// that it works from the latest state. Otherwise it restarts the workloads a second time,
// with a later timestamp, and the first rollout never finishes as awaited. Once restarted,
// the rollout is looked at again within seconds, not half a minute.
func TestRestartNeedsTheLatestState(t *testing.T) {
	w := newWorld(t)
	cons := &fakeConsumers{}
	w.l.Consumers = cons
	w.pat.Spec.RolloutRestartTargets = []iamv1alpha1.RolloutRestartTarget{{Kind: "Deployment", Name: "app"}}
	w.withToken(t0)
	w.pat.Annotations = map[string]string{iamv1alpha1.RotateAnnotation: "1"}
	if _, err := w.reconcile(); err != nil {
		t.Fatal(err)
	}
	w.clk.SetTime(t0.Add(10 * time.Second))
	w.persistE = errors.New("the object has been modified")
	if _, err := w.reconcile(); err == nil || len(cons.restarts) != 0 {
		t.Fatalf("err %v, restarts %v: a reconcile from stale state restarted the consumers", err, cons.restarts)
	}
	w.persistE = nil
	wake, err := w.reconcile()
	if err != nil || len(cons.restarts) != 1 {
		t.Fatalf("err %v, restarts %v", err, cons.restarts)
	}
	if quarter := 10 * time.Second / 4; wake > quarter {
		t.Fatalf("the rollout is looked at again in %v, want within %v (a quarter of the time since the rotation)", wake, quarter)
	}
	w.clk.SetTime(w.clk.Now().Add(10 * time.Minute))
	if wake, err := w.reconcile(); err != nil || wake != recheckConsumers {
		t.Fatalf("err %v, wake %v: a long rollout is looked at every %v", err, wake, recheckConsumers)
	}
}

package credential

import (
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// useKey records a use of the in-memory upstream's key id now.
func (w *world) useKey(id string) {
	w.iss.mu.Lock()
	defer w.iss.mu.Unlock()
	for i := range w.iss.keys {
		if w.iss.keys[i].ID == id {
			at := w.clk.Now()
			w.iss.keys[i].LastUsedAt = &at
		}
	}
}

// checkAfter moves the clock by d (past the check interval), reconciles, and returns
// whether status changed (a write the controller would make).
func (w *world) checkAfter(d time.Duration) bool {
	w.t.Helper()
	before := w.pat.Status.DeepCopy()
	w.clk.Step(d)
	if _, err := w.reconcile(); err != nil {
		w.t.Fatal(err)
	}
	return !equality.Semantic.DeepEqual(before, &w.pat.Status)
}

func (w *world) unused() *metav1.Condition {
	return meta.FindStatusCondition(w.pat.Status.Conditions, iamv1alpha1.ConditionUnused)
}

// TestUnusedFlipsOnlyWhenUseChanges: the periodic check reads the key's last use from the
// listing it makes anyway; the metric follows it, and the condition Unused (with
// unusedAfter) changes status only when the key crosses the period, so that checks in
// between write nothing.
func TestUnusedFlipsOnlyWhenUseChanges(t *testing.T) {
	w := newWorld(t)
	w.pat.Spec.UnusedAfter = &metav1.Duration{Duration: 3 * time.Hour}
	if _, err := w.reconcile(); err != nil {
		t.Fatal(err)
	}
	id := w.pat.Status.Token.ID
	lastUsed := func() float64 {
		return testutil.ToFloat64(w.l.Metrics.LastUsed.WithLabelValues("PersonalAccessToken", "team-a", "ci"))
	}
	_ = w.events()
	if !w.checkAfter(61*time.Minute) || w.unused() == nil || w.unused().Status != metav1.ConditionFalse {
		t.Fatalf("after the first check: Unused %+v, want False", w.unused())
	}
	if n := testutil.CollectAndCount(w.l.Metrics.LastUsed); n != 0 {
		t.Fatalf("%d last-use series for a key never used", n)
	}
	w.useKey(id)
	usedAt := w.clk.Now()
	if w.checkAfter(61 * time.Minute) {
		t.Fatalf("a check that finds the key used again wrote status: %+v", w.unused())
	}
	if lastUsed() != float64(usedAt.Unix()) {
		t.Fatalf("last use metric %v, want %d", lastUsed(), usedAt.Unix())
	}
	if w.checkAfter(61*time.Minute) || w.events() != nil {
		t.Fatal("a check within unusedAfter of the last use wrote status or emitted an event")
	}
	if !w.checkAfter(61*time.Minute) || w.unused().Status != metav1.ConditionTrue || w.unused().Reason != iamv1alpha1.ReasonKeyUnused {
		t.Fatalf("3h without use: Unused %+v, want True", w.unused())
	}
	if got := w.events(); !slices.Equal(got, []string{iamv1alpha1.EventKeyUnused}) {
		t.Fatalf("events %q, want one %s", got, iamv1alpha1.EventKeyUnused)
	}
	if w.checkAfter(61*time.Minute) || w.events() != nil {
		t.Fatal("a check that finds the key still unused wrote status or emitted an event again")
	}
	w.useKey(id)
	if !w.checkAfter(61*time.Minute) || w.unused().Status != metav1.ConditionFalse {
		t.Fatalf("used again: Unused %+v, want False", w.unused())
	}
	w.pat.Spec.UnusedAfter = nil
	if !w.checkAfter(time.Minute) || w.unused() != nil {
		t.Fatalf("unusedAfter removed: Unused %+v, want no condition", w.unused())
	}
}

// TestUnusedIsOptIn: without unusedAfter no condition appears, and the metric still does.
func TestUnusedIsOptIn(t *testing.T) {
	w := newWorld(t)
	if _, err := w.reconcile(); err != nil {
		t.Fatal(err)
	}
	w.useKey(w.pat.Status.Token.ID)
	w.checkAfter(61 * time.Minute)
	if w.unused() != nil {
		t.Fatalf("Unused %+v without unusedAfter", w.unused())
	}
	if n := testutil.CollectAndCount(w.l.Metrics.LastUsed); n != 1 {
		t.Fatalf("%d last-use series, want 1", n)
	}
}

// TestMetricsOfASecondManagerAreExported: a second Metrics on the same registry (a manager
// started again in one process) records into the metrics the registry exports.
func TestMetricsOfASecondManagerAreExported(t *testing.T) {
	reg := prometheus.NewRegistry()
	NewMetrics(reg)
	second := NewMetrics(reg)
	second.Issued.WithLabelValues("ServiceUser").Inc()
	if n := testutil.CollectAndCount(reg, "token_operator_tokens_issued_total"); n != 1 {
		t.Fatalf("the registry exports %d series of what the second Metrics recorded, want 1", n)
	}
}

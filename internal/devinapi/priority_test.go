package devinapi

import (
	"context"
	"testing"
	"time"
)

// Admission requests keep a share of the rate limit: when background requests have used
// theirs (a rotation storm), an admission request does not queue behind them; and
// together they never exceed the limit.
func TestAdmissionHasItsOwnShare(t *testing.T) {
	l := newLimiters(10, 10, 0.3)
	ctx := context.Background()
	for l.background.Allow() { // the storm has used the background bucket
	}
	for range 3 {
		if !l.admission.Allow() {
			t.Fatal("the admission bucket has no burst of its own")
		}
	}
	// The admission bucket refills at its share: the next admission request waits about
	// 1/3 s, never behind the background queue (which would be 1/7 s per queued request).
	wctx, cancel := context.WithTimeout(ForAdmission(ctx), time.Second)
	defer cancel()
	if err := l.wait(wctx); err != nil {
		t.Fatalf("an admission request was not served within a second: %v", err)
	}
	// The shares add up to the limit.
	if got := float64(l.admission.Limit() + l.background.Limit()); got != 10 {
		t.Fatalf("total rate %v, want 10", got)
	}
	if l.admission.Burst()+l.background.Burst() != 10 {
		t.Fatalf("bursts %d + %d, want 10", l.admission.Burst(), l.background.Burst())
	}
	// An idle background bucket lends to admission; background never borrows.
	idle := newLimiters(10, 10, 0.3)
	for range 3 {
		_ = idle.admission.Allow()
	}
	if err := idle.wait(ForAdmission(ctx)); err != nil || idle.background.Tokens() > 6.5 {
		t.Fatalf("admission did not borrow idle background capacity: %v, background tokens %.1f", err, idle.background.Tokens())
	}
	if newLimiters(0, 0, 0) != nil {
		t.Fatal("no limit configured: no limiter")
	}
}

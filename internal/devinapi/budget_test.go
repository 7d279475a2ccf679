package devinapi_test

import (
	"errors"
	"testing"

	"github.com/cogtokens/token-operator/internal/devinapi"
)

// A context with a call budget sends no more calls than it allows, whatever asks for them:
// past it each request fails with ErrCallBudget, unsent (so a create past it never "may
// have landed").
func TestCallBudgetBoundsTheCallsOfAContext(t *testing.T) {
	srv := newFake(t)
	ctx := devinapi.WithCallBudget(testCtx(t), 2)
	before := srv.TotalCalls()
	for i := range 5 {
		_, err := srv.Client().ListRoles(ctx)
		if spent := i >= 2; spent != errors.Is(err, devinapi.ErrCallBudget) {
			t.Fatalf("call %d: err = %v", i+1, err)
		}
	}
	if n := srv.TotalCalls() - before; n != 2 {
		t.Fatalf("%d calls sent, want the budget's 2", n)
	}
	if _, err := srv.Client().ListRoles(testCtx(t)); err != nil {
		t.Fatalf("a context without a budget is not limited: %v", err)
	}
}

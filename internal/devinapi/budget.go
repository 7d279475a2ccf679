package devinapi

import (
	"context"
	"errors"
	"sync/atomic"
)

// ErrCallBudget: the calls a context may send are spent (see WithCallBudget); the request
// was not sent.
var ErrCallBudget = errors.New("the budget of Devin API calls of this piece of work is spent")

type callBudgetKey struct{}

// WithCallBudget returns a context whose requests send at most n calls to the Devin API in
// all; past it each request fails with ErrCallBudget, unsent. A reconcile that runs with one
// cannot cost more than n calls, whatever a resource's spec, status or Secret say.
func WithCallBudget(ctx context.Context, n int) context.Context {
	left := &atomic.Int64{}
	left.Store(int64(n))
	return context.WithValue(ctx, callBudgetKey{}, left)
}

// spend takes one call from the context's budget, if it has one.
func spend(ctx context.Context) error {
	if left, ok := ctx.Value(callBudgetKey{}).(*atomic.Int64); ok && left.Add(-1) < 0 {
		return ErrCallBudget
	}
	return nil
}

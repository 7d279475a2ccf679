package credential

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/cogtokens/token-operator/internal/devinapi"
)

func TestListingCache(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	c := &ListingCache{TTL: time.Minute, Clock: clk}
	var fetches atomic.Int32
	fetch := func(context.Context) ([]devinapi.APIKey, error) {
		fetches.Add(1)
		return []devinapi.APIKey{{ID: "k"}}, nil
	}
	ctx := context.Background()
	steps := []struct {
		name  string
		do    func()
		fresh bool
		want  int32
	}{
		{name: "first read fetches", want: 1},
		{name: "second read within TTL is shared", want: 1},
		{name: "fresh read always fetches", fresh: true, want: 2},
		{name: "after TTL it fetches", do: func() { clk.Step(2 * time.Minute) }, want: 3},
		{name: "invalidated owner fetches", do: func() { c.Invalidate("user") }, want: 4},
	}
	for _, s := range steps {
		if s.do != nil {
			s.do()
		}
		l, err := c.Get(ctx, "user", s.fresh, fetch)
		if err != nil || len(l.Keys) != 1 {
			t.Fatalf("%s: Get = %+v, %v", s.name, l, err)
		}
		if got := fetches.Load(); got != s.want {
			t.Errorf("%s: %d fetches, want %d", s.name, got, s.want)
		}
	}
}

package directory_test

import (
	"context"
	"errors"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/cogtokens/token-operator/internal/devinapi"
	"github.com/cogtokens/token-operator/internal/directory"
	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

func TestDirectoryCachesAcrossLookups(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	srv := devinapitest.NewTestServer(t, devinapitest.WithClock(clk))
	d := directory.New(srv.Client(), directory.Options{TTL: time.Minute, Clock: clk})
	ctx := context.Background()

	u, err := d.UserByEmail(ctx, "ALICE@example.com")
	if err != nil || u.Email != "alice@example.com" {
		t.Fatalf("UserByEmail = %+v, %v", u, err)
	}
	calls := srv.TotalCalls()
	for _, lookup := range []func() (*devinapi.User, error){
		func() (*devinapi.User, error) { return d.UserByEmail(ctx, "alice@example.com") },
		func() (*devinapi.User, error) { return d.UserByID(ctx, u.ID) }, // filled by the email lookup
	} {
		if got, err := lookup(); err != nil || got.ID != u.ID {
			t.Fatalf("cached lookup = %+v, %v", got, err)
		}
	}
	if srv.TotalCalls() != calls {
		t.Fatalf("cached lookups called the API %d times", srv.TotalCalls()-calls)
	}
	if _, err := d.Roles(ctx); err != nil {
		t.Fatal(err)
	}
	calls = srv.TotalCalls()
	if _, err := d.Roles(ctx); err != nil || srv.TotalCalls() != calls {
		t.Fatalf("roles not cached: %v", err)
	}

	clk.Step(time.Minute)
	if _, err := d.UserByEmail(ctx, "alice@example.com"); err != nil || srv.TotalCalls() == calls {
		t.Fatalf("an expired entry was served: %v", err)
	}

	// Not found is remembered for seconds only: a flood of made-up users costs one call
	// each, and a user created upstream a moment later is found soon.
	for _, lookup := range []func() (*devinapi.User, error){
		func() (*devinapi.User, error) { return d.UserByEmail(ctx, "nobody@example.com") },
		func() (*devinapi.User, error) { return d.UserByID(ctx, "user-nobody") },
	} {
		if _, err := lookup(); !errors.Is(err, devinapi.ErrNotFound) {
			t.Fatalf("err = %v", err)
		}
		calls = srv.TotalCalls()
		if _, err := lookup(); !errors.Is(err, devinapi.ErrNotFound) || srv.TotalCalls() != calls {
			t.Fatalf("a missing user looked up again at once: %v, %d calls", err, srv.TotalCalls()-calls)
		}
	}
	srv.UpsertUser(devinapitest.SeedUser{ID: "user-nobody", Email: "nobody@example.com", PATEnabled: true})
	clk.Step(11 * time.Second)
	if u, err := d.UserByEmail(ctx, "nobody@example.com"); err != nil || u.ID != "user-nobody" {
		t.Fatalf("UserByEmail after upsert = %+v, %v", u, err)
	}
}

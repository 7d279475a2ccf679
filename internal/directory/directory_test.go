package directory_test

import (
	"context"
	"errors"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/cogtokens/token-operator/internal/devinapi"
	"github.com/cogtokens/token-operator/internal/devinapi/devinapitest"
	"github.com/cogtokens/token-operator/internal/directory"
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

	// Not found is not cached: the user may be created upstream a moment later.
	if _, err := d.UserByEmail(ctx, "nobody@example.com"); !errors.Is(err, devinapi.ErrNotFound) {
		t.Fatalf("err = %v", err)
	}
	srv.UpsertUser(devinapitest.SeedUser{ID: "user-nobody", Email: "nobody@example.com", PATEnabled: true})
	if u, err := d.UserByEmail(ctx, "nobody@example.com"); err != nil || u.ID != "user-nobody" {
		t.Fatalf("UserByEmail after upsert = %+v, %v", u, err)
	}
}

package devinapi_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cogtokens/token-operator/internal/devinapi"
	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

// newFake starts an in-memory Devin API for one test, which fails for every exchange that
// breaks the published contract.
func newFake(t *testing.T, opts ...devinapitest.Option) *devinapitest.Server {
	t.Helper()
	return devinapitest.NewTestServer(t, opts...)
}

// withAdminKey configures the enterprise admin's personal key of s, so that the client reads
// the v2 member record.
func withAdminKey(s *devinapitest.Server) func(*devinapi.Options) {
	return func(o *devinapi.Options) { o.EnterpriseAdminKey = devinapi.StaticToken(s.EnterpriseAdminKey()) }
}

// testCtx bounds a test's calls generously, so that a bug hangs no longer than this.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// noToken fails the test when an error text carries anything that looks like a token.
func noToken(t *testing.T, err error) {
	t.Helper()
	if err != nil && strings.Contains(strings.ToLower(err.Error()), "cog_") {
		t.Errorf("error text carries a token: %q", err.Error())
	}
}

// mustErr checks that err matches every sentinel of want and none of notWant.
func mustErr(t *testing.T, err error, want []error, notWant ...error) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", want)
	}
	noToken(t, err)
	for _, w := range want {
		if !errors.Is(err, w) {
			t.Errorf("error %q does not match %v", err, w)
		}
	}
	for _, w := range notWant {
		if errors.Is(err, w) {
			t.Errorf("error %q matches %v, it should not", err, w)
		}
	}
}

// allClasses are the sentinels a test checks an error against.
var allClasses = []error{
	devinapi.ErrNotFound, devinapi.ErrConflict, devinapi.ErrUnauthorized, devinapi.ErrForbidden,
	devinapi.ErrSSOAccount, devinapi.ErrFeatureNotEnabled, devinapi.ErrInvalid, devinapi.ErrRetryable,
}

// only checks that err matches exactly the sentinels of want among allClasses.
func only(t *testing.T, err error, want ...error) {
	t.Helper()
	var notWant []error
	for _, c := range allClasses {
		found := false
		for _, w := range want {
			if w == c {
				found = true
			}
		}
		if !found {
			notWant = append(notWant, c)
		}
	}
	mustErr(t, err, want, notWant...)
}

func ptr[T any](v T) *T { return &v }

// takeViolations takes the contract violations a test provoked on purpose, so that the
// server does not fail the test for them, and checks that there is one for each of want, in
// order (each a substring of the violation's description).
func takeViolations(t *testing.T, s *devinapitest.Server, want ...string) {
	t.Helper()
	got := s.TakeViolations()
	if len(got) != len(want) {
		t.Errorf("%d contract violations, want %d: %v", len(got), len(want), got)
		return
	}
	for i, w := range want {
		if !strings.Contains(got[i].String(), w) {
			t.Errorf("violation %d is %q, want it to mention %q", i, got[i], w)
		}
	}
}

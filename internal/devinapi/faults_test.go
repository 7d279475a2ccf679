package devinapi_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cogtokens/token-operator/internal/devinapi"
	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

func TestErrorClassesFromTheServer(t *testing.T) {
	type testCase struct {
		faults devinapitest.Faults
		call   func(s *devinapitest.Server, c *devinapi.Client, ctx context.Context) error
		want   []error
		// violations the call provokes on purpose.
		violations []string
	}
	self := func(_ *devinapitest.Server, c *devinapi.Client, ctx context.Context) error {
		_, err := c.Self(ctx)
		return err
	}
	injected := func(status int) devinapitest.Faults {
		return devinapitest.Faults{ErrorRate: map[string]float64{"*": 1}, ErrorStatus: status}
	}
	tests := map[string]testCase{
		"401 bad credential": {call: func(s *devinapitest.Server, _ *devinapi.Client, ctx context.Context) error {
			c := s.Client(func(o *devinapi.Options) { o.Credentials = devinapi.StaticToken(devinapi.NewToken("cog_wrong")) })
			_, err := c.Self(ctx)
			return err
		}, want: []error{devinapi.ErrUnauthorized}},
		"403 non-admin credential": {call: func(s *devinapitest.Server, c *devinapi.Client, ctx context.Context) error {
			pat, err := c.CreatePAT(ctx, "user-alice", devinapi.CreateKeyRequest{Name: "p"})
			if err != nil {
				return err
			}
			c = s.Client(func(o *devinapi.Options) { o.Credentials = devinapi.StaticToken(pat.Token) })
			_, err = c.ListRoles(ctx)
			return err
		}, want: []error{devinapi.ErrForbidden}},
		"422 invalid name": {call: func(_ *devinapitest.Server, c *devinapi.Client, ctx context.Context) error {
			_, err := c.ProvisionServiceUser(ctx, devinapi.ProvisionServiceUserRequest{Scope: devinapi.ScopeEnterprise, Name: strings.Repeat("n", 257), RoleID: devinapitest.RoleEnterpriseMember, TTL: time.Hour})
			return err
		}, want: []error{devinapi.ErrInvalid}, violations: []string{"body.name: maximum string length is 256"}},
		"TTL over a year, refused before sending": {call: func(_ *devinapitest.Server, c *devinapi.Client, ctx context.Context) error {
			_, err := c.ProvisionServiceUser(ctx, devinapi.ProvisionServiceUserRequest{Scope: devinapi.ScopeEnterprise, Name: "n", RoleID: devinapitest.RoleEnterpriseMember, TTL: 366 * 24 * time.Hour})
			return err
		}, want: []error{devinapi.ErrInvalid}},
		"404 unknown org": {call: func(_ *devinapitest.Server, c *devinapi.Client, ctx context.Context) error {
			_, err := c.ProvisionServiceUser(ctx, devinapi.ProvisionServiceUserRequest{Scope: devinapi.ScopeOrganization, OrgID: "org-nope", Name: "n", RoleID: devinapitest.RoleOrgMember, TTL: time.Hour})
			return err
		}, want: []error{devinapi.ErrNotFound}},
		"408":            {faults: injected(408), call: self, want: []error{devinapi.ErrRetryable}},
		"429":            {faults: injected(429), call: self, want: []error{devinapi.ErrRetryable}},
		"500":            {faults: injected(500), call: self, want: []error{devinapi.ErrRetryable}},
		"502":            {faults: injected(502), call: self, want: []error{devinapi.ErrRetryable}},
		"503":            {faults: injected(503), call: self, want: []error{devinapi.ErrRetryable}},
		"default is 503": {faults: devinapitest.Faults{ErrorRate: map[string]float64{"GET /v3/self": 1}}, call: self, want: []error{devinapi.ErrRetryable}},
		"injected 409":   {faults: injected(409), call: self, want: []error{devinapi.ErrConflict}},
		"injected 422 sso-account": {faults: devinapitest.Faults{ErrorRate: map[string]float64{"*": 1}, ErrorStatus: 422,
			ErrorBody: `{"type":"https://api.devin.ai/problems/sso-account","status":422}`}, call: self, want: []error{devinapi.ErrSSOAccount, devinapi.ErrForbidden}},
		"older detail body": {faults: devinapitest.Faults{ErrorRate: map[string]float64{"*": 1}, ErrorStatus: 400, ErrorBody: `{"detail":"bad cog_leak"}`},
			call: self, want: []error{devinapi.ErrInvalid}},
		"HTML body": {faults: devinapitest.Faults{ErrorRate: map[string]float64{"*": 1}, ErrorStatus: 502, ErrorBody: "<html>" + strings.Repeat("cog_x ", 200) + "</html>"},
			call: self, want: []error{devinapi.ErrRetryable}},
		"detail with a token": {faults: devinapitest.Faults{ErrorRate: map[string]float64{"*": 1}, ErrorStatus: 500, ErrorDetail: "token cog_AAAAbbbb1234 leaked"},
			call: self, want: []error{devinapi.ErrRetryable}},
		"lost answer, 502": {faults: devinapitest.Faults{LoseCreateResponses: 1, LostResponseMode: "502"}, call: func(_ *devinapitest.Server, c *devinapi.Client, ctx context.Context) error {
			_, err := c.CreatePAT(ctx, "user-alice", devinapi.CreateKeyRequest{Name: "p"})
			return err
		}, want: []error{devinapi.ErrRetryable}},
		"server gone": {call: func(s *devinapitest.Server, c *devinapi.Client, ctx context.Context) error {
			s.Close()
			_, err := c.Self(ctx)
			return err
		}, want: []error{devinapi.ErrRetryable}},
		"per-request timeout": {faults: devinapitest.Faults{Latency: time.Minute}, call: func(s *devinapitest.Server, _ *devinapi.Client, ctx context.Context) error {
			c := s.Client(func(o *devinapi.Options) { o.Timeout = 50 * time.Millisecond })
			_, err := c.Self(ctx)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("error %v is not a deadline", err)
			}
			return err
		}, want: []error{devinapi.ErrRetryable}},
		"lost answer, hang": {faults: devinapitest.Faults{LoseCreateResponses: 1, LostResponseMode: "hang"}, call: func(s *devinapitest.Server, _ *devinapi.Client, ctx context.Context) error {
			c := s.Client(func(o *devinapi.Options) { o.Timeout = 200 * time.Millisecond })
			_, err := c.CreatePAT(ctx, "user-alice", devinapi.CreateKeyRequest{Name: "p"})
			if live := s.LiveTokens(); len(live) != 1 || live[0].Name != "p" {
				t.Errorf("the create did not commit: %+v", live)
			}
			return err
		}, want: []error{devinapi.ErrRetryable}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := newFake(t)
			c := s.Client()
			s.SetFaults(tc.faults)
			err := tc.call(s, c, testCtx(t))
			only(t, err, tc.want...)
			takeViolations(t, s, tc.violations...)
			if len(err.Error()) > 400 {
				t.Errorf("error text of %d bytes: %q", len(err.Error()), err)
			}
		})
	}
}

func TestCallerContext(t *testing.T) {
	type testCase struct {
		faults devinapitest.Faults
		opts   func(*devinapi.Options)
		// arm cancels the context at the right moment.
		arm func(s *devinapitest.Server, cancel context.CancelFunc)
		// deadline uses a context deadline instead of a cancellation.
		deadline bool
	}
	tests := map[string]testCase{
		"canceled before the call": {arm: func(_ *devinapitest.Server, cancel context.CancelFunc) { cancel() }},
		"canceled while waiting for the limiter": {
			opts: func(o *devinapi.Options) { o.QPS, o.Burst = 0.001, 1 },
			arm:  func(_ *devinapitest.Server, cancel context.CancelFunc) { cancel() },
		},
		"canceled while the answer is held": {
			faults: devinapitest.Faults{LoseCreateResponses: 1, LostResponseMode: "hang"},
			arm: func(s *devinapitest.Server, cancel context.CancelFunc) {
				s.SetHook(func(devinapitest.Event) { cancel() })
			},
		},
		"caller's deadline while the answer is held": {
			faults:   devinapitest.Faults{LoseCreateResponses: 1, LostResponseMode: "hang"},
			deadline: true,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := newFake(t)
			s.SetFaults(tc.faults)
			opts := func(*devinapi.Options) {}
			if tc.opts != nil {
				opts = tc.opts
			}
			c := s.Client(opts)
			if tc.opts != nil {
				// Use up the burst, so that the next call waits for the limiter.
				if _, err := c.Self(testCtx(t)); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithCancel(testCtx(t))
			if tc.deadline {
				ctx, cancel = context.WithTimeout(testCtx(t), 200*time.Millisecond)
			}
			defer cancel()
			if tc.arm != nil {
				tc.arm(s, cancel)
			}
			_, err := c.CreatePAT(ctx, "user-alice", devinapi.CreateKeyRequest{Name: "p"})
			if tc.deadline {
				// A deadline is a timeout: retryable.
				only(t, err, devinapi.ErrRetryable)
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("error %v is not a deadline", err)
				}
				return
			}
			only(t, err)
			if !errors.Is(err, context.Canceled) {
				t.Errorf("error %v is not a cancellation", err)
			}
		})
	}
}

func TestRetryAfterIsHonouredByEveryRequest(t *testing.T) {
	type testCase struct {
		httpDate bool
	}
	tests := map[string]testCase{
		"delta seconds": {},
		"HTTP date":     {httpDate: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := newFake(t)
			c := s.Client()
			ctx := testCtx(t)
			const retryAfter = time.Second
			s.SetFaults(devinapitest.Faults{Down: true, RetryAfter: retryAfter, RetryAfterHTTPDate: tc.httpDate})
			beforeDown := time.Now()
			_, err := c.ListRoles(ctx)
			only(t, err, devinapi.ErrRetryable)
			d, ok := devinapi.RetryAfter(err)
			if !ok || d <= 0 || d > 2*time.Second {
				t.Fatalf("RetryAfter = %v, %v; want up to 2s", d, ok)
			}
			var apiErr *devinapi.APIError
			if !errors.As(err, &apiErr) || apiErr.Status != http.StatusServiceUnavailable {
				t.Fatalf("error %v is not a 503 APIError", err)
			}

			// The server is back, but the client must still wait out the Retry-After: a
			// caller whose deadline comes first is told so without a request.
			s.SetFaults(devinapitest.Faults{})
			calls := s.TotalCalls()
			short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
			_, err = c.ListRoles(short)
			cancel()
			only(t, err, devinapi.ErrRetryable)
			if d, ok := devinapi.RetryAfter(err); !ok || d <= 0 {
				t.Errorf("RetryAfter of a held-back call = %v, %v", d, ok)
			}
			if s.TotalCalls() != calls {
				t.Errorf("a held-back call reached the server")
			}

			// Concurrent callers all wait, then all succeed, and none arrives early.
			errs := make(chan error, 5)
			for i := 0; i < 5; i++ {
				go func() {
					_, err := c.ListRoles(ctx)
					errs <- err
				}()
			}
			for i := 0; i < 5; i++ {
				if err := <-errs; err != nil {
					t.Errorf("call after the Retry-After: %v", err)
				}
			}
			if early := s.EarlyRequests(); early != 0 {
				t.Errorf("%d requests arrived before the Retry-After elapsed", early)
			}
			// The server announced the delay after beforeDown, so nothing may end before
			// beforeDown+retryAfter.
			if waited := time.Since(beforeDown); waited < retryAfter {
				t.Errorf("the calls ended %v after the 503, before its Retry-After of %v", waited, retryAfter)
			}
		})
	}
}

func TestServerRateLimitIsRespected(t *testing.T) {
	s := newFake(t)
	c := s.Client()
	ctx := testCtx(t)
	s.SetFaults(devinapitest.Faults{RateLimitQPS: 1, RetryAfter: time.Second})
	var throttled int
	for i := 0; i < 4; i++ {
		_, err := c.Self(ctx)
		if errors.Is(err, devinapi.ErrRetryable) {
			throttled++
			if d, ok := devinapi.RetryAfter(err); !ok || d != time.Second {
				t.Errorf("RetryAfter = %v, %v", d, ok)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if throttled == 0 {
		t.Errorf("the server never throttled four calls at 1 QPS")
	}
	if early := s.EarlyRequests(); early != 0 {
		t.Errorf("%d requests arrived before the Retry-After elapsed", early)
	}
}

func TestClientSideRateLimit(t *testing.T) {
	const qps, n = 20.0, 10
	s := newFake(t)
	// The server would throttle anything above twice the client's limit.
	s.SetFaults(devinapitest.Faults{RateLimitQPS: 2 * qps})
	c := s.Client(func(o *devinapi.Options) { o.QPS, o.Burst = qps, 1 })
	ctx := testCtx(t)
	start := time.Now()
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			_, err := c.Self(ctx)
			errs <- err
		}()
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Errorf("call %d: %v", i, err)
		}
	}
	// n calls at qps with a burst of 1 take at least (n-1)/qps.
	if min := time.Duration(float64(n-1) / qps * float64(time.Second)); time.Since(start) < min-50*time.Millisecond {
		t.Errorf("%d calls took %v, less than the limiter allows (%v)", n, time.Since(start), min)
	}
	if got := s.TotalCalls(); got != n {
		t.Errorf("server saw %d calls, want %d", got, n)
	}

	// A caller whose deadline is before the limiter's next slot is told at once.
	slow := s.Client(func(o *devinapi.Options) { o.QPS, o.Burst = 0.001, 1 })
	if _, err := slow.Self(ctx); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_, err := slow.Self(short)
	only(t, err, devinapi.ErrRetryable)
	if short.Err() != nil {
		t.Errorf("the call waited for the deadline instead of failing at once")
	}
}

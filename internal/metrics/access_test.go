package metrics

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cogtokens/token-operator/internal/ttlcache"
)

// reviewer plays the API server: tokens it knows, and who may get which path.
type reviewer struct {
	client.Writer                     // not called but for Create
	users         map[string]string   // token -> user
	may           map[string][]string // user -> paths
	fail          error
	reviews       int
}

func (r *reviewer) Create(_ context.Context, obj client.Object, _ ...client.CreateOption) error {
	r.reviews++
	if r.fail != nil {
		return r.fail
	}
	switch o := obj.(type) {
	case *authenticationv1.TokenReview:
		if u, ok := r.users[o.Spec.Token]; ok {
			o.Status = authenticationv1.TokenReviewStatus{Authenticated: true, User: authenticationv1.UserInfo{Username: u, Groups: []string{"system:authenticated"}}}
		}
	case *authorizationv1.SubjectAccessReview:
		na := o.Spec.NonResourceAttributes
		for _, p := range r.may[o.Spec.User] {
			if na != nil && na.Verb == "get" && na.Path == p {
				o.Status.Allowed = true
			}
		}
	default:
		return errors.New("unexpected create")
	}
	return nil
}

// TestMetricsAccess: only a token the API server accepts, of a user RBAC lets get the path,
// reads the metrics; verdicts are cached (a refusal for less long), and an API server that
// cannot answer refuses rather than lets through.
func TestMetricsAccess(t *testing.T) {
	const secretToken = "sa-token-of-prometheus"
	type testCase struct {
		header   string
		path     string
		fail     error
		want     int
		wantBody string
	}
	tests := map[string]testCase{
		"no token":                         {want: http.StatusUnauthorized, wantBody: "bearer token is required"},
		"not a bearer token":               {header: "Basic dXNlcjpwYXNz", want: http.StatusUnauthorized},
		"empty bearer token":               {header: "Bearer ", want: http.StatusUnauthorized},
		"a token the API server refuses":   {header: "Bearer forged", want: http.StatusUnauthorized, wantBody: "does not accept"},
		"a user RBAC does not let in":      {header: "Bearer intruder-token", want: http.StatusForbidden, wantBody: "intruder may not get /metrics"},
		"allowed":                          {header: "Bearer " + secretToken, want: http.StatusOK},
		"allowed, lower-case scheme":       {header: "bearer " + secretToken, want: http.StatusOK},
		"allowed user, another path":       {header: "Bearer " + secretToken, path: "/debug", want: http.StatusForbidden},
		"the API server cannot be reached": {header: "Bearer " + secretToken, fail: errors.New("connection refused"), want: http.StatusInternalServerError},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rv := &reviewer{users: map[string]string{secretToken: "prometheus", "intruder-token": "intruder"},
				may: map[string][]string{"prometheus": {"/metrics"}}, fail: tc.fail}
			clk := clocktesting.NewFakeClock(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
			a := &access{reviews: rv, allowed: ttlcache.New[bool](accessAllowedTTL, 8, clk), denied: ttlcache.New[string](accessDeniedTTL, 8, clk)}
			h, err := a.filter(logr.Discard(), http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("metrics")) }))
			if err != nil {
				t.Fatal(err)
			}
			path := tc.path
			if path == "" {
				path = "/metrics"
			}
			scrape := func() *httptest.ResponseRecorder {
				req := httptest.NewRequest(http.MethodGet, path, nil)
				if tc.header != "" {
					req.Header.Set("Authorization", tc.header)
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				return rec
			}
			rec := scrape()
			if rec.Code != tc.want || !strings.Contains(rec.Body.String(), tc.wantBody) {
				t.Fatalf("answer %d %q, want %d with %q", rec.Code, rec.Body.String(), tc.want, tc.wantBody)
			}
			if tc.want == http.StatusOK && rec.Body.String() != "metrics" {
				t.Fatalf("body %q, want the metrics", rec.Body.String())
			}
			if tc.want != http.StatusOK && rec.Body.String() == "metrics" {
				t.Fatal("a refused scrape got the metrics")
			}
			if strings.Contains(rec.Body.String(), secretToken) {
				t.Fatal("the answer quotes the token")
			}
			// The verdict is cached: the next scrape costs no review, until it expires.
			reviews := rv.reviews
			if again := scrape(); again.Code != rec.Code || (tc.fail == nil && rv.reviews != reviews) {
				t.Fatalf("second scrape: %d after %d, %d more reviews", again.Code, rec.Code, rv.reviews-reviews)
			}
			if reviews == 0 {
				return // refused before any review: nothing was cached
			}
			clk.Step(accessAllowedTTL + time.Second)
			if scrape(); rv.reviews == reviews {
				t.Fatal("a verdict outlived its time")
			}
		})
	}
}

package devinapitest_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cogtokens/token-operator/internal/devinapi"
	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

func TestLatency(t *testing.T) {
	s := newFake(t)
	s.SetFaults(devinapitest.Faults{Latency: 100 * time.Millisecond, LatencyJitter: 50 * time.Millisecond, Seed: 1})
	start := time.Now()
	if a := admin(t, s, http.MethodGet, "/v3/self", nil); a.status != 200 {
		t.Fatalf("status %d", a.status)
	}
	if took := time.Since(start); took < 100*time.Millisecond {
		t.Errorf("the call took %v, less than the latency", took)
	}
	// The control API is not delayed nor counted.
	if a := call(t, s.URL, http.MethodGet, "/_fake/faults", "", nil); a.status != 200 {
		t.Fatalf("status %d", a.status)
	}
	if s.TotalCalls() != 1 {
		t.Errorf("TotalCalls = %d, want 1", s.TotalCalls())
	}
}

func TestErrorRate(t *testing.T) {
	type testCase struct {
		faults     devinapitest.Faults
		path       string
		wantStatus int
		wantRetry  string
		wantType   string
		wantBody   string
	}
	tests := map[string]testCase{
		"by route": {faults: devinapitest.Faults{ErrorRate: map[string]float64{"GET /v3/self": 1}}, path: "/v3/self", wantStatus: 503},
		"other route untouched": {faults: devinapitest.Faults{ErrorRate: map[string]float64{"GET /v3/self": 1}},
			path: "/v3/enterprise/roles", wantStatus: 200},
		"route overrides star": {faults: devinapitest.Faults{ErrorRate: map[string]float64{"*": 1, "GET /v3/self": 0}},
			path: "/v3/self", wantStatus: 200},
		"star":       {faults: devinapitest.Faults{ErrorRate: map[string]float64{"*": 1}, ErrorStatus: 500}, path: "/v3/enterprise/roles", wantStatus: 500},
		"zero rate":  {faults: devinapitest.Faults{ErrorRate: map[string]float64{"*": 0}}, path: "/v3/self", wantStatus: 200},
		"with retry": {faults: devinapitest.Faults{ErrorRate: map[string]float64{"*": 1}, ErrorStatus: 429, RetryAfter: 2 * time.Second}, path: "/v3/self", wantStatus: 429, wantRetry: "2"},
		"raw text body": {faults: devinapitest.Faults{ErrorRate: map[string]float64{"*": 1}, ErrorBody: "upstream gone"}, path: "/v3/self", wantStatus: 503,
			wantType: "text/plain; charset=utf-8", wantBody: "upstream gone"},
		"raw JSON body": {faults: devinapitest.Faults{ErrorRate: map[string]float64{"*": 1}, ErrorStatus: 404, ErrorBody: `{"detail":"gone"}`}, path: "/v3/self", wantStatus: 404,
			wantType: "application/json", wantBody: `{"detail":"gone"}`},
		"custom detail": {faults: devinapitest.Faults{ErrorRate: map[string]float64{"*": 1}, ErrorDetail: "boom"}, path: "/v3/self", wantStatus: 503,
			wantType: "application/problem+json", wantBody: `"detail":"boom"`},
		"500 never retry": {faults: devinapitest.Faults{ErrorRate: map[string]float64{"*": 1}, ErrorStatus: 500, RetryAfter: 2 * time.Second}, path: "/v3/self", wantStatus: 500},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := newFake(t)
			s.SetFaults(tc.faults)
			a := admin(t, s, http.MethodGet, tc.path, nil)
			if a.status != tc.wantStatus || a.header.Get("Retry-After") != tc.wantRetry {
				t.Fatalf("status %d Retry-After %q, want %d %q", a.status, a.header.Get("Retry-After"), tc.wantStatus, tc.wantRetry)
			}
			if tc.wantBody != "" {
				if a.header.Get("Content-Type") != tc.wantType || !strings.Contains(string(a.body), tc.wantBody) {
					t.Errorf("answer %q %s, want %q %s", a.header.Get("Content-Type"), a.body, tc.wantType, tc.wantBody)
				}
				return
			}
			if a.status != 200 {
				if p := a.problem(t); p.Detail != "injected fault" {
					t.Errorf("detail %q", p.Detail)
				}
			}
		})
	}
}

func TestErrorRateIsRandomAndSeeded(t *testing.T) {
	statuses := func() []int {
		s := newFake(t)
		s.SetFaults(devinapitest.Faults{ErrorRate: map[string]float64{"*": 0.5}, Seed: 42})
		var out []int
		for i := 0; i < 40; i++ {
			out = append(out, admin(t, s, http.MethodGet, "/v3/self", nil).status)
		}
		return out
	}
	first, second := statuses(), statuses()
	if diff := cmp.Diff(first, second); diff != "" {
		t.Errorf("the same seed gave different faults (-first +second):\n%s", diff)
	}
	count := map[int]int{}
	for _, st := range first {
		count[st]++
	}
	if count[200] == 0 || count[503] == 0 {
		t.Errorf("statuses %v, want a mix of 200 and 503", count)
	}
}

func TestRateLimitAndDown(t *testing.T) {
	type testCase struct {
		faults devinapitest.Faults
		calls  int
		// want is the status of each call.
		want     []int
		httpDate bool
	}
	tests := map[string]testCase{
		"429 in seconds":   {faults: devinapitest.Faults{RateLimitQPS: 1, RetryAfter: 1500 * time.Millisecond}, calls: 2, want: []int{200, 429}},
		"429 as HTTP date": {faults: devinapitest.Faults{RateLimitQPS: 0.5, RetryAfterHTTPDate: true}, calls: 2, want: []int{200, 429}, httpDate: true},
		"down":             {faults: devinapitest.Faults{Down: true}, calls: 1, want: []int{503}},
		"down, HTTP date":  {faults: devinapitest.Faults{Down: true, RetryAfter: 3 * time.Second, RetryAfterHTTPDate: true}, calls: 1, want: []int{503}, httpDate: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := newFake(t)
			s.SetFaults(tc.faults)
			var last answer
			var got []int
			for i := 0; i < tc.calls; i++ {
				last = admin(t, s, http.MethodGet, "/v3/self", nil)
				got = append(got, last.status)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("statuses (-want +got):\n%s", diff)
			}
			last.problem(t)
			ra := last.header.Get("Retry-After")
			want := tc.faults.RetryAfter
			if want == 0 {
				want = time.Second
			}
			if tc.httpDate {
				at, err := http.ParseTime(ra)
				if err != nil {
					t.Fatalf("Retry-After %q is not an HTTP date", ra)
				}
				if d := time.Until(at); d > want+time.Second || at.Before(time.Now().Add(want-time.Second)) {
					t.Errorf("Retry-After %v is %v away, want about %v", at, d, want)
				}
			} else if secs, err := strconv.Atoi(ra); err != nil || time.Duration(secs)*time.Second < want || time.Duration(secs-1)*time.Second >= want {
				t.Errorf("Retry-After %q, want %v rounded up to seconds", ra, want)
			}
			// Calling again at once is early.
			admin(t, s, http.MethodGet, "/v3/self", nil)
			if s.EarlyRequests() != 1 {
				t.Errorf("EarlyRequests = %d, want 1", s.EarlyRequests())
			}
		})
	}
}

func TestLostCreateAnswers(t *testing.T) {
	type testCase struct {
		mode   string
		create func(c *devinapi.Client, s *devinapitest.Server) error
	}
	tests := map[string]testCase{
		"PAT, 502": {mode: "502", create: func(c *devinapi.Client, _ *devinapitest.Server) error {
			_, err := c.CreatePAT(testCtx(t), "user-alice", devinapi.CreateKeyRequest{Name: "lost"})
			return err
		}},
		"PAT, default mode": {create: func(c *devinapi.Client, _ *devinapitest.Server) error {
			_, err := c.CreatePAT(testCtx(t), "user-alice", devinapi.CreateKeyRequest{Name: "lost"})
			return err
		}},
		"provision, hang": {mode: "hang", create: func(c *devinapi.Client, _ *devinapitest.Server) error {
			_, err := c.ProvisionServiceUser(testCtx(t), devinapi.ProvisionServiceUserRequest{Scope: devinapi.ScopeEnterprise, Name: "lost", RoleID: devinapitest.RoleEnterpriseMember, TTL: time.Hour})
			return err
		}},
		"API key, hang": {mode: "hang", create: func(c *devinapi.Client, s *devinapitest.Server) error {
			s.SetFaults(devinapitest.Faults{})
			p, err := c.ProvisionServiceUser(testCtx(t), devinapi.ProvisionServiceUserRequest{Scope: devinapi.ScopeEnterprise, Name: "x", RoleID: devinapitest.RoleEnterpriseMember, TTL: time.Hour})
			if err != nil {
				return err
			}
			s.SetFaults(devinapitest.Faults{LoseCreateResponses: 1, LostResponseMode: "hang"})
			_, err = c.CreateServiceUserAPIKey(testCtx(t), p.ServiceUser.ID, devinapi.CreateKeyRequest{Name: "lost"})
			return err
		}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := newFake(t)
			c := s.Client(func(o *devinapi.Options) { o.Timeout = 300 * time.Millisecond })
			s.SetFaults(devinapitest.Faults{LoseCreateResponses: 1, LostResponseMode: tc.mode})
			// Reads are not creates: they keep working.
			if _, err := c.ListRoles(testCtx(t)); err != nil {
				t.Fatal(err)
			}
			err := tc.create(c, s)
			if !errors.Is(err, devinapi.ErrRetryable) {
				t.Fatalf("create = %v, want a retryable failure", err)
			}
			var found bool
			for _, r := range s.LiveTokens() {
				found = found || r.Name == "lost" || r.Name == "initial"
			}
			if !found {
				t.Errorf("the create whose answer was lost did not commit: %+v", s.LiveTokens())
			}
		})
	}
}

func TestFaultsJSON(t *testing.T) {
	f := devinapitest.Faults{
		Latency: 50 * time.Millisecond, LatencyJitter: time.Second, ErrorRate: map[string]float64{"*": 0.1},
		ErrorStatus: 500, ErrorDetail: "d", ErrorBody: "b", RateLimitQPS: 2.5, RetryAfter: 3 * time.Second,
		RetryAfterHTTPDate: true, LoseCreateResponses: 0.2, LostResponseMode: "hang", Down: true, Seed: 7,
	}
	data, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	var back devinapitest.Faults
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(f, back); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	type testCase struct {
		json    string
		want    devinapitest.Faults
		wantErr bool
	}
	tests := map[string]testCase{
		"strings":      {json: `{"latency":"50ms","retry_after":"2s"}`, want: devinapitest.Faults{Latency: 50 * time.Millisecond, RetryAfter: 2 * time.Second}},
		"nanoseconds":  {json: `{"latency":1000}`, want: devinapitest.Faults{Latency: time.Microsecond}},
		"bad duration": {json: `{"latency":"soon"}`, wantErr: true},
		"bad type":     {json: `{"latency":true}`, wantErr: true},
		"not JSON":     {json: `{`, wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var got devinapitest.Faults
			err := json.Unmarshal([]byte(tc.json), &got)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want error %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); !tc.wantErr && diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

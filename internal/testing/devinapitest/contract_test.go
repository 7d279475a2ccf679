package devinapitest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cogtokens/token-operator/internal/devinapi"
	"github.com/cogtokens/token-operator/internal/testing/contract"
	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

// fakeT records what CheckContract does to a test.
type fakeT struct {
	mu       sync.Mutex
	errors   []string
	cleanups []func()
}

func (f *fakeT) Helper() {}

func (f *fakeT) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errors = append(f.errors, fmt.Sprintf(format, args...))
}

func (f *fakeT) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }

// end runs the cleanups, last first, as a test's end does.
func (f *fakeT) end() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}

// dropField removes field from every item of a listing answer, or from the answer itself.
func dropField(field string) devinapitest.ResponseMutator {
	return func(_ *http.Request, _ int, body []byte) []byte {
		var doc map[string]any
		if json.Unmarshal(body, &doc) != nil {
			return body
		}
		delete(doc, field)
		if items, ok := doc["items"].([]any); ok {
			for _, it := range items {
				if m, ok := it.(map[string]any); ok {
					delete(m, field)
				}
			}
		}
		out, _ := json.Marshal(doc)
		return out
	}
}

// TestContractCatchesAFakeDeviation makes the fake omit a required member of an answer: the
// violation is recorded, reported at once to WithContractFailure, and fails the test through
// CheckContract.
func TestContractCatchesAFakeDeviation(t *testing.T) {
	type testCase struct {
		field string
		call  func(c *devinapi.Client) error
		want  string
	}
	tests := map[string]testCase{
		"key list without api_key_name": {field: "api_key_name", call: func(c *devinapi.Client) error {
			_, err := c.ListServiceUserAPIKeys(testCtx(t), devinapitest.AdminServiceUserID, "")
			return err
		}, want: `(listServiceUserApiKeys) answered 200: response body doesn't match schema #/components/schemas/PaginatedApiKeyResponse: ` +
			`doesn't match schema due to: Error at "/items/0/api_key_name": property "api_key_name" is missing`},
		"provisioning without token": {field: "token", call: func(c *devinapi.Client) error {
			_, err := c.ProvisionServiceUser(testCtx(t), devinapi.ProvisionServiceUserRequest{Scope: devinapi.ScopeEnterprise,
				Name: "bot", RoleID: devinapitest.RoleEnterpriseMember, TTL: time.Hour})
			return err
		}, want: `Error at "/token": property "token" is missing`},
		"self without service_user_name": {field: "service_user_name", call: func(c *devinapi.Client) error {
			_, err := c.Self(testCtx(t))
			return err
		}, want: `(getSelf) answered 200: response body doesn't match schema`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ft := &fakeT{}
			var mu sync.Mutex
			var reported []string
			s := devinapitest.NewTestServer(ft, devinapitest.WithResponseMutator(dropField(tc.field)),
				devinapitest.WithContractFailure(func(v string) {
					mu.Lock()
					defer mu.Unlock()
					reported = append(reported, v)
				}))
			_ = tc.call(s.Client()) // the client may or may not mind; the contract does
			if len(s.Violations()) != 1 || len(reported) != 1 || !strings.Contains(reported[0], tc.want) {
				t.Errorf("reported %q, want one violation with %q", reported, tc.want)
			}
			ft.end()
			if len(ft.errors) != 1 || !strings.Contains(ft.errors[0], tc.want) {
				t.Errorf("the test failed with %q, want one error with %q", ft.errors, tc.want)
			}
		})
	}
}

// TestContractEnforcesRequests sends, by hand, a provisioning without ttl_seconds: the fake
// answers the 422 the API would and records the client's violation.
func TestContractEnforcesRequests(t *testing.T) {
	s := newFake(t)
	a := admin(t, s, http.MethodPost, "/v3beta1/enterprise/service-users", map[string]any{"name": "bot", "role_id": devinapitest.RoleEnterpriseMember})
	if a.status != http.StatusUnprocessableEntity {
		t.Fatalf("status %d, want 422: %s", a.status, a.body)
	}
	p := a.problem(t)
	if len(p.Errors) != 1 || fmt.Sprint(p.Errors[0].Loc) != "[body ttl_seconds]" || p.Errors[0].Msg != "field required" {
		t.Errorf("problem %+v, want body.ttl_seconds: field required", p)
	}
	got := s.TakeViolations()
	if len(got) != 1 || got[0].Kind != contract.KindRequest || got[0].OperationID != "provisionEnterpriseServiceUser" {
		t.Fatalf("violations %v", got)
	}
	if !strings.Contains(got[0].String(), "body.ttl_seconds: field required") {
		t.Errorf("violation %q", got[0])
	}
	if n := len(s.ServiceUsers()); n != 0 {
		t.Errorf("%d service users after a refused provisioning", n)
	}
}

func TestContractChecksCanBeTurnedOff(t *testing.T) {
	s := devinapitest.NewTestServer(t, devinapitest.WithoutContractChecks())
	// The fake's own checks still refuse a provisioning without TTL.
	a := admin(t, s, http.MethodPost, "/v3beta1/enterprise/service-users", map[string]any{"name": "bot", "role_id": devinapitest.RoleEnterpriseMember})
	if a.status != http.StatusUnprocessableEntity || !strings.Contains(string(a.body), "ttl_seconds") {
		t.Errorf("provisioning without TTL: %d %s", a.status, a.body)
	}
	admin(t, s, http.MethodGet, "/v4/nothing", nil)
	if v := s.Violations(); len(v) != 0 {
		t.Errorf("violations recorded without checks: %v", v)
	}
}

// TestFaultAnswersKeepTheContract: injected problem documents are checked like any answer and
// pass; raw bodies and lost answers are exempt.
func TestFaultAnswersKeepTheContract(t *testing.T) {
	type testCase struct {
		faults devinapitest.Faults
		path   string
		token  func(s *devinapitest.Server) string
		status int
	}
	adminTok := func(s *devinapitest.Server) string { return s.AdminToken().Reveal() }
	tests := map[string]testCase{
		"down":         {faults: devinapitest.Faults{Down: true}, path: "/v3/enterprise/roles", token: adminTok, status: 503},
		"injected 500": {faults: devinapitest.Faults{ErrorRate: map[string]float64{"*": 1}, ErrorStatus: 500}, path: "/v3/self", token: adminTok, status: 500},
		"raw HTML":     {faults: devinapitest.Faults{ErrorRate: map[string]float64{"*": 1}, ErrorStatus: 502, ErrorBody: "<html>"}, path: "/v3/self", token: adminTok, status: 502},
		"raw 200":      {faults: devinapitest.Faults{ErrorRate: map[string]float64{"*": 1}, ErrorStatus: 200, ErrorBody: "{}"}, path: "/v3/self", token: adminTok, status: 200},
		"v2, legacy 404": {faults: devinapitest.Faults{ErrorRate: map[string]float64{"*": 1}, ErrorStatus: 404}, path: "/v2/enterprise/members/user-alice",
			token: func(s *devinapitest.Server) string { return s.EnterpriseAdminKey().Reveal() }, status: 404},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := newFake(t)
			s.SetFaults(tc.faults)
			a := call(t, s.URL, http.MethodGet, tc.path, tc.token(s), nil)
			if a.status != tc.status {
				t.Errorf("status %d, want %d: %s", a.status, tc.status, a.body)
			}
		})
	}
}

func TestIdentityHelpers(t *testing.T) {
	s := newFake(t, devinapitest.WithEnterpriseAdminKey("apk_user_fixed"))
	c := s.Client()
	ctx := testCtx(t)
	if got := s.EnterpriseAdminKey().Reveal(); got != "apk_user_fixed" {
		t.Errorf("EnterpriseAdminKey = %q", got)
	}
	if !strings.HasPrefix(newFake(t).EnterpriseAdminKey().Reveal(), "apk_user_") {
		t.Errorf("a random enterprise admin key without the apk_user_ prefix")
	}
	pat, err := c.CreatePAT(ctx, "user-alice", devinapi.CreateKeyRequest{Name: "p"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeKey(pat.ID); err != nil {
		t.Fatal(err)
	}
	type testCase struct {
		token  string
		wantID string
		known  bool
	}
	tests := map[string]testCase{
		"revoked PAT": {token: pat.Token.Reveal(), wantID: pat.ID, known: true},
		"unknown":     {token: "cog_nope"},
		"enterprise":  {token: "apk_user_fixed"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			id, known := s.KeyIDOf(tc.token)
			if id != tc.wantID || known != tc.known {
				t.Errorf("KeyIDOf = %q, %v; want %q, %v", id, known, tc.wantID, tc.known)
			}
		})
	}
	if id, ok := s.KeyIDOf(s.AdminToken().Reveal()); !ok || id == "" {
		t.Errorf("KeyIDOf(admin token) = %q, %v", id, ok)
	}
}

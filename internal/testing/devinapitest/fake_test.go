package devinapitest_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cogtokens/token-operator/internal/devinapi"
	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

func TestControlAPI(t *testing.T) {
	s := newFake(t)
	c := s.Client()
	ctx := testCtx(t)
	pat, err := c.CreatePAT(ctx, "user-alice", devinapi.CreateKeyRequest{Name: "p"})
	if err != nil {
		t.Fatal(err)
	}

	// Faults.
	a := call(t, s.URL, http.MethodPut, "/_fake/faults", "", `{"latency":"1ms","error_rate":{"GET /v3/enterprise/roles":1},"error_status":500}`)
	if a.status != http.StatusOK {
		t.Fatalf("PUT faults: %d %s", a.status, a.body)
	}
	want := devinapitest.Faults{Latency: time.Millisecond, ErrorRate: map[string]float64{"GET /v3/enterprise/roles": 1}, ErrorStatus: 500}
	if diff := cmp.Diff(want, s.Faults()); diff != "" {
		t.Errorf("faults (-want +got):\n%s", diff)
	}
	var got devinapitest.Faults
	call(t, s.URL, http.MethodGet, "/_fake/faults", "", nil).decode(t, &got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GET faults (-want +got):\n%s", diff)
	}
	if a := call(t, s.URL, http.MethodPut, "/_fake/faults", "", `{"latency":"later"}`); a.status != 422 {
		t.Errorf("bad faults: %d", a.status)
	} else {
		a.problem(t)
	}
	if _, err := c.ListRoles(ctx); err == nil {
		t.Errorf("the fault set over HTTP is not in force")
	}
	call(t, s.URL, http.MethodPut, "/_fake/faults", "", `{}`)

	// Calls.
	var calls struct {
		Calls map[string]int `json:"calls"`
		Total int            `json:"total"`
		Early int            `json:"early_requests"`
	}
	call(t, s.URL, http.MethodGet, "/_fake/calls", "", nil).decode(t, &calls)
	if calls.Total != 2 || calls.Calls["GET /v3/enterprise/roles"] != 1 {
		t.Errorf("calls = %+v", calls)
	}
	if a := call(t, s.URL, http.MethodDelete, "/_fake/calls", "", nil); a.status != http.StatusNoContent || s.TotalCalls() != 0 {
		t.Errorf("DELETE calls: %d, %d left", a.status, s.TotalCalls())
	}

	// Tokens, without values.
	var tokens []map[string]any
	a = call(t, s.URL, http.MethodGet, "/_fake/tokens", "", nil)
	a.decode(t, &tokens)
	if len(tokens) != 1 || tokens[0]["id"] != pat.ID || tokens[0]["kind"] != "pat" || tokens[0]["owner_id"] != "user-alice" || tokens[0]["active"] != true {
		t.Errorf("tokens = %s", a.body)
	}
	if strings.Contains(string(a.body), pat.Token.Reveal()) {
		t.Errorf("a token value leaked: %s", a.body)
	}

	// Revocation.
	type testCase struct {
		id     string
		status int
	}
	for _, tc := range []testCase{{pat.ID, 204}, {pat.ID, 409}, {"pat-x", 404}} {
		if a := call(t, s.URL, http.MethodPost, "/_fake/keys/"+tc.id+"/revoke", "", nil); a.status != tc.status {
			t.Errorf("revoke %s: %d, want %d", tc.id, a.status, tc.status)
		}
	}
	if _, err := c.SelfWithToken(ctx, pat.Token); err == nil {
		t.Errorf("a revoked PAT still works")
	}

	// Admin token rotation.
	old := s.AdminToken()
	var rotated struct {
		Token string `json:"token"`
	}
	call(t, s.URL, http.MethodPost, "/_fake/admin-token/rotate", "", nil).decode(t, &rotated)
	if rotated.Token == old.Reveal() || rotated.Token != s.AdminToken().Reveal() {
		t.Fatalf("rotation did not change the admin token")
	}
	if a := call(t, s.URL, http.MethodGet, "/v3/self", old.Reveal(), nil); a.status != http.StatusUnauthorized {
		t.Errorf("old admin token: %d", a.status)
	}
	if a := call(t, s.URL, http.MethodGet, "/v3/enterprise/roles", rotated.Token, nil); a.status != http.StatusOK {
		t.Errorf("new admin token: %d", a.status)
	}
	if n := len(s.Tokens()); n != 1 {
		t.Errorf("admin credentials counted among Tokens: %d", n)
	}
}

func TestControlAPIIsForLoopbackOnly(t *testing.T) {
	s := devinapitest.NewUnstarted()
	defer s.Close()
	type testCase struct {
		remote string
		status int
	}
	tests := map[string]testCase{
		"IPv4 loopback": {remote: "127.0.0.1:4000", status: 200},
		"IPv6 loopback": {remote: "[::1]:4000", status: 200},
		"remote":        {remote: "10.1.2.3:4000", status: 403},
		"garbage":       {remote: "nowhere", status: 403},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/_fake/calls", nil)
			req.RemoteAddr = tc.remote
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Errorf("status %d, want %d", rec.Code, tc.status)
			}
		})
	}
}

func TestOutOfBandChanges(t *testing.T) {
	s := newFake(t)
	c := s.Client()
	ctx := testCtx(t)
	p, err := c.ProvisionServiceUser(ctx, devinapi.ProvisionServiceUserRequest{Scope: devinapi.ScopeOrganization, OrgID: devinapitest.DefaultOrg, Name: "bot", RoleID: devinapitest.RoleOrgMember, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	id := p.ServiceUser.ID

	type roleCase struct {
		roleID  string
		want    devinapi.RoleAssignment
		wantErr error
	}
	roleCases := map[string]roleCase{
		"enterprise role drops the org": {roleID: devinapitest.RoleEnterpriseAdmin,
			want: devinapi.RoleAssignment{Role: devinapi.Role{ID: devinapitest.RoleEnterpriseAdmin, Name: "Enterprise Admin", Type: "enterprise"}}},
		"org role takes the first org": {roleID: devinapitest.RoleOrgDeepWikiOnly,
			want: devinapi.RoleAssignment{Role: devinapi.Role{ID: devinapitest.RoleOrgDeepWikiOnly, Name: "DeepWiki Only", Type: "org"}, OrgID: devinapitest.DefaultOrg}},
		"unknown role": {roleID: "role-x", wantErr: devinapi.ErrNotFound},
	}
	for name, tc := range roleCases {
		t.Run(name, func(t *testing.T) {
			err := s.SetServiceUserRole(id, tc.roleID)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("error %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			su, err := c.GetServiceUser(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]devinapi.RoleAssignment{tc.want}, su.RoleAssignments); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if got := s.ServiceUsers(); len(got) != 1 || got[0].ID != id || !got[0].IsActive {
		t.Fatalf("ServiceUsers() = %+v", got)
	}

	if err := s.DeleteServiceUser(id); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"delete again":       s.DeleteServiceUser(id),
		"set role, deleted":  s.SetServiceUserRole(id, devinapitest.RoleOrgAdmin),
		"revoke unknown key": s.RevokeKey("apk-x"),
	} {
		if !errors.Is(err, devinapi.ErrNotFound) {
			t.Errorf("%s: %v, want not found", name, err)
		}
	}
	if got := s.ServiceUsers(); len(got) != 0 {
		t.Errorf("ServiceUsers() after delete = %+v", got)
	}
	if _, err := c.SelfWithToken(ctx, p.Token); !errors.Is(err, devinapi.ErrUnauthorized) {
		t.Errorf("key of a deleted service user: %v", err)
	}
	for _, r := range s.Tokens() {
		if r.RevokedAt == nil {
			t.Errorf("key %s of a deleted service user is not revoked", r.ID)
		}
	}

	// A user linked to SSO later loses the right to new PATs.
	pat, err := c.CreatePAT(ctx, "user-alice", devinapi.CreateKeyRequest{Name: "before"})
	if err != nil {
		t.Fatal(err)
	}
	s.UpsertUser(devinapitest.SeedUser{ID: "user-alice", Email: "alice@example.com", Name: "Alice", SAMLID: "alice@idp", PATEnabled: true})
	if _, err := c.CreatePAT(ctx, "user-alice", devinapi.CreateKeyRequest{Name: "after"}); !errors.Is(err, devinapi.ErrSSOAccount) {
		t.Errorf("PAT for a now SSO-linked user: %v", err)
	}
	if err := s.RevokeKey(pat.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeKey(pat.ID); !errors.Is(err, devinapi.ErrConflict) {
		t.Errorf("second revoke: %v", err)
	}
	// A new user, ID derived from the email.
	s.UpsertUser(devinapitest.SeedUser{Email: "Erin@Example.com", Name: "Erin", PATEnabled: true})
	u, err := c.FindUserByEmail(ctx, "erin@example.com")
	if err != nil || u.ID != "user-erin" {
		t.Fatalf("FindUserByEmail = %+v, %v", u, err)
	}
	if _, err := c.CreatePAT(ctx, u.ID, devinapi.CreateKeyRequest{Name: "p"}); err != nil {
		t.Error(err)
	}
}

func TestUnstartedAndClose(t *testing.T) {
	s := devinapitest.NewUnstarted(devinapitest.WithAdminToken("cog_fixedadmintoken"))
	if s.URL != "" || s.AdminToken().Reveal() != "cog_fixedadmintoken" {
		t.Fatalf("URL %q", s.URL)
	}
	req := httptest.NewRequest(http.MethodGet, "/v3/self", nil)
	req.Header.Set("Authorization", "Bearer cog_fixedadmintoken")
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), devinapitest.AdminServiceUserID) {
		t.Errorf("self: %d %s", rec.Code, rec.Body)
	}
	s.Close()
	s.Close()

	defer func() {
		if recover() == nil {
			t.Errorf("Client() with an invalid base URL did not panic")
		}
	}()
	s.Client()
}

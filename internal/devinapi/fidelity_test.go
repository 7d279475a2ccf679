package devinapi_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cogtokens/token-operator/internal/devinapi"
	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

func TestPATAPIAbsent(t *testing.T) {
	absent := newFake(t, devinapitest.WithoutPATAPI())
	present := newFake(t)
	type testCase struct {
		s       *devinapitest.Server
		call    func(c *devinapi.Client, ctx context.Context) error
		absent  bool
		wantErr []error
	}
	create := func(user string) func(c *devinapi.Client, ctx context.Context) error {
		return func(c *devinapi.Client, ctx context.Context) error {
			_, err := c.CreatePAT(ctx, user, devinapi.CreateKeyRequest{Name: "p"})
			return err
		}
	}
	list := func(c *devinapi.Client, ctx context.Context) error {
		_, err := c.ListPATs(ctx, "user-alice", "")
		return err
	}
	revoke := func(c *devinapi.Client, ctx context.Context) error { return c.RevokePAT(ctx, "user-alice", "pat-x") }
	tests := map[string]testCase{
		"create, no PAT API":         {s: absent, call: create("user-alice"), absent: true},
		"list, no PAT API":           {s: absent, call: list, absent: true},
		"revoke, no PAT API":         {s: absent, call: revoke, absent: true},
		"create for an unknown user": {s: present, call: create("user-eve"), wantErr: []error{devinapi.ErrNotFound}},
		"revoke an unknown PAT":      {s: present, call: revoke, wantErr: []error{devinapi.ErrNotFound}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := tc.call(tc.s.Client(), testCtx(t))
			if !tc.absent {
				only(t, err, tc.wantErr...)
				if errors.Is(err, devinapi.ErrPATAPIUnavailable) {
					t.Errorf("a 404 problem document matches ErrPATAPIUnavailable: %v", err)
				}
				return
			}
			only(t, err) // none of the classes: not found, not retryable, not gone
			if !errors.Is(err, devinapi.ErrPATAPIUnavailable) || devinapi.IsGone(err) {
				t.Errorf("error %v: want ErrPATAPIUnavailable and not gone", err)
			}
			if !strings.Contains(err.Error(), "no such endpoint") {
				t.Errorf("error text %q does not say the endpoint is missing", err)
			}
		})
	}
}

func TestPATRouteWithoutTheMethod(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusMethodNotAllowed)
		_, _ = w.Write([]byte(`{"detail":"Method Not Allowed"}`))
	}))
	defer srv.Close()
	c, err := devinapi.New(devinapi.Options{BaseURL: srv.URL, Credentials: devinapi.StaticToken(devinapi.NewToken("cog_x"))})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.RevokePAT(testCtx(t), "u", "k"); !errors.Is(err, devinapi.ErrPATAPIUnavailable) {
		t.Errorf("405 from a path without the method: %v, want ErrPATAPIUnavailable", err)
	}
	// Elsewhere a 405 is no such thing.
	if _, err := c.ListRoles(testCtx(t)); errors.Is(err, devinapi.ErrPATAPIUnavailable) {
		t.Errorf("ListRoles: %v", err)
	}
}

func TestKeyListQuery(t *testing.T) {
	s := newFake(t)
	c := s.Client()
	ctx := testCtx(t)
	p, err := c.ProvisionServiceUser(ctx, devinapi.ProvisionServiceUserRequest{Scope: devinapi.ScopeEnterprise, Name: "bot",
		RoleID: devinapitest.RoleEnterpriseMember, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	type testCase struct {
		list func() error
		want url.Values
	}
	tests := map[string]testCase{
		"API keys, no status": {list: func() error { _, err := c.ListServiceUserAPIKeys(ctx, p.ServiceUser.ID, ""); return err },
			want: url.Values{"status": {"active"}}},
		"API keys, all": {list: func() error {
			_, err := c.ListServiceUserAPIKeys(ctx, p.ServiceUser.ID, devinapi.KeyStatusAll)
			return err
		},
			want: url.Values{"status": {"all"}}},
		"PATs, no status": {list: func() error { _, err := c.ListPATs(ctx, "user-alice", ""); return err },
			want: url.Values{"status": {"active"}}},
		"PATs, revoked": {list: func() error { _, err := c.ListPATs(ctx, "user-alice", devinapi.KeyStatusRevoked); return err },
			want: url.Values{"status": {"revoked"}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var seen []url.Values
			s.SetRequestHook(func(r devinapitest.ObservedRequest) { seen = append(seen, r.Query) })
			defer s.SetRequestHook(nil)
			if err := tc.list(); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]url.Values{tc.want}, seen); diff != "" {
				t.Errorf("queries the server saw (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPermissionOfA403(t *testing.T) {
	s := newFake(t)
	ctx := testCtx(t)
	pat, err := s.Client().CreatePAT(ctx, "user-alice", devinapi.CreateKeyRequest{Name: "p"})
	if err != nil {
		t.Fatal(err)
	}
	// A credential that may call nothing but /v3/self.
	c := s.Client(func(o *devinapi.Options) { o.Credentials = devinapi.StaticToken(pat.Token) })
	type testCase struct {
		call func() error
		want string
	}
	tests := map[string]testCase{
		"list roles":     {call: func() error { _, err := c.ListRoles(ctx); return err }, want: devinapi.PermViewAccountMembership},
		"delete":         {call: func() error { return c.DeleteServiceUser(ctx, "su-x") }, want: devinapi.PermManageAccountMembership},
		"list keys":      {call: func() error { _, err := c.ListServiceUserAPIKeys(ctx, "su-x", ""); return err }, want: devinapi.PermManageAccountServiceUsers},
		"provision, org": {call: func() error { _, err := c.ProvisionServiceUser(ctx, orgBot()); return err }, want: devinapi.PermManageOrgServiceUsers},
		"find by email":  {call: func() error { _, err := c.FindUserByEmail(ctx, "alice@example.com"); return err }, want: devinapi.PermViewAccountMembership},
		"no permission":  {call: func() error { _, err := c.ListPATs(ctx, "user-alice", ""); return err }},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := tc.call()
			var apiErr *devinapi.APIError
			if !errors.As(err, &apiErr) || apiErr.Status != http.StatusForbidden {
				t.Fatalf("error %v, want a 403", err)
			}
			if apiErr.Permission != tc.want {
				t.Errorf("Permission %q, want %q", apiErr.Permission, tc.want)
			}
			if tc.want != "" && !strings.Contains(err.Error(), "(requires "+tc.want+")") {
				t.Errorf("error text %q does not name the permission", err)
			}
		})
	}
}

func orgBot() devinapi.ProvisionServiceUserRequest {
	return devinapi.ProvisionServiceUserRequest{Scope: devinapi.ScopeOrganization, OrgID: devinapitest.DefaultOrg, Name: "bot",
		RoleID: devinapitest.RoleOrgMember, TTL: time.Hour}
}

func TestRequiredPermission(t *testing.T) {
	type testCase struct {
		op    string
		scope devinapi.Scope
		want  string
	}
	tests := map[string]testCase{
		"enterprise provisioning":   {op: "ProvisionServiceUser", scope: devinapi.ScopeEnterprise, want: devinapi.PermManageAccountServiceUsers},
		"organization provisioning": {op: "ProvisionServiceUser", scope: devinapi.ScopeOrganization, want: devinapi.PermManageOrgServiceUsers},
		"self":                      {op: "Self", want: devinapi.PermReadAccountMeta},
		"rotate":                    {op: "RotateServiceUserAPIKey", want: devinapi.PermManageAccountServiceUsers},
		"PATs: unpublished":         {op: "CreatePAT"},
		"unknown":                   {op: "Nope"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := devinapi.RequiredPermission(tc.op, tc.scope); got != tc.want {
				t.Errorf("RequiredPermission(%q, %q) = %q, want %q", tc.op, tc.scope, got, tc.want)
			}
		})
	}
}

func TestSelfNeedsTheMembersOfItsType(t *testing.T) {
	type testCase struct {
		body    string
		want    *devinapi.Self
		wantErr string
	}
	tests := map[string]testCase{
		"service user without id": {body: `{"principal_type":"service_user","service_user_name":"n"}`, wantErr: "lacks service_user_id"},
		"PAT user without key":    {body: `{"principal_type":"pat_user","user_id":"u","user_name":"n","api_key_name":"k"}`, wantErr: "lacks api_key_id"},
		"PAT user without user":   {body: `{"principal_type":"pat_user","api_key_id":"k","api_key_name":"k","user_name":"n"}`, wantErr: "lacks user_id"},
		"no principal type":       {body: `{"service_user_id":"s"}`, wantErr: "lacks principal_type"},
		"unknown kind, tolerated": {body: `{"principal_type":"robot","user_id":"u"}`, want: &devinapi.Self{Kind: "robot", UserID: "u"}},
		"service user, key id ignored": {body: `{"principal_type":"service_user","service_user_id":"s","service_user_name":"n","api_key_id":"k"}`,
			want: &devinapi.Self{Kind: devinapi.PrincipalServiceUser, ServiceUserID: "s", ServiceUserName: "n"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			c, err := devinapi.New(devinapi.Options{BaseURL: srv.URL, Credentials: devinapi.StaticToken(devinapi.NewToken("cog_x"))})
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.Self(testCtx(t))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

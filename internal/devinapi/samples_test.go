package devinapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cogtokens/token-operator/internal/devinapi"
	"github.com/cogtokens/token-operator/internal/testing/contract"
)

// sample is an answer of testdata/samples served for one request.
type sample struct {
	method, path string
	file         string
}

// TestVendorSamples replays answers written to the vendor's published shapes through the
// client: each must validate against the contract as the answer of its operation, and decode
// to what the caller expects.
func TestVendorSamples(t *testing.T) {
	v, err := contract.Default()
	if err != nil {
		t.Fatal(err)
	}
	member := devinapi.RoleAssignment{Role: devinapi.Role{ID: "role-org-member", Name: "Member", Type: "org"}, OrgID: "org-abc123def456"}
	type testCase struct {
		samples []sample
		call    func(c *devinapi.Client, ctx context.Context) (any, error)
		want    any
	}
	tests := map[string]testCase{
		"service user provisioning": {
			samples: []sample{{"POST", "/v3beta1/organizations/org-abc123def456/service-users", "provision.json"}},
			call: func(c *devinapi.Client, ctx context.Context) (any, error) {
				p, err := c.ProvisionServiceUser(ctx, devinapi.ProvisionServiceUserRequest{Scope: devinapi.ScopeOrganization,
					OrgID: "org-abc123def456", Name: "ci-bot", RoleID: "role-org-member", TTL: time.Hour})
				if err != nil {
					return nil, err
				}
				return []any{p.ServiceUser, p.Token.Reveal()}, nil
			},
			want: []any{devinapi.ServiceUser{ID: "service-user-abc123def456", Name: "ci-bot", ExpiresAt: ptr(time.Unix(1798761600, 0).UTC()),
				RoleAssignments: []devinapi.RoleAssignment{member}, IsActive: true}, "cog_sampletoken"},
		},
		"API key list": {
			samples: []sample{{"GET", "/v3beta1/enterprise/service-users/service-user-abc123def456/api-keys", "api-keys.json"}},
			call: func(c *devinapi.Client, ctx context.Context) (any, error) {
				return c.ListServiceUserAPIKeys(ctx, "service-user-abc123def456", devinapi.KeyStatusAll)
			},
			want: []devinapi.APIKey{
				{ID: "key-1", Name: "initial", CreatedAt: time.Unix(1767225600, 0).UTC(), IsActive: true, LastUsedAt: ptr(time.Unix(1767312000, 0).UTC())},
				{ID: "key-2", Name: "old", CreatedAt: time.Unix(1767225600, 0).UTC(), ExpiresAt: ptr(time.Unix(1798761600, 0).UTC()),
					RevokedAt: ptr(time.Unix(1767398400, 0).UTC())},
			},
		},
		"self, service user": {
			samples: []sample{{"GET", "/v3/self", "self-service-user.json"}},
			call:    func(c *devinapi.Client, ctx context.Context) (any, error) { return c.Self(ctx) },
			want: &devinapi.Self{Kind: devinapi.PrincipalServiceUser, ServiceUserID: "service-user-abc123def456",
				ServiceUserName: "token-operator"},
		},
		"self, PAT user": {
			samples: []sample{{"GET", "/v3/self", "self-pat-user.json"}},
			call:    func(c *devinapi.Client, ctx context.Context) (any, error) { return c.Self(ctx) },
			want: &devinapi.Self{Kind: devinapi.PrincipalPATUser, APIKeyID: "key-9", APIKeyName: "laptop", UserID: "user-abc",
				UserName: "Alice", OrgID: "org-abc123def456"},
		},
		"self, Devin session": {
			samples: []sample{{"GET", "/v3/self", "self-devin-brain.json"}},
			call:    func(c *devinapi.Client, ctx context.Context) (any, error) { return c.Self(ctx) },
			want:    &devinapi.Self{Kind: devinapi.PrincipalDevinBrain, UserID: "user-abc", OrgID: "org-abc123def456"},
		},
		"self, Windsurf session": {
			samples: []sample{{"GET", "/v3/self", "self-windsurf-session.json"}},
			call:    func(c *devinapi.Client, ctx context.Context) (any, error) { return c.Self(ctx) },
			want:    &devinapi.Self{Kind: devinapi.PrincipalWindsurfSession, UserID: "user-abc", OrgID: "org-abc123def456"},
		},
		"users list, then the user with IdP roles, then v2": {
			samples: []sample{
				{"GET", "/v3/enterprise/members/users", "users.json"},
				{"GET", "/v3/enterprise/members/users/user-abc", "user-with-idp-roles.json"},
				{"GET", "/v2/enterprise/members/user-abc", "member-v2.json"},
			},
			call: func(c *devinapi.Client, ctx context.Context) (any, error) {
				return c.FindUserByEmail(ctx, "alice@example.com")
			},
			want: &devinapi.User{ID: "user-abc", Email: "alice@example.com", Name: "Alice", RoleAssignments: []devinapi.RoleAssignment{member},
				IDPRoleAssignments: []devinapi.IDPRoleAssignment{{IDPGroupName: "engineering",
					Role: devinapi.Role{ID: "role-ent-member", Name: "Enterprise Member", Type: "enterprise"}}},
				SAMLID: ptr("alice@idp.example.com")},
		},
		"IdP-users list": {
			samples: []sample{
				{"GET", "/v3/enterprise/members/users", "users-empty.json"},
				{"GET", "/v3/enterprise/members/idp-users", "idp-users.json"},
				{"GET", "/v2/enterprise/members/user-idp", "member-v2.json"},
			},
			call: func(c *devinapi.Client, ctx context.Context) (any, error) {
				return c.FindUserByEmail(ctx, "irene@example.com")
			},
			want: &devinapi.User{ID: "user-idp", Email: "irene@example.com",
				IDPRoleAssignments: []devinapi.IDPRoleAssignment{{IDPGroupName: "engineering", Role: member.Role, OrgID: "org-abc123def456"}},
				SAMLID:             ptr("alice@idp.example.com")},
		},
		"roles list": {
			samples: []sample{{"GET", "/v3/enterprise/roles", "roles.json"}},
			call:    func(c *devinapi.Client, ctx context.Context) (any, error) { return c.ListRoles(ctx) },
			want: []devinapi.Role{{ID: "role-org-admin", Name: "Admin", Type: "org"},
				{ID: "role-ent-admin", Name: "Enterprise Admin", Type: "enterprise"}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			bodies := map[string][]byte{}
			for _, smp := range tc.samples {
				body, err := os.ReadFile(filepath.Join("testdata", "samples", smp.file))
				if err != nil {
					t.Fatal(err)
				}
				checkSample(t, v, smp, body)
				bodies[smp.method+" "+smp.path] = body
			}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, ok := bodies[r.Method+" "+r.URL.Path]
				if !ok {
					t.Errorf("unexpected request %s %s", r.Method, r.URL.Path)
					http.NotFound(w, r)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write(body)
			}))
			defer srv.Close()
			c, err := devinapi.New(devinapi.Options{BaseURL: srv.URL, Credentials: devinapi.StaticToken(devinapi.NewToken("cog_x")),
				EnterpriseAdminKey: devinapi.StaticToken(devinapi.NewToken("apk_user_x"))})
			if err != nil {
				t.Fatal(err)
			}
			got, err := tc.call(c, testCtx(t))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("decoded (-want +got):\n%s", diff)
			}
		})
	}
}

// checkSample fails the test when body is not a valid 200 answer of the sample's operation.
func checkSample(t *testing.T, v *contract.Validator, smp sample, body []byte) {
	t.Helper()
	req := httptest.NewRequest(smp.method, smp.path, nil)
	x := v.CheckRequest(req, nil)
	if x.OperationID == "" {
		t.Fatalf("%s: %s %s is no operation of the contract", smp.file, smp.method, smp.path)
	}
	for _, vi := range x.CheckResponse(http.StatusOK, http.Header{"Content-Type": {"application/json"}}, body) {
		t.Errorf("%s: %s", smp.file, vi)
	}
}

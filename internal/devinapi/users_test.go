package devinapi_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cogtokens/token-operator/internal/devinapi"
	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

func TestUsers(t *testing.T) {
	s := newFake(t)
	ctx := testCtx(t)
	plain := s.Client()
	admin := s.Client(withAdminKey(s))
	member := devinapi.RoleAssignment{Role: devinapi.Role{ID: devinapitest.RoleOrgMember, Name: "Member", Type: "org"}, OrgID: devinapitest.DefaultOrg}
	engineering := []devinapi.IDPRoleAssignment{{IDPGroupName: "engineering", Role: member.Role, OrgID: devinapitest.DefaultOrg}}
	alice := devinapi.User{ID: "user-alice", Email: "alice@example.com", Name: "Alice", RoleAssignments: []devinapi.RoleAssignment{member}}
	bob := devinapi.User{ID: "user-bob", Email: "bob@example.com", Name: "Bob", RoleAssignments: []devinapi.RoleAssignment{member},
		IDPRoleAssignments: engineering}
	irene := devinapi.User{ID: "user-irene", Email: "irene@example.com", Name: "Irene", IDPRoleAssignments: engineering}
	sam := devinapi.User{ID: "user-sam", Email: "sam@example.com", Name: "Sam", RoleAssignments: []devinapi.RoleAssignment{member}}
	withSAML := func(u devinapi.User, id *string) *devinapi.User { u.SAMLID = id; return &u }

	type testCase struct {
		get     func() (*devinapi.User, error)
		want    *devinapi.User
		wantSSO bool
		wantErr []error
		// wantV2 is the number of v2 requests the call makes.
		wantV2 int
	}
	tests := map[string]testCase{
		"get alice":                {get: func() (*devinapi.User, error) { return plain.GetUser(ctx, "user-alice") }, want: &alice},
		"get alice, admin key":     {get: func() (*devinapi.User, error) { return admin.GetUser(ctx, "user-alice") }, want: &alice, wantV2: 1},
		"get bob, IdP roles":       {get: func() (*devinapi.User, error) { return plain.GetUser(ctx, "user-bob") }, want: &bob, wantSSO: true},
		"get bob, admin key":       {get: func() (*devinapi.User, error) { return admin.GetUser(ctx, "user-bob") }, want: withSAML(bob, ptr("bob@idp.example.com")), wantSSO: true, wantV2: 1},
		"get IdP-only irene":       {get: func() (*devinapi.User, error) { return plain.GetUser(ctx, "user-irene") }, want: &irene, wantSSO: true},
		"find IdP-only irene":      {get: func() (*devinapi.User, error) { return plain.FindUserByEmail(ctx, "Irene@example.com") }, want: &irene, wantSSO: true},
		"find irene, admin key":    {get: func() (*devinapi.User, error) { return admin.FindUserByEmail(ctx, "irene@example.com") }, want: &irene, wantSSO: true, wantV2: 1},
		"SAML-only sam, no key":    {get: func() (*devinapi.User, error) { return plain.FindUserByEmail(ctx, "sam@example.com") }, want: &sam},
		"SAML-only sam, admin key": {get: func() (*devinapi.User, error) { return admin.FindUserByEmail(ctx, "sam@example.com") }, want: withSAML(sam, ptr("sam@idp.example.com")), wantSSO: true, wantV2: 1},
		"find by email":            {get: func() (*devinapi.User, error) { return plain.FindUserByEmail(ctx, "alice@example.com") }, want: &alice},
		"find ignores case":        {get: func() (*devinapi.User, error) { return plain.FindUserByEmail(ctx, "BOB@Example.COM") }, want: &bob, wantSSO: true},
		"find unknown email":       {get: func() (*devinapi.User, error) { return admin.FindUserByEmail(ctx, "eve@example.com") }, wantErr: []error{devinapi.ErrNotFound}},
		"find empty email":         {get: func() (*devinapi.User, error) { return plain.FindUserByEmail(ctx, " ") }, wantErr: []error{devinapi.ErrInvalid}},
		"get unknown user":         {get: func() (*devinapi.User, error) { return admin.GetUser(ctx, "user-eve") }, wantErr: []error{devinapi.ErrNotFound}},
		"get with a slash id":      {get: func() (*devinapi.User, error) { return plain.GetUser(ctx, "user-alice/../user-bob") }, wantErr: []error{devinapi.ErrNotFound}},
		"get with a dot-dot":       {get: func() (*devinapi.User, error) { return plain.GetUser(ctx, "..") }, wantErr: []error{devinapi.ErrInvalid}},
		"get with an empty id":     {get: func() (*devinapi.User, error) { return plain.GetUser(ctx, "") }, wantErr: []error{devinapi.ErrInvalid}},
		"empty admin key, no v2":   {get: func() (*devinapi.User, error) { return emptyKey(s).GetUser(ctx, "user-sam") }, want: &sam},
		"admin key source fails":   {get: func() (*devinapi.User, error) { return failingKey(s).GetUser(ctx, "user-sam") }, wantErr: []error{errNoKey}},
	}
	const v2 = "GET /v2/enterprise/members/{user_id}"
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			before := s.Calls()[v2]
			got, err := tc.get()
			if n := s.Calls()[v2] - before; n != tc.wantV2 {
				t.Errorf("%d v2 requests, want %d", n, tc.wantV2)
			}
			if tc.wantErr != nil {
				for _, w := range tc.wantErr {
					if !errors.Is(err, w) {
						t.Errorf("error %v, want %v", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if got.SSOLinked() != tc.wantSSO {
				t.Errorf("SSOLinked() = %v, want %v", got.SSOLinked(), tc.wantSSO)
			}
		})
	}
}

// errNoKey is the failure of failingKey.
var errNoKey = errors.New("no key for you")

type keySource func(context.Context) (devinapi.Token, error)

func (f keySource) Token(ctx context.Context) (devinapi.Token, error) { return f(ctx) }

// emptyKey is a client whose enterprise admin key source is set but supplies no key.
func emptyKey(s *devinapitest.Server) *devinapi.Client {
	return s.Client(func(o *devinapi.Options) { o.EnterpriseAdminKey = devinapi.NewSwappableToken(devinapi.Token{}) })
}

// failingKey is a client whose enterprise admin key source fails.
func failingKey(s *devinapitest.Server) *devinapi.Client {
	return s.Client(func(o *devinapi.Options) {
		o.EnterpriseAdminKey = keySource(func(context.Context) (devinapi.Token, error) { return devinapi.Token{}, errNoKey })
	})
}

// TestNoV2WithoutAdminKey walks every user lookup without an enterprise admin key: the v2 API
// refuses cog_ keys, so not one request may go there.
func TestNoV2WithoutAdminKey(t *testing.T) {
	s := newFake(t)
	c := s.Client()
	ctx := testCtx(t)
	for _, u := range devinapitest.DefaultSeed().Users {
		if _, err := c.FindUserByEmail(ctx, u.Email); err != nil {
			t.Errorf("FindUserByEmail(%s): %v", u.Email, err)
		}
		if _, err := c.GetUser(ctx, u.ID); err != nil {
			t.Errorf("GetUser(%s): %v", u.ID, err)
		}
	}
	var v2 int
	for route, n := range s.Calls() {
		if strings.Contains(route, " /v2/") {
			v2 += n
		}
	}
	if v2 != 0 {
		t.Errorf("%d requests to /v2 without an enterprise admin key", v2)
	}
}

func TestGetUserToleratesARefusedV2Record(t *testing.T) {
	const v2 = "GET /v2/enterprise/members/{user_id}"
	type testCase struct {
		status  int
		wantErr []error
	}
	tests := map[string]testCase{
		"401 leaves saml_id unknown": {status: http.StatusUnauthorized},
		"403 leaves saml_id unknown": {status: http.StatusForbidden},
		"404 leaves saml_id unknown": {status: http.StatusNotFound},
		"500 fails the call":         {status: http.StatusInternalServerError, wantErr: []error{devinapi.ErrRetryable}},
		"400 fails the call":         {status: http.StatusBadRequest, wantErr: []error{devinapi.ErrInvalid}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := newFake(t)
			s.SetFaults(devinapitest.Faults{ErrorRate: map[string]float64{v2: 1}, ErrorStatus: tc.status})
			u, err := s.Client(withAdminKey(s)).GetUser(testCtx(t), "user-bob")
			if tc.wantErr != nil {
				only(t, err, tc.wantErr...)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if u.SAMLID != nil || len(u.IDPRoleAssignments) != 1 || !u.SSOLinked() {
				t.Errorf("user = %+v", u)
			}
		})
	}
}

func TestListRoles(t *testing.T) {
	s := newFake(t)
	roles, err := s.Client().ListRoles(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	var want []devinapi.Role
	for _, r := range devinapitest.DefaultSeed().Roles {
		want = append(want, devinapi.Role{ID: r.ID, Name: r.Name, Type: r.Type})
	}
	if diff := cmp.Diff(want, roles); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

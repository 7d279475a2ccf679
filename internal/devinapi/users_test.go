package devinapi_test

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cogtokens/token-operator/internal/devinapi"
	"github.com/cogtokens/token-operator/internal/devinapi/devinapitest"
)

func TestUsers(t *testing.T) {
	s := newFake(t)
	c := s.Client()
	ctx := testCtx(t)
	member := devinapi.RoleAssignment{Role: devinapi.Role{ID: devinapitest.RoleOrgMember, Name: "Member", Type: "org"}, OrgID: devinapitest.DefaultOrg}
	alice := devinapi.User{ID: "user-alice", Email: "alice@example.com", Name: "Alice", RoleAssignments: []devinapi.RoleAssignment{member}}
	bob := devinapi.User{ID: "user-bob", Email: "bob@example.com", Name: "Bob", RoleAssignments: []devinapi.RoleAssignment{member},
		IDPRoleAssignments: []devinapi.IDPRoleAssignment{{IDPGroupName: "engineering", Role: member.Role, OrgID: devinapitest.DefaultOrg}},
		SAMLID:             ptr("bob@idp.example.com")}

	type testCase struct {
		get     func() (*devinapi.User, error)
		want    *devinapi.User
		wantSSO bool
		wantErr []error
	}
	tests := map[string]testCase{
		"get alice":            {get: func() (*devinapi.User, error) { return c.GetUser(ctx, "user-alice") }, want: &alice},
		"get bob, SSO-linked":  {get: func() (*devinapi.User, error) { return c.GetUser(ctx, "user-bob") }, want: &bob, wantSSO: true},
		"find by email":        {get: func() (*devinapi.User, error) { return c.FindUserByEmail(ctx, "alice@example.com") }, want: &alice},
		"find ignores case":    {get: func() (*devinapi.User, error) { return c.FindUserByEmail(ctx, "BOB@Example.COM") }, want: &bob, wantSSO: true},
		"find unknown email":   {get: func() (*devinapi.User, error) { return c.FindUserByEmail(ctx, "eve@example.com") }, wantErr: []error{devinapi.ErrNotFound}},
		"find empty email":     {get: func() (*devinapi.User, error) { return c.FindUserByEmail(ctx, " ") }, wantErr: []error{devinapi.ErrInvalid}},
		"get unknown user":     {get: func() (*devinapi.User, error) { return c.GetUser(ctx, "user-eve") }, wantErr: []error{devinapi.ErrNotFound}},
		"get with a slash id":  {get: func() (*devinapi.User, error) { return c.GetUser(ctx, "user-alice/../user-bob") }, wantErr: []error{devinapi.ErrNotFound}},
		"get with a dot-dot":   {get: func() (*devinapi.User, error) { return c.GetUser(ctx, "..") }, wantErr: []error{devinapi.ErrInvalid}},
		"get with an empty id": {get: func() (*devinapi.User, error) { return c.GetUser(ctx, "") }, wantErr: []error{devinapi.ErrInvalid}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := tc.get()
			if tc.wantErr != nil {
				only(t, err, tc.wantErr...)
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
			u, err := s.Client().GetUser(testCtx(t), "user-bob")
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

package devinapi_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cogtokens/token-operator/internal/devinapi"
	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

func TestServiceUserLifecycle(t *testing.T) {
	s := newFake(t)
	c := s.Client()
	ctx := testCtx(t)

	type testCase struct {
		req      devinapi.ProvisionServiceUserRequest
		wantRole devinapi.RoleAssignment
	}
	tests := map[string]testCase{
		"organization": {
			req: devinapi.ProvisionServiceUserRequest{Scope: devinapi.ScopeOrganization, OrgID: devinapitest.DefaultOrg,
				Name: "ci-bot", RoleID: devinapitest.RoleOrgMember, TTL: 24 * time.Hour},
			wantRole: devinapi.RoleAssignment{Role: devinapi.Role{ID: devinapitest.RoleOrgMember, Name: "Member", Type: "org"}, OrgID: devinapitest.DefaultOrg},
		},
		"enterprise": {
			req:      devinapi.ProvisionServiceUserRequest{Scope: devinapi.ScopeEnterprise, Name: "ent-bot", RoleID: devinapitest.RoleEnterpriseMember, TTL: time.Hour},
			wantRole: devinapi.RoleAssignment{Role: devinapi.Role{ID: devinapitest.RoleEnterpriseMember, Name: "Enterprise Member", Type: "enterprise"}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			before := time.Now().Truncate(time.Second)
			got, err := c.ProvisionServiceUser(ctx, tc.req)
			if err != nil {
				t.Fatalf("ProvisionServiceUser: %v", err)
			}
			if got.Token.IsZero() || !strings.HasPrefix(got.Token.Reveal(), "cog_") {
				t.Fatalf("no token in the answer")
			}
			su := got.ServiceUser
			if su.ID == "" || su.Name != tc.req.Name || !su.IsActive || su.ExpiresAt == nil {
				t.Fatalf("service user = %+v", su)
			}
			if su.ExpiresAt.Before(before.Add(tc.req.TTL)) {
				t.Errorf("expires at %v, want at least %v", su.ExpiresAt, before.Add(tc.req.TTL))
			}
			if diff := cmp.Diff([]devinapi.RoleAssignment{tc.wantRole}, su.RoleAssignments); diff != "" {
				t.Errorf("role assignments (-want +got):\n%s", diff)
			}

			// The first key authenticates as the new service user; the answer does not name
			// the key (the published ServiceUserSelf has no api_key_id): the fake tells it.
			self, err := c.SelfWithToken(ctx, got.Token)
			if err != nil {
				t.Fatalf("SelfWithToken: %v", err)
			}
			want := devinapi.Self{Kind: devinapi.PrincipalServiceUser, ServiceUserID: su.ID, ServiceUserName: tc.req.Name, OrgID: tc.req.OrgID}
			if diff := cmp.Diff(want, *self); diff != "" {
				t.Errorf("self (-want +got):\n%s", diff)
			}
			keyID, known := s.KeyIDOf(got.Token.Reveal())
			keys, err := c.ListServiceUserAPIKeys(ctx, su.ID, devinapi.KeyStatusActive)
			if err != nil || !known || len(keys) != 1 || keys[0].ID != keyID || keys[0].Name != "initial" {
				t.Fatalf("ListServiceUserAPIKeys = %+v, %v; the token is key %q", keys, err, keyID)
			}

			fetched, err := c.GetServiceUser(ctx, su.ID)
			if err != nil {
				t.Fatalf("GetServiceUser: %v", err)
			}
			if diff := cmp.Diff(su, *fetched); diff != "" {
				t.Errorf("GetServiceUser (-provisioned +fetched):\n%s", diff)
			}

			if err := c.DeleteServiceUser(ctx, su.ID); err != nil {
				t.Fatalf("DeleteServiceUser: %v", err)
			}
			_, err = c.GetServiceUser(ctx, su.ID)
			only(t, err, devinapi.ErrNotFound)
			err = c.DeleteServiceUser(ctx, su.ID)
			only(t, err, devinapi.ErrNotFound)
			if !devinapi.IsGone(err) {
				t.Errorf("IsGone(%v) = false", err)
			}
			_, err = c.SelfWithToken(ctx, got.Token)
			only(t, err, devinapi.ErrUnauthorized)
		})
	}
}

func TestListServiceUsers(t *testing.T) {
	s := newFake(t)
	c := s.Client()
	ctx := testCtx(t)
	var ids []string
	for _, name := range []string{"a", "b", "c"} {
		p, err := c.ProvisionServiceUser(ctx, devinapi.ProvisionServiceUserRequest{Scope: devinapi.ScopeEnterprise, Name: name, RoleID: devinapitest.RoleEnterpriseMember, TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.ServiceUser.ID)
	}
	if err := c.DeleteServiceUser(ctx, ids[1]); err != nil {
		t.Fatal(err)
	}
	type testCase struct {
		includeInactive bool
		want            map[string]bool // id -> active
	}
	tests := map[string]testCase{
		"active only":   {want: map[string]bool{devinapitest.AdminServiceUserID: true, ids[0]: true, ids[2]: true}},
		"with inactive": {includeInactive: true, want: map[string]bool{devinapitest.AdminServiceUserID: true, ids[0]: true, ids[1]: false, ids[2]: true}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			list, err := c.ListServiceUsers(ctx, tc.includeInactive)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			for _, su := range list {
				got[su.ID] = su.IsActive
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestUpdateServiceUserRole(t *testing.T) {
	s := newFake(t)
	c := s.Client()
	ctx := testCtx(t)
	org, err := c.ProvisionServiceUser(ctx, devinapi.ProvisionServiceUserRequest{Scope: devinapi.ScopeOrganization, OrgID: devinapitest.DefaultOrg, Name: "o", RoleID: devinapitest.RoleOrgMember, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ent, err := c.ProvisionServiceUser(ctx, devinapi.ProvisionServiceUserRequest{Scope: devinapi.ScopeEnterprise, Name: "e", RoleID: devinapitest.RoleEnterpriseMember, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	type testCase struct {
		scope   devinapi.Scope
		orgID   string
		id      string
		roleID  string
		want    devinapi.RoleAssignment
		wantErr []error
	}
	tests := map[string]testCase{
		"organization role": {scope: devinapi.ScopeOrganization, orgID: devinapitest.DefaultOrg, id: org.ServiceUser.ID, roleID: devinapitest.RoleOrgAdmin,
			want: devinapi.RoleAssignment{Role: devinapi.Role{ID: devinapitest.RoleOrgAdmin, Name: "Admin", Type: "org"}, OrgID: devinapitest.DefaultOrg}},
		"enterprise role": {scope: devinapi.ScopeEnterprise, id: ent.ServiceUser.ID, roleID: devinapitest.RoleEnterpriseAdmin,
			want: devinapi.RoleAssignment{Role: devinapi.Role{ID: devinapitest.RoleEnterpriseAdmin, Name: "Enterprise Admin", Type: "enterprise"}}},
		"org role in enterprise scope": {scope: devinapi.ScopeEnterprise, id: ent.ServiceUser.ID, roleID: devinapitest.RoleOrgAdmin, wantErr: []error{devinapi.ErrInvalid}},
		"unknown role":                 {scope: devinapi.ScopeEnterprise, id: ent.ServiceUser.ID, roleID: "role-nope", wantErr: []error{devinapi.ErrInvalid}},
		"unknown org":                  {scope: devinapi.ScopeOrganization, orgID: "org-nope", id: org.ServiceUser.ID, roleID: devinapitest.RoleOrgAdmin, wantErr: []error{devinapi.ErrNotFound}},
		"unknown service user":         {scope: devinapi.ScopeEnterprise, id: "su-nope", roleID: devinapitest.RoleEnterpriseAdmin, wantErr: []error{devinapi.ErrNotFound}},
		"no org for org scope":         {scope: devinapi.ScopeOrganization, id: org.ServiceUser.ID, roleID: devinapitest.RoleOrgAdmin, wantErr: []error{devinapi.ErrInvalid}},
		"unknown scope":                {scope: "Galaxy", id: org.ServiceUser.ID, roleID: devinapitest.RoleOrgAdmin, wantErr: []error{devinapi.ErrInvalid}},
		"empty id":                     {scope: devinapi.ScopeEnterprise, roleID: devinapitest.RoleOrgAdmin, wantErr: []error{devinapi.ErrInvalid}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := c.UpdateServiceUserRole(ctx, tc.scope, tc.orgID, tc.id, tc.roleID)
			if tc.wantErr != nil {
				only(t, err, tc.wantErr...)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]devinapi.RoleAssignment{tc.want}, got.RoleAssignments); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

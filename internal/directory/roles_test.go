package directory_test

import (
	"slices"
	"testing"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/devinapi"
	"github.com/cogtokens/token-operator/internal/directory"
)

func TestMatchRole(t *testing.T) {
	roles := []devinapi.Role{
		{ID: "role-org-member", Name: "Member", Type: "org"},
		{ID: "role-ent-admin", Name: "Enterprise Admin", Type: "enterprise"},
	}
	cases := map[string]struct {
		scope  iamv1alpha1.ServiceUserScope
		want   string
		found  string
		listed []string
	}{
		"by name, any case":              {scope: iamv1alpha1.ScopeOrganization, want: "member", found: "role-org-member"},
		"by ID":                          {scope: iamv1alpha1.ScopeOrganization, want: "role-org-member", found: "role-org-member"},
		"no scope is Organization":       {want: "Member", found: "role-org-member"},
		"enterprise role for org":        {scope: iamv1alpha1.ScopeOrganization, want: "Enterprise Admin", listed: []string{"Member"}},
		"enterprise scope":               {scope: iamv1alpha1.ScopeEnterprise, want: "Enterprise Admin", found: "role-ent-admin"},
		"unknown lists the scope's ones": {scope: iamv1alpha1.ScopeEnterprise, want: "Overlord", listed: []string{"Enterprise Admin"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			role, ok, names := directory.MatchRole(roles, tc.scope.RoleType(), tc.want)
			if ok != (tc.found != "") || role.ID != tc.found {
				t.Fatalf("MatchRole = %+v, %v", role, ok)
			}
			if !ok && !slices.Equal(names, tc.listed) {
				t.Fatalf("listed %v, want %v", names, tc.listed)
			}
		})
	}
}

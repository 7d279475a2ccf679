package controllers

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/devinapi"
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
		"enterprise role for org":        {scope: iamv1alpha1.ScopeOrganization, want: "Enterprise Admin", listed: []string{"Member"}},
		"enterprise scope":               {scope: iamv1alpha1.ScopeEnterprise, want: "Enterprise Admin", found: "role-ent-admin"},
		"unknown lists the scope's ones": {scope: iamv1alpha1.ScopeEnterprise, want: "Overlord", listed: []string{"Enterprise Admin"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			role, ok, names := MatchRole(roles, tc.scope, tc.want)
			if ok != (tc.found != "") || role.ID != tc.found {
				t.Fatalf("MatchRole = %+v, %v", role, ok)
			}
			if !ok && len(names) != len(tc.listed) {
				t.Fatalf("listed %v, want %v", names, tc.listed)
			}
		})
	}
}

func TestExpiryWarning(t *testing.T) {
	cases := map[string]struct {
		ttl  *metav1.Duration
		want time.Duration
	}{
		"default year: 30 days": {want: 30 * 24 * time.Hour},
		"short: a fifth":        {ttl: &metav1.Duration{Duration: 10 * time.Hour}, want: 2 * time.Hour},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			su := &iamv1alpha1.ServiceUser{Spec: iamv1alpha1.ServiceUserSpec{TTL: tc.ttl}}
			if got := ExpiryWarning(su); got != tc.want {
				t.Errorf("ExpiryWarning = %v, want %v", got, tc.want)
			}
		})
	}
}

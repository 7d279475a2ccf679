package v1alpha1_test

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

func TestServiceUserRules(t *testing.T) {
	cases := map[string]struct {
		spec     iamv1alpha1.ServiceUserSpec
		ttl      time.Duration
		warning  time.Duration
		scope    iamv1alpha1.ServiceUserScope
		roleType string
	}{
		"defaults: a year, warned 30 days ahead": {
			ttl: iamv1alpha1.DefaultServiceUserTTL, warning: 30 * 24 * time.Hour, scope: iamv1alpha1.ScopeOrganization, roleType: "org",
		},
		"short ttl: warned a fifth ahead": {
			spec: iamv1alpha1.ServiceUserSpec{TTL: &metav1.Duration{Duration: 10 * time.Hour}, Scope: iamv1alpha1.ScopeEnterprise},
			ttl:  10 * time.Hour, warning: 2 * time.Hour, scope: iamv1alpha1.ScopeEnterprise, roleType: "enterprise",
		},
		"zero ttl is the default": {
			spec: iamv1alpha1.ServiceUserSpec{TTL: &metav1.Duration{}},
			ttl:  iamv1alpha1.DefaultServiceUserTTL, warning: 30 * 24 * time.Hour, scope: iamv1alpha1.ScopeOrganization, roleType: "org",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			su := &iamv1alpha1.ServiceUser{Spec: tc.spec}
			if got := su.EffectiveTTL(); got != tc.ttl {
				t.Errorf("EffectiveTTL = %v, want %v", got, tc.ttl)
			}
			if got := su.ExpiryWarning(); got != tc.warning {
				t.Errorf("ExpiryWarning = %v, want %v", got, tc.warning)
			}
			if got := su.EffectiveScope(); got != tc.scope {
				t.Errorf("EffectiveScope = %v, want %v", got, tc.scope)
			}
			if got := su.EffectiveScope().RoleType(); got != tc.roleType {
				t.Errorf("RoleType = %v, want %v", got, tc.roleType)
			}
		})
	}
}

func TestCredentialSpecDefaults(t *testing.T) {
	var empty iamv1alpha1.CredentialSpec
	if empty.Lifetime() != iamv1alpha1.DefaultExpiresAfter || empty.GracePeriod() != iamv1alpha1.DefaultRotationGracePeriod {
		t.Fatalf("defaults: lifetime %v, grace %v", empty.Lifetime(), empty.GracePeriod())
	}
	set := iamv1alpha1.CredentialSpec{ExpiresAfter: &metav1.Duration{Duration: 2 * time.Hour}, RotationGracePeriod: &metav1.Duration{}}
	if set.Lifetime() != 2*time.Hour || set.GracePeriod() != 0 {
		t.Fatalf("set: lifetime %v, grace %v (0s revokes at once)", set.Lifetime(), set.GracePeriod())
	}
}

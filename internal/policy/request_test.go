package policy

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

func TestRequestsFromResources(t *testing.T) {
	su := &iamv1alpha1.ServiceUser{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a"}, Spec: iamv1alpha1.ServiceUserSpec{Role: "member"}}
	target := ServiceUserTarget{OrganizationID: "org-a", DefaultOrganization: true, RoleID: "r-1", RoleName: "Member"}
	got := ForServiceUser(su, alice, target)
	want := Request{
		Kind: KindServiceUser, Namespace: "team-a", Requester: alice, Scope: iamv1alpha1.ScopeOrganization,
		OrganizationID: "org-a", DefaultOrganization: true, RoleID: "r-1", RoleName: "Member",
		TTL: iamv1alpha1.DefaultServiceUserTTL, ExpiresAfter: iamv1alpha1.DefaultExpiresAfter,
		RotationGracePeriod: iamv1alpha1.DefaultRotationGracePeriod, DeletionPolicy: iamv1alpha1.DeletionPolicyDelete,
	}
	if got.Kind != want.Kind || got.Scope != want.Scope || got.OrganizationID != want.OrganizationID || !got.DefaultOrganization ||
		got.RoleID != want.RoleID || got.TTL != want.TTL || got.ExpiresAfter != want.ExpiresAfter ||
		got.RotationGracePeriod != want.RotationGracePeriod || got.DeletionPolicy != want.DeletionPolicy || got.Requester.User != alice.User {
		t.Errorf("ForServiceUser = %+v\nwant %+v", got, want)
	}
	su.Spec.Scope = iamv1alpha1.ScopeEnterprise
	if got := ForServiceUser(su, alice, target); got.OrganizationID != "" || got.DefaultOrganization {
		t.Errorf("an Enterprise service user has organization %q", got.OrganizationID)
	}

	pat := &iamv1alpha1.PersonalAccessToken{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a"}, Spec: iamv1alpha1.PersonalAccessTokenSpec{
		ImportFrom:     &iamv1alpha1.ImportSource{SecretName: "mine"},
		CredentialSpec: iamv1alpha1.CredentialSpec{ExpiresAfter: &metav1.Duration{Duration: time.Hour}},
		DeletionPolicy: iamv1alpha1.DeletionPolicyOrphan,
	}}
	p := ForPersonalAccessToken(pat, alice, "alice@example.com")
	if p.Kind != KindPersonalAccessToken || !p.Imported || p.OwnerEmail != "alice@example.com" || p.ExpiresAfter != time.Hour ||
		p.DeletionPolicy != iamv1alpha1.DeletionPolicyOrphan || p.Namespace != "team-a" {
		t.Errorf("ForPersonalAccessToken = %+v", p)
	}
}

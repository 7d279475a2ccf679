package policy

import (
	"context"
	"errors"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// fakeRBAC answers Can from a set of "verb policy" grants and records the questions.
type fakeRBAC struct {
	grants map[string]bool
	errs   map[string]error
	asked  []string
}

func rbac(grants ...string) *fakeRBAC {
	f := &fakeRBAC{grants: map[string]bool{}, errs: map[string]error{}}
	for _, g := range grants {
		f.grants[g] = true
	}
	return f
}

func (f *fakeRBAC) failing(q string) *fakeRBAC {
	f.errs[q] = errors.New("the API server is unavailable")
	return f
}

func (f *fakeRBAC) Can(_ context.Context, verb, policy string) (bool, error) {
	q := verb + " " + policy
	f.asked = append(f.asked, q)
	if err := f.errs[q]; err != nil {
		return false, err
	}
	return f.grants[q], nil
}

var _ Authorizer = &fakeRBAC{}

func dur(s string) *metav1.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		panic(err)
	}
	return &metav1.Duration{Duration: d}
}

func ptr[T any](v T) *T { return &v }

// policyFor is a policy selecting namespaces labelled tenant=<tenant>, changed by edits.
func policyFor(name, tenant string, edits ...func(*iamv1alpha1.CredentialPolicySpec)) iamv1alpha1.CredentialPolicy {
	p := iamv1alpha1.CredentialPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: iamv1alpha1.CredentialPolicySpec{
			NamespaceSelector: iamv1alpha1.NamespaceSelector{MatchLabels: map[string]iamv1alpha1.LabelValue{"tenant": iamv1alpha1.LabelValue(tenant)}},
		},
	}
	for _, e := range edits {
		e(&p.Spec)
	}
	return p
}

func serviceUsers(roles ...string) func(*iamv1alpha1.CredentialPolicySpec) {
	return func(s *iamv1alpha1.CredentialPolicySpec) {
		s.ServiceUsers = &iamv1alpha1.ServiceUserPolicy{Roles: roles}
	}
}

func ownTokens(s *iamv1alpha1.CredentialPolicySpec) {
	s.PersonalAccessTokens = &iamv1alpha1.PersonalAccessTokenPolicy{}
}

func delegation(users []string, domains ...string) func(*iamv1alpha1.CredentialPolicySpec) {
	return func(s *iamv1alpha1.CredentialPolicySpec) {
		if s.PersonalAccessTokens == nil {
			s.PersonalAccessTokens = &iamv1alpha1.PersonalAccessTokenPolicy{AllowOwner: ptr(false)}
		}
		s.PersonalAccessTokens.Delegation = &iamv1alpha1.DelegationPolicy{Users: users, Domains: domains}
	}
}

var (
	alice  = Requester{User: "oidc:alice@example.com", Groups: []string{"team-a"}, Email: "alice@example.com"}
	gitops = Requester{User: "system:serviceaccount:argocd:argocd-application-controller", Groups: []string{"system:serviceaccounts"}}
)

// serviceUser is a request for a Member service user in team-a's namespace, the default
// organization, with default lifetimes.
func serviceUser(edits ...func(*Request)) Request {
	r := Request{
		Kind: KindServiceUser, Namespace: "team-a", NamespaceLabels: map[string]string{"tenant": "team-a"},
		Requester: alice, Scope: iamv1alpha1.ScopeOrganization, OrganizationID: "org-default", DefaultOrganization: true,
		RoleID: "role-member", RoleName: "Member", TTL: iamv1alpha1.DefaultServiceUserTTL,
		ExpiresAfter: iamv1alpha1.DefaultExpiresAfter, RotationGracePeriod: iamv1alpha1.DefaultRotationGracePeriod,
		DeletionPolicy: iamv1alpha1.DeletionPolicyDelete,
	}
	for _, e := range edits {
		e(&r)
	}
	return r
}

// token is a request for a personal access token of owner in team-a's namespace.
func token(who Requester, owner string, edits ...func(*Request)) Request {
	r := Request{
		Kind: KindPersonalAccessToken, Namespace: "team-a", NamespaceLabels: map[string]string{"tenant": "team-a"},
		Requester: who, OwnerEmail: owner,
		ExpiresAfter: iamv1alpha1.DefaultExpiresAfter, RotationGracePeriod: iamv1alpha1.DefaultRotationGracePeriod,
		DeletionPolicy: iamv1alpha1.DeletionPolicyDelete,
	}
	for _, e := range edits {
		e(&r)
	}
	return r
}

func inNamespace(ns, tenant string) func(*Request) {
	return func(r *Request) {
		r.Namespace = ns
		r.NamespaceLabels = map[string]string{"tenant": tenant}
	}
}

func use(policy string) string { return fmt.Sprintf("%s %s", iamv1alpha1.PolicyVerbUse, policy) }
func delegate(policy string) string {
	return fmt.Sprintf("%s %s", iamv1alpha1.PolicyVerbDelegate, policy)
}

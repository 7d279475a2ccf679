package policy

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

type decideCase struct {
	policies []iamv1alpha1.CredentialPolicy
	req      Request
	rbac     *fakeRBAC
	// want: allowed and by which policy ("" when refused); the message must contain every
	// one of msg; asked lists the RBAC questions, in order.
	policy string
	msg    []string
	asked  []string
	err    bool
}

func runDecide(t *testing.T, cases map[string]decideCase) {
	t.Helper()
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			auth := rbac()
			if tc.rbac != nil { // a fresh record of questions for each case
				auth.grants, auth.errs = tc.rbac.grants, tc.rbac.errs
			}
			d := Decide(context.Background(), tc.req, tc.policies, auth)
			if d.Allowed != (tc.policy != "") || d.Policy != tc.policy {
				t.Errorf("Allowed=%v Policy=%q, want policy %q; message: %s", d.Allowed, d.Policy, tc.policy, d.Message)
			}
			for _, m := range tc.msg {
				if !strings.Contains(d.Message, m) {
					t.Errorf("message %q\ndoes not say %q", d.Message, m)
				}
			}
			if !slices.Equal(auth.asked, tc.asked) {
				t.Errorf("asked RBAC %q, want %q", auth.asked, tc.asked)
			}
			if (d.Err != nil) != tc.err {
				t.Errorf("Err = %v, want error %v", d.Err, tc.err)
			}
		})
	}
}

// Done when 1 and 4, and how overlapping policies combine.
func TestDecideSelectionRBACAndOverlaps(t *testing.T) {
	teamA := policyFor("team-a", "team-a", serviceUsers("Member"), ownTokens)
	strict := policyFor("a-strict", "team-a", serviceUsers("Member"), func(s *iamv1alpha1.CredentialPolicySpec) { s.ServiceUsers.MaxTTL = dur("720h") })
	admins := policyFor("admins", "team-a", serviceUsers("Admin"), func(s *iamv1alpha1.CredentialPolicySpec) { s.ServiceUsers.MaxTTL = dur("720h") })
	runDecide(t, map[string]decideCase{
		"1: no policy at all: ServiceUser refused": {
			req: serviceUser(), msg: []string{`no CredentialPolicy selects namespace "team-a"`, "allows this ServiceUser"},
		},
		"1: no policy at all: PAT refused": {
			req: token(alice, "alice@example.com"), msg: []string{`no CredentialPolicy selects namespace "team-a"`},
		},
		"1: only another team's policy": {
			policies: []iamv1alpha1.CredentialPolicy{policyFor("team-b", "team-b", serviceUsers("Member"))},
			req:      serviceUser(), msg: []string{`no CredentialPolicy selects namespace "team-a"`},
		},
		"allowed: one SAR for use": {
			policies: []iamv1alpha1.CredentialPolicy{teamA}, req: serviceUser(), rbac: rbac(use("team-a")),
			policy: "team-a", msg: []string{"allowed by CredentialPolicy team-a"}, asked: []string{use("team-a")},
		},
		"4: no RBAC use, in a selected namespace": {
			policies: []iamv1alpha1.CredentialPolicy{teamA}, req: serviceUser(), rbac: rbac(),
			msg:   []string{"policy team-a: you may not use it (RBAC verb use on credentialpolicies/team-a in namespace team-a)", `user "oidc:alice@example.com"`},
			asked: []string{use("team-a")},
		},
		"overlap: the first policy by name that allows all of it": {
			policies: []iamv1alpha1.CredentialPolicy{teamA, strict}, req: serviceUser(func(r *Request) { r.TTL = dur("100h").Duration }),
			rbac: rbac(use("team-a"), use("a-strict")), policy: "a-strict", asked: []string{use("a-strict")},
		},
		"overlap: no SAR for a policy that does not allow the spec": {
			policies: []iamv1alpha1.CredentialPolicy{teamA, strict}, req: serviceUser(),
			rbac: rbac(use("team-a"), use("a-strict")), policy: "team-a", asked: []string{use("team-a")},
		},
		"overlap: a policy the requester may not use is skipped": {
			policies: []iamv1alpha1.CredentialPolicy{teamA, strict}, req: serviceUser(func(r *Request) { r.TTL = dur("100h").Duration }),
			rbac: rbac(use("team-a")), policy: "team-a", asked: []string{use("a-strict"), use("team-a")},
		},
		"overlap: policies do not combine field by field": {
			policies: []iamv1alpha1.CredentialPolicy{teamA, strict, admins},
			req:      serviceUser(func(r *Request) { r.RoleID, r.RoleName = "role-admin", "Admin" }),
			rbac:     rbac(use("a-strict"), use("admins"), use("team-a")),
			msg: []string{`policy a-strict: role "Admin" (ID "role-admin") is not among [Member]; ttl 8760h is above maxTTL 720h | `,
				"policy admins: ttl 8760h is above maxTTL 720h | ", `policy team-a: role "Admin" (ID "role-admin") is not among [Member]`},
		},
		"overlap: other teams' policies are not named": {
			policies: []iamv1alpha1.CredentialPolicy{policyFor("team-b", "team-b", serviceUsers("Admin")), teamA}, req: serviceUser(), rbac: rbac(),
			msg: []string{"policy team-a: you may not use it"}, asked: []string{use("team-a")},
		},
	})
}

func TestDecideNamespaceSelection(t *testing.T) {
	listed := policyFor("listed", "team-a", serviceUsers("Member"), func(s *iamv1alpha1.CredentialPolicySpec) { s.Namespaces = []string{"team-a"} })
	byName := iamv1alpha1.CredentialPolicy{ObjectMeta: metav1.ObjectMeta{Name: "by-name"}, Spec: iamv1alpha1.CredentialPolicySpec{
		NamespaceSelector: iamv1alpha1.NamespaceSelector{MatchExpressions: []iamv1alpha1.NamespaceSelectorRequirement{
			{Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpIn, Values: []string{"team-a"}}}},
		ServiceUsers: &iamv1alpha1.ServiceUserPolicy{Roles: []string{"Member"}},
	}}
	broken := byName.DeepCopy()
	broken.Name = "broken"
	broken.Spec.NamespaceSelector.MatchExpressions[0].Operator = "Equals"
	deleting := policyFor("deleting", "team-a", serviceUsers("Member"))
	deleting.DeletionTimestamp = &metav1.Time{}
	runDecide(t, map[string]decideCase{
		"selector and list: both hold": {
			policies: []iamv1alpha1.CredentialPolicy{listed}, req: serviceUser(), rbac: rbac(use("listed")), policy: "listed", asked: []string{use("listed")},
		},
		"selector and list: listed, but the selector does not match": {
			policies: []iamv1alpha1.CredentialPolicy{listed}, req: serviceUser(inNamespace("team-a", "team-b")), msg: []string{"no CredentialPolicy selects"},
		},
		"selector and list: the selector matches, but not listed": {
			policies: []iamv1alpha1.CredentialPolicy{listed}, req: serviceUser(inNamespace("team-a-2", "team-a")), msg: []string{`no CredentialPolicy selects namespace "team-a-2"`},
		},
		"the name label is implied": {
			policies: []iamv1alpha1.CredentialPolicy{byName}, req: serviceUser(func(r *Request) { r.NamespaceLabels = nil }),
			rbac: rbac(use("by-name")), policy: "by-name", asked: []string{use("by-name")},
		},
		"an invalid selector allows nothing, and says so": {
			policies: []iamv1alpha1.CredentialPolicy{*broken}, req: serviceUser(), msg: []string{"policy broken: its namespaceSelector is invalid"},
		},
		"a policy being deleted allows nothing": {
			policies: []iamv1alpha1.CredentialPolicy{deleting}, req: serviceUser(), rbac: rbac(use("deleting")), msg: []string{"policy deleting: it is being deleted"},
		},
		"no namespace": {
			policies: []iamv1alpha1.CredentialPolicy{byName}, req: serviceUser(func(r *Request) { r.Namespace = "" }), msg: []string{"no CredentialPolicy selects"},
		},
	})
}

func TestDecideErrorsAndResult(t *testing.T) {
	teamA := policyFor("team-a", "team-a", serviceUsers("Member"), ownTokens)
	teamA2 := policyFor("team-a-2", "team-a", serviceUsers("Member"), func(s *iamv1alpha1.CredentialPolicySpec) {
		s.Tokens.OnUpstreamRevocation = iamv1alpha1.UpstreamRevocationReissue
	})
	runDecide(t, map[string]decideCase{
		"RBAC unavailable: refused, with an error to retry": {
			policies: []iamv1alpha1.CredentialPolicy{teamA}, req: serviceUser(), rbac: rbac(use("team-a")).failing(use("team-a")),
			msg:   []string{"policy team-a: could not check RBAC: check RBAC verb use on credentialpolicies/team-a: the API server is unavailable"},
			asked: []string{use("team-a")}, err: true,
		},
		"RBAC unavailable for one policy, another allows": {
			policies: []iamv1alpha1.CredentialPolicy{teamA, teamA2}, req: serviceUser(), rbac: rbac(use("team-a-2")).failing(use("team-a")),
			policy: "team-a-2", asked: []string{use("team-a"), use("team-a-2")},
		},
		"unknown kind": {
			policies: []iamv1alpha1.CredentialPolicy{teamA}, req: serviceUser(func(r *Request) { r.Kind = "Secret" }), msg: []string{`unknown kind "Secret"`},
		},
	})
	d := Decide(context.Background(), serviceUser(), []iamv1alpha1.CredentialPolicy{teamA2}, rbac(use("team-a-2")))
	if d.OnUpstreamRevocation != iamv1alpha1.UpstreamRevocationReissue || d.Warnings != nil {
		t.Errorf("OnUpstreamRevocation %q, warnings %q: want Reissue and none", d.OnUpstreamRevocation, d.Warnings)
	}
	d = Decide(context.Background(), serviceUser(), []iamv1alpha1.CredentialPolicy{teamA}, rbac(use("team-a")))
	if d.OnUpstreamRevocation != iamv1alpha1.UpstreamRevocationStop {
		t.Errorf("OnUpstreamRevocation %q, want Stop by default", d.OnUpstreamRevocation)
	}
	d = Decide(context.Background(), serviceUser(), []iamv1alpha1.CredentialPolicy{teamA}, nil)
	if d.Allowed || !errors.Is(d.Err, errNoAuthorizer) {
		t.Errorf("without an authorizer: Allowed %v, Err %v", d.Allowed, d.Err)
	}
	var asked []string
	byFunc := AuthorizerFunc(func(_ context.Context, verb, policy string) (bool, error) {
		asked = append(asked, verb+" "+policy)
		return false, nil
	})
	d = Decide(context.Background(), serviceUser(func(r *Request) { r.RoleName = "" }), []iamv1alpha1.CredentialPolicy{teamA}, byFunc)
	if d.Allowed || len(asked) != 0 || !strings.Contains(d.Message, `role ID "role-member" is not among [Member]`) {
		t.Errorf("a role known by ID only: %s (asked %q)", d.Message, asked)
	}
	d = Decide(context.Background(), serviceUser(func(r *Request) { r.RoleID = "" }), []iamv1alpha1.CredentialPolicy{teamA}, byFunc)
	if d.Allowed || !slices.Equal(asked, []string{use("team-a")}) {
		t.Errorf("AuthorizerFunc: allowed %v, asked %q", d.Allowed, asked)
	}
	policies := []iamv1alpha1.CredentialPolicy{teamA2, teamA}
	Decide(context.Background(), serviceUser(), policies, rbac())
	if policies[0].Name != "team-a-2" {
		t.Error("Decide reordered the caller's policies")
	}
}

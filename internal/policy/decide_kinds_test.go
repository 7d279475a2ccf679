package policy

import (
	"context"
	"strings"
	"testing"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// Done when 2 and 6 (a tightened policy refuses what it no longer allows), for ServiceUsers.
func TestDecideServiceUsers(t *testing.T) {
	member := policyFor("team-a", "team-a", serviceUsers("Member", "role-reader"), func(s *iamv1alpha1.CredentialPolicySpec) {
		s.ServiceUsers.MaxTTL = dur("2160h")
		s.Tokens = iamv1alpha1.TokenPolicy{MaxExpiresAfter: dur("720h"), MaxRotationGracePeriod: dur("30m")}
	})
	orgs := policyFor("orgs", "team-a", serviceUsers("*"), func(s *iamv1alpha1.CredentialPolicySpec) {
		s.ServiceUsers.Scopes = []iamv1alpha1.ServiceUserScope{iamv1alpha1.ScopeOrganization, iamv1alpha1.ScopeEnterprise}
		s.ServiceUsers.Organizations = []string{"org-team-a"}
	})
	anyOrg := policyFor("any-org", "team-a", serviceUsers("Member"), func(s *iamv1alpha1.CredentialPolicySpec) { s.ServiceUsers.Organizations = []string{"*"} })
	patsOnly := policyFor("pats", "team-a", ownTokens)
	within := func(r *Request) {
		r.TTL, r.ExpiresAfter, r.RotationGracePeriod = dur("2160h").Duration, dur("720h").Duration, dur("30m").Duration
	}
	both := rbac(use("team-a"), use("orgs"), use("any-org"), use("pats"))
	one := func(p iamv1alpha1.CredentialPolicy) []iamv1alpha1.CredentialPolicy {
		return []iamv1alpha1.CredentialPolicy{p}
	}
	runDecide(t, map[string]decideCase{
		"within every bound": {policies: one(member), req: serviceUser(within), rbac: both, policy: "team-a", asked: []string{use("team-a")}},
		"role by ID": {
			policies: one(member), req: serviceUser(within, func(r *Request) { r.RoleID, r.RoleName = "role-reader", "Reader" }), rbac: both, policy: "team-a", asked: []string{use("team-a")},
		},
		"role by name, any ASCII case": {
			policies: one(member), req: serviceUser(within, func(r *Request) { r.RoleID, r.RoleName = "", "mEMBER" }), rbac: both, policy: "team-a", asked: []string{use("team-a")},
		},
		"2: role Admin": {
			policies: one(member), req: serviceUser(within, func(r *Request) { r.RoleID, r.RoleName = "role-admin", "Admin" }),
			msg: []string{`policy team-a: role "Admin" (ID "role-admin") is not among [Member, role-reader]`},
		},
		"role by a Unicode case fold is not a match": {
			policies: []iamv1alpha1.CredentialPolicy{policyFor("k", "team-a", serviceUsers("Kit"))}, req: serviceUser(func(r *Request) { r.RoleID, r.RoleName = "", "\u212Ait" }),
			msg: []string{"is not among [Kit]"},
		},
		"unresolved role": {
			policies: one(member), req: serviceUser(within, func(r *Request) { r.RoleID, r.RoleName = "", "" }), msg: []string{"role (unresolved) is not among"},
		},
		"2: scope Enterprise": {
			policies: one(member), req: serviceUser(within, func(r *Request) {
				r.Scope, r.OrganizationID, r.DefaultOrganization = iamv1alpha1.ScopeEnterprise, "", false
			}),
			msg: []string{`policy team-a: scope "Enterprise" is not among [Organization]`},
		},
		"scope Enterprise allowed": {
			policies: one(orgs), req: serviceUser(func(r *Request) {
				r.Scope, r.OrganizationID, r.DefaultOrganization = iamv1alpha1.ScopeEnterprise, "", false
			}),
			rbac: both, policy: "orgs", asked: []string{use("orgs")},
		},
		"2: another organization than the default": {
			policies: one(member), req: serviceUser(within, func(r *Request) { r.OrganizationID, r.DefaultOrganization = "org-team-b", false }),
			msg: []string{`organization "org-team-b" is not the operator's default organization, the only one it allows`},
		},
		"listed organization": {
			policies: one(orgs), req: serviceUser(func(r *Request) { r.OrganizationID, r.DefaultOrganization = "org-team-a", false }),
			rbac: both, policy: "orgs", asked: []string{use("orgs")},
		},
		"the default organization, not listed": {
			policies: one(orgs), req: serviceUser(), msg: []string{`organization "org-default" is not among [org-team-a]`},
		},
		"any organization": {
			policies: one(anyOrg), req: serviceUser(func(r *Request) { r.OrganizationID, r.DefaultOrganization = "org-elsewhere", false }),
			rbac: both, policy: "any-org", asked: []string{use("any-org")},
		},
		"6: ttl above maxTTL": {policies: one(member), req: serviceUser(), msg: []string{"ttl 8760h is above maxTTL 2160h"}},
		"6: expiresAfter and grace above the bounds": {
			policies: one(member), req: serviceUser(within, func(r *Request) { r.ExpiresAfter, r.RotationGracePeriod = dur("2160h").Duration, dur("1h30m").Duration }),
			msg: []string{"apiKey.expiresAfter 2160h is above maxExpiresAfter 720h; apiKey.rotationGracePeriod 1h30m is above maxRotationGracePeriod 30m"},
		},
		"6: Orphan not allowed": {
			policies: one(member), req: serviceUser(within, func(r *Request) { r.DeletionPolicy = iamv1alpha1.DeletionPolicyOrphan }),
			msg: []string{"deletionPolicy Orphan is not allowed (tokens.allowOrphan is false)"},
		},
		"Orphan allowed": {
			policies: one(policyFor("orphans", "team-a", serviceUsers("Member"), func(s *iamv1alpha1.CredentialPolicySpec) { s.Tokens.AllowOrphan = true })),
			req:      serviceUser(func(r *Request) { r.DeletionPolicy = iamv1alpha1.DeletionPolicyOrphan }), rbac: rbac(use("orphans")), policy: "orphans", asked: []string{use("orphans")},
		},
		"a policy for PATs only": {
			policies: one(patsOnly), req: serviceUser(func(r *Request) { r.DeletionPolicy = iamv1alpha1.DeletionPolicyOrphan }),
			msg: []string{"policy pats: it allows no ServiceUser"},
		},
	})
	d := Decide(context.Background(), serviceUser(func(r *Request) { r.DeletionPolicy = iamv1alpha1.DeletionPolicyOrphan }), one(patsOnly), both)
	if strings.Contains(d.Message, "Orphan") {
		t.Errorf("a policy that does not allow the kind lists token bounds too: %s", d.Message)
	}
}

// Done when 3 and 5 (a PAT for someone else, as the controller would decide it without the
// webhook), and the owner rule.
func TestDecidePersonalAccessTokens(t *testing.T) {
	own := policyFor("team-a", "team-a", ownTokens, func(s *iamv1alpha1.CredentialPolicySpec) { s.Tokens.MaxExpiresAfter = dur("720h") })
	deleg := policyFor("gitops", "team-a", delegation([]string{"carol@example.com"}, "eu.example.com", "*.us.example.com"))
	ownAndDeleg := policyFor("both", "team-a", ownTokens, delegation([]string{"carol@example.com"}))
	noOwner := policyFor("no-owner", "team-a", func(s *iamv1alpha1.CredentialPolicySpec) {
		s.PersonalAccessTokens = &iamv1alpha1.PersonalAccessTokenPolicy{AllowOwner: ptr(false)}
	})
	anyone := policyFor("anyone", "team-a", delegation(nil, "*"))
	slow := policyFor("slow", "team-a", ownTokens, func(s *iamv1alpha1.CredentialPolicySpec) { s.Tokens.MinRenewalInterval = dur("24h") })
	short := func(r *Request) { r.ExpiresAfter = dur("720h").Duration }
	grants := rbac(use("team-a"), use("gitops"), delegate("gitops"), use("both"), delegate("both"), use("no-owner"), use("anyone"), delegate("anyone"))
	one := func(p iamv1alpha1.CredentialPolicy) []iamv1alpha1.CredentialPolicy {
		return []iamv1alpha1.CredentialPolicy{p}
	}
	carolByGitops := token(gitops, "Carol@Example.com", short)
	runDecide(t, map[string]decideCase{
		"renewals sooner than minRenewalInterval": {
			policies: one(slow), req: token(alice, "alice@example.com", func(r *Request) { r.RenewalInterval = dur("30m").Duration }),
			msg: []string{"expiresAfter minus renewBefore is 30m, below minRenewalInterval 24h"},
		},
		"renewals within minRenewalInterval": {
			policies: one(slow), req: token(alice, "alice@example.com", func(r *Request) { r.RenewalInterval = dur("24h").Duration }),
			rbac: rbac(use("slow")), policy: "slow", asked: []string{use("slow")},
		},
		"own token": {policies: one(own), req: token(alice, "ALICE@example.com", short), rbac: grants, policy: "team-a", asked: []string{use("team-a")}},
		"5: someone else's token, no delegation": {
			policies: one(own), req: token(alice, "bob@example.com", short),
			msg: []string{`policy team-a: the token belongs to "bob@example.com", not to you (Devin email "alice@example.com"), and it allows no delegation`},
		},
		"requester without a Devin email": {
			policies: one(own), req: token(gitops, "alice@example.com", short), msg: []string{`not to you (no Devin email)`, `for user "system:serviceaccount:argocd:argocd-application-controller" (no Devin email)`},
		},
		"3: delegate for a listed user": {
			policies: one(deleg), req: carolByGitops, rbac: grants, policy: "gitops", asked: []string{use("gitops"), delegate("gitops")},
		},
		"3: delegate for a listed domain": {
			policies: one(deleg), req: token(gitops, "dave@eu.example.com"), rbac: grants, policy: "gitops", asked: []string{use("gitops"), delegate("gitops")},
		},
		"3: delegate for a subdomain": {
			policies: one(deleg), req: token(gitops, "erin@ci.us.example.com"), rbac: grants, policy: "gitops", asked: []string{use("gitops"), delegate("gitops")},
		},
		"3: the wildcard's own domain is not a subdomain": {
			policies: one(deleg), req: token(gitops, "frank@us.example.com"), msg: []string{"its delegation covers neither that user nor that domain"},
		},
		"3: a domain that only ends like one": {
			policies: one(deleg), req: token(gitops, "mallory@evil-eu.example.com"), msg: []string{`the token belongs to "mallory@evil-eu.example.com"`},
		},
		"3: delegate for a user outside": {
			policies: one(deleg), req: token(gitops, "bob@example.com"), msg: []string{"its delegation covers neither that user nor that domain"},
		},
		"3: delegate in a namespace the policy does not select": {
			policies: one(deleg), req: token(gitops, "carol@example.com", inNamespace("team-b", "team-b")), msg: []string{`no CredentialPolicy selects namespace "team-b"`},
		},
		"3: use without delegate": {
			policies: one(deleg), req: carolByGitops, rbac: rbac(use("gitops")), asked: []string{use("gitops"), delegate("gitops")},
			msg: []string{"policy gitops: you may not ask for other people's tokens under it (RBAC verb delegate on credentialpolicies/gitops in namespace team-a)"},
		},
		"delegate without use": {
			policies: one(deleg), req: carolByGitops, rbac: rbac(delegate("gitops")), asked: []string{use("gitops")}, msg: []string{"you may not use it"},
		},
		"own token under a policy that also delegates: no delegate verb needed": {
			policies: one(ownAndDeleg), req: token(alice, "alice@example.com"), rbac: rbac(use("both")), policy: "both", asked: []string{use("both")},
		},
		"allowOwner false": {
			policies: one(noOwner), req: token(alice, "alice@example.com"), msg: []string{"it does not let people ask for their own tokens (allowOwner: false)"},
		},
		"allowOwner false, but a delegate for oneself": {
			policies: one(anyone), req: token(alice, "alice@example.com"), rbac: grants, policy: "anyone", asked: []string{use("anyone"), delegate("anyone")},
		},
		"owner email not ASCII": {
			policies: one(anyone), req: token(gitops, "ålice@example.com"), msg: []string{`the owner's email "ålice@example.com" is unknown or not a plain ASCII address`},
		},
		"owner email unknown":             {policies: one(own), req: token(alice, ""), msg: []string{`the owner's email "" is unknown`}},
		"6: expiresAfter above the bound": {policies: one(own), req: token(alice, "alice@example.com"), msg: []string{"policy team-a: expiresAfter 2160h is above maxExpiresAfter 720h"}},
		"an imported token is not bound by lifetimes": {
			policies: one(own), req: token(alice, "alice@example.com", func(r *Request) { r.Imported, r.DeletionPolicy = true, iamv1alpha1.DeletionPolicyOrphan }),
			rbac: grants, policy: "team-a", asked: []string{use("team-a")},
		},
		"a policy for ServiceUsers only": {
			policies: one(policyFor("su", "team-a", serviceUsers("Member"))), req: token(alice, "alice@example.com"), msg: []string{"policy su: it allows no PersonalAccessToken"},
		},
	})
	for _, req := range []Request{token(alice, "alice@example.com"), token(alice, "")} {
		d := Decide(context.Background(), req, nil, rbac())
		if len(d.Warnings) != 1 || !strings.Contains(d.Warnings[0], "anyone who can read Secrets in namespace team-a acts as") {
			t.Errorf("warnings %q, want the one about reading Secrets", d.Warnings)
		}
	}
}

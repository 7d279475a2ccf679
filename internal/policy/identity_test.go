package policy

import (
	"testing"
)

func mustRule(t *testing.T, s string) Rule {
	t.Helper()
	r, err := ParseRule(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestMappingEmail(t *testing.T) {
	eks := Mapping{Rules: []Rule{
		// EKS: an IAM Identity Center role, whose session name the identity provider sets to
		// the person's user name (here their email). Only such roles: whoever assumes any
		// other role chooses its session name (--role-session-name).
		mustRule(t, `arn:aws:sts::[0-9]{12}:assumed-role/AWSReservedSSO_[^/]+/(?P<session>[^/]+)=>${session}`),
		// EKS: an IAM user named like the person, in the company's domain.
		mustRule(t, `arn:aws:iam::[0-9]{12}:user/([a-z.]+)=>$1@example.com`),
	}}
	oidc := Mapping{StripPrefixes: []string{"oidc:", "sso:"}}
	claim := Mapping{ExtraKey: "example.com/email", StripPrefixes: []string{"oidc:"}}
	cases := map[string]struct {
		m     Mapping
		user  string
		extra map[string][]string
		want  string
	}{
		"plain email":                  {user: "Alice@Example.com", want: "alice@example.com"},
		"not an email":                 {user: "alice", want: ""},
		"service account":              {user: "system:serviceaccount:argocd:argocd-application-controller", want: ""},
		"two @":                        {user: "alice@evil@example.com", want: ""},
		"no domain":                    {user: "alice@", want: ""},
		"no local part":                {user: "@example.com", want: ""},
		"non-ASCII: Kelvin sign":       {user: "\u212Aarl@example.com", want: ""},
		"non-ASCII: accent":            {user: "élodie@example.com", want: ""},
		"space":                        {user: "alice @example.com", want: ""},
		"empty":                        {user: "", want: ""},
		"OIDC prefix":                  {m: oidc, user: "oidc:alice@example.com", want: "alice@example.com"},
		"second OIDC prefix":           {m: oidc, user: "sso:bob@example.com", want: "bob@example.com"},
		"one prefix is stripped, once": {m: Mapping{StripPrefixes: []string{"oidc:", "oidc:"}}, user: "oidc:oidc:alice@example.com", want: "oidc:alice@example.com"},
		"OIDC prefix, not an email":    {m: oidc, user: "oidc:1234567890", want: ""},
		"unprefixed email still maps":  {m: oidc, user: "carol@example.com", want: "carol@example.com"},
		"EKS assumed role":             {m: eks, user: "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Developers_0a1b2c/dave@example.com", want: "dave@example.com"},
		// Not Dave's: no rule matches, and the whole name (no Devin user's email) stays.
		"EKS role outside SSO":          {m: eks, user: "arn:aws:sts::123456789012:assumed-role/ci-deploy/dave@example.com", want: "arn:aws:sts::123456789012:assumed-role/ci-deploy/dave@example.com"},
		"EKS IAM user":                  {m: eks, user: "arn:aws:iam::123456789012:user/erin.smith", want: "erin.smith@example.com"},
		"EKS role session not an email": {m: eks, user: "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Developers_0a1b2c/i-0abc", want: ""},
		"EKS node role":                 {m: eks, user: "system:node:ip-10-0-0-1.ec2.internal", want: ""},
		"a rule matches the whole name only": {
			m: eks, user: "xarn:aws:iam::123456789012:user/erin", want: "",
		},
		"claim":                         {m: claim, user: "oidc:1234567890", extra: map[string][]string{"example.com/email": {"Frank@Example.com", "other@example.com"}}, want: "frank@example.com"},
		"claim decides, even if bad":    {m: claim, user: "oidc:frank@example.com", extra: map[string][]string{"example.com/email": {"fränk@example.com"}}, want: ""},
		"no claim: the name":            {m: claim, user: "oidc:frank@example.com", want: "frank@example.com"},
		"empty claim: the name":         {m: claim, user: "oidc:frank@example.com", extra: map[string][]string{"example.com/email": {""}}, want: "frank@example.com"},
		"rule yields a non-ASCII email": {m: Mapping{Rules: []Rule{mustRule(t, `u:(.*)=>$1@exämple.com`)}}, user: "u:g", want: ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := tc.m.Email(tc.user, tc.extra); got != tc.want {
				t.Errorf("Email(%q) = %q, want %q", tc.user, got, tc.want)
			}
		})
	}
	who := oidc.Requester("oidc:alice@example.com", "uid-1", []string{"devs"}, map[string][]string{"k": {"v"}})
	if who.Email != "alice@example.com" || who.User != "oidc:alice@example.com" || who.UID != "uid-1" || who.Groups[0] != "devs" || who.Extra["k"][0] != "v" {
		t.Errorf("Requester = %+v", who)
	}
}

func TestParseRule(t *testing.T) {
	for _, bad := range []string{"no separator", "(=>x", "a=>"} {
		if _, err := ParseRule(bad); err == nil {
			t.Errorf("ParseRule(%q) accepted", bad)
		}
	}
	r := mustRule(t, "a=b=>$0@example.com")
	if got := (Mapping{Rules: []Rule{r}}).Email("a=b", nil); got != "a=b@example.com" {
		t.Errorf("a pattern with '=' maps to %q", got)
	}
}

package policy

import (
	"strings"
	"testing"
)

// TestCallerChosen: a rule that maps the session name of a role outside IAM Identity Center
// lets whoever may assume that role choose an email; the documented rules, pinned to
// AWSReservedSSO_ roles, do not.
func TestCallerChosen(t *testing.T) {
	cases := map[string]struct {
		rule  string
		risky string // a word of the reason; "" for a safe rule
	}{
		// Safe: the examples of the documentation and the chart.
		"docs: Identity Center roles only": {rule: `^arn:aws:sts::[0-9]+:assumed-role/AWSReservedSSO_[^/]+/([^/@]+)$=>${1}@example.com`},
		"session name is the email":        {rule: `arn:aws:sts::[0-9]{12}:assumed-role/AWSReservedSSO_[^/]+/(?P<session>[^/]+@example\.com)=>${session}`},
		"one permission set":               {rule: `arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Developers_0a1b2c3d4e5f6a7b/([^/@]+)=>$1@example.com`},
		"either of two permission sets":    {rule: `arn:aws:sts::[0-9]+:assumed-role/(?:AWSReservedSSO_Dev_[0-9a-f]+|AWSReservedSSO_Ops_[0-9a-f]+)/([^/@]+)=>$1@example.com`},
		"the prefix split by a group":      {rule: `arn:aws:sts::[0-9]+:assumed-role/(AWS)ReservedSSO_[^/]+/([^/@]+)=>$2@example.com`},
		"capture spans an SSO role":        {rule: `arn:aws:sts::[0-9]+:assumed-role/AWSReservedSSO_(.+)=>$1@example.com`},
		"IAM user":                         {rule: `arn:aws:iam::[0-9]{12}:user/([a-z.]+)=>$1@example.com`},
		"service accounts":                 {rule: `^system:serviceaccount:([^:]+):(.+)$=>${2}.${1}@sa.example.com`},
		"the whole name, as it is":         {rule: `(.+)=>$1`},
		"OIDC subject":                     {rule: `oidc:([0-9a-f]+)=>$1@example.com`},

		// Risky: any role's session name, and its kin.
		"any role, (.+)":                   {rule: `^arn:aws:sts::[0-9]+:assumed-role/[^/]+/(.+)$=>$1@example.com`, risky: "pinning"},
		"any role, ([^/@]+)":               {rule: `^arn:aws:sts::[0-9]+:assumed-role/[^/]+/([^/@]+)$=>${1}@example.com`, risky: "pinning"},
		"any role, named session":          {rule: `arn:aws:sts::[0-9]{12}:assumed-role/[^/]+/(?P<session>[^/]+)=>${session}`, risky: "pinning"},
		"one role outside Identity Center": {rule: `arn:aws:sts::[0-9]+:assumed-role/eks-devs/([^/@]+)=>$1@example.com`, risky: "pinning"},
		"capture spans the role":           {rule: `arn:aws:sts::[0-9]+:assumed-role/(.+)=>$1@example.com`, risky: "pinning"},
		"an SSO role or another":           {rule: `arn:aws:sts::[0-9]+:assumed-role/(?:AWSReservedSSO_[^/]+|Admin)/(.+)=>$1`, risky: "pinning"},
		"prefix not whole":                 {rule: `arn:aws:sts::[0-9]+:assumed-role/AWSReserved[^/]*/([^/@]+)=>$1@example.com`, risky: "pinning"},
		"inside an alternation":            {rule: `system:admin|arn:aws:sts::[0-9]+:assumed-role/[^/]+/([^/@]+)=>$1@example.com`, risky: "pinning"},
		"no assumed-role/ in the text":     {rule: `.*/([^/]+)=>$1@example.com`, risky: "session name alone"},
		"role and session as classes":      {rule: `arn:aws:sts::[0-9]+:[a-z-]+/[^/]+/([^/@]+)=>$1@example.com`, risky: "session name alone"},
		"the session is the whole email":   {rule: `arn:aws:sts::[0-9]+:[^/]+/[^/]+/(.+@example\.com)=>$1`, risky: "session name alone"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := mustRule(t, tc.rule).CallerChosen()
			switch {
			case tc.risky == "" && got != "":
				t.Errorf("CallerChosen(%s) = %q, want none", tc.rule, got)
			case tc.risky != "" && !strings.Contains(got, tc.risky):
				t.Errorf("CallerChosen(%s) = %q, want a reason with %q", tc.rule, got, tc.risky)
			}
		})
	}
}

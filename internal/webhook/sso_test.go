package webhook

import (
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/cogtokens/token-operator/internal/devinapi"
	"github.com/cogtokens/token-operator/internal/directory"
	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

// Every way a user can be linked to enterprise SSO is refused at admission, with a message
// that says SSO; without an enterprise admin key the v2 API (which accepts nothing else) is
// never asked.
func TestPATForSSOLinkedUsersIsRefused(t *testing.T) {
	cases := map[string]struct {
		email       string
		adminKey    bool
		enforced    bool
		wantRefused string
	}{
		"IdP-only user (found through the IdP users list)": {email: "irene@example.com", wantRefused: "identity provider (SSO) groups"},
		"direct user with IdP roles":                       {email: "bob@example.com", wantRefused: "linked to enterprise SSO"},
		"direct user with a SAML identity, admin key set":  {email: "sam@example.com", adminKey: true, wantRefused: "SAML (SSO) identity"},
		"direct user with a SAML identity, no admin key":   {email: "sam@example.com"},
		"SSO enforced for everyone":                        {email: "alice@example.com", enforced: true, wantRefused: "enforces SSO for every member"},
		"an unlinked user":                                 {email: "alice@example.com"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			srv := devinapitest.NewTestServer(t)
			api := srv.Client(func(o *devinapi.Options) {
				if tc.adminKey {
					o.EnterpriseAdminKey = devinapi.StaticToken(srv.EnterpriseAdminKey())
				}
			})
			dir := directory.New(api, directory.Options{SSOEnforced: tc.enforced})
			resp, _ := serveWith(t, dir, ValidatePersonalAccessTokenPath,
				rev{op: admissionv1.Create, user: tc.email, object: pat(tc.email, byEmail(tc.email))}.body())
			if tc.wantRefused == "" {
				if !resp.Allowed {
					t.Fatalf("refused: %s", resp.Result.Message)
				}
			} else if resp.Allowed || !strings.Contains(resp.Result.Message, tc.wantRefused) || !strings.Contains(resp.Result.Message, "create a ServiceUser instead") {
				t.Fatalf("allowed %v, message %q: want it refused saying %q", resp.Allowed, resp.Result.Message, tc.wantRefused)
			}
			v2 := srv.Calls()["GET /v2/enterprise/members/{user_id}"]
			if !tc.adminKey && v2 != 0 {
				t.Fatalf("%d requests to the v2 API without an enterprise admin key", v2)
			}
			if tc.adminKey && v2 == 0 {
				t.Fatal("the SAML identity was not read with the admin key configured")
			}
		})
	}
}

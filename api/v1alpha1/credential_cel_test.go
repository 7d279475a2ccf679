package v1alpha1_test

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func patObject(t *testing.T, spec string) map[string]any {
	t.Helper()
	obj := map[string]any{}
	doc := "apiVersion: iam.devin.ai/v1alpha1\nkind: PersonalAccessToken\nmetadata:\n  name: ci\n  namespace: team-a\nspec:\n" + indent("user: {email: alice@example.com}\n"+spec)
	if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
	return obj
}

// Specs that would make the operator mint again and again are refused by the CRD itself:
// an extra Secret entry on the token's own key (each metadata sync overwrites the token), a
// renewal due moments after each issue.
func TestCredentialCRDRefusesSpecsThatMintAgainAndAgain(t *testing.T) {
	crd := loadCRD(t, "iam.devin.ai_personalaccesstokens.yaml")
	refused := map[string]struct{ spec, want string }{
		"tokenID on the default key": {"secretTemplate: {extraKeys: {tokenID: token}}", "may not name the token's own key"},
		"apiURL on the default key":  {"secretTemplate: {extraKeys: {apiURL: token}}", "may not name the token's own key"},
		"tokenID on a named key":     {"secretTemplate: {key: creds, extraKeys: {tokenID: creds}}", "may not name the token's own key"},
		"renewal every second":       {"expiresAfter: 2h\nrenewBefore: 1h59m59s", "at least 30m between renewals"},
		"renewal every 29 minutes":   {"expiresAfter: 1h\nrenewBefore: 31m", "at least 30m between renewals"},
		"renewal past the default":   {"renewBefore: 2159h45m", "at least 30m between renewals"},
		"the cache's annotation":     {"secretTemplate: {annotations: {cache.iam.devin.ai/fingerprints: x}}", "cache.iam.devin.ai/"},
		"the cache's label prefix":   {"secretTemplate: {labels: {cache.iam.devin.ai/x: y}}", "cache.iam.devin.ai/"},
	}
	for name, tc := range refused {
		t.Run(name, func(t *testing.T) {
			errs := crd.validate(patObject(t, tc.spec))
			if got := errs.ToAggregate(); got == nil || !strings.Contains(got.Error(), tc.want) {
				t.Fatalf("errors %v, want one about %q", got, tc.want)
			}
		})
	}
	for name, spec := range map[string]string{
		"tokenID beside the default key":  "secretTemplate: {extraKeys: {tokenID: token-id}}",
		"token under tokenID's usual key": "secretTemplate: {key: id, extraKeys: {tokenID: token}}",
		"renewal every 30 minutes":        "expiresAfter: 1h\nrenewBefore: 30m\nrotationGracePeriod: 10m",
	} {
		t.Run(name, func(t *testing.T) {
			if errs := crd.validate(patObject(t, spec)); len(errs) > 0 {
				t.Fatalf("refused: %v", errs.ToAggregate())
			}
		})
	}
}

func suObject(t *testing.T, apiKey string) map[string]any {
	t.Helper()
	obj := map[string]any{}
	doc := "apiVersion: iam.devin.ai/v1alpha1\nkind: ServiceUser\nmetadata:\n  name: ci\n  namespace: team-a\nspec:\n" + indent("role: Member\napiKey:\n"+indent(apiKey))
	if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
	return obj
}

// unusedAfter is a ServiceUser's (its keys report their last use), within 1h and a year;
// the CRD refuses it on a PersonalAccessToken, whose use the Devin API does not report.
func TestUnusedAfterOnServiceUsersOnly(t *testing.T) {
	su := loadCRD(t, "iam.devin.ai_serviceusers.yaml")
	if errs := su.validate(suObject(t, "unusedAfter: 720h\n")); len(errs) > 0 {
		t.Fatalf("a ServiceUser's unusedAfter refused: %v", errs.ToAggregate())
	}
	for _, d := range []string{"59m", "8761h"} {
		if errs := su.validate(suObject(t, "unusedAfter: "+d+"\n")); errs.ToAggregate() == nil || !strings.Contains(errs.ToAggregate().Error(), "between 1h and 8760h") {
			t.Errorf("unusedAfter %s: errors %v, want one about the bounds", d, errs.ToAggregate())
		}
	}
	pat := loadCRD(t, "iam.devin.ai_personalaccesstokens.yaml")
	errs := pat.validate(patObject(t, "unusedAfter: 720h\n"))
	if got := errs.ToAggregate(); got == nil || !strings.Contains(got.Error(), "ServiceUsers only") {
		t.Fatalf("a PersonalAccessToken's unusedAfter: errors %v, want a refusal", got)
	}
}

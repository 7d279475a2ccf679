package v1alpha1_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	crdvalidation "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// crdValidator validates objects the way the API server does for a CRD: defaulting, the
// OpenAPI schema (patterns, enums, sizes) and the CEL rules (x-kubernetes-validations), from
// the generated CRD itself. It checks the CRD too, including the CEL cost limits, which
// would otherwise only show when the API server refuses to install it.
type crdValidator struct {
	structural *structuralschema.Structural
	schema     apiservervalidation.SchemaCreateValidator
	cel        *cel.Validator
}

func loadCRD(t *testing.T, file string) *crdValidator {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "config", "crd", "bases", file))
	if err != nil {
		t.Fatalf("read the generated CRD (run `make manifests`): %v", err)
	}
	var v1 apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(raw, &v1); err != nil {
		t.Fatal(err)
	}
	apiextensionsv1.SetObjectDefaults_CustomResourceDefinition(&v1)
	var crd apiextensions.CustomResourceDefinition
	if err := apiextensionsv1.Convert_v1_CustomResourceDefinition_To_apiextensions_CustomResourceDefinition(&v1, &crd, nil); err != nil {
		t.Fatal(err)
	}
	if errs := crdvalidation.ValidateCustomResourceDefinition(context.Background(), &crd); len(errs) > 0 {
		t.Fatalf("the API server would refuse CRD %s: %v", crd.Name, errs.ToAggregate())
	}
	props := crd.Spec.Validation
	if props == nil {
		props = crd.Spec.Versions[0].Schema
	}
	structural, err := structuralschema.NewStructural(props.OpenAPIV3Schema)
	if err != nil {
		t.Fatal(err)
	}
	validator, _, err := apiservervalidation.NewSchemaValidator(props.OpenAPIV3Schema)
	if err != nil {
		t.Fatal(err)
	}
	return &crdValidator{structural: structural, schema: validator, cel: cel.NewValidator(structural, true, celconfig.PerCallLimit)}
}

// validate defaults obj in place and returns the errors the API server would answer a create
// with.
func (v *crdValidator) validate(obj map[string]any) field.ErrorList {
	structuraldefaulting.Default(obj, v.structural)
	errs := apiservervalidation.ValidateCustomResource(nil, obj, v.schema)
	celErrs, _ := v.cel.Validate(context.Background(), nil, v.structural, obj, nil, celconfig.RuntimeCELCostBudget)
	return append(errs, celErrs...)
}

func policyObject(t *testing.T, spec string) map[string]any {
	t.Helper()
	obj := map[string]any{}
	doc := "apiVersion: iam.devin.ai/v1alpha1\nkind: CredentialPolicy\nmetadata:\n  name: p\nspec:\n" + indent(spec)
	if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
	return obj
}

func indent(s string) string {
	lines := strings.Split(strings.Trim(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return strings.Join(lines, "\n") + "\n"
}

const twoTeams = `
namespaceSelector:
  matchExpressions:
  - {key: tenant, operator: In, values: [team-a, team-b]}
  - {key: quarantine, operator: DoesNotExist}
  matchLabels: {devin.ai/credentials: allowed}
namespaces: [team-a, team-b]
serviceUsers:
  scopes: [Organization]
  organizations: [org-team-a, org-team-b]
  roles: [Member, role-0123]
  maxTTL: 2160h
personalAccessTokens:
  delegation:
    users: [alice@example.com]
    domains: [example.com, "*.eu.example.com"]
tokens:
  maxExpiresAfter: 720h
  maxRotationGracePeriod: 30m
  allowOrphan: true
  onUpstreamRevocation: Reissue
`

func TestCredentialPolicyCRDAcceptsValidPolicies(t *testing.T) {
	crd := loadCRD(t, "iam.devin.ai_credentialpolicies.yaml")
	for name, spec := range map[string]string{
		"two teams and a delegate":  twoTeams,
		"every namespace, own PATs": "namespaceSelector: {}\npersonalAccessTokens: {}",
		"permissive":                "namespaceSelector: {}\nserviceUsers: {scopes: [Organization, Enterprise], organizations: ['*'], roles: ['*']}\npersonalAccessTokens: {delegation: {domains: ['*']}}\ntokens: {allowOrphan: true}",
		"delegation only":           "namespaceSelector: {}\npersonalAccessTokens: {allowOwner: false, delegation: {users: [bob@example.com]}}",
		"grace period zero":         "namespaceSelector: {}\npersonalAccessTokens: {}\ntokens: {maxRotationGracePeriod: 0s}",
	} {
		t.Run(name, func(t *testing.T) {
			if errs := crd.validate(policyObject(t, spec)); len(errs) > 0 {
				t.Errorf("refused: %v", errs.ToAggregate())
			}
		})
	}
}

func TestCredentialPolicyCRDDefaults(t *testing.T) {
	crd := loadCRD(t, "iam.devin.ai_credentialpolicies.yaml")
	obj := policyObject(t, "namespaceSelector: {}\nserviceUsers: {roles: [Member]}\npersonalAccessTokens: {}")
	if errs := crd.validate(obj); len(errs) > 0 {
		t.Fatal(errs.ToAggregate())
	}
	raw, err := yaml.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	var p iamv1alpha1.CredentialPolicy
	if err := yaml.UnmarshalStrict(raw, &p); err != nil {
		t.Fatal(err)
	}
	su, pat, tokens := p.Spec.ServiceUsers, p.Spec.PersonalAccessTokens, p.Spec.Tokens
	if len(su.Scopes) != 1 || su.Scopes[0] != iamv1alpha1.ScopeOrganization {
		t.Errorf("scopes default to %v, want [Organization]", su.Scopes)
	}
	if pat.AllowOwner == nil || !*pat.AllowOwner {
		t.Errorf("allowOwner defaults to %v, want true", pat.AllowOwner)
	}
	if tokens.OnUpstreamRevocation != iamv1alpha1.UpstreamRevocationStop || tokens.AllowOrphan {
		t.Errorf("tokens default to %+v, want Stop and no Orphan", tokens)
	}
}

func TestCredentialPolicyCRDRefusesMalformedPolicies(t *testing.T) {
	crd := loadCRD(t, "iam.devin.ai_credentialpolicies.yaml")
	const sel = "namespaceSelector: {}\n"
	cases := map[string]struct{ spec, want string }{
		"no selector":              {"personalAccessTokens: {}", "namespaceSelector: Required"},
		"allows nothing":           {sel, "must allow serviceUsers, personalAccessTokens or both"},
		"unknown operator":         {"namespaceSelector: {matchExpressions: [{key: a, operator: Equals, values: [b]}]}\npersonalAccessTokens: {}", `supported values: "In", "NotIn"`},
		"In without values":        {"namespaceSelector: {matchExpressions: [{key: a, operator: In}]}\npersonalAccessTokens: {}", "values must be non-empty for In"},
		"Exists with values":       {"namespaceSelector: {matchExpressions: [{key: a, operator: Exists, values: [b]}]}\npersonalAccessTokens: {}", "empty for Exists"},
		"bad expression key":       {"namespaceSelector: {matchExpressions: [{key: 'a b', operator: Exists}]}\npersonalAccessTokens: {}", "key must be a valid label key"},
		"bad expression value":     {"namespaceSelector: {matchExpressions: [{key: a, operator: In, values: ['-x']}]}\npersonalAccessTokens: {}", "values must be valid label values"},
		"bad matchLabels value":    {"namespaceSelector: {matchLabels: {a: 'b c'}}\npersonalAccessTokens: {}", "matchLabels values must be valid label values"},
		"bad matchLabels":          {"namespaceSelector: {matchLabels: {'a b': c}}\npersonalAccessTokens: {}", "matchLabels keys must be valid label keys"},
		"bad namespace":            {sel + "namespaces: [Team_A]\npersonalAccessTokens: {}", "namespaces must be DNS-1123 labels"},
		"empty namespaces":         {sel + "namespaces: []\npersonalAccessTokens: {}", "spec.namespaces"},
		"no roles":                 {sel + "serviceUsers: {}", "spec.serviceUsers.roles: Required"},
		"empty roles":              {sel + "serviceUsers: {roles: []}", "spec.serviceUsers.roles"},
		"blank role":               {sel + "serviceUsers: {roles: [' Admin']}", "spec.serviceUsers.roles[0]"},
		"empty role":               {sel + "serviceUsers: {roles: ['']}", "spec.serviceUsers.roles[0]"},
		"any role and more":        {sel + "serviceUsers: {roles: ['*', Member]}", "'*' (any role) must be the only entry"},
		"unknown scope":            {sel + "serviceUsers: {roles: [Member], scopes: [Global]}", "spec.serviceUsers.scopes[0]"},
		"no scopes":                {sel + "serviceUsers: {roles: [Member], scopes: []}", "spec.serviceUsers.scopes"},
		"bad organization":         {sel + "serviceUsers: {roles: [Member], organizations: [acme]}", "spec.serviceUsers.organizations[0]"},
		"any organization and one": {sel + "serviceUsers: {roles: [Member], organizations: ['*', org-a]}", "'*' (any organization) must be the only entry"},
		"maxTTL too long":          {sel + "serviceUsers: {roles: [Member], maxTTL: 9000h}", "maxTTL must be between 1h and 8760h"},
		"maxTTL too short":         {sel + "serviceUsers: {roles: [Member], maxTTL: 30m}", "maxTTL must be between 1h and 8760h"},
		"maxTTL in days":           {sel + "serviceUsers: {roles: [Member], maxTTL: 1d}", "spec.serviceUsers.maxTTL"},
		"owner refused, no one":    {sel + "personalAccessTokens: {allowOwner: false}", "needs a delegation"},
		"empty delegation":         {sel + "personalAccessTokens: {delegation: {}}", "delegation must list users, domains or both"},
		"delegate not an email":    {sel + "personalAccessTokens: {delegation: {users: [alice]}}", "spec.personalAccessTokens.delegation.users[0]"},
		"delegate non-ASCII":       {sel + "personalAccessTokens: {delegation: {users: [ålice@example.com]}}", "spec.personalAccessTokens.delegation.users[0]"},
		"upper-case domain":        {sel + "personalAccessTokens: {delegation: {domains: [Example.com]}}", "spec.personalAccessTokens.delegation.domains[0]"},
		"single-label domain":      {sel + "personalAccessTokens: {delegation: {domains: [example]}}", "spec.personalAccessTokens.delegation.domains[0]"},
		"domain with @":            {sel + "personalAccessTokens: {delegation: {domains: ['@example.com']}}", "spec.personalAccessTokens.delegation.domains[0]"},
		"double wildcard":          {sel + "personalAccessTokens: {delegation: {domains: ['*.*.example.com']}}", "spec.personalAccessTokens.delegation.domains[0]"},
		"anyone and a domain":      {sel + "personalAccessTokens: {delegation: {domains: ['*', example.com]}}", "'*' (anyone) must be the only entry"},
		"expiresAfter too long":    {sel + "personalAccessTokens: {}\ntokens: {maxExpiresAfter: 10000h}", "maxExpiresAfter must be between 1h and 8760h"},
		"grace too long":           {sel + "personalAccessTokens: {}\ntokens: {maxRotationGracePeriod: 200h}", "maxRotationGracePeriod must be at most 168h"},
		"negative grace":           {sel + "personalAccessTokens: {}\ntokens: {maxRotationGracePeriod: -1h}", "spec.tokens.maxRotationGracePeriod"},
		"renewals too often":       {sel + "personalAccessTokens: {}\ntokens: {minRenewalInterval: 10m}", "minRenewalInterval must be between 30m and 8760h"},
		"unknown revocation":       {sel + "personalAccessTokens: {}\ntokens: {onUpstreamRevocation: Retry}", "spec.tokens.onUpstreamRevocation"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			errs := crd.validate(policyObject(t, tc.spec))
			if len(errs) == 0 {
				t.Fatalf("accepted, want an error about %q", tc.want)
			}
			if got := errs.ToAggregate().Error(); !strings.Contains(got, tc.want) {
				t.Errorf("error %q does not mention %q", got, tc.want)
			}
		})
	}
}

// TestGeneratedCRDsAreAccepted: the API server would install every generated CRD (structural
// schema, CEL rules that compile and stay within the cost limits).
func TestGeneratedCRDsAreAccepted(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "config", "crd", "bases", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no generated CRDs (run `make manifests`): %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) { loadCRD(t, filepath.Base(f)) })
	}
}

func TestCredentialPolicySampleIsAccepted(t *testing.T) {
	crd := loadCRD(t, "iam.devin.ai_credentialpolicies.yaml")
	raw, err := os.ReadFile(filepath.Join("..", "..", "config", "samples", "iam_v1alpha1_credentialpolicy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	obj := map[string]any{}
	if err := yaml.Unmarshal(raw, &obj); err != nil {
		t.Fatal(err)
	}
	if errs := crd.validate(obj); len(errs) > 0 {
		t.Errorf("the sample is refused: %v", errs.ToAggregate())
	}
}

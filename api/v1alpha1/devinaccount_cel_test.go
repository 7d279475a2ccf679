package v1alpha1_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

const (
	devinAccountCRD        = "iam.devin.ai_devinaccounts.yaml"
	clusterDevinAccountCRD = "iam.devin.ai_clusterdevinaccounts.yaml"
)

// accountObject is a DevinAccount (in namespace team-a) or a ClusterDevinAccount with the
// given spec.
func accountObject(t *testing.T, kind, spec string) map[string]any {
	t.Helper()
	meta := "metadata:\n  name: acct\n"
	if kind == "DevinAccount" {
		meta += "  namespace: team-a\n"
	}
	obj := map[string]any{}
	doc := "apiVersion: iam.devin.ai/v1alpha1\nkind: " + kind + "\n" + meta + "spec:\n" + indent(spec)
	if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
	return obj
}

const accountSecret = "credentialSecretRef: {name: devin-admin}\n"

// accountKinds are the kinds of both account CRDs, by their generated CRD file.
var accountKinds = map[string]string{"DevinAccount": devinAccountCRD, "ClusterDevinAccount": clusterDevinAccountCRD}

func TestAccountCRDsAcceptValidSpecs(t *testing.T) {
	for kind, file := range accountKinds {
		crd := loadCRD(t, file)
		for name, spec := range map[string]string{
			"secret only":              accountSecret,
			"public API":               accountSecret + "apiURL: https://api.devin.ai",
			"dedicated deployment":     accountSecret + "apiURL: https://devin.example.com/api/",
			"loopback IPv4 with port":  accountSecret + "apiURL: http://127.0.0.1:8080",
			"localhost":                accountSecret + "apiURL: http://localhost",
			"loopback IPv6 with path":  accountSecret + "apiURL: 'http://[::1]:9/v3'",
			"secret key":               "credentialSecretRef: {name: devin-admin, key: api-key.v2}",
			"default organization":     accountSecret + "defaultOrganization: org-team_a-1",
			"rate limit bounds":        accountSecret + "rateLimit: {requestsPerSecond: 1, burst: 1000}",
			"rate limit without burst": accountSecret + "rateLimit: {requestsPerSecond: 1000}",
		} {
			t.Run(kind+"/"+name, func(t *testing.T) {
				if errs := crd.validate(accountObject(t, kind, spec)); len(errs) > 0 {
					t.Errorf("refused: %v", errs.ToAggregate())
				}
			})
		}
	}
}

func TestAccountCRDsRefuseMalformedSpecs(t *testing.T) {
	const https = "apiURL must be https (http only to a loopback address)"
	cases := map[string]struct{ spec, want string }{
		"no secret":                   {"apiURL: https://api.devin.ai", "spec.credentialSecretRef: Required"},
		"no secret name":              {"credentialSecretRef: {key: token}", "spec.credentialSecretRef.name: Required"},
		"bad secret name":             {"credentialSecretRef: {name: Devin_Admin}", "name must be a DNS-1123 subdomain"},
		"bad secret key":              {"credentialSecretRef: {name: devin-admin, key: 'a/b'}", "spec.credentialSecretRef.key"},
		"plain http":                  {accountSecret + "apiURL: http://example.com", https},
		"http to a loopback name":     {accountSecret + "apiURL: http://127.0.0.1.example.com", https},
		"ftp":                         {accountSecret + "apiURL: ftp://x", https},
		"https without a host":        {accountSecret + "apiURL: 'https://'", "apiURL must be a URL"},
		"https with junk":             {accountSecret + "apiURL: 'https://%zz'", "apiURL must be a URL"},
		"rate zero":                   {accountSecret + "rateLimit: {requestsPerSecond: 0}", "spec.rateLimit.requestsPerSecond"},
		"rate too high":               {accountSecret + "rateLimit: {requestsPerSecond: 1001}", "spec.rateLimit.requestsPerSecond"},
		"burst too high":              {accountSecret + "rateLimit: {requestsPerSecond: 10, burst: 1001}", "spec.rateLimit.burst"},
		"negative burst":              {accountSecret + "rateLimit: {requestsPerSecond: 10, burst: -1}", "spec.rateLimit.burst"},
		"rate limit without rate":     {accountSecret + "rateLimit: {burst: 10}", "spec.rateLimit.requestsPerSecond: Required"},
		"organization without prefix": {accountSecret + "defaultOrganization: acme", "spec.defaultOrganization"},
		"organization with a space":   {accountSecret + "defaultOrganization: 'org-a b'", "spec.defaultOrganization"},
	}
	for kind, file := range accountKinds {
		crd := loadCRD(t, file)
		for name, tc := range cases {
			t.Run(kind+"/"+name, func(t *testing.T) {
				errs := crd.validate(accountObject(t, kind, tc.spec))
				if got := errs.ToAggregate(); got == nil || !strings.Contains(got.Error(), tc.want) {
					t.Fatalf("errors %v, want one about %q", got, tc.want)
				}
			})
		}
	}
}

// TestSecretNamespaceOnClusterAccountsOnly: a DevinAccount reads its Secret from its own
// namespace; a ClusterDevinAccount may name the Secret's namespace.
func TestSecretNamespaceOnClusterAccountsOnly(t *testing.T) {
	const spec = "credentialSecretRef: {namespace: token-operator-system, name: devin-admin}"
	errs := loadCRD(t, devinAccountCRD).validate(accountObject(t, "DevinAccount", spec))
	const want = "a DevinAccount reads its Secret from its own namespace"
	if got := errs.ToAggregate(); got == nil || !strings.Contains(got.Error(), want) {
		t.Errorf("DevinAccount with credentialSecretRef.namespace: errors %v, want one about %q", got, want)
	}
	cluster := loadCRD(t, clusterDevinAccountCRD)
	if errs := cluster.validate(accountObject(t, "ClusterDevinAccount", spec)); len(errs) > 0 {
		t.Errorf("ClusterDevinAccount with credentialSecretRef.namespace refused: %v", errs.ToAggregate())
	}
	bad := "credentialSecretRef: {namespace: Team_A, name: devin-admin}"
	const wantLabel = "namespace must be a DNS-1123 label"
	if got := cluster.validate(accountObject(t, "ClusterDevinAccount", bad)).ToAggregate(); got == nil || !strings.Contains(got.Error(), wantLabel) {
		t.Errorf("ClusterDevinAccount with namespace Team_A: errors %v, want one about %q", got, wantLabel)
	}
}

func TestAccountSamplesAreAccepted(t *testing.T) {
	for sample, file := range map[string]string{
		"iam_v1alpha1_devinaccount.yaml":        devinAccountCRD,
		"iam_v1alpha1_clusterdevinaccount.yaml": clusterDevinAccountCRD,
	} {
		raw, err := os.ReadFile(filepath.Join("..", "..", "config", "samples", sample))
		if err != nil {
			t.Fatal(err)
		}
		obj := map[string]any{}
		if err := yaml.Unmarshal(raw, &obj); err != nil {
			t.Fatal(err)
		}
		if errs := loadCRD(t, file).validate(obj); len(errs) > 0 {
			t.Errorf("%s is refused: %v", sample, errs.ToAggregate())
		}
	}
}

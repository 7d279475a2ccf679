package packaging_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/policy"
	"github.com/cogtokens/token-operator/internal/testing/devenv"
)

// The labels that aggregate a ClusterRole into the built-in admin, edit and view roles.
const (
	aggregateToAdmin = "rbac.authorization.k8s.io/aggregate-to-admin"
	aggregateToEdit  = "rbac.authorization.k8s.io/aggregate-to-edit"
	aggregateToView  = "rbac.authorization.k8s.io/aggregate-to-view"
)

// roleKinds are the kinds that have editor and viewer ClusterRoles, with their plurals.
var roleKinds = map[string]string{
	"serviceuser":         "serviceusers",
	"personalaccesstoken": "personalaccesstokens",
	"credentialpolicy":    "credentialpolicies",
	"devinaccount":        "devinaccounts",
	"clusterdevinaccount": "clusterdevinaccounts",
}

// clusterWideRoleKinds are the kinds whose roles are never aggregated into a built-in role:
// cluster-wide configuration of cluster admins.
var clusterWideRoleKinds = []string{"credentialpolicy", "clusterdevinaccount"}

// TestNamespaceEditorsGetNoCredentials: in the bundle and in every chart variant with the
// default values, no ClusterRole is aggregated into the built-in admin or edit roles (a
// credential broker must not let every namespace editor mint credentials), the viewer roles
// of ServiceUser, PersonalAccessToken and DevinAccount are aggregated into view, and every
// kind, the cluster-wide ones too, has its editor and viewer roles, those of CredentialPolicy
// and ClusterDevinAccount never aggregated.
func TestNamespaceEditorsGetNoCredentials(t *testing.T) {
	for _, r := range renderings(t) {
		t.Run(r.name, func(t *testing.T) {
			for _, role := range find(r.objs, "ClusterRole", "") {
				for _, l := range []string{aggregateToAdmin, aggregateToEdit} {
					if v, ok := role.GetLabels()[l]; ok {
						t.Errorf("ClusterRole %s has %s=%q: namespace editors would get it", role.GetName(), l, v)
					}
				}
			}
			for kind, plural := range roleKinds {
				checkKindRoles(t, r.objs, kind, plural, !slices.Contains(clusterWideRoleKinds, kind))
			}
		})
	}
}

// TestChartAggregationValues: rbac.aggregateToDefaultRoles=true aggregates the editor roles
// of ServiceUser, PersonalAccessToken and DevinAccount (never those of CredentialPolicy and
// ClusterDevinAccount) into admin and edit;
// rbac.aggregateViewerToDefaultRoles=false aggregates nothing into view.
func TestChartAggregationValues(t *testing.T) {
	out, err := renderChart(t, "rbac.aggregateToDefaultRoles=true")
	if err != nil {
		t.Fatal(err)
	}
	objs := decode(t, out)
	for kind := range roleKinds {
		labels := one(t, objs, "ClusterRole", "-"+kind+"-editor-role").GetLabels()
		want := "true"
		if slices.Contains(clusterWideRoleKinds, kind) {
			want = ""
		}
		if labels[aggregateToAdmin] != want || labels[aggregateToEdit] != want {
			t.Errorf("%s editor role with rbac.aggregateToDefaultRoles=true: labels %v, want admin and edit %q", kind, labels, want)
		}
	}

	out, err = renderChart(t, "rbac.aggregateViewerToDefaultRoles=false")
	if err != nil {
		t.Fatal(err)
	}
	for _, role := range find(decode(t, out), "ClusterRole", "") {
		for _, l := range []string{aggregateToAdmin, aggregateToEdit, aggregateToView} {
			if _, ok := role.GetLabels()[l]; ok {
				t.Errorf("ClusterRole %s has %s with rbac.aggregateViewerToDefaultRoles=false", role.GetName(), l)
			}
		}
	}
}

// checkKindRoles: the editor role of a kind may write it and read its status, the viewer role
// only read both; the viewer role is aggregated into view when viewAggregated.
func checkKindRoles(t *testing.T, objs []*unstructured.Unstructured, kind, plural string, viewAggregated bool) {
	t.Helper()
	rules := func(verbs ...string) []any {
		return []any{
			map[string]any{"apiGroups": []any{"iam.devin.ai"}, "resources": []any{plural}, "verbs": strs(verbs...)},
			map[string]any{"apiGroups": []any{"iam.devin.ai"}, "resources": []any{plural + "/status"}, "verbs": []any{"get"}},
		}
	}
	editor := one(t, objs, "ClusterRole", "-"+kind+"-editor-role")
	if got, want := editor.Object["rules"], rules("create", "delete", "get", "list", "patch", "update", "watch"); !reflect.DeepEqual(got, want) {
		t.Errorf("%s rules:\ngot  %v\nwant %v", editor.GetName(), got, want)
	}
	viewer := one(t, objs, "ClusterRole", "-"+kind+"-viewer-role")
	if got, want := viewer.Object["rules"], rules("get", "list", "watch"); !reflect.DeepEqual(got, want) {
		t.Errorf("%s rules:\ngot  %v\nwant %v", viewer.GetName(), got, want)
	}
	if got := viewer.GetLabels()[aggregateToView] == "true"; got != viewAggregated {
		t.Errorf("%s aggregated into view: %v, want %v", viewer.GetName(), got, viewAggregated)
	}
	if _, ok := editor.GetLabels()[aggregateToView]; ok {
		t.Errorf("%s is aggregated into view", editor.GetName())
	}
}

// policyGrant is what a ClusterRoleBinding grants on CredentialPolicies by name.
type policyGrant struct {
	Binding       string
	Verbs         []string
	ResourceNames []string
	Groups        []string
}

// policyGrants lists the ClusterRoleBindings of objs whose ClusterRole (in objs) grants verbs
// on named CredentialPolicies, with their subjects, all of which must be groups.
func policyGrants(t *testing.T, objs []*unstructured.Unstructured) []policyGrant {
	t.Helper()
	var out []policyGrant
	for _, b := range find(objs, "ClusterRoleBinding", "") {
		roleName := nested[string](t, b.Object, "roleRef", "name")
		roles := slices.DeleteFunc(find(objs, "ClusterRole", roleName), func(o *unstructured.Unstructured) bool { return o.GetName() != roleName })
		if len(roles) != 1 {
			continue
		}
		g := policyGrant{Binding: b.GetName()}
		for _, r := range nested[[]any](t, roles[0].Object, "rules") {
			r := r.(map[string]any)
			if names, _ := r["resourceNames"].([]any); len(names) > 0 && reflect.DeepEqual(r["resources"], []any{"credentialpolicies"}) {
				g.Verbs = append(g.Verbs, stringList(t, r, "verbs")...)
				g.ResourceNames = append(g.ResourceNames, stringList(t, r, "resourceNames")...)
			}
		}
		if g.Verbs == nil {
			continue
		}
		for _, s := range nested[[]any](t, b.Object, "subjects") {
			s := s.(map[string]any)
			if s["kind"] != "Group" || s["apiGroup"] != "rbac.authorization.k8s.io" {
				t.Errorf("%s: subject %v is not a group", b.GetName(), s)
			}
			g.Groups = append(g.Groups, s["name"].(string))
		}
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b policyGrant) int { return strings.Compare(a.Binding, b.Binding) })
	return out
}

// checkPermissivePolicy: objs hold exactly one CredentialPolicy, named name, selecting every
// namespace with the permissive spec (decoded strictly: no field the API does not have).
func checkPermissivePolicy(t *testing.T, objs []*unstructured.Unstructured, name string) {
	t.Helper()
	policies := find(objs, "CredentialPolicy", "")
	if len(policies) != 1 || policies[0].GetName() != name {
		t.Fatalf("want one CredentialPolicy %s, found %d", name, len(policies))
	}
	data, err := yaml.Marshal(policies[0].Object)
	if err != nil {
		t.Fatal(err)
	}
	var p iamv1alpha1.CredentialPolicy
	if err := yaml.UnmarshalStrict(data, &p); err != nil {
		t.Fatalf("CredentialPolicy %s: %v", name, err)
	}
	if p.APIVersion != iamv1alpha1.GroupVersion.String() || p.Namespace != "" {
		t.Errorf("CredentialPolicy %s: apiVersion %q, namespace %q", name, p.APIVersion, p.Namespace)
	}
	if sel, ok := nestedOK[map[string]any](policies[0].Object, "spec", "namespaceSelector"); !ok || len(sel) != 0 {
		t.Errorf("namespaceSelector %v, want {} (every namespace)", sel)
	}
	if want := devenv.PermissiveSpec(); !reflect.DeepEqual(p.Spec, want) {
		got, _ := yaml.Marshal(p.Spec)
		wanted, _ := yaml.Marshal(want)
		t.Errorf("CredentialPolicy %s spec:\n%s\nwant\n%s", name, got, wanted)
	}
}

// TestChartPermissivePolicy: off by default; with tenancy.permissivePolicy.enabled the chart
// renders the permissive CredentialPolicy and grants `use` on it, by name, to every
// authenticated user, and `use` and `delegate` only to tenancy.permissivePolicy.delegateGroups
// when there are any. config/tenancy/permissive-policy renders the same policy and grant.
func TestChartPermissivePolicy(t *testing.T) {
	objs := decode(t, helmTemplate(t, chartVariants[0]))
	if n := len(find(objs, "CredentialPolicy", "")); n != 0 {
		t.Errorf("%d CredentialPolicies by default", n)
	}
	if g := policyGrants(t, objs); len(g) != 0 {
		t.Errorf("grants on CredentialPolicies by default: %+v", g)
	}

	out, err := renderChart(t, "tenancy.permissivePolicy.enabled=true")
	if err != nil {
		t.Fatal(err)
	}
	objs = decode(t, out)
	checkPermissivePolicy(t, objs, "permissive")
	use := policyGrant{Binding: helmRelease + "-use-credentialpolicy-permissive", Verbs: []string{"use"},
		ResourceNames: []string{"permissive"}, Groups: []string{"system:authenticated"}}
	if got := policyGrants(t, objs); !reflect.DeepEqual(got, []policyGrant{use}) {
		t.Errorf("grants without delegateGroups:\ngot  %+v\nwant %+v", got, []policyGrant{use})
	}

	out, err = renderChart(t, "tenancy.permissivePolicy.enabled=true", "tenancy.permissivePolicy.name=single",
		"tenancy.permissivePolicy.delegateGroups={system:serviceaccounts:argocd,gitops}")
	if err != nil {
		t.Fatal(err)
	}
	objs = decode(t, out)
	checkPermissivePolicy(t, objs, "single")
	want := []policyGrant{
		{Binding: helmRelease + "-delegate-credentialpolicy-single", Verbs: []string{"use", "delegate"},
			ResourceNames: []string{"single"}, Groups: []string{"system:serviceaccounts:argocd", "gitops"}},
		{Binding: helmRelease + "-use-credentialpolicy-single", Verbs: []string{"use"},
			ResourceNames: []string{"single"}, Groups: []string{"system:authenticated"}},
	}
	if got := policyGrants(t, objs); !reflect.DeepEqual(got, want) {
		t.Errorf("grants with delegateGroups:\ngot  %+v\nwant %+v", got, want)
	}

	kustomized := decode(t, kustomizeBuild(t, "tenancy/permissive-policy"))
	checkPermissivePolicy(t, kustomized, "permissive")
	if got := policyGrants(t, kustomized); !reflect.DeepEqual(got, []policyGrant{use}) {
		t.Errorf("config/tenancy/permissive-policy grants:\ngot  %+v\nwant %+v", got, []policyGrant{use})
	}
}

// TestPermissivePolicyIsOptIn: the install bundle has no CredentialPolicy and grants `use`
// on none: config/tenancy/permissive-policy is applied on purpose or not at all.
func TestPermissivePolicyIsOptIn(t *testing.T) {
	objs := decode(t, installBundle(t))
	if n := len(find(objs, "CredentialPolicy", "")); n != 0 {
		t.Errorf("config/default has %d CredentialPolicies", n)
	}
	if g := policyGrants(t, objs); len(g) != 0 {
		t.Errorf("config/default grants on CredentialPolicies: %+v", g)
	}
}

// TestChartTenancyFlags: the tenancy values reach the manager as flags that it parses into
// the options it would run with, byte for byte: email rules full of $, braces, quotes,
// backslashes and regexp metacharacters survive the chart's quoting, and still map names to
// emails. Optional flags are left out when their value is empty; a policy mode other than
// enforce, warn or off is refused at render time.
func TestChartTenancyFlags(t *testing.T) {
	opts := checkFlags(t, managerArgs(t, decode(t, helmTemplate(t, chartVariants[0]))))
	defaults := checkFlags(t, nil)
	if opts.PolicyMode != "enforce" || opts.AdmissionKeySecretName != defaults.AdmissionKeySecretName ||
		opts.RequesterEmailClaim != "" || opts.RequesterStripPrefixes != nil || opts.RequesterEmailRules != nil {
		t.Errorf("default tenancy options: mode %q, key %q, claim %q, prefixes %q, rules %q", opts.PolicyMode,
			opts.AdmissionKeySecretName, opts.RequesterEmailClaim, opts.RequesterStripPrefixes, opts.RequesterEmailRules)
	}
	for _, a := range managerArgs(t, decode(t, helmTemplate(t, chartVariants[0]))) {
		if strings.HasPrefix(a, "--requester-") || strings.HasPrefix(a, "--admission-key-secret-name") {
			t.Errorf("default values render %s", a)
		}
	}

	rules := []string{
		`^arn:aws:sts::[0-9]+:assumed-role/AWSReservedSSO_[^/]+/([^/@]+)$=>${1}@example.com`,
		`^system:serviceaccount:([^:]+):(.+)$=>${2}.${1}@sa.example.com`,
		`^(\w+)\\d*\s"q" '#x' #y: {{ .Values }}, %s [a-z]{2,}$=>$1@odd.example.com`,
	}
	out, err := renderChartValues(t, map[string]any{"tenancy": map[string]any{
		"policyMode":             "warn",
		"admissionKeySecretName": "my-admission-key",
		"requesterEmail": map[string]any{
			"claim":         "example.com/email: primary",
			"stripPrefixes": []string{"oidc:", "aws: "},
			"rules":         rules,
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	args := managerArgs(t, decode(t, out))
	opts = checkFlags(t, args)
	if opts.PolicyMode != "warn" || opts.AdmissionKeySecretName != "my-admission-key" || opts.RequesterEmailClaim != "example.com/email: primary" ||
		!slices.Equal(opts.RequesterStripPrefixes, []string{"oidc:", "aws:"}) || !slices.Equal(opts.RequesterEmailRules, rules) {
		t.Errorf("tenancy options from %q:\nmode %q, key %q, claim %q, prefixes %q, rules %q", args, opts.PolicyMode,
			opts.AdmissionKeySecretName, opts.RequesterEmailClaim, opts.RequesterStripPrefixes, opts.RequesterEmailRules)
	}
	checkEmailMapping(t, opts.RequesterEmailRules, map[string]string{
		"arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Dev_0a1b/Alice": "alice@example.com",
		"arn:aws:sts::123456789012:assumed-role/ci-deploy/alice":               "",
		"system:serviceaccount:ci:deployer":                                    "deployer.ci@sa.example.com",
		`bob\ "q" '#x' #y: {{ .Values }}, %s abc`:                              "bob@odd.example.com",
	})

	if _, err := renderChart(t, "tenancy.policyMode=strict"); err == nil {
		t.Error("the chart renders tenancy.policyMode=strict")
	}
}

// checkEmailMapping maps each user name with the rules, as the operator does, and compares
// the email it gets.
func checkEmailMapping(t *testing.T, rules []string, want map[string]string) {
	t.Helper()
	var m policy.Mapping
	for _, r := range rules {
		rule, err := policy.ParseRule(r)
		if err != nil {
			t.Fatalf("the operator refuses the rule: %v", err)
		}
		m.Rules = append(m.Rules, rule)
	}
	for user, email := range want {
		if got := m.Email(user, nil); got != email {
			t.Errorf("%q maps to %q, want %q", user, got, email)
		}
	}
}

func strs(s ...string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

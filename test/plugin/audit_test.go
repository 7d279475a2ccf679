package plugin

import (
	"context"
	"encoding/json"
	"testing"

	. "github.com/onsi/gomega"
	. "github.com/onsi/gomega/gstruct"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// grantJSON is one row of audit -o json.
type grantJSON struct {
	Namespace string   `json:"namespace"`
	Binding   string   `json:"binding"`
	Subjects  []string `json:"subjects"`
	Role      string   `json:"role"`
	Verbs     []string `json:"verbs"`
	Wildcard  bool     `json:"wildcard"`
	Policies  []string `json:"policies"`
}

// create creates objects, deleted when the test ends.
func create(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, obj := range objs {
		NewWithT(t).Expect(k8s.Create(context.Background(), obj)).To(Succeed())
		t.Cleanup(func() { _ = k8s.Delete(context.Background(), obj) })
	}
}

func rule(groups, resources, names, verbs []string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{APIGroups: groups, Resources: resources, ResourceNames: names, Verbs: verbs}
}

// TestAuditFindsWildcardGrants: audit lists every binding that grants use or delegate on
// CredentialPolicies: by name, through a wildcard resource of iam.devin.ai (which grants
// both, and says so), through a wildcard verb, and cluster-admin's; a role that only reads
// policies is not listed. A user who may not read RBAC is told what audit needs.
func TestAuditFindsWildcardGrants(t *testing.T) {
	g := NewWithT(t)
	tn := newTenant(t)
	id := rand.String(5)
	iam := []string{iamv1alpha1.GroupVersion.Group}
	wild := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "iam-everything-" + id},
		Rules: []rbacv1.PolicyRule{rule(iam, []string{"*"}, nil, []string{"*"})}}
	anyVerb := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "policies-any-verb-" + id},
		Rules: []rbacv1.PolicyRule{rule(iam, []string{"credentialpolicies"}, []string{"gitops"}, []string{"*"})}}
	readOnly := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "read-policies-" + id, Namespace: tn.ns},
		Rules: []rbacv1.PolicyRule{rule(iam, []string{"credentialpolicies"}, nil, []string{"get", "list"})}}
	create(t, wild, anyVerb, readOnly,
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "team-admins-" + id, Namespace: tn.ns},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: wild.Name},
			Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: "team-admins"}}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "argocd-" + id},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: anyVerb.Name},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: "argocd", Name: "argocd-application-controller"}}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "readers-" + id, Namespace: tn.ns},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: readOnly.Name},
			Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: "reader"}}})

	r := plugin(t, "admin", "", "audit", "-o", "json")
	g.Expect(r.code).To(Equal(0), r.String())
	var rows []grantJSON
	g.Expect(json.Unmarshal([]byte(r.stdout), &rows)).To(Succeed(), r.stdout)
	g.Expect(rows).To(ContainElement(MatchAllFields(Fields{
		"Namespace": Equal(tn.ns), "Binding": Equal("RoleBinding/team-admins-" + id), "Subjects": ConsistOf("Group:team-admins"),
		"Role": Equal("ClusterRole/" + wild.Name), "Verbs": ConsistOf("use", "delegate"), "Wildcard": BeTrue(), "Policies": BeEmpty(),
	})))
	g.Expect(rows).To(ContainElement(MatchAllFields(Fields{
		"Namespace": Equal("*"), "Binding": Equal("ClusterRoleBinding/argocd-" + id),
		"Subjects": ConsistOf("ServiceAccount:argocd/argocd-application-controller"), "Role": Equal("ClusterRole/" + anyVerb.Name),
		"Verbs": ConsistOf("use", "delegate"), "Wildcard": BeTrue(), "Policies": ConsistOf("gitops"),
	})))
	g.Expect(rows).To(ContainElement(MatchFields(IgnoreExtras, Fields{
		"Namespace": Equal(tn.ns), "Role": HavePrefix("Role/use-" + tn.policy), "Subjects": ConsistOf("User:" + alice),
		"Verbs": ConsistOf("use"), "Wildcard": BeFalse(), "Policies": ConsistOf(tn.policy),
	})))
	g.Expect(rows).To(ContainElement(MatchFields(IgnoreExtras, Fields{
		"Binding": Equal("ClusterRoleBinding/cluster-admin"), "Subjects": ContainElement("Group:system:masters"), "Wildcard": BeTrue(),
	})))
	g.Expect(rows).NotTo(ContainElement(HaveField("Binding", "RoleBinding/readers-"+id)))

	r = plugin(t, "admin", "", "audit", "-n", tn.ns)
	g.Expect(r.code).To(Equal(0), r.String())
	g.Expect(r.stdout).To(MatchRegexp(`%s\s+RoleBinding/team-admins-%s\s+Group:team-admins\s+ClusterRole/%s\s+use,delegate \(wildcard\)\s+all`,
		tn.ns, id, wild.Name))
	g.Expect(r.stdout).NotTo(ContainSubstring("readers-" + id))

	r = plugin(t, alice, "", "audit")
	g.Expect(r.code).To(Equal(2), r.String())
	g.Expect(r.stderr).To(ContainSubstring("you may not list clusterroles: audit reads with your own RBAC and needs list on clusterroles"))
}

package kubectldevin

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// allNamespaces marks a grant of a ClusterRoleBinding: in every namespace.
const allNamespaces = "*"

// grantRow is one binding's grant of `use` or `delegate` on CredentialPolicies.
type grantRow struct {
	// Namespace is where the grant holds: the RoleBinding's, or "*" (a ClusterRoleBinding).
	Namespace string   `json:"namespace"`
	Binding   string   `json:"binding"`
	Subjects  []string `json:"subjects"`
	Role      string   `json:"role"`
	Verbs     []string `json:"verbs"`
	Wildcard  bool     `json:"wildcard"`
	// Policies are the policy names the grant is limited to; empty: every policy.
	Policies []string `json:"policies"`
}

func newAuditCommand(g *globalFlags, s streams) *cobra.Command {
	out := &outputFlag{}
	c := &cobra.Command{
		Use:   "audit",
		Short: "List the Roles and bindings that grant use or delegate on CredentialPolicies, wildcards included",
		Long: "audit reads Roles, ClusterRoles and their bindings with your own RBAC and lists each binding that grants " +
			"the verbs use or delegate on credentialpolicies (iam.devin.ai), including grants through a `*` verb, resource " +
			"or API group, which grant both. All namespaces unless -n is given (ClusterRoleBindings are always listed). " +
			"Needs list on roles, rolebindings, clusterroles and clusterrolebindings.",
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := out.validate(); err != nil {
				return err
			}
			ses, err := g.connect(c.Context(), s.err)
			if err != nil {
				return err
			}
			rows, err := ses.audit(c.Context())
			if err != nil {
				return err
			}
			return out.print(s.out, rows, func(w io.Writer) { renderGrants(w, rows) })
		},
	}
	out.bind(c)
	return c
}

// rbacObjects are the RBAC objects audit reads.
type rbacObjects struct {
	clusterRoles        rbacv1.ClusterRoleList
	clusterRoleBindings rbacv1.ClusterRoleBindingList
	roles               rbacv1.RoleList
	roleBindings        rbacv1.RoleBindingList
}

// read lists them: Roles and RoleBindings of the -n namespace, or of all.
func (s *session) readRBAC(ctx context.Context) (*rbacObjects, error) {
	o := &rbacObjects{}
	var inNS []client.ListOption
	where := " in all namespaces"
	if s.explicitNamespace {
		inNS = append(inNS, client.InNamespace(s.namespace))
		where = " in namespace " + s.namespace
	}
	for _, l := range []struct {
		list  client.ObjectList
		what  string
		where string
		opts  []client.ListOption
	}{
		{&o.clusterRoles, "clusterroles", "", nil},
		{&o.clusterRoleBindings, "clusterrolebindings", "", nil},
		{&o.roles, "roles", where, inNS},
		{&o.roleBindings, "rolebindings", where, inNS},
	} {
		err := s.client.List(ctx, l.list, l.opts...)
		if apierrors.IsForbidden(err) {
			return nil, fmt.Errorf("you may not list %s%s: audit reads with your own RBAC and needs list on clusterroles and "+
				"clusterrolebindings, and on roles and rolebindings in every namespace (or, with -n, in that one) "+
				"(rbac.authorization.k8s.io)", l.what, l.where)
		}
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", l.what, err)
		}
	}
	return o, nil
}

// audit lists every binding's grants on CredentialPolicies.
func (s *session) audit(ctx context.Context) ([]grantRow, error) {
	o, err := s.readRBAC(ctx)
	if err != nil {
		return nil, err
	}
	clusterGrants := map[string][]ruleGrant{}
	for _, r := range o.clusterRoles.Items {
		clusterGrants[r.Name] = policyGrants(r.Rules)
	}
	roleGrants := map[string][]ruleGrant{}
	for _, r := range o.roles.Items {
		roleGrants[r.Namespace+"/"+r.Name] = policyGrants(r.Rules)
	}
	rows := []grantRow{}
	for _, b := range o.clusterRoleBindings.Items {
		rows = append(rows, grantRows(allNamespaces, "ClusterRoleBinding/"+b.Name, b.Subjects, "ClusterRole/"+b.RoleRef.Name,
			clusterGrants[b.RoleRef.Name])...)
	}
	for _, b := range o.roleBindings.Items {
		grants := clusterGrants[b.RoleRef.Name]
		if b.RoleRef.Kind == "Role" {
			grants = roleGrants[b.Namespace+"/"+b.RoleRef.Name]
		}
		rows = append(rows, grantRows(b.Namespace, "RoleBinding/"+b.Name, b.Subjects, b.RoleRef.Kind+"/"+b.RoleRef.Name, grants)...)
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].Namespace != rows[j].Namespace {
			return rows[i].Namespace < rows[j].Namespace
		}
		return rows[i].Binding < rows[j].Binding
	})
	return rows, nil
}

func grantRows(ns, binding string, subjects []rbacv1.Subject, role string, grants []ruleGrant) []grantRow {
	var rows []grantRow
	for _, g := range grants {
		rows = append(rows, grantRow{Namespace: ns, Binding: binding, Subjects: subjectNames(subjects), Role: role,
			Verbs: g.verbs, Wildcard: g.wildcard, Policies: append([]string{}, g.policies...)})
	}
	return rows
}

func subjectNames(subjects []rbacv1.Subject) []string {
	out := []string{}
	for _, s := range subjects {
		name := s.Name
		if s.Kind == rbacv1.ServiceAccountKind {
			name = s.Namespace + "/" + s.Name
		}
		out = append(out, s.Kind+":"+name)
	}
	return out
}

func renderGrants(w io.Writer, rows []grantRow) {
	if len(rows) == 0 {
		fmt.Fprintln(w, "No binding grants use or delegate on CredentialPolicies (among what you may read).")
		return
	}
	t := newTable(w, "NAMESPACE", "BINDING", "SUBJECTS", "ROLE", "VERBS", "POLICIES")
	for _, r := range rows {
		verbs := strings.Join(r.Verbs, ",")
		if r.Wildcard {
			verbs += " (wildcard)"
		}
		policies := strings.Join(r.Policies, ",")
		if len(r.Policies) == 0 {
			policies = "all"
		}
		t.row(r.Namespace, r.Binding, strings.Join(r.Subjects, ","), r.Role, verbs, policies)
	}
	t.flush()
}

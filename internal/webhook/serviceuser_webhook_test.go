package webhook

import (
	"context"
	"net/http"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

const listRolesRoute = "GET /v3/enterprise/roles"

func newServiceUser(ns, name string, scope iamv1alpha1.ServiceUserScope, role string) *iamv1alpha1.ServiceUser {
	return &iamv1alpha1.ServiceUser{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       iamv1alpha1.ServiceUserSpec{Scope: scope, Role: role},
	}
}

func TestServiceUserRoleMustExistForTheScope(t *testing.T) {
	e := env(t)
	ns := e.namespace(t)
	c := e.clientAs("ci@example.com")
	tests := map[string]struct {
		scope iamv1alpha1.ServiceUserScope
		role  string
		want  []string // empty: admitted
	}{
		"org role by name":                 {scope: iamv1alpha1.ScopeOrganization, role: "Member"},
		"org role by name in another case": {scope: iamv1alpha1.ScopeOrganization, role: "deepwiki only"},
		"org role by ID":                   {scope: iamv1alpha1.ScopeOrganization, role: devinapitest.RoleOrgAdmin},
		"scope defaulted to Organization":  {role: "Admin"},
		"enterprise role":                  {scope: iamv1alpha1.ScopeEnterprise, role: "Enterprise Member"},
		"unknown role": {scope: iamv1alpha1.ScopeOrganization, role: "Owner",
			want: []string{`spec.role: Invalid value: "Owner"`, "the organization roles are: Admin, Member, DeepWiki Only"}},
		"org role for an enterprise service user": {scope: iamv1alpha1.ScopeEnterprise, role: "Member",
			want: []string{`spec.role: Invalid value: "Member"`, "Enterprise Admin, Enterprise Member"}},
		"enterprise role for an org service user": {scope: iamv1alpha1.ScopeOrganization, role: devinapitest.RoleEnterpriseAdmin,
			want: []string{"no organization role has this name or ID"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			su := newServiceUser(ns, "", tc.scope, tc.role)
			su.GenerateName = "su-"
			err := c.Create(context.Background(), su)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			wantRefused(t, err, http.StatusUnprocessableEntity, tc.want...)
		})
	}
}

func TestServiceUserRolesAreCached(t *testing.T) {
	e := env(t)
	ns := e.namespace(t)
	e.expireCaches()
	c := e.clientAs("ci@example.com")
	mustCreate(t, c, newServiceUser(ns, "first", iamv1alpha1.ScopeOrganization, "Member"))
	before := e.devin.Calls()[listRolesRoute]
	if before == 0 {
		t.Fatal("the first create did not list the roles")
	}
	mustCreate(t, c, newServiceUser(ns, "second", iamv1alpha1.ScopeEnterprise, "Enterprise Admin"))
	wantRefused(t, c.Create(context.Background(), newServiceUser(ns, "third", "", "Owner")), http.StatusUnprocessableEntity)
	if after := e.devin.Calls()[listRolesRoute]; after != before {
		t.Errorf("roles were listed %d more times; want them cached", after-before)
	}
}

func TestServiceUserUpdateChecksTheRoleOnlyWhenItChanged(t *testing.T) {
	e := env(t)
	ns := e.namespace(t)
	ctx := context.Background()
	c := e.clientAs("ci@example.com")
	su := newServiceUser(ns, "ci", iamv1alpha1.ScopeOrganization, "Member")
	mustCreate(t, c, su)

	update := func(change func(*iamv1alpha1.ServiceUser)) error {
		var cur iamv1alpha1.ServiceUser
		if err := e.admin.Get(ctx, client.ObjectKeyFromObject(su), &cur); err != nil {
			t.Fatal(err)
		}
		base := cur.DeepCopy()
		change(&cur)
		return c.Patch(ctx, &cur, client.MergeFrom(base))
	}

	err := update(func(su *iamv1alpha1.ServiceUser) { su.Spec.Role = "Owner" })
	wantRefused(t, err, http.StatusUnprocessableEntity, `spec.role: Invalid value: "Owner"`, "Admin, Member, DeepWiki Only")
	if err := update(func(su *iamv1alpha1.ServiceUser) { su.Spec.Role = "Admin" }); err != nil {
		t.Fatalf("change to a known role: %v", err)
	}

	// With the Devin API down, a spec change that keeps the role reaches the webhook and
	// passes; one that changes it cannot be verified.
	e.expireCaches()
	e.backendDown(t)
	before, calls := e.probe.Calls(ValidateServiceUserPath), e.devin.TotalCalls()
	if err := update(func(su *iamv1alpha1.ServiceUser) { su.Spec.Suspend = true }); err != nil {
		t.Fatalf("suspend while the Devin API is down: %v", err)
	}
	// At least once: the API server calls the webhook again when it retries the update
	// (its first attempt may start from a watch cache that has not seen the previous write).
	if n := e.probe.Calls(ValidateServiceUserPath) - before; n < 1 {
		t.Errorf("the spec change did not reach the webhook")
	}
	if n := e.devin.TotalCalls() - calls; n != 0 {
		t.Errorf("an update that keeps the role made %d Devin API calls", n)
	}
	err = update(func(su *iamv1alpha1.ServiceUser) { su.Spec.Role = "Member" })
	wantRefused(t, err, http.StatusServiceUnavailable, `cannot verify role "Member": the Devin API could not be reached`)
	wantNoToken(t, e, err)
}

func TestServiceUserBackendDownIsRefusedAsCannotVerify(t *testing.T) {
	e := env(t)
	ns := e.namespace(t)
	e.expireCaches()
	e.backendDown(t)
	err := e.clientAs("ci@example.com").Create(context.Background(), newServiceUser(ns, "ci", "", "Member"))
	wantRefused(t, err, http.StatusServiceUnavailable,
		`admission webhook "vserviceuser.iam.devin.ai" denied the request: cannot verify role "Member": the Devin API could not be reached`, "retry")
	wantNoToken(t, e, err)
}

package plugin

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/credential"
	"github.com/cogtokens/token-operator/internal/devinapi"
	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

// inventoryRowJSON is one row of inventory -o json.
type inventoryRowJSON struct {
	Kind         string `json:"kind"`
	UpstreamID   string `json:"upstreamID"`
	UpstreamName string `json:"upstreamName"`
	Resource     string `json:"resource"`
	State        string `json:"state"`
}

// inventory runs inventory as user against the in-memory Devin API, with the default
// credentials Secret (where the suite writes the operator's credential) and cluster ID.
// Whatever it prints must not hold the operator's credential.
func inventory(t *testing.T, user string, args ...string) result {
	t.Helper()
	r := plugin(t, user, "", append([]string{"inventory", "--devin-api-url", env.Devin.URL}, args...)...)
	noValue(t, r, env.Devin.AdminToken().Reveal())
	return r
}

// inventoryByID runs inventory -o json as the admin and returns its exit code and its rows
// by kind and upstream ID.
func inventoryByID(t *testing.T) (result, map[string]inventoryRowJSON) {
	t.Helper()
	r := inventory(t, "admin", "-o", "json")
	var rows []inventoryRowJSON
	NewWithT(t).Expect(json.Unmarshal([]byte(r.stdout), &rows)).To(Succeed(), r.String())
	byID := map[string]inventoryRowJSON{}
	for _, row := range rows {
		byID[row.Kind+" "+row.UpstreamID] = row
	}
	return r, byID
}

// clusterID is the operator's identity of the suite's cluster.
func clusterID(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{}
	NewWithT(t).Expect(k8s.Get(context.Background(), client.ObjectKey{Name: "kube-system"}, ns)).To(Succeed())
	return credential.ClusterID(string(ns.UID))
}

// provision makes a service user directly in the in-memory Devin API, as a resource long
// gone (or another cluster) left it; it is deleted when the test ends.
func provision(t *testing.T, name string) string {
	t.Helper()
	p, err := env.Devin.Client().ProvisionServiceUser(context.Background(), devinapi.ProvisionServiceUserRequest{
		Scope: devinapi.ScopeOrganization, OrgID: devinapitest.DefaultOrg, Name: name,
		RoleID: devinapitest.RoleOrgMember, TTL: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Devin.DeleteServiceUser(p.ServiceUser.ID) })
	return p.ServiceUser.ID
}

func readyServiceUser(t *testing.T, ns, name string) *iamv1alpha1.ServiceUser {
	t.Helper()
	su := &iamv1alpha1.ServiceUser{}
	su.Namespace, su.Name, su.Spec.Role = ns, name, "Member"
	NewWithT(t).Expect(k8s.Create(context.Background(), su)).To(Succeed())
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), su) })
	return waitFor(t, su, isReady[*iamv1alpha1.ServiceUser], "Ready with a key")
}

// TestInventoryListsOwnedObjects: a Ready ServiceUser's service user and key and a Ready
// PersonalAccessToken's token are listed as owned by their resources, in JSON and in the
// table, with the number of Devin API calls on stderr; nothing is orphan or missing, so the
// exit code is 0.
func TestInventoryListsOwnedObjects(t *testing.T) {
	g := NewWithT(t)
	tn := newTenant(t)
	pat := readyPAT(t, tn.ns, "inventoried")
	su := readyServiceUser(t, tn.ns, "inventoried-bot")
	ref, suRef := tn.ns+"/inventoried", tn.ns+"/inventoried-bot"

	r, rows := inventoryByID(t)
	g.Expect(r.code).To(Equal(0), r.String())
	g.Expect(r.stderr).To(MatchRegexp(`[1-9][0-9]* read-only calls to the Devin API`))
	g.Expect(rows).To(HaveKeyWithValue("ServiceUser "+su.Status.ServiceUserID,
		inventoryRowJSON{"ServiceUser", su.Status.ServiceUserID, su.DisplayName(), suRef, "owned"}))
	g.Expect(rows).To(HaveKeyWithValue("APIKey "+su.Status.Token.ID, HaveField("Resource", suRef)))
	g.Expect(rows["APIKey "+su.Status.Token.ID].State).To(Equal("owned"))
	g.Expect(rows).To(HaveKeyWithValue("PAT "+pat.Status.Token.ID,
		inventoryRowJSON{"PAT", pat.Status.Token.ID, ref, ref, "owned"}))
	for key, row := range rows {
		g.Expect(row.State).To(Equal("owned"), key)
	}

	r = inventory(t, "admin")
	g.Expect(r.code).To(Equal(0), r.String())
	g.Expect(r.stdout).To(MatchRegexp(`KIND\s+UPSTREAM ID\s+UPSTREAM NAME\s+RESOURCE\s+STATE`))
	g.Expect(r.stdout).To(MatchRegexp(`PAT\s+%s\s+%s\s+%s\s+owned`, pat.Status.Token.ID, ref, ref))
}

// TestInventoryFindsOrphans: a service user named with this cluster's marker and a UID no
// resource has is an orphan, and so is the key provisioned with it; one named with another
// cluster's marker is not listed; a Ready ServiceUser whose service user was deleted
// upstream is missing. The exit code is 1, and stderr says what to do.
func TestInventoryFindsOrphans(t *testing.T) {
	g := NewWithT(t)
	tn := newTenant(t)
	orphan := provision(t, "left-behind [k8s:"+clusterID(t)+":"+string(uuid.NewUUID())+"]")
	theirs := provision(t, "theirs [k8s:cffffffffffff:"+string(uuid.NewUUID())+"]")
	su := readyServiceUser(t, tn.ns, "deleted-upstream")
	g.Expect(env.Devin.DeleteServiceUser(su.Status.ServiceUserID)).To(Succeed())

	r, rows := inventoryByID(t)
	g.Expect(r.code).To(Equal(1), r.String())
	g.Expect(rows).To(HaveKeyWithValue("ServiceUser "+orphan, inventoryRowJSON{"ServiceUser", orphan, "left-behind", "", "orphan"}))
	key := firstKey(t, orphan)
	g.Expect(rows).To(HaveKeyWithValue("APIKey "+key, inventoryRowJSON{"APIKey", key, "initial", "", "orphan"}))
	g.Expect(rows).NotTo(HaveKey("ServiceUser " + theirs))
	g.Expect(rows).To(HaveKeyWithValue("ServiceUser "+su.Status.ServiceUserID,
		inventoryRowJSON{"ServiceUser", su.Status.ServiceUserID, su.DisplayName(), tn.ns + "/deleted-upstream", "missing"}))
	g.Expect(r.stderr).To(ContainSubstring("orphan(s): upstream objects with this cluster's marker that no resource owns"))
	g.Expect(r.stderr).To(ContainSubstring("missing: Ready resources whose upstream object is gone: `kubectl devin rotate` them"))

	r = inventory(t, "admin")
	g.Expect(r.code).To(Equal(1), r.String())
	g.Expect(r.stdout).To(MatchRegexp(`ServiceUser\s+%s\s+left-behind\s+-\s+orphan`, orphan))
	g.Expect(r.stdout).NotTo(ContainSubstring(theirs))
}

// firstKey is the ID of the key a service user was provisioned with.
func firstKey(t *testing.T, serviceUserID string) string {
	t.Helper()
	keys, err := env.Devin.Client().ListServiceUserAPIKeys(context.Background(), serviceUserID, devinapi.KeyStatusActive)
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys of %s: %v, %v", serviceUserID, keys, err)
	}
	return keys[0].ID
}

// TestInventoryNeedsTheCredentialsSecret: a tenant, who may not read the operator's
// credentials Secret, is told which Secret and which RBAC inventory needs (exit code 2);
// a Secret that does not exist, -n, and an http URL to another host are refused with the
// flag to change.
func TestInventoryNeedsTheCredentialsSecret(t *testing.T) {
	g := NewWithT(t)
	newTenant(t)

	r := inventory(t, alice)
	g.Expect(r.code).To(Equal(2), r.String())
	g.Expect(r.stderr).To(ContainSubstring("you may not read the Secret token-operator-system/token-operator-credentials, " +
		"the operator's Devin API credential"))
	g.Expect(r.stderr).To(ContainSubstring("ask for get on secrets/token-operator-credentials in namespace token-operator-system"))
	g.Expect(r.stderr).To(ContainSubstring("--credentials-secret NAMESPACE/NAME"))

	r = inventory(t, "admin", "--credentials-secret", "token-operator-system/elsewhere")
	g.Expect(r.code).To(Equal(2), r.String())
	g.Expect(r.stderr).To(ContainSubstring("no Secret token-operator-system/elsewhere: pass the operator's credentials Secret"))

	r = inventory(t, "admin", "--credentials-key", "nothing")
	g.Expect(r.code).To(Equal(2), r.String())
	g.Expect(r.stderr).To(ContainSubstring(`has no key "nothing": pass the key that holds the credential as --credentials-key`))

	r = inventory(t, "admin", "-n", "default")
	g.Expect(r.code).To(Equal(2), r.String())
	g.Expect(r.stderr).To(ContainSubstring("drop -n"))

	r = plugin(t, "admin", "", "inventory", "--devin-api-url", "http://api.example.com")
	g.Expect(r.code).To(Equal(2), r.String())
	g.Expect(r.stderr).To(ContainSubstring("http only to a loopback address"))
}

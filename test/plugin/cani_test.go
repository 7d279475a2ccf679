package plugin

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	. "github.com/onsi/gomega"
)

// manifest writes a manifest file for one test and returns its path.
func manifest(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "manifest.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func patManifest(ns, name, email string) string {
	return "apiVersion: iam.devin.ai/v1alpha1\nkind: PersonalAccessToken\nmetadata:\n  name: " + name +
		"\n  namespace: " + ns + "\nspec:\n  user:\n    email: " + email + "\n"
}

// decisionJSON is one answer of can-i -o json.
type decisionJSON struct {
	Allowed   bool     `json:"allowed"`
	Name      string   `json:"name"`
	As        string   `json:"as"`
	Policy    string   `json:"policy"`
	RefusedBy string   `json:"refusedBy"`
	Reason    string   `json:"reason"`
	Warnings  []string `json:"warnings"`
}

// TestCanIAllowed: alice may ask for her own token under the tenant's policy: can-i says
// allowed, names the policy and passes on the admission warning, exits 0, and stores
// nothing. An object of that name already existing does not get in the way.
func TestCanIAllowed(t *testing.T) {
	g := NewWithT(t)
	tn := newTenant(t)
	g.Expect(k8s.Create(context.Background(), newPAT(tn.ns, "taken", alice))).To(Succeed())
	file := manifest(t, patManifest(tn.ns, "taken", alice))

	r := plugin(t, alice, "", "can-i", "create", "-f", file)
	g.Expect(r.code).To(Equal(0), r.String())
	g.Expect(r.stdout).To(ContainSubstring("allowed: PersonalAccessToken taken in namespace " + tn.ns + ", as " + alice +
		": admitted by CredentialPolicy " + tn.policy))
	g.Expect(r.stdout).To(ContainSubstring("warning: "))

	r = plugin(t, "admin", "", "can-i", "create", "-f", file, "--as", alice, "-o", "json")
	g.Expect(r.code).To(Equal(0), r.String())
	var got []decisionJSON
	g.Expect(json.Unmarshal([]byte(r.stdout), &got)).To(Succeed(), r.stdout)
	g.Expect(got).To(HaveLen(1))
	g.Expect(got[0].Allowed).To(BeTrue())
	g.Expect(got[0].As).To(Equal(alice))
	g.Expect(got[0].Policy).To(Equal(tn.policy))
	g.Expect(got[0].Warnings).NotTo(BeEmpty())

	pats := patNames(t, tn.ns)
	g.Expect(pats).To(ConsistOf("taken"), "a dry run stores nothing")
}

// TestCanIRefused: alice may use the tenant's policy but not delegate: asking for Dave's
// token is refused by admission with the webhook's reason, whether she asks herself or the
// admin asks as her; bob, who may not create tokens at all, is refused by RBAC; each exits 1.
func TestCanIRefused(t *testing.T) {
	g := NewWithT(t)
	tn := newTenant(t)
	forDave := manifest(t, patManifest(tn.ns, "for-dave", dave))
	reason := "you may not ask for other people's tokens under it (RBAC verb delegate on credentialpolicies/" + tn.policy

	r := plugin(t, alice, "", "can-i", "create", "-f", forDave)
	g.Expect(r.code).To(Equal(1), r.String())
	g.Expect(r.stdout).To(ContainSubstring("refused: PersonalAccessToken for-dave in namespace " + tn.ns + ", as " + alice + ", by admission:"))
	g.Expect(r.stdout).To(ContainSubstring(reason))
	g.Expect(r.stderr).To(ContainSubstring("1 of 1 refused"))

	r = plugin(t, "admin", "", "can-i", "create", "-f", forDave, "--as", alice, "-o", "json")
	g.Expect(r.code).To(Equal(1), r.String())
	var got []decisionJSON
	g.Expect(json.Unmarshal([]byte(r.stdout), &got)).To(Succeed(), r.stdout)
	g.Expect(got[0].Allowed).To(BeFalse())
	g.Expect(got[0].RefusedBy).To(Equal("admission"))
	g.Expect(got[0].Reason).To(ContainSubstring(reason))

	// The admin, a delegate through cluster-admin, may.
	r = plugin(t, "admin", "", "can-i", "create", "-f", forDave)
	g.Expect(r.code).To(Equal(0), r.String())

	r = plugin(t, bob, "", "can-i", "create", "-f", forDave)
	g.Expect(r.code).To(Equal(1), r.String())
	g.Expect(r.stdout).To(ContainSubstring("by rbac:"))
	g.Expect(r.stdout).To(ContainSubstring(`cannot create resource "personalaccesstokens"`))
	g.Expect(patNames(t, tn.ns)).To(BeEmpty())
}

// TestCanIManyObjectsAndMistakes: a manifest of several objects gets an answer for each and
// exits 1 when any is refused; a manifest the CRD's rules refuse is refused by validation; a
// kind the policies do not govern, and an impersonation the caller may not do (in any command), are errors
// (exit 2) that say what to do.
func TestCanIManyObjectsAndMistakes(t *testing.T) {
	g := NewWithT(t)
	tn := newTenant(t)
	both := manifest(t, patManifest(tn.ns, "mine", alice)+"---\n"+patManifest(tn.ns, "for-dave", dave))
	r := plugin(t, alice, "", "can-i", "create", "-f", both, "-o", "json")
	g.Expect(r.code).To(Equal(1), r.String())
	var got []decisionJSON
	g.Expect(json.Unmarshal([]byte(r.stdout), &got)).To(Succeed(), r.stdout)
	g.Expect(got).To(HaveLen(2))
	g.Expect(got[0].Allowed).To(BeTrue())
	g.Expect(got[1].Allowed).To(BeFalse())

	invalid := manifest(t, "apiVersion: iam.devin.ai/v1alpha1\nkind: PersonalAccessToken\nmetadata: {name: both}\n"+
		"spec:\n  user: {email: alice@example.com, id: user-alice}\n")
	r = plugin(t, alice, "", "can-i", "create", "-f", invalid, "-n", tn.ns)
	g.Expect(r.code).To(Equal(1), r.String())
	g.Expect(r.stdout).To(ContainSubstring("by validation:"))
	g.Expect(r.stdout).To(ContainSubstring("exactly one of email or id must be set"))

	deployment := manifest(t, "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n")
	r = plugin(t, alice, "", "can-i", "create", "-f", deployment, "-n", tn.ns)
	g.Expect(r.code).To(Equal(2), r.String())
	g.Expect(r.stderr).To(ContainSubstring("can-i judges only those"))

	r = plugin(t, alice, "", "can-i", "create", "-f", both, "--as", dave)
	g.Expect(r.code).To(Equal(2), r.String())
	g.Expect(r.stderr).To(ContainSubstring("you may not act as " + dave + ": --as needs the impersonate verb"))
	r = plugin(t, alice, "", "status", "pat/mine", "-n", tn.ns, "--as", dave)
	g.Expect(r.code).To(Equal(2), r.String())
	g.Expect(r.stderr).To(ContainSubstring("you may not act as " + dave + ": --as needs the impersonate verb"))

	r = plugin(t, alice, patManifest(tn.ns, "from-stdin", alice), "can-i", "create", "-f", "-")
	g.Expect(r.code).To(Equal(0), r.String())
}

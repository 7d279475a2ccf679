package plugin

import (
	"context"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/devinapi"
	"github.com/cogtokens/token-operator/internal/testing/devenv"
)

// generatePAT is a personal access token its owner generated in account settings (in the
// in-memory API, through the assumed endpoint); it is revoked when the test ends.
func generatePAT(t *testing.T, userID string) *devinapi.IssuedKey {
	t.Helper()
	exp := time.Now().Add(90 * 24 * time.Hour)
	key, err := env.Devin.Client().CreatePAT(context.Background(), userID, devinapi.CreateKeyRequest{Name: "from account settings", ExpiresAt: &exp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Devin.RevokeKey(key.ID) })
	return key
}

// noValue asserts that the token value appears nowhere in what the plugin printed.
func noValue(t *testing.T, r result, value string) {
	t.Helper()
	if strings.Contains(r.stdout+r.stderr, value) {
		t.Fatal("the plugin printed the token value")
	}
}

func secretOf(t *testing.T, ns, name string) (*corev1.Secret, error) {
	t.Helper()
	sec := &corev1.Secret{}
	err := k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, sec)
	return sec, err
}

// TestImportNeverShowsTheToken: Alice pipes the token she generated into import: the
// plugin writes it into a source Secret owned by the new resource, the operator checks and
// imports it, and the plugin says so without printing the value anywhere.
func TestImportNeverShowsTheToken(t *testing.T) {
	g := NewWithT(t)
	tn := newTenant(t)
	key := generatePAT(t, "user-alice")
	value := key.Token.Reveal()
	// Deleted before its token is revoked: no Ready resource is left naming a revoked token.
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), newPAT(tn.ns, "imported", alice)) })

	r := plugin(t, alice, value+"\n", "import", "pat/imported", "--user", alice, "-n", tn.ns)
	g.Expect(r.code).To(Equal(0), r.String())
	noValue(t, r, value)
	g.Expect(r.stdout).To(ContainSubstring("pat/imported imported: Secret imported holds token " + key.ID + " of " + alice))
	g.Expect(r.stderr).To(ContainSubstring("created Secret imported-import and pat/imported"))
	g.Expect(r.stderr).To(ContainSubstring("Warning: anyone who can read Secrets in namespace "+tn.ns), "the admission warning, once")
	g.Expect(strings.Count(r.stderr, "Warning:")).To(Equal(1))

	pat := waitFor(t, newPAT(tn.ns, "imported", alice), isReady[*iamv1alpha1.PersonalAccessToken], "Ready")
	g.Expect(pat.Status.Token.ID).To(Equal(key.ID))
	g.Expect(pat.Spec.ImportFrom).To(Equal(&iamv1alpha1.ImportSource{SecretName: "imported-import", Key: "token"}))
	src, err := secretOf(t, tn.ns, "imported-import")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(devenv.Fingerprints(src.Data)).To(Equal(devenv.Fingerprints(map[string][]byte{"token": []byte(value)})))
	g.Expect(metav1.IsControlledBy(src, pat)).To(BeFalse(), "the operator controls only the Secrets it writes")
	g.Expect(src.OwnerReferences).To(ConsistOf(HaveField("UID", pat.UID)), "deleted with the resource")
	managed, err := secretOf(t, tn.ns, "imported")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(devenv.Fingerprints(managed.Data)).To(Equal(devenv.Fingerprints(src.Data)))

	r = plugin(t, alice, "", "status", "pat/imported", "-n", tn.ns)
	g.Expect(r.code).To(Equal(0), r.String())
	g.Expect(r.stdout).To(ContainSubstring("an imported token is renewed and revoked by its owner"))
}

// TestImportRefusedToken: a token that is not Alice's (Dave's) is refused by the operator:
// import exits 1 with the operator's reason, which names nobody, and still prints no value.
func TestImportRefusedToken(t *testing.T) {
	g := NewWithT(t)
	tn := newTenant(t)
	value := generatePAT(t, "user-dave").Token.Reveal()

	r := plugin(t, "admin", value, "import", "pat/not-hers", "--user", alice, "-n", tn.ns)
	g.Expect(r.code).To(Equal(1), r.String())
	noValue(t, r, value)
	g.Expect(r.stderr).To(ContainSubstring("the operator did not import the token (" + iamv1alpha1.ReasonImportRefused + ")"))
	g.Expect(r.stderr).To(ContainSubstring("does not belong to " + alice))
	g.Expect(r.stderr).NotTo(ContainSubstring(dave))
}

// TestImportReadsTheTokenOnlyFromStdin: a token given as an argument is refused before
// anything else (and the error does not repeat it); what stdin holds must look like a
// token, and is never echoed; a request admission would refuse is refused before the token
// is read. Nothing is created in any of these cases.
func TestImportReadsTheTokenOnlyFromStdin(t *testing.T) {
	g := NewWithT(t)
	tn := newTenant(t)
	value := generatePAT(t, "user-alice").Token.Reveal()

	for _, args := range [][]string{
		{"import", "pat/argv", value, "--user", alice, "-n", tn.ns},
		{"import", "pat/argv", "--user", alice, "-n", tn.ns, "--token=" + value},
		{"import", "pat/argv", "--user", alice, "-n", tn.ns, "--source-secret", value},
	} {
		r := plugin(t, alice, "", args...)
		g.Expect(r.code).To(Equal(2), r.String())
		noValue(t, r, value)
		g.Expect(r.stderr).To(ContainSubstring("an argument looks like a token value"))
	}

	r := plugin(t, alice, "hunter2-not-a-token\n", "import", "pat/argv", "--user", alice, "-n", tn.ns)
	g.Expect(r.code).To(Equal(2), r.String())
	g.Expect(r.stderr).To(ContainSubstring("what was read does not look like a Devin token"))
	g.Expect(r.stdout + r.stderr).NotTo(ContainSubstring("hunter2"))

	r = plugin(t, alice, "", "import", "pat/argv", "--user", alice, "-n", tn.ns)
	g.Expect(r.code).To(Equal(2), r.String())
	g.Expect(r.stderr).To(ContainSubstring("no token read: pipe it on stdin"))

	r = plugin(t, bob, value, "import", "pat/argv", "--user", alice, "-n", tn.ns)
	g.Expect(r.code).To(Equal(1), r.String())
	g.Expect(r.stderr).To(ContainSubstring("pat/argv would be refused, by rbac"))
	g.Expect(r.stderr).To(ContainSubstring("Nothing was read or created"))

	g.Expect(patNames(t, tn.ns)).To(BeEmpty())
	_, err := secretOf(t, tn.ns, "argv-import")
	g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "no source Secret: %v", err)
}

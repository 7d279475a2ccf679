package restore

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/conditions"
	"github.com/cogtokens/token-operator/internal/credential"
	"github.com/cogtokens/token-operator/internal/kubectldevin"
)

// original is what the lost cluster held: its backups, and the upstream IDs of its credentials.
type original struct {
	full, withoutKeyRing []byte
	patToken, suToken    string
	serviceUser          string
}

// TestRestore loses a cluster twice: restored once without the key ring (new credentials,
// the old ones found by inventory and left alone), then with it and --adopt-restored (the
// old credentials adopted, nothing minted, nothing left without an owner).
func TestRestore(t *testing.T) {
	o := runOriginal(t)
	t.Run("without the key ring", func(t *testing.T) { restoreWithoutKeyRing(t, o) })
	t.Run("with the key ring", func(t *testing.T) { restoreWithKeyRing(t, o) })
}

// runOriginal runs the cluster that will be lost: a PersonalAccessToken and a ServiceUser
// with their tokens, and its backups.
func runOriginal(t *testing.T) original {
	t.Helper()
	c := newControlPlane(t)
	c.startOperator(t, false)
	pat := &iamv1alpha1.PersonalAccessToken{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "alice-ci"},
		Spec: iamv1alpha1.PersonalAccessTokenSpec{User: iamv1alpha1.UserReference{Email: alice}}}
	su := &iamv1alpha1.ServiceUser{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ci-bot"},
		Spec: iamv1alpha1.ServiceUserSpec{Role: "Member"}}
	for _, obj := range []client.Object{pat, su} {
		NewWithT(t).Expect(c.env.Client.Create(context.Background(), obj)).To(Succeed())
	}
	pat = ready(t, c, pat)
	su = ready(t, c, su)
	o := original{full: c.backup(t, true), withoutKeyRing: c.backup(t, false),
		patToken: pat.Status.Token.ID, suToken: su.Status.Token.ID, serviceUser: su.Status.ServiceUserID}
	c.stop()
	return o
}

// restoreWithoutKeyRing: the restored Secrets' records cannot be verified, so nothing is
// adopted; once the garbage collector has deleted the Secrets (their owner's UID is gone),
// new credentials are minted, and inventory lists the old ones as orphans. The old ones
// are never touched.
func restoreWithoutKeyRing(t *testing.T, o original) {
	g := NewWithT(t)
	c := newControlPlane(t)
	c.restore(t, o.withoutKeyRing)
	c.startOperator(t, true)
	pat := &iamv1alpha1.PersonalAccessToken{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "alice-ci"}}
	g.Eventually(func() string { return stalledReason(t, c, pat) }, timeout, interval).Should(Equal(iamv1alpha1.ReasonSecretConflict))
	collectGarbage(t, c)
	pat = ready(t, c, pat)
	su := ready(t, c, &iamv1alpha1.ServiceUser{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ci-bot"}})
	g.Expect(pat.Status.Token.ID).NotTo(Equal(o.patToken))
	g.Expect(su.Status.ServiceUserID).NotTo(Equal(o.serviceUser))
	g.Expect(live(o.patToken) && live(o.suToken)).To(BeTrue(), "the old credentials are left alone")

	code, rows := inventory(t, c)
	g.Expect(code).To(Equal(kubectldevin.ExitNo))
	g.Expect(rows).To(HaveKeyWithValue("PAT "+o.patToken, "orphan"))
	g.Expect(rows).To(HaveKeyWithValue("ServiceUser "+o.serviceUser, "orphan"))
	g.Expect(rows).To(HaveKeyWithValue("PAT "+pat.Status.Token.ID, "owned"))

	// This cluster goes too: its own credentials are revoked with its resources (the old
	// ones stay, for the restore with the key ring).
	for _, obj := range []client.Object{pat, su} {
		g.Expect(c.env.Client.Delete(context.Background(), obj)).To(Succeed())
	}
	g.Eventually(func() bool { return live(pat.Status.Token.ID) || live(su.Status.Token.ID) }, timeout, interval).Should(BeFalse())
}

// restoreWithKeyRing: with the key ring restored and adoption on, the re-created resources
// prove, by the sealed records on their Secrets and the markers upstream, that the restored
// tokens are theirs: they adopt them and mint nothing, and the old tokens keep serving.
func restoreWithKeyRing(t *testing.T, o original) {
	g := NewWithT(t)
	minted := len(devin.Tokens())
	c := newControlPlane(t)
	c.restore(t, o.full)
	c.startOperator(t, true)
	pat := ready(t, c, &iamv1alpha1.PersonalAccessToken{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "alice-ci"}})
	su := ready(t, c, &iamv1alpha1.ServiceUser{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ci-bot"}})
	g.Expect(pat.Status.Token.ID).To(Equal(o.patToken))
	g.Expect(su.Status.Token.ID).To(Equal(o.suToken))
	g.Expect(su.Status.ServiceUserID).To(Equal(o.serviceUser))
	g.Expect(pat.Status.RestoredFrom).NotTo(BeEmpty())
	g.Expect(devin.Tokens()).To(HaveLen(minted), "nothing minted")
	g.Expect(live(o.patToken) && live(o.suToken)).To(BeTrue(), "the old tokens keep serving")
	for _, obj := range []client.Object{pat, su} {
		sec := &corev1.Secret{}
		g.Expect(c.env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: obj.GetName()}, sec)).To(Succeed())
		g.Expect(metav1.IsControlledBy(sec, obj)).To(BeTrue(), "the Secret of %s is the resource's", obj.GetName())
	}

	status := plugin(t, c, "status", "pat/alice-ci", "-n", ns)
	g.Expect(status).To(ContainSubstring("Restored: re-created from a backup"))
	code, rows := inventory(t, c)
	g.Expect(code).To(Equal(kubectldevin.ExitOK), "nothing is left live without an owner: %v", rows)
	g.Expect(rows).To(HaveKeyWithValue("PAT "+o.patToken, "owned"))
	g.Expect(rows).To(HaveKeyWithValue("ServiceUser "+o.serviceUser, "owned"))

	// The adopted credentials are the resources' own: deletion revokes them, and a
	// resource that vanishes without its finalizer's work is swept by the restored marker.
	g.Expect(c.env.Client.Delete(context.Background(), pat)).To(Succeed())
	vanish(t, c, su)
	g.Eventually(func() bool { return live(o.patToken) || live(o.suToken) }, timeout, interval).Should(BeFalse())
	g.Eventually(func() []string { return serviceUserIDs() }, timeout, interval).ShouldNot(ContainElement(o.serviceUser))
}

// vanish deletes obj after removing its finalizer, as someone bypassing the operator does.
func vanish(t *testing.T, c *cluster, obj client.Object) {
	t.Helper()
	g := NewWithT(t)
	g.Expect(c.env.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)).To(Succeed())
	obj.SetFinalizers(nil)
	g.Expect(c.env.Client.Update(context.Background(), obj)).To(Succeed())
	g.Expect(c.env.Client.Delete(context.Background(), obj)).To(Succeed())
}

// serviceUserIDs are the active service users upstream.
func serviceUserIDs() []string {
	var ids []string
	for _, u := range devin.ServiceUsers() {
		if u.IsActive {
			ids = append(ids, u.ID)
		}
	}
	return ids
}

// ready waits until the resource is Ready and returns it.
func ready[T credential.Object](t *testing.T, c *cluster, obj T) T {
	t.Helper()
	NewWithT(t).Eventually(func() bool {
		if err := c.env.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return false
		}
		st := obj.CredentialStatus()
		return conditions.IsReady(st.Conditions, obj.GetGeneration()) && st.Token != nil
	}, timeout, interval).Should(BeTrue(), "%s %s Ready", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName())
	return obj
}

func stalledReason(t *testing.T, c *cluster, obj credential.Object) string {
	t.Helper()
	if err := c.env.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
		return ""
	}
	for _, cond := range obj.CredentialStatus().Conditions {
		if cond.Type == iamv1alpha1.ConditionStalled && cond.Status == metav1.ConditionTrue {
			return cond.Reason
		}
	}
	return ""
}

// collectGarbage deletes the Secrets whose owner no longer exists, as Kubernetes' garbage
// collector (which envtest does not run) does.
func collectGarbage(t *testing.T, c *cluster) {
	t.Helper()
	ctx := context.Background()
	secrets := &corev1.SecretList{}
	NewWithT(t).Expect(c.env.Client.List(ctx, secrets, client.InNamespace(ns))).To(Succeed())
	for i := range secrets.Items {
		sec := &secrets.Items[i]
		owner := metav1.GetControllerOf(sec)
		if owner == nil {
			continue
		}
		u := &unstructured.Unstructured{}
		u.SetAPIVersion(owner.APIVersion)
		u.SetKind(owner.Kind)
		err := c.env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: owner.Name}, u)
		if err != nil || u.GetUID() != owner.UID {
			NewWithT(t).Expect(c.env.Client.Delete(ctx, sec)).To(Succeed())
		}
	}
}

// live reports whether the Devin API holds the token as active.
func live(id string) bool {
	for _, r := range devin.LiveTokens() {
		if r.ID == id {
			return true
		}
	}
	return false
}

// plugin runs kubectl devin args as the cluster's admin and returns what it printed.
func plugin(t *testing.T, c *cluster, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	code := kubectldevin.Run(context.Background(), append(args, "--kubeconfig", c.kubeconfig), strings.NewReader(""), &out, &errOut)
	t.Logf("kubectl devin %s: exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errOut.String())
	return out.String()
}

// inventory runs kubectl devin inventory as the cluster's admin and returns its exit code
// and the state of each row by "KIND ID".
func inventory(t *testing.T, c *cluster) (int, map[string]string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := kubectldevin.Run(context.Background(), []string{"inventory", "-o", "json", "--cluster-id", clusterID,
		"--devin-api-url", devin.URL, "--kubeconfig", c.kubeconfig}, strings.NewReader(""), &out, &errOut)
	t.Logf("kubectl devin inventory: exit %d\n%s%s", code, out.String(), errOut.String())
	var rows []struct{ Kind, UpstreamID, State string }
	NewWithT(t).Expect(json.Unmarshal(out.Bytes(), &rows)).To(Succeed())
	states := map[string]string{}
	for _, r := range rows {
		states[r.Kind+" "+r.UpstreamID] = r.State
	}
	return code, states
}

func runtimeToUnstructured(obj client.Object) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	return &unstructured.Unstructured{Object: m}, err
}

func splitYAML(b []byte) [][]byte {
	var docs [][]byte
	for _, d := range bytes.Split(b, []byte("---\n")) {
		if len(bytes.TrimSpace(d)) > 0 {
			docs = append(docs, d)
		}
	}
	return docs
}

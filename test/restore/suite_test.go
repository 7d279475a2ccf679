// Package restore proves what a backup and restore does to the credentials: resources,
// Secrets and (or not) the admission key ring exported as a backup tool exports them (no
// status, no UIDs), the cluster lost, and everything re-created on a fresh control plane
// against the same in-memory Devin API. With the key ring and --adopt-restored the restored
// resources adopt their upstream objects (nothing minted, the old tokens keep serving);
// without the key ring new credentials are minted and `kubectl devin inventory` lists the
// old ones.
package restore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/testing/devenv"
	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

const (
	timeout  = 60 * time.Second
	interval = 100 * time.Millisecond
	// clusterID is pinned (--cluster-id), as docs/backup-restore.md advises for a cluster
	// one may have to restore: the new control plane's kube-system UID differs.
	clusterID = "prod-eu"
	ns        = "team-a"
	alice     = "alice@example.com"
)

// devin is the in-memory Devin API every control plane of the suite talks to: the account
// outlives the clusters.
var devin *devinapitest.Server

func TestMain(m *testing.M) {
	devin = devinapitest.NewServer()
	code := m.Run()
	if v := devin.TakeViolations(); len(v) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: the Devin API traffic broke the published contract: %v\n", v)
		code = 1
	}
	devin.Close()
	os.Exit(code)
}

// cluster is one control plane with (once started) its operator.
type cluster struct {
	env *devenv.Env
	op  *devenv.Operator
	// kubeconfig is a cluster admin's, for the plugin.
	kubeconfig string
}

// newControlPlane starts a fresh control plane against the suite's Devin API, with the
// namespace of the tests; it is stopped when the test ends.
func newControlPlane(t *testing.T) *cluster {
	t.Helper()
	ctx := context.Background()
	env, err := devenv.Start(ctx, devenv.Options{DevinServer: devin})
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{env: env}
	t.Cleanup(c.stop)
	if err := env.EnsureNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}
	admin, err := env.Env.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := admin.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	c.kubeconfig = filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(c.kubeconfig, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	return c
}

// startOperator starts the operator with the pinned cluster ID, without tenancy policies
// (tested elsewhere; a restore is made by an identity that may create what it restores).
func (c *cluster) startOperator(t *testing.T, adopt bool) {
	t.Helper()
	o := c.env.OperatorOptions()
	o.ClusterID = clusterID
	o.PolicyMode = "off"
	o.AdoptRestored = adopt
	op, err := c.env.StartOperator(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	c.op = op
}

func (c *cluster) stop() {
	if c.op != nil {
		_ = c.op.Stop()
		c.op = nil
	}
	if c.env != nil {
		_ = c.env.Stop()
		c.env = nil
	}
}

// backup exports, as YAML, what a backup tool keeps of the namespace's resources and
// Secrets, and of the admission key ring when withKeyRing: metadata without UID, version,
// times or generation (owner references and annotations kept), and no status.
func (c *cluster) backup(t *testing.T, withKeyRing bool) []byte {
	t.Helper()
	ctx := context.Background()
	var objs []client.Object
	secrets := &corev1.SecretList{}
	NewWithT(t).Expect(c.env.Client.List(ctx, secrets, client.InNamespace(ns))).To(Succeed())
	for i := range secrets.Items {
		objs = append(objs, &secrets.Items[i])
	}
	if withKeyRing {
		ring := &corev1.Secret{}
		key := client.ObjectKey{Namespace: devenv.OperatorNamespace, Name: c.env.OperatorOptions().AdmissionKeySecretName}
		NewWithT(t).Expect(c.env.Client.Get(ctx, key, ring)).To(Succeed())
		objs = append(objs, ring)
	}
	pats, sus := &iamv1alpha1.PersonalAccessTokenList{}, &iamv1alpha1.ServiceUserList{}
	NewWithT(t).Expect(c.env.Client.List(ctx, pats, client.InNamespace(ns))).To(Succeed())
	NewWithT(t).Expect(c.env.Client.List(ctx, sus, client.InNamespace(ns))).To(Succeed())
	for i := range pats.Items {
		objs = append(objs, &pats.Items[i])
	}
	for i := range sus.Items {
		objs = append(objs, &sus.Items[i])
	}
	var out []byte
	for _, o := range objs {
		out = append(out, exported(t, c.env.Client, o)...)
	}
	return out
}

// exported is one object as a backup holds it, a YAML document.
func exported(t *testing.T, c client.Client, obj client.Object) []byte {
	t.Helper()
	gvk, err := c.GroupVersionKindFor(obj)
	if err != nil {
		t.Fatal(err)
	}
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	obj.SetUID("")
	obj.SetResourceVersion("")
	obj.SetCreationTimestamp(metav1.Time{})
	obj.SetManagedFields(nil)
	obj.SetGeneration(0)
	u, err := runtimeToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	delete(u.Object, "status")
	b, err := yaml.Marshal(u.Object)
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte("---\n"), b...)
}

// restore creates every object of a backup, as a restore tool does: Secrets before the
// resources that own them.
func (c *cluster) restore(t *testing.T, backup []byte) {
	t.Helper()
	var secrets, others []*unstructured.Unstructured
	for _, doc := range splitYAML(backup) {
		u := &unstructured.Unstructured{}
		NewWithT(t).Expect(yaml.Unmarshal(doc, &u.Object)).To(Succeed())
		if u.GetKind() == "Secret" {
			secrets = append(secrets, u)
		} else {
			others = append(others, u)
		}
	}
	for _, u := range append(secrets, others...) {
		NewWithT(t).Expect(c.env.Client.Create(context.Background(), u)).To(Succeed(), "restore %s %s", u.GetKind(), u.GetName())
	}
}

package credential

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// The cache keeps what the reconcilers read of a labelled Secret, never its values, and
// nothing of a Secret no resource of ours controls: memory does not grow with what tenants
// put in Secrets.
func TestCacheTransform(t *testing.T) {
	big := []byte(strings.Repeat("x", 1<<20))
	ours := []metav1.OwnerReference{{APIVersion: "iam.devin.ai/v1alpha1", Kind: "PersonalAccessToken", Name: "ci", UID: testUID, Controller: ptr(true)}}
	tenant := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "junk", Namespace: "team-a", UID: "u1", ResourceVersion: "7",
			Labels:      map[string]string{iamv1alpha1.ManagedByLabel: iamv1alpha1.ManagedByValue, "big": "x"},
			Annotations: map[string]string{"huge": string(big[:200000])}},
		Data: map[string][]byte{"blob": big},
	}
	got, _ := CacheTransform(tenant)
	sec := got.(*corev1.Secret)
	if len(sec.Data) != 0 || len(sec.Annotations) != 0 || len(sec.Labels) != 1 || sec.Name != "junk" || sec.ResourceVersion != "7" {
		t.Fatalf("a tenant's Secret keeps more than its identity: %d data, %d annotations, labels %v", len(sec.Data), len(sec.Annotations), sec.Labels)
	}

	owned := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "ci", Namespace: "team-a", UID: "u2", OwnerReferences: ours,
			Labels: map[string]string{iamv1alpha1.ManagedByLabel: iamv1alpha1.ManagedByValue, "team": "a", "argocd.argoproj.io/instance": "x"},
			Annotations: map[string]string{
				iamv1alpha1.TokenIDAnnotation: "key-1", iamv1alpha1.TemplateKeysAnnotation: `{"labels":["team"],"annotations":["reloader"]}`,
				"reloader": "on", "someone-elses": string(big[:100000]),
				cachedFingerprintsAnnotation: `{"token":"forged"}`,
			}},
		Data: map[string][]byte{"token": []byte("value-of-key-1")},
	}
	got, _ = CacheTransform(owned)
	sec = got.(*corev1.Secret)
	if sec.Data != nil || sec.Annotations["someone-elses"] != "" || sec.Labels["argocd.argoproj.io/instance"] != "" {
		t.Fatalf("kept what the reconcilers never read: %d data, annotations %v, labels %v", len(sec.Data), len(sec.Annotations), sec.Labels)
	}
	if sec.Labels["team"] != "a" || sec.Annotations["reloader"] != "on" || sec.Annotations[iamv1alpha1.TokenIDAnnotation] != "key-1" {
		t.Fatalf("dropped what the reconcilers read: labels %v, annotations %v", sec.Labels, sec.Annotations)
	}
	if fp := fingerprints(sec); fp["token"] != hashToken([]byte("value-of-key-1")) || len(fp) != 1 {
		t.Fatalf("fingerprints %v: want the value's, never the forged one", fp)
	}
	if _, ok := tokenKey(sec, "token", hashToken([]byte("value-of-key-1"))); !ok {
		t.Fatal("the cached Secret does not show that it holds the token")
	}
	again, _ := CacheTransform(sec)
	if fp := fingerprints(again.(*corev1.Secret)); fp["token"] != hashToken([]byte("value-of-key-1")) {
		t.Fatalf("transformed twice: fingerprints %v (informers may transform an object again)", fp)
	}
	if same, _ := CacheTransform(&corev1.ConfigMap{}); same == nil {
		t.Fatal("other objects must pass through")
	}
}

func ptr[T any](v T) *T { return &v }

// Whatever a tenant puts in a Secret that names one of our resources as its controller
// (owner references, annotations, template keys, data keys by the thousand), the cache
// keeps a projection of bounded size.
func TestCacheTransformIsBounded(t *testing.T) {
	long := strings.Repeat("x", 8192)
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "ci", Namespace: "team-a",
		Labels: map[string]string{iamv1alpha1.ManagedByLabel: iamv1alpha1.ManagedByValue}, Annotations: map[string]string{}},
		Data: map[string][]byte{"token": []byte("value-of-key-1")}}
	for i := range 2000 {
		sec.OwnerReferences = append(sec.OwnerReferences, metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: fmt.Sprint(long[:200], i), UID: types.UID(fmt.Sprint(i))})
		sec.Annotations[fmt.Sprintf("iam.devin.ai/junk-%d", i)] = long[:500]
		sec.Data[fmt.Sprintf("k%04d", i)] = []byte(long[:100])
	}
	sec.OwnerReferences = append(sec.OwnerReferences, metav1.OwnerReference{APIVersion: "iam.devin.ai/v1alpha1", Kind: "PersonalAccessToken", Name: "ci", UID: testUID, Controller: ptr(true)})
	var keys templateKeys
	for i := range 1000 {
		keys.Labels = append(keys.Labels, fmt.Sprintf("l%d", i))
		keys.Annotations = append(keys.Annotations, fmt.Sprintf("a%d", i))
		sec.Labels[fmt.Sprintf("l%d", i)] = "v"
		sec.Annotations[fmt.Sprintf("a%d", i)] = long
	}
	raw, _ := json.Marshal(keys)
	sec.Annotations[iamv1alpha1.TemplateKeysAnnotation] = string(raw)
	sec.Annotations[iamv1alpha1.TokenIDAnnotation] = long

	got, _ := CacheTransform(sec)
	out := got.(*corev1.Secret)
	size, _ := json.Marshal(out)
	if len(size) > 16<<10 {
		t.Fatalf("the cached projection is %d bytes; want a few KiB", len(size))
	}
	if len(out.OwnerReferences) != 1 || out.OwnerReferences[0].UID != testUID {
		t.Fatalf("owner references %d, want only the controller's", len(out.OwnerReferences))
	}
	if !truncated(out) || len(fingerprints(out)) != maxCachedDataKeys+1 {
		t.Fatalf("fingerprints %d, want %d and the truncation mark", len(fingerprints(out)), maxCachedDataKeys)
	}
	if again, _ := CacheTransform(out); !reflect.DeepEqual(again, out) {
		t.Fatal("transformed twice, a different result (informers may transform an object again)")
	}
}

// cachedSecrets answers Secret reads as the operator's cache does: through CacheTransform.
type cachedSecrets struct{ client.Client }

func (c cachedSecrets) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if err := c.Client.Get(ctx, key, obj, opts...); err != nil {
		return err
	}
	if sec, ok := obj.(*corev1.Secret); ok {
		out, _ := CacheTransform(sec.DeepCopy())
		*sec = *out.(*corev1.Secret)
	}
	return nil
}

// A tenant who adds many data keys to the resource's Secret (past what the cache
// fingerprints) gets them removed, and no new token: the lifecycle reads the whole Secret
// around the cache before it judges or writes it.
func TestSecretWithManyKeysIsSyncedNotReissued(t *testing.T) {
	w := newWorld(t)
	w.l.Client = cachedSecrets{w.kube}
	tok := w.withToken(t0)
	sec := w.secret("ci")
	for i := range 3 * maxCachedDataKeys {
		sec.Data[fmt.Sprintf("a%02d", i)] = []byte("junk") // sorted before "token"
	}
	if err := w.kube.Update(context.Background(), sec); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := w.reconcile(); err != nil {
			t.Fatal(err)
		}
	}
	if n := w.issues(); n != 0 {
		t.Fatalf("%d creates: the Secret still held the token", n)
	}
	if sec := w.secret("ci"); len(sec.Data) != 1 || !holds(sec, tok.ID) {
		t.Fatalf("the Secret has %d data keys, want the token's alone", len(sec.Data))
	}
}

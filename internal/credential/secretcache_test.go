package credential

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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

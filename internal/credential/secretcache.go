package credential

import (
	"encoding/json"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// cachedFingerprintsAnnotation holds, in the operator's cache only (never written), the
// SHA-256 of each data value of a Secret, in place of the values.
const cachedFingerprintsAnnotation = "cache.iam.devin.ai/fingerprints"

// CacheTransform keeps in the operator's cache only what the reconcilers read of a Secret
// with the managed-by label, so that memory does not grow with what tenants put in Secrets
// (anyone who may create a Secret can set that label): for a Secret a PersonalAccessToken
// or ServiceUser controls, its identity, its owners, the labels and annotations the operator
// writes, and a SHA-256 of each data value instead of the value; for any other, its
// identity only. Values are read around the cache when they are needed (moving a Secret,
// renaming its data key). It is idempotent, as informers require.
func CacheTransform(obj any) (any, error) {
	sec, ok := obj.(*corev1.Secret)
	if !ok {
		return obj, nil
	}
	out := &corev1.Secret{
		TypeMeta: sec.TypeMeta,
		Type:     sec.Type,
		ObjectMeta: metav1.ObjectMeta{
			Name: sec.Name, Namespace: sec.Namespace, UID: sec.UID, ResourceVersion: sec.ResourceVersion,
			CreationTimestamp: sec.CreationTimestamp, DeletionTimestamp: sec.DeletionTimestamp,
			OwnerReferences: sec.OwnerReferences,
			Labels:          map[string]string{iamv1alpha1.ManagedByLabel: sec.Labels[iamv1alpha1.ManagedByLabel]},
		},
	}
	if !controlledByOurKinds(sec) {
		return out, nil
	}
	keys := readTemplateKeys(sec)
	for _, k := range keys.Labels {
		if v, ok := sec.Labels[k]; ok {
			out.Labels[k] = v
		}
	}
	out.Annotations = map[string]string{}
	for k, v := range sec.Annotations {
		if strings.HasPrefix(k, "iam.devin.ai/") {
			out.Annotations[k] = v
		}
	}
	for _, k := range keys.Annotations {
		if v, ok := sec.Annotations[k]; ok {
			out.Annotations[k] = v
		}
	}
	// An informer may hand an object already transformed back to the transform: it must give
	// the same result again, so fingerprints without values are kept as they are.
	out.Annotations[cachedFingerprintsAnnotation] = sec.Annotations[cachedFingerprintsAnnotation]
	if sec.Data != nil || out.Annotations[cachedFingerprintsAnnotation] == "" {
		fp, _ := json.Marshal(fingerprints(&corev1.Secret{Data: sec.Data}))
		out.Annotations[cachedFingerprintsAnnotation] = string(fp)
	}
	return out, nil
}

// controlledByOurKinds reports whether a PersonalAccessToken or ServiceUser controls sec
// (which does not prove that one really does: the reconcilers check the UID).
func controlledByOurKinds(sec *corev1.Secret) bool {
	c := metav1.GetControllerOf(sec)
	return c != nil && strings.HasPrefix(c.APIVersion, iamv1alpha1.GroupVersion.Group+"/") &&
		(c.Kind == "PersonalAccessToken" || c.Kind == "ServiceUser")
}

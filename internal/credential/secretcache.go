package credential

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// cachedFingerprintsAnnotation holds, in the operator's cache only (never written), the
// SHA-256 of each data value of a Secret, in place of the values.
const cachedFingerprintsAnnotation = "cache.iam.devin.ai/fingerprints"

// The bounds of what the cache keeps of one Secret, whatever its owner put in it: a Secret
// may carry about 1.5 MiB of metadata and data, the projection a few KiB.
const (
	// maxCachedTemplateKeys is the most template labels, and annotations, kept (the CRD
	// allows 32 of each).
	maxCachedTemplateKeys = 32
	// maxCachedValue is the longest annotation value kept (the CRD's bound on a template
	// annotation); a longer one is dropped, which the reconciler sees as a change to sync.
	maxCachedValue = 4096
	// maxCachedDataKeys is the most data keys fingerprinted (the token and three extra
	// entries, with room); a Secret with more is marked truncated (see truncatedKey).
	maxCachedDataKeys = 16
	// truncatedKey marks fingerprints that do not list every data key; no Secret data key
	// can be empty, so it never names one.
	truncatedKey = ""
)

// operatorAnnotations are the iam.devin.ai/ annotations the operator writes on a Secret and
// reads back: no other is kept.
var operatorAnnotations = []string{iamv1alpha1.TokenIDAnnotation, iamv1alpha1.TokenNameAnnotation,
	iamv1alpha1.TokenExpiresAtAnnotation, iamv1alpha1.TokenIssuedAtAnnotation, iamv1alpha1.TemplateKeysAnnotation}

// CacheTransform keeps in the operator's cache a bounded projection of a Secret with the
// managed-by label, so that memory does not grow with what tenants put in Secrets (anyone
// who may create a Secret can set that label, and any ownerReference): for a Secret whose
// controller reference names a PersonalAccessToken or ServiceUser, its identity, that one
// reference, the labels and annotations the operator writes (each bounded in number and
// size) and a SHA-256 of at most maxCachedDataKeys data values instead of the values; for
// any other, its identity only. Values are read around the cache when they are needed. It
// is idempotent, as informers require.
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
			Labels: map[string]string{iamv1alpha1.ManagedByLabel: sec.Labels[iamv1alpha1.ManagedByLabel]},
		},
	}
	ref, ok := ourController(sec)
	if !ok {
		return out, nil
	}
	out.OwnerReferences = []metav1.OwnerReference{ref}
	keys := boundedTemplateKeys(readTemplateKeys(sec))
	for _, k := range keys.Labels {
		if v, ok := sec.Labels[k]; ok {
			out.Labels[k] = v
		}
	}
	out.Annotations = map[string]string{}
	for _, k := range append(keys.Annotations, operatorAnnotations...) {
		if v, ok := sec.Annotations[k]; ok && len(v) <= maxCachedValue {
			out.Annotations[k] = v
		}
	}
	if raw, err := json.Marshal(keys); err == nil && sec.Annotations[iamv1alpha1.TemplateKeysAnnotation] != "" {
		out.Annotations[iamv1alpha1.TemplateKeysAnnotation] = string(raw)
	}
	out.Annotations[cachedFingerprintsAnnotation] = cachedFingerprints(sec)
	return out, nil
}

// ourController is sec's controller reference when it names one of our kinds, its fields
// within the sizes Kubernetes names and UIDs have (one that does not is nobody's).
func ourController(sec *corev1.Secret) (metav1.OwnerReference, bool) {
	c := metav1.GetControllerOf(sec)
	if c == nil || !strings.HasPrefix(c.APIVersion, iamv1alpha1.GroupVersion.Group+"/") ||
		(c.Kind != "PersonalAccessToken" && c.Kind != "ServiceUser") ||
		len(c.APIVersion) > 64 || len(c.Name) > 253 || len(c.UID) > 64 {
		return metav1.OwnerReference{}, false
	}
	return metav1.OwnerReference{APIVersion: c.APIVersion, Kind: c.Kind, Name: c.Name, UID: c.UID, Controller: c.Controller}, true
}

// boundedTemplateKeys keeps at most maxCachedTemplateKeys label and annotation keys of a
// Secret's record of its template, each of a length a key can have.
func boundedTemplateKeys(k templateKeys) templateKeys {
	bound := func(keys []string) []string {
		var out []string
		for _, key := range keys {
			if len(out) < maxCachedTemplateKeys && len(key) <= 317 {
				out = append(out, key)
			}
		}
		return out
	}
	return templateKeys{Labels: bound(k.Labels), Annotations: bound(k.Annotations)}
}

// cachedFingerprints is the JSON of the fingerprints of sec's data (at most
// maxCachedDataKeys of them, then truncatedKey), or, for a Secret already transformed
// (informers may hand one back), the fingerprints it carries.
func cachedFingerprints(sec *corev1.Secret) string {
	if raw := sec.Annotations[cachedFingerprintsAnnotation]; sec.Data == nil && raw != "" && len(raw) <= maxCachedDataKeys*400 {
		return raw
	}
	keys := slices.Sorted(maps.Keys(sec.Data))
	fp := map[string]string{}
	for _, k := range keys {
		if len(fp) == maxCachedDataKeys {
			fp[truncatedKey] = "truncated"
			break
		}
		fp[k] = hashToken(sec.Data[k])
	}
	raw, _ := json.Marshal(fp)
	return string(raw)
}

// truncated reports whether the cached sec does not list every data key: what is written
// to it is then computed from the Secret read around the cache.
func truncated(sec *corev1.Secret) bool {
	_, ok := fingerprints(sec)[truncatedKey]
	return ok
}

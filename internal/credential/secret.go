package credential

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/devinapi"
)

// hashToken is the fingerprint kept in status to notice a Secret changed by someone else.
// A SHA-256 of a random 40-character token reveals nothing usable about it.
func hashToken(value []byte) string {
	sum := sha256.Sum256(value)
	return hex.EncodeToString(sum[:])
}

// getSecret returns the resource's Secret, nil when there is none. A Secret of that name
// that the resource does not control is a SecretConflict: the operator never takes over a
// Secret it did not create.
func (l *Lifecycle) getSecret(ctx context.Context, obj Object, name string) (*corev1.Secret, error) {
	sec := &corev1.Secret{}
	err := l.Client.Get(ctx, types.NamespacedName{Namespace: obj.GetNamespace(), Name: name}, sec)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get secret %s: %w", name, err)
	}
	if !metav1.IsControlledBy(sec, obj) {
		return nil, secretConflict(name)
	}
	return sec, nil
}

func secretConflict(name string) *Problem {
	return Stall(iamv1alpha1.ReasonSecretConflict, fmt.Sprintf("Secret %q exists and was not created by this resource; the operator never overwrites it: "+
		"delete it or choose another spec.secretName", name), nil).After(time.Minute)
}

// readAround reads a Secret from the API server, around the cache (which holds only Secrets
// the operator labelled, and not their values): nil when there is none; a conflict when the
// resource does not control it.
func (l *Lifecycle) readAround(ctx context.Context, obj Object, name string) (*corev1.Secret, error) {
	reader := l.Reader
	if reader == nil {
		reader = l.Client
	}
	sec := &corev1.Secret{}
	if err := reader.Get(ctx, types.NamespacedName{Namespace: obj.GetNamespace(), Name: name}, sec); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("get secret %s: %w", name, err)
	}
	if !metav1.IsControlledBy(sec, obj) {
		return nil, secretConflict(name)
	}
	return sec, nil
}

// fingerprints maps each data key of a Secret to a SHA-256 of its value: from the cache's
// record of them (the cache holds no values, see CacheTransform) or from the data itself.
func fingerprints(sec *corev1.Secret) map[string]string {
	if raw, ok := sec.Annotations[cachedFingerprintsAnnotation]; ok && sec.Data == nil {
		var fp map[string]string
		if json.Unmarshal([]byte(raw), &fp) == nil {
			return fp
		}
	}
	fp := make(map[string]string, len(sec.Data))
	for k, v := range sec.Data {
		fp[k] = hashToken(v)
	}
	return fp
}

// tokenKey finds the data key that holds the token with the given fingerprint: the
// resource's key, or any other (the key was renamed in the template).
func tokenKey(sec *corev1.Secret, key, hash string) (string, bool) {
	fp := fingerprints(sec)
	if fp[key] == hash {
		return key, true
	}
	for k, h := range fp {
		if h == hash {
			return k, true
		}
	}
	return "", false
}

// tokenValue reads the value of the token with the given fingerprint from a Secret read
// around the cache.
func tokenValue(sec *corev1.Secret, key, hash string) ([]byte, bool) {
	k, ok := tokenKey(sec, key, hash)
	if !ok {
		return nil, false
	}
	v, ok := sec.Data[k]
	return v, ok && hashToken(v) == hash
}

// deleteSecret deletes the Secret if the resource controls it.
func (l *Lifecycle) deleteSecret(ctx context.Context, obj Object, name string) error {
	sec, err := l.getSecret(ctx, obj, name)
	if err != nil || sec == nil {
		var p *Problem
		if err != nil && asProblem(err, &p) && p.Reason == iamv1alpha1.ReasonSecretConflict {
			return nil // not ours: leave it alone
		}
		return err
	}
	if err := l.Client.Delete(ctx, sec, client.Preconditions{UID: &sec.UID}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete secret %s: %w", name, err)
	}
	return nil
}

// tokenFromSecret reads which token a Secret holds from its annotations.
func tokenFromSecret(sec *corev1.Secret) (*iamv1alpha1.IssuedToken, bool) {
	id := sec.Annotations[iamv1alpha1.TokenIDAnnotation]
	if id == "" {
		return nil, false
	}
	tok := &iamv1alpha1.IssuedToken{ID: id, Name: sec.Annotations[iamv1alpha1.TokenNameAnnotation]}
	if t, err := time.Parse(time.RFC3339, sec.Annotations[iamv1alpha1.TokenIssuedAtAnnotation]); err == nil {
		tok.IssuedAt = metav1.NewTime(t)
	} else {
		tok.IssuedAt = sec.CreationTimestamp
	}
	if t, err := time.Parse(time.RFC3339, sec.Annotations[iamv1alpha1.TokenExpiresAtAnnotation]); err == nil {
		tok.ExpiresAt = timePtr(t)
	}
	return tok, true
}

func issuedToken(key *devinapi.IssuedKey, now time.Time) *iamv1alpha1.IssuedToken {
	tok := &iamv1alpha1.IssuedToken{ID: key.ID, Name: key.Name, IssuedAt: metav1.NewTime(now.Truncate(time.Second))}
	if key.ExpiresAt != nil {
		tok.ExpiresAt = timePtr(key.ExpiresAt.Truncate(time.Second))
	}
	return tok
}

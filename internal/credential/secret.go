package credential

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

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
	return &Problem{
		Reason:     iamv1alpha1.ReasonSecretConflict,
		Stalled:    true,
		RetryAfter: time.Minute,
		Message: fmt.Sprintf("Secret %q exists and was not created by this resource; the operator never overwrites it: "+
			"delete it or choose another spec.secretName", name),
	}
}

// readAround reads a Secret that is not in the cache: nil when there is none; a conflict
// when the resource does not control it.
func (l *Lifecycle) readAround(ctx context.Context, obj Object, name string) (*corev1.Secret, error) {
	if l.Reader == nil {
		return nil, nil
	}
	sec := &corev1.Secret{}
	if err := l.Reader.Get(ctx, types.NamespacedName{Namespace: obj.GetNamespace(), Name: name}, sec); err != nil {
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

// desiredSecret returns the Secret as the resource wants it, holding value under its key.
func (l *Lifecycle) desiredSecret(obj Object, name string, value []byte, tok *iamv1alpha1.IssuedToken) (*corev1.Secret, error) {
	tmpl := obj.Credential().SecretTemplate
	labels := map[string]string{}
	annotations := map[string]string{}
	if tmpl != nil {
		maps.Copy(labels, tmpl.Labels)
		maps.Copy(annotations, tmpl.Annotations)
	}
	labels[iamv1alpha1.ManagedByLabel] = iamv1alpha1.ManagedByValue
	annotations[iamv1alpha1.TokenIDAnnotation] = tok.ID
	annotations[iamv1alpha1.TokenNameAnnotation] = tok.Name
	annotations[iamv1alpha1.TokenIssuedAtAnnotation] = tok.IssuedAt.UTC().Format(time.RFC3339)
	if tok.ExpiresAt != nil {
		annotations[iamv1alpha1.TokenExpiresAtAnnotation] = tok.ExpiresAt.UTC().Format(time.RFC3339)
	}
	sec := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Namespace:   obj.GetNamespace(),
			Labels:      labels,
			Annotations: annotations,
		},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{SecretKey(obj): value},
	}
	if err := controllerutil.SetControllerReference(obj, sec, l.Client.Scheme()); err != nil {
		return nil, fmt.Errorf("set owner of secret %s: %w", name, err)
	}
	return sec, nil
}

// writeSecret creates or replaces the resource's Secret so that it holds value. existing is
// the Secret read before (nil when there was none).
func (l *Lifecycle) writeSecret(ctx context.Context, obj Object, existing *corev1.Secret, name string, value []byte, tok *iamv1alpha1.IssuedToken) (*corev1.Secret, error) {
	desired, err := l.desiredSecret(obj, name, value, tok)
	if err != nil {
		return nil, err
	}
	if existing == nil {
		createErr := l.Client.Create(ctx, desired)
		if createErr == nil {
			return desired, nil
		}
		if !apierrors.IsAlreadyExists(createErr) {
			return nil, fmt.Errorf("create secret %s: %w", name, createErr)
		}
		// It exists but is not in the cache, which holds only Secrets the operator labelled:
		// someone else's Secret, or ours with its label removed.
		live, err := l.readAround(ctx, obj, name)
		if err != nil {
			return nil, err
		}
		if live == nil {
			if l.Reader == nil {
				return nil, secretConflict(name)
			}
			return nil, fmt.Errorf("create secret %s: %w", name, createErr)
		}
		existing = live
	}
	updated := existing.DeepCopy()
	updated.Labels = desired.Labels
	updated.Annotations = mergeOwnAnnotations(existing.Annotations, desired.Annotations)
	updated.Data = desired.Data
	updated.Type = corev1.SecretTypeOpaque
	if err := l.Client.Update(ctx, updated); err != nil {
		return nil, fmt.Errorf("update secret %s: %w", name, err)
	}
	return updated, nil
}

// mergeOwnAnnotations keeps annotations other tools add to the Secret at run time (e.g.
// Reloader's bookkeeping) and sets those the resource wants.
func mergeOwnAnnotations(current, desired map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range current {
		if _, mine := desired[k]; mine {
			continue
		}
		if isOperatorAnnotation(k) {
			continue
		}
		out[k] = v
	}
	maps.Copy(out, desired)
	return out
}

func isOperatorAnnotation(k string) bool {
	switch k {
	case iamv1alpha1.TokenIDAnnotation, iamv1alpha1.TokenNameAnnotation,
		iamv1alpha1.TokenExpiresAtAnnotation, iamv1alpha1.TokenIssuedAtAnnotation:
		return true
	}
	return false
}

// secretNeedsSync reports whether the Secret's labels, template annotations or data key
// differ from what the resource asks for.
func (l *Lifecycle) secretNeedsSync(obj Object, sec *corev1.Secret, value []byte) bool {
	desired, err := l.desiredSecret(obj, sec.Name, value, &iamv1alpha1.IssuedToken{})
	if err != nil {
		return false
	}
	for k, v := range desired.Labels {
		if sec.Labels[k] != v {
			return true
		}
	}
	for k, v := range desired.Annotations {
		if isOperatorAnnotation(k) {
			continue
		}
		if sec.Annotations[k] != v {
			return true
		}
	}
	if len(sec.Data) != 1 {
		return true
	}
	_, ok := sec.Data[SecretKey(obj)]
	return !ok || sec.Type != corev1.SecretTypeOpaque
}

// tokenValue finds the token in a Secret: under the resource's key, or under any key whose
// value matches the fingerprint (the key was renamed in the template).
func tokenValue(sec *corev1.Secret, key, hash string) ([]byte, bool) {
	if v, ok := sec.Data[key]; ok && hashToken(v) == hash {
		return v, true
	}
	for _, v := range sec.Data {
		if hashToken(v) == hash {
			return v, true
		}
	}
	return nil, false
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

package credential

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// Forget deletes the resource's Secret and its metrics, leaving the upstream tokens alone
// (deletionPolicy Orphan, or after Revoke).
func (l *Lifecycle) Forget(ctx context.Context, obj Object) error {
	st := obj.CredentialStatus()
	for _, name := range []string{SecretName(obj), st.SecretName} {
		if name == "" {
			continue
		}
		if err := l.deleteSecret(ctx, obj, name); err != nil {
			return err
		}
	}
	l.forgetMemory(types.NamespacedName{Namespace: obj.GetNamespace(), Name: obj.GetName()}, obj.GetUID())
	return nil
}

// OrphanAllowed reports whether deleting the resource leaves its credentials upstream: its
// spec says Orphan, and that spec is admitted (its admission record covers it and a policy
// allows Orphan, or no policy applies). A deletionPolicy changed to Orphan with no record
// (after kubectl delete, say: updates of an object being deleted skip the webhooks) revokes.
func (l *Lifecycle) OrphanAllowed(ctx context.Context, obj Object, policy iamv1alpha1.DeletionPolicy) (bool, error) {
	if !IsDeletionPolicyOrphan(policy) {
		return false, nil
	}
	if l.Admission == nil {
		return true, nil
	}
	res := l.Admission.Admit(ctx, obj)
	if res.Err != nil {
		return false, fmt.Errorf("decide whether deletionPolicy Orphan is admitted: %w", res.Err)
	}
	if res.Off || res.Allowed || !res.Enforced {
		return true, nil
	}
	l.event(obj, corev1.EventTypeWarning, iamv1alpha1.EventOrphanRefused, "Delete",
		"deletionPolicy Orphan is not admitted (%s): revoking instead", res.Message)
	return false, nil
}

// IsDeletionPolicyOrphan reports whether deletion leaves the upstream credential alone.
func IsDeletionPolicyOrphan(p iamv1alpha1.DeletionPolicy) bool {
	return p == iamv1alpha1.DeletionPolicyOrphan
}

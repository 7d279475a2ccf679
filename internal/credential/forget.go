package credential

import (
	"context"

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
	l.Metrics.forget(l.Kind, obj)
	l.checks.forget(obj.GetUID())
	l.mints.forget(obj.GetUID())
	l.verdicts.forget(obj.GetUID())
	return nil
}

// IsDeletionPolicyOrphan reports whether deletion leaves the upstream credential alone.
func IsDeletionPolicyOrphan(p iamv1alpha1.DeletionPolicy) bool {
	return p == iamv1alpha1.DeletionPolicyOrphan
}

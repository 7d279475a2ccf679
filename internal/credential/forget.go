package credential

import (
	"context"
	"fmt"
	"sync"

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

// Gone drops what the lifecycle remembers of a resource that no longer exists, whether or
// not it went through Forget (one deleted before it had a finalizer, say): memory kept per
// resource is bounded by the resources that exist.
func (l *Lifecycle) Gone(key types.NamespacedName) {
	if uid, ok := l.residents.uid(key); ok {
		l.forgetMemory(key, uid)
	}
}

// forgetMemory drops the resource's check time, verdict, mint log and metrics.
func (l *Lifecycle) forgetMemory(key types.NamespacedName, uid types.UID) {
	l.Metrics.forgetKey(l.Kind, key)
	l.checks.forget(uid)
	l.verdicts.forget(uid)
	l.mints.forget(uid)
	l.residents.forget(key, uid)
}

// residents maps each resource the lifecycle has seen to its UID, so that the memory kept by
// UID can be dropped when only the name of a vanished resource is known.
type residents struct {
	mu   sync.Mutex
	uids map[types.NamespacedName]types.UID
}

// seen records uid as the resource's, and returns the UID an earlier resource of the same
// name had (whose memory is to be dropped), or "".
func (r *residents) seen(key types.NamespacedName, uid types.UID) types.UID {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.uids == nil {
		r.uids = map[types.NamespacedName]types.UID{}
	}
	old := r.uids[key]
	r.uids[key] = uid
	if old == uid {
		return ""
	}
	return old
}

func (r *residents) uid(key types.NamespacedName) (types.UID, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	uid, ok := r.uids[key]
	return uid, ok
}

func (r *residents) forget(key types.NamespacedName, uid types.UID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.uids[key] == uid {
		delete(r.uids, key)
	}
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

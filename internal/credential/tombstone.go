package credential

import (
	"context"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// Tombstone is what the lifecycle last knew of a resource, kept while the resource exists:
// enough to find what it left upstream if it vanishes without its finalizer's work (someone
// removed the finalizer, then deleted it).
type Tombstone struct {
	UID types.UID
	// Issued is set when the resource may have credentials upstream.
	Issued bool
	// UserID is a PersonalAccessToken's user, whose tokens carry the resource's marker.
	UserID string
	// Orphan is set when the admitted spec said deletionPolicy Orphan.
	Orphan bool
	// RestoredFrom is the resource's status.restoredFrom: a sweep proves ownership with the
	// markers its record names too (verified again, as for the resource).
	RestoredFrom string
	// Account is the account the resource acted through (its accountRef; nil: the default):
	// a sweep acts through that account alone.
	Account *iamv1alpha1.AccountRef
}

// Gone drops what the lifecycle remembers of a resource that no longer exists (finalizer or
// not): memory kept per resource is bounded by the resources that exist. It returns the
// resource's tombstone when the resource may have left credentials upstream that no
// deletion revoked; the caller sweeps them, then calls Buried.
func (l *Lifecycle) Gone(key types.NamespacedName) (Tombstone, bool) {
	t, ok := l.residents.get(key)
	if !ok {
		return Tombstone{}, false
	}
	l.Metrics.forgetKey(l.Kind, key)
	l.checks.forget(t.UID)
	l.verdicts.forget(t.UID)
	l.mints.forget(t.UID)
	if t.Issued && !t.Orphan {
		return t, true
	}
	l.residents.forget(key, t.UID)
	return Tombstone{}, false
}

// Vanished is Gone for a resource the cache no longer holds, judged by the API server before
// anything is swept: a cache holds what this process watches, not what exists. A resource
// still there under the same UID left this process's view (relabelled out of its shard) and
// did not vanish: its memory is dropped and nothing is swept. probe, an empty object of the
// resource's kind, is read into. The read is made only when there would be something to
// sweep, so a deletion that went as it should costs none.
func (l *Lifecycle) Vanished(ctx context.Context, key types.NamespacedName, probe Object) (Tombstone, bool, error) {
	if t, ok := l.residents.get(key); ok && t.Issued && !t.Orphan {
		switch err := l.Reader.Get(ctx, key, probe); {
		case err == nil && probe.GetUID() == t.UID:
			l.forgetMemory(key, t.UID)
			return Tombstone{}, false, nil
		case err != nil && !apierrors.IsNotFound(err):
			return Tombstone{}, false, err
		}
	}
	t, ok := l.Gone(key)
	return t, ok, nil
}

// Buried forgets a vanished resource whose credentials were swept.
func (l *Lifecycle) Buried(key types.NamespacedName, uid types.UID) { l.residents.forget(key, uid) }

// forgetMemory drops the resource's check time, verdict, mint log, metrics and tombstone:
// its deletion went as it should.
func (l *Lifecycle) forgetMemory(key types.NamespacedName, uid types.UID) {
	l.Metrics.forgetKey(l.Kind, key)
	l.checks.forget(uid)
	l.verdicts.forget(uid)
	l.mints.forget(uid)
	l.residents.forget(key, uid)
}

// remember records the resource's tombstone, and drops the memory of an earlier resource of
// the same name that vanished unseen.
func (l *Lifecycle) remember(obj Object, admitted bool) {
	key := types.NamespacedName{Namespace: obj.GetNamespace(), Name: obj.GetName()}
	t := Tombstone{UID: obj.GetUID(), Issued: l.EverIssued(obj), RestoredFrom: obj.CredentialStatus().RestoredFrom, Account: obj.AccountReference()}
	switch o := obj.(type) {
	case *iamv1alpha1.PersonalAccessToken:
		t.UserID = o.Status.UserID
		t.Orphan = admitted && IsDeletionPolicyOrphan(o.Spec.DeletionPolicy)
		t.Issued = t.Issued && !o.Imported() // an imported token is its owner's to revoke
	case *iamv1alpha1.ServiceUser:
		t.Orphan = admitted && IsDeletionPolicyOrphan(o.Spec.DeletionPolicy)
		t.Issued = t.Issued || o.Status.ServiceUserID != ""
	}
	if old := l.residents.seen(key, t); old != "" {
		l.forgetMemory(key, old)
		l.residents.seen(key, t)
	}
}

// residents holds the tombstone of each resource the lifecycle has seen, by name.
type residents struct {
	mu    sync.Mutex
	tombs map[types.NamespacedName]Tombstone
}

// seen records t, and returns the UID an earlier resource of the same name had (whose memory
// is to be dropped), or "".
func (r *residents) seen(key types.NamespacedName, t Tombstone) types.UID {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tombs == nil {
		r.tombs = map[types.NamespacedName]Tombstone{}
	}
	old, ok := r.tombs[key]
	r.tombs[key] = t
	if !ok || old.UID == t.UID {
		return ""
	}
	return old.UID
}

func (r *residents) get(key types.NamespacedName) (Tombstone, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.tombs[key]
	return t, ok
}

func (r *residents) uid(key types.NamespacedName) (types.UID, bool) {
	t, ok := r.get(key)
	return t.UID, ok
}

func (r *residents) forget(key types.NamespacedName, uid types.UID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tombs[key].UID == uid {
		delete(r.tombs, key)
	}
}

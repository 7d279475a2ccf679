// Package patch writes a resource's status as a merge patch against the last state written,
// so that a reconcile can make its intent durable mid-way (before an upstream create) and
// write the rest once at the end.
package patch

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// StatusPatcher patches the status subresource of one object with what changed since the
// last patch (or since it was created). Every patch carries the resourceVersion the
// reconcile is working from (optimistic locking): a reconcile that started from a stale
// cache, or that raced another writer, gets a conflict instead of writing status computed
// from an old state over a newer one.
type StatusPatcher struct {
	c    client.Client
	obj  client.Object
	base client.Object
}

// NewStatusPatcher remembers the object's current state as the base of the next patch.
func NewStatusPatcher(c client.Client, obj client.Object) *StatusPatcher {
	return &StatusPatcher{c: c, obj: obj, base: obj.DeepCopyObject().(client.Object)}
}

// Patch writes the status changes made since the last Patch, and fails with a conflict
// when the object has changed since this reconcile read it. With nothing to write it still
// asks the API server, so that it also confirms that the reconcile works from the latest
// state: call it before anything upstream that status must know of (a create, revoking a
// token status does not name). An object that is gone is an error: the caller must not go
// on as if its status were durable.
func (p *StatusPatcher) Patch(ctx context.Context) error {
	return p.patch(ctx, false, true)
}

// PatchIfExists is the last write of a reconcile: it does nothing when nothing changed,
// and an object that is gone (its finalizer was just removed) is not an error.
func (p *StatusPatcher) PatchIfExists(ctx context.Context) error {
	return p.patch(ctx, true, false)
}

func (p *StatusPatcher) patch(ctx context.Context, ignoreGone, confirm bool) error {
	data, err := client.MergeFrom(p.base).Data(p.obj)
	if err != nil {
		return fmt.Errorf("compute status patch: %w", err)
	}
	if string(data) == "{}" && !confirm {
		return nil
	}
	// The lock is the version this reconcile last saw: the one it read, or the one its own
	// writes (a finalizer, an earlier status patch) returned.
	base := p.base.DeepCopyObject().(client.Object)
	base.SetResourceVersion(p.obj.GetResourceVersion())
	if err := p.c.Status().Patch(ctx, p.obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		if ignoreGone && apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("patch status: %w", err)
	}
	p.base = p.obj.DeepCopyObject().(client.Object)
	return nil
}

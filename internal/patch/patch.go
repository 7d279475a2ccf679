// Package patch writes an object's status as a merge patch against the last state written,
// with optimistic locking, so that a reconcile can make a change of metadata durable mid-way
// (an intent recorded before an upstream create, a finalizer) and write the rest once at the
// end. It knows no kind of this project: what the metadata means belongs to its callers.
package patch

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
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
	// written runs once what the reconcile changed so far is durable (see AfterWrite).
	written []func()
}

// AfterWrite runs fn after the next status write that succeeds (or finds nothing to write):
// once what the reconcile has changed in status is durable. A write that fails or
// conflicts drops fn, so that memory kept beside status (when a resource was last checked
// upstream, say) never records what status lost: the next reconcile, from the latest
// state, does that work again.
func (p *StatusPatcher) AfterWrite(fn func()) {
	p.written = append(p.written, fn)
}

// wrote runs, then forgets, what waited for a successful write.
func (p *StatusPatcher) wrote() {
	for _, fn := range p.written {
		fn()
	}
	p.written = nil
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

// Confirm is Patch: a write locked on the version the reconcile works from (see
// credential.Persister).
func (p *StatusPatcher) Confirm(ctx context.Context) error { return p.Patch(ctx) }

// EnsureFinalizer adds the finalizer when the object lacks it, in one write of its metadata
// locked on the version the reconcile works from.
func (p *StatusPatcher) EnsureFinalizer(ctx context.Context, finalizer string) error {
	if controllerutil.ContainsFinalizer(p.obj, finalizer) {
		return nil
	}
	return p.PatchMetadata(ctx, func(o client.Object) { controllerutil.AddFinalizer(o, finalizer) })
}

// PatchMetadata writes mutate's change of the object's annotations and finalizers, locked on
// the version the reconcile works from, and keeps what it wrote in the object and in the base
// of the next status write, so that the status write neither resends nor reverts it. The
// status changes made so far stay pending for the next status write.
func (p *StatusPatcher) PatchMetadata(ctx context.Context, mutate func(client.Object)) error {
	before := p.obj.DeepCopyObject().(client.Object)
	after := p.obj.DeepCopyObject().(client.Object)
	mutate(after)
	if err := p.c.Patch(ctx, after, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("patch metadata: %w", err)
	}
	for _, o := range []client.Object{p.obj, p.base} {
		o.SetAnnotations(after.GetAnnotations())
		o.SetFinalizers(after.GetFinalizers())
		o.SetResourceVersion(after.GetResourceVersion())
	}
	return nil
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
		p.wrote()
		return nil
	}
	// The lock is the version this reconcile last saw: the one it read, or the one its own
	// writes (a finalizer, an earlier status patch) returned.
	base := p.base.DeepCopyObject().(client.Object)
	base.SetResourceVersion(p.obj.GetResourceVersion())
	if err := p.c.Status().Patch(ctx, p.obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		p.written = nil
		if ignoreGone && apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("patch status: %w", err)
	}
	p.base = p.obj.DeepCopyObject().(client.Object)
	p.wrote()
	return nil
}

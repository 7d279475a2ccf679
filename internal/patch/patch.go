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
// last patch (or since it was created).
type StatusPatcher struct {
	c    client.Client
	obj  client.Object
	base client.Object
}

// NewStatusPatcher remembers the object's current state as the base of the next patch.
func NewStatusPatcher(c client.Client, obj client.Object) *StatusPatcher {
	return &StatusPatcher{c: c, obj: obj, base: obj.DeepCopyObject().(client.Object)}
}

// Patch writes the status changes made since the last Patch. It does nothing when nothing
// changed. An object that is gone is an error: the caller must not go on as if its status
// were durable (e.g. before creating something upstream).
func (p *StatusPatcher) Patch(ctx context.Context) error {
	return p.patch(ctx, false)
}

// PatchIfExists is Patch for the last write of a reconcile: an object that is gone (its
// finalizer was just removed) is not an error.
func (p *StatusPatcher) PatchIfExists(ctx context.Context) error {
	return p.patch(ctx, true)
}

func (p *StatusPatcher) patch(ctx context.Context, ignoreGone bool) error {
	mp := client.MergeFrom(p.base)
	data, err := mp.Data(p.obj)
	if err != nil {
		return fmt.Errorf("compute status patch: %w", err)
	}
	if string(data) == "{}" {
		return nil
	}
	if err := p.c.Status().Patch(ctx, p.obj, mp); err != nil {
		if ignoreGone && apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("patch status: %w", err)
	}
	p.base = p.obj.DeepCopyObject().(client.Object)
	return nil
}

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
// changed, and ignores an object that is gone.
func (p *StatusPatcher) Patch(ctx context.Context) error {
	mp := client.MergeFrom(p.base)
	data, err := mp.Data(p.obj)
	if err != nil {
		return fmt.Errorf("compute status patch: %w", err)
	}
	if string(data) == "{}" {
		return nil
	}
	if err := p.c.Status().Patch(ctx, p.obj, mp); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("patch status: %w", err)
	}
	p.base = p.obj.DeepCopyObject().(client.Object)
	return nil
}

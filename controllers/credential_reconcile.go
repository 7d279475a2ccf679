package controllers

import (
	"context"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cogtokens/token-operator/internal/credential"
	"github.com/cogtokens/token-operator/internal/devinapi"
	"github.com/cogtokens/token-operator/internal/patch"
)

// credentialKind is what a credential reconciler adds to the opening both kinds share: how
// to sweep upstream what a resource that vanished left, how to revoke on deletion, and the
// rest of its life.
type credentialKind[T credential.Object] struct {
	client    client.Client
	recorder  events.EventRecorder
	lifecycle *credential.Lifecycle
	sweep     func(ctx context.Context, key types.NamespacedName, t credential.Tombstone) error
	delete    func(ctx context.Context, obj T) (ctrl.Result, error)
	normal    func(ctx context.Context, obj T, status *patch.StatusPatcher) (ctrl.Result, credential.Outcome, error)
}

// reconcile is the opening of both credential reconcilers: read the resource (or, gone,
// sweep what it left upstream), bound the reconcile's Devin API calls, make sure it works
// from the latest state, then either its deletion or the rest of its life; the outcome is
// reported (every condition, events, requeue: report is the status step) and status written
// once, at the end.
func (k credentialKind[T]) reconcile(ctx context.Context, req ctrl.Request, obj T) (result ctrl.Result, retErr error) {
	if err := k.client.Get(ctx, req.NamespacedName, obj); err != nil {
		return ctrl.Result{}, gone(ctx, k.lifecycle, req, err, obj, func(ctx context.Context, t credential.Tombstone) error {
			return k.sweep(devinapi.WithCallBudget(ctx, credential.CallsPerReconcile), req.NamespacedName, t)
		})
	}
	ctx = devinapi.WithCallBudget(ctx, credential.CallsPerReconcile)
	if err := k.lifecycle.Latest(ctx, obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !shouldReconcile(obj) {
		return ctrl.Result{}, nil
	}

	status := patch.NewStatusPatcher(k.client, obj)
	var out credential.Outcome
	defer func() {
		result, retErr = report(ctx, k.recorder, obj, out, result, retErr)
		result, retErr = writeStatus(ctx, status, result, retErr)
	}()

	if !obj.GetDeletionTimestamp().IsZero() {
		return k.delete(ctx, obj)
	}
	result, out, retErr = k.normal(ctx, obj, status)
	return result, retErr
}

package controllers

import (
	"context"
	"errors"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/credential"
	"github.com/cogtokens/token-operator/internal/devinapi"
)

// ensureFinalizer persists the finalizer of an object that is not being deleted, before
// anything happens upstream (as Cluster API's controllers do). It reports whether the
// reconcile goes on: an object being deleted without the finalizer has nothing left to do.
func ensureFinalizer(ctx context.Context, c client.Client, obj client.Object) (bool, error) {
	has := controllerutil.ContainsFinalizer(obj, iamv1alpha1.Finalizer)
	switch {
	case has:
		return true, nil
	case !obj.GetDeletionTimestamp().IsZero():
		return false, nil
	}
	return true, addFinalizer(ctx, c, obj)
}

// addFinalizer persists the finalizer before anything happens upstream.
func addFinalizer(ctx context.Context, c client.Client, obj client.Object) error {
	base := obj.DeepCopyObject().(client.Object)
	controllerutil.AddFinalizer(obj, iamv1alpha1.Finalizer)
	if err := c.Patch(ctx, obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("add finalizer: %w", err)
	}
	return nil
}

// removeFinalizer lets the API server delete the object; it is the last step of a deletion.
func removeFinalizer(ctx context.Context, c client.Client, obj client.Object) error {
	base := obj.DeepCopyObject().(client.Object)
	if !controllerutil.RemoveFinalizer(obj, iamv1alpha1.Finalizer) {
		return nil
	}
	if err := c.Patch(ctx, obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return client.IgnoreNotFound(fmt.Errorf("remove finalizer: %w", err))
	}
	return nil
}

func isNotFound(err error) bool { return errors.Is(err, devinapi.ErrNotFound) }

func isProblem(err error, reason string) bool {
	var p *credential.Problem
	return errors.As(err, &p) && p.Reason == reason
}

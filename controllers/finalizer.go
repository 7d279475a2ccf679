package controllers

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/credential"
	"github.com/cogtokens/token-operator/internal/devinapi"
)

// shouldReconcile reports whether a reconcile has anything to do: an object being deleted
// without the finalizer has nothing left upstream that the operator made (the finalizer is
// written by the first reconcile, before anything is created there).
func shouldReconcile(obj client.Object) bool {
	return obj.GetDeletionTimestamp().IsZero() || controllerutil.ContainsFinalizer(obj, iamv1alpha1.Finalizer)
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

// othersAnnotationsChanged passes updates that change an annotation other than the intent
// the operator itself writes before each create: that write must not cost a reconcile.
type othersAnnotationsChanged struct{ predicate.Funcs }

// Update reports whether an annotation other than iam.devin.ai/issue-intent changed.
func (othersAnnotationsChanged) Update(e event.UpdateEvent) bool {
	if e.ObjectOld == nil || e.ObjectNew == nil {
		return false
	}
	strip := func(a map[string]string) map[string]string {
		out := maps.Clone(a)
		delete(out, iamv1alpha1.IssueIntentAnnotation)
		return out
	}
	return !maps.Equal(strip(e.ObjectOld.GetAnnotations()), strip(e.ObjectNew.GetAnnotations()))
}

// everyOf maps any event to a request for every object of the list's kind (from the cache).
func everyOf(c client.Reader, list client.ObjectList) handler.MapFunc {
	return func(ctx context.Context, _ client.Object) []reconcile.Request {
		l := list.DeepCopyObject().(client.ObjectList)
		if err := c.List(ctx, l); err != nil {
			return nil
		}
		var out []reconcile.Request
		_ = meta.EachListItem(l, func(o runtime.Object) error {
			if co, ok := o.(client.Object); ok {
				out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(co)})
			}
			return nil
		})
		return out
	}
}

package webhook

import (
	"context"
	"net/http"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// TestDeletionNeverWaitsOnTheWebhook deletes objects that carry the operator's finalizer
// while the Devin API is down and every webhook answers 500: the updates that the operator
// and others make without touching the spec (annotations, finalizer removal) must not reach
// the webhooks at all, so the deletion completes.
func TestDeletionNeverWaitsOnTheWebhook(t *testing.T) {
	e := env(t)
	ns := e.namespace(t)
	ctx := context.Background()
	alice := e.clientAs("alice@example.com")

	pat := newPAT(ns, "pat", byEmail("alice@example.com"))
	pat.Finalizers = []string{iamv1alpha1.Finalizer}
	mustCreate(t, alice, pat)
	su := newServiceUser(ns, "su", iamv1alpha1.ScopeOrganization, "Member")
	su.Finalizers = []string{iamv1alpha1.Finalizer}
	mustCreate(t, alice, su)

	e.expireCaches()
	e.backendDown(t)
	e.probe.breakUntilCleanup(t)

	// The webhooks are really broken: a spec change fails...
	var cur iamv1alpha1.PersonalAccessToken
	if err := e.admin.Get(ctx, client.ObjectKeyFromObject(pat), &cur); err != nil {
		t.Fatal(err)
	}
	base := cur.DeepCopy()
	cur.Spec.Suspend = true
	err := alice.Patch(ctx, &cur, client.MergeFrom(base))
	wantRefused(t, err, http.StatusInternalServerError, `failed calling webhook "madmission.iam.devin.ai"`)
	// (The API server retries a failed call, so count from here.)
	paths := []string{MutatePersonalAccessTokenPath, MutateAdmissionPath, ValidatePersonalAccessTokenPath, ValidateServiceUserPath}
	before := map[string]int64{}
	for _, p := range paths {
		before[p] = e.probe.Calls(p)
	}

	// ...but annotations written by others (kubectl annotate is a merge patch) pass.
	for _, obj := range []client.Object{pat, su} {
		annotate := obj.DeepCopyObject().(client.Object)
		if err := e.admin.Get(ctx, client.ObjectKeyFromObject(obj), annotate); err != nil {
			t.Fatal(err)
		}
		base := annotate.DeepCopyObject().(client.Object)
		a := annotate.GetAnnotations()
		if a == nil {
			a = map[string]string{}
		}
		a["example.com/note"] = "deleting"
		annotate.SetAnnotations(a)
		if err := alice.Patch(ctx, annotate, client.MergeFrom(base)); err != nil {
			t.Fatalf("annotate %T: %v", obj, err)
		}
	}

	// DELETE is not admitted by the webhooks; then the finalizer goes, as the controller
	// removes it: by merge patch for the ServiceUser, by a full update for the PAT.
	for _, obj := range []client.Object{pat, su} {
		if err := alice.Delete(ctx, obj); err != nil {
			t.Fatalf("delete %T: %v", obj, err)
		}
	}
	var deleting iamv1alpha1.PersonalAccessToken
	if err := e.admin.Get(ctx, client.ObjectKeyFromObject(pat), &deleting); err != nil {
		t.Fatal(err)
	}
	if deleting.DeletionTimestamp == nil {
		t.Fatal("the PersonalAccessToken has no deletion timestamp")
	}
	controllerutil.RemoveFinalizer(&deleting, iamv1alpha1.Finalizer)
	if err := e.admin.Update(ctx, &deleting); err != nil {
		t.Fatalf("remove the PersonalAccessToken's finalizer: %v", err)
	}
	var deletingSU iamv1alpha1.ServiceUser
	if err := e.admin.Get(ctx, client.ObjectKeyFromObject(su), &deletingSU); err != nil {
		t.Fatal(err)
	}
	base2 := deletingSU.DeepCopy()
	controllerutil.RemoveFinalizer(&deletingSU, iamv1alpha1.Finalizer)
	if err := e.admin.Patch(ctx, &deletingSU, client.MergeFromWithOptions(base2, client.MergeFromWithOptimisticLock{})); err != nil {
		t.Fatalf("remove the ServiceUser's finalizer: %v", err)
	}

	for _, obj := range []client.Object{pat, su} {
		err := e.admin.Get(ctx, client.ObjectKeyFromObject(obj), obj.DeepCopyObject().(client.Object))
		if !apierrors.IsNotFound(err) {
			t.Errorf("%T %s still exists (err %v)", obj, obj.GetName(), err)
		}
	}
	for _, p := range paths {
		if n := e.probe.Calls(p) - before[p]; n != 0 {
			t.Errorf("%s received %d admission requests during the deletion; want 0", strings.TrimPrefix(p, "/"), n)
		}
	}
}

package patch_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/patch"
)

// kube is a client of a real kube-apiserver with the project's CRDs: what these tests prove
// (optimistic locking, the status subresource, a deleted object) is the API server's
// behaviour, which a fake client would only imitate. The project's kind is only a convenient
// object with a status subresource; the package knows none.
var kube client.Client

func TestMain(m *testing.M) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		println("KUBEBUILDER_ASSETS is not set: run make test, or export KUBEBUILDER_ASSETS=$(hack/setup-envtest.sh --print-path)")
		os.Exit(1)
	}
	te := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := te.Start()
	if err != nil {
		_ = te.Stop()
		println("start envtest:", err.Error())
		os.Exit(1)
	}
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = iamv1alpha1.AddToScheme(s)
	if kube, err = client.New(cfg, client.Options{Scheme: s}); err != nil {
		_ = te.Stop()
		println("client:", err.Error())
		os.Exit(1)
	}
	code := m.Run()
	_ = te.Stop()
	os.Exit(code)
}

// newObject creates an object in the default namespace and reads it back, as a reconcile
// starts from.
func newObject(t *testing.T, name string) *iamv1alpha1.PersonalAccessToken {
	t.Helper()
	ctx := context.Background()
	pat := &iamv1alpha1.PersonalAccessToken{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:       iamv1alpha1.PersonalAccessTokenSpec{User: iamv1alpha1.UserReference{Email: "alice@example.com"}},
	}
	if err := kube.Create(ctx, pat); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cur := &iamv1alpha1.PersonalAccessToken{}
		if kube.Get(ctx, client.ObjectKeyFromObject(pat), cur) == nil && len(cur.Finalizers) > 0 {
			cur.Finalizers = nil
			_ = kube.Update(ctx, cur)
		}
		_ = kube.Delete(ctx, cur)
	})
	return read(t, pat)
}

func read(t *testing.T, obj *iamv1alpha1.PersonalAccessToken) *iamv1alpha1.PersonalAccessToken {
	t.Helper()
	cur := &iamv1alpha1.PersonalAccessToken{}
	if err := kube.Get(context.Background(), client.ObjectKeyFromObject(obj), cur); err != nil {
		t.Fatal(err)
	}
	return cur
}

// touch changes the object behind the reconcile's back, as another writer would.
func touch(t *testing.T, obj *iamv1alpha1.PersonalAccessToken) {
	t.Helper()
	cur := read(t, obj)
	cur.Labels = map[string]string{"touched": "yes"}
	if err := kube.Update(context.Background(), cur); err != nil {
		t.Fatal(err)
	}
}

func TestAStaleReconcileGetsAConflict(t *testing.T) {
	ctx := context.Background()
	for name, write := range map[string]func(*patch.StatusPatcher) error{
		"status":   func(p *patch.StatusPatcher) error { return p.Patch(ctx) },
		"confirm":  func(p *patch.StatusPatcher) error { return p.Confirm(ctx) },
		"last":     func(p *patch.StatusPatcher) error { return p.PatchIfExists(ctx) },
		"metadata": func(p *patch.StatusPatcher) error { return p.EnsureFinalizer(ctx, "example.com/f") },
	} {
		t.Run(name, func(t *testing.T) {
			obj := newObject(t, "stale-"+name)
			p := patch.NewStatusPatcher(kube, obj)
			obj.Status.IssueCount = 1
			ran := false
			p.AfterWrite(func() { ran = true })
			touch(t, obj)
			err := write(p)
			if !apierrors.IsConflict(err) {
				t.Fatalf("a write from the state before another writer's change: %v, want a conflict", err)
			}
			if ran {
				t.Error("what waited for the write ran although the write conflicted")
			}
			if got := read(t, obj); got.Status.IssueCount != 0 || len(got.Finalizers) != 0 {
				t.Errorf("the conflicting write changed the object: status %+v, finalizers %v", got.Status, got.Finalizers)
			}
		})
	}
}

func TestAnEmptyPatchStillProvesTheLatestState(t *testing.T) {
	ctx := context.Background()
	obj := newObject(t, "confirm")
	p := patch.NewStatusPatcher(kube, obj)
	ran := false
	p.AfterWrite(func() { ran = true })
	if err := p.Confirm(ctx); err != nil {
		t.Fatalf("confirm from the latest state: %v", err)
	}
	if !ran {
		t.Error("what waited for the write did not run after a successful confirm")
	}
	// With nothing to write, the last write of a reconcile sends nothing, so a change made
	// since does not fail it.
	touch(t, obj)
	if err := p.PatchIfExists(ctx); err != nil {
		t.Errorf("the last write with nothing to write: %v", err)
	}
}

func TestMetadataWriteIsKeptInTheBase(t *testing.T) {
	ctx := context.Background()
	obj := newObject(t, "base")
	p := patch.NewStatusPatcher(kube, obj)
	obj.Status.IssueCount = 2
	if err := p.PatchMetadata(ctx, func(o client.Object) {
		o.SetAnnotations(map[string]string{"example.com/intent": "2"})
		controllerutil.AddFinalizer(o, "example.com/f")
	}); err != nil {
		t.Fatal(err)
	}
	if obj.Annotations["example.com/intent"] != "2" || !controllerutil.ContainsFinalizer(obj, "example.com/f") {
		t.Errorf("the object does not hold what was written: %v %v", obj.Annotations, obj.Finalizers)
	}
	if got := read(t, obj); got.Status.IssueCount != 0 {
		t.Errorf("the metadata write also wrote status: %+v", got.Status)
	}
	// The status write that follows is locked on the version the metadata write returned,
	// and neither resends nor reverts the metadata.
	if err := p.Patch(ctx); err != nil {
		t.Fatalf("status write after the reconcile's own metadata write: %v", err)
	}
	got := read(t, obj)
	if got.Status.IssueCount != 2 || got.Annotations["example.com/intent"] != "2" || !controllerutil.ContainsFinalizer(got, "example.com/f") {
		t.Errorf("after both writes: status %+v, annotations %v, finalizers %v", got.Status, got.Annotations, got.Finalizers)
	}
	// A second finalizer write finds it there and sends nothing.
	touch(t, obj)
	if err := p.EnsureFinalizer(ctx, "example.com/f"); err != nil {
		t.Errorf("ensure a finalizer the object has: %v", err)
	}
}

func TestWritingAnObjectThatIsGone(t *testing.T) {
	ctx := context.Background()
	obj := newObject(t, "gone")
	p := patch.NewStatusPatcher(kube, obj)
	if err := kube.Delete(ctx, read(t, obj)); err != nil {
		t.Fatal(err)
	}
	obj.Status.IssueCount = 3
	if err := p.Patch(ctx); !apierrors.IsNotFound(err) {
		t.Errorf("a status write mid-way on an object that is gone: %v, want not found (the reconcile must not go on as if it were durable)", err)
	}
	ran := false
	p.AfterWrite(func() { ran = true })
	if err := p.PatchIfExists(ctx); err != nil {
		t.Errorf("the last write on an object that is gone: %v, want none", err)
	}
	if ran {
		t.Error("what waited for the write ran although nothing was written")
	}
}

// Package consumers restarts the workloads that consume a credential's Secret, as `kubectl
// rollout restart` does (a pod-template annotation, never by deleting pods), and tells when
// they have rolled out, so that the previous token is revoked only once nothing still runs
// with it. Only the workloads a resource names, in its own namespace, are touched; the
// operator's RBAC for them is get, list and patch, nothing else.
package consumers

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// +kubebuilder:rbac:groups=apps,resources=deployments;statefulsets;daemonsets,verbs=get;list;patch

// RestartedAtAnnotation is the pod-template annotation kubectl rollout restart sets.
const RestartedAtAnnotation = "kubectl.kubernetes.io/restartedAt"

// rolloutGVK is Argo Rollouts' kind.
var rolloutGVK = schema.GroupVersionKind{Group: "argoproj.io", Version: "v1alpha1", Kind: "Rollout"}

// ErrTargets is wrapped by the error that lists the targets that could not be restarted.
var ErrTargets = errors.New("some restart targets could not be restarted")

// Workloads restarts and watches workloads through the Kubernetes API: Client patches, Reader
// reads around any cache (the operator caches no workloads).
type Workloads struct {
	Client client.Client
	Reader client.Reader
}

// workload is one target found.
type workload struct {
	kind string
	obj  client.Object
}

func (w workload) String() string { return w.kind + "/" + w.obj.GetName() }

// Restart stamps the pod template of every workload the targets name in namespace ns with
// at. It returns the workloads restarted, and ErrTargets (with what failed: missing,
// forbidden) when some could not be: a failed restart does not undo the others.
func (w *Workloads) Restart(ctx context.Context, ns string, targets []iamv1alpha1.RolloutRestartTarget, at time.Time) ([]string, error) {
	found, missing := w.find(ctx, ns, targets)
	var done []string
	failures := missing
	for _, wl := range found {
		if err := w.Client.Patch(ctx, wl.obj, client.RawPatch(types.MergePatchType, restartPatch(wl.kind, at))); err != nil {
			failures = append(failures, fmt.Sprintf("%s: %s", wl, reason(err)))
			continue
		}
		done = append(done, wl.String())
	}
	sort.Strings(done)
	if len(failures) > 0 {
		sort.Strings(failures)
		return done, fmt.Errorf("%w: %s", ErrTargets, strings.Join(failures, "; "))
	}
	return done, nil
}

// RolledOut reports whether every workload the targets name has rolled out a pod template
// restarted at or after since, and, when not, which one it waits for.
func (w *Workloads) RolledOut(ctx context.Context, ns string, targets []iamv1alpha1.RolloutRestartTarget, since time.Time) (bool, string, error) {
	found, missing := w.find(ctx, ns, targets)
	if len(missing) > 0 {
		return true, "", nil // nothing to wait for: a target that does not exist runs nothing
	}
	for _, wl := range found {
		if ok, why := rolledOut(wl, since); !ok {
			return false, fmt.Sprintf("the rollout of %s (%s)", wl, why), nil
		}
	}
	return true, "", nil
}

func restartPatch(kind string, at time.Time) []byte {
	ts := at.UTC().Format(time.RFC3339)
	if kind == "Rollout" {
		return []byte(fmt.Sprintf(`{"spec":{"restartAt":%q}}`, ts))
	}
	return []byte(fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{%q:%q}}}}}`, RestartedAtAnnotation, ts))
}

func reason(err error) string {
	switch {
	case apierrors.IsNotFound(err):
		return "not found"
	case apierrors.IsForbidden(err):
		return "the operator may not patch it"
	case meta.IsNoMatchError(err):
		return "its kind is not installed"
	}
	return err.Error()
}

// find lists the workloads the targets name; missing says which named ones do not exist
// (or cannot be read).
func (w *Workloads) find(ctx context.Context, ns string, targets []iamv1alpha1.RolloutRestartTarget) (found []workload, missing []string) {
	seen := map[string]bool{}
	for _, t := range targets {
		objs, err := w.lookup(ctx, ns, t)
		if err != nil {
			missing = append(missing, fmt.Sprintf("%s/%s: %s", t.Kind, t.Name, reason(err)))
			continue
		}
		for _, o := range objs {
			wl := workload{kind: t.Kind, obj: o}
			if !seen[wl.String()] {
				seen[wl.String()] = true
				found = append(found, wl)
			}
		}
	}
	return found, missing
}

func (w *Workloads) lookup(ctx context.Context, ns string, t iamv1alpha1.RolloutRestartTarget) ([]client.Object, error) {
	if t.Name != "" {
		obj := newObject(t.Kind)
		if err := w.Reader.Get(ctx, client.ObjectKey{Namespace: ns, Name: t.Name}, obj); err != nil {
			return nil, err
		}
		return []client.Object{obj}, nil
	}
	sel, err := metav1.LabelSelectorAsSelector(t.Selector)
	if err != nil {
		return nil, err
	}
	list := newList(t.Kind)
	if err := w.Reader.List(ctx, list, client.InNamespace(ns), client.MatchingLabelsSelector{Selector: sel}); err != nil {
		return nil, err
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		return nil, err
	}
	out := make([]client.Object, 0, len(items))
	for _, it := range items {
		if o, ok := it.(client.Object); ok {
			out = append(out, o)
		}
	}
	return out, nil
}

func newObject(kind string) client.Object {
	switch kind {
	case "StatefulSet":
		return &appsv1.StatefulSet{}
	case "DaemonSet":
		return &appsv1.DaemonSet{}
	case "Rollout":
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(rolloutGVK)
		return u
	}
	return &appsv1.Deployment{}
}

func newList(kind string) client.ObjectList {
	switch kind {
	case "StatefulSet":
		return &appsv1.StatefulSetList{}
	case "DaemonSet":
		return &appsv1.DaemonSetList{}
	case "Rollout":
		u := &unstructured.UnstructuredList{}
		u.SetGroupVersionKind(rolloutGVK.GroupVersion().WithKind("RolloutList"))
		return u
	}
	return &appsv1.DeploymentList{}
}

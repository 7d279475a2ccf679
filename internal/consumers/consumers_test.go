package consumers

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

var restartAt = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

func deployment(ns, name string, labels map[string]string) *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels}}
}

func restartedAt(t *testing.T, c client.Client, ns, name string) string {
	t.Helper()
	d := &appsv1.Deployment{}
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, d); err != nil {
		t.Fatal(err)
	}
	return d.Spec.Template.Annotations[RestartedAtAnnotation]
}

// Only what the targets name, in the resource's own namespace, is restarted; a target that
// is missing is reported and does not stop the others.
func TestRestartTouchesOnlyTheNamedWorkloadsOfTheNamespace(t *testing.T) {
	c := fake.NewClientBuilder().WithScheme(clientgoscheme.Scheme).WithObjects(
		deployment("team-a", "api", nil),
		deployment("team-a", "worker-1", map[string]string{"app": "worker"}),
		deployment("team-a", "worker-2", map[string]string{"app": "worker"}),
		deployment("team-a", "other", map[string]string{"app": "other"}),
		deployment("team-b", "api", nil),
		deployment("team-b", "worker-3", map[string]string{"app": "worker"}),
	).Build()
	w := &Workloads{Client: c, Reader: c}
	targets := []iamv1alpha1.RolloutRestartTarget{
		{Kind: "Deployment", Name: "api"},
		{Kind: "Deployment", Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "worker"}}},
		{Kind: "Deployment", Name: "worker-1"}, // named twice: restarted once
		{Kind: "Deployment", Name: "gone"},
	}
	done, err := w.Restart(context.Background(), "team-a", targets, restartAt)
	if !errors.Is(err, ErrTargets) || !strings.Contains(err.Error(), "Deployment/gone: not found") {
		t.Errorf("error %v, want ErrTargets naming Deployment/gone as not found", err)
	}
	if want := "Deployment/api Deployment/worker-1 Deployment/worker-2"; strings.Join(done, " ") != want {
		t.Errorf("restarted %v, want %s", done, want)
	}
	want := restartAt.Format(time.RFC3339)
	for name, restarted := range map[string]bool{"api": true, "worker-1": true, "worker-2": true, "other": false} {
		if got := restartedAt(t, c, "team-a", name); (got == want) != restarted {
			t.Errorf("team-a/%s restartedAt %q, restarted want %v", name, got, restarted)
		}
	}
	for _, name := range []string{"api", "worker-3"} {
		if got := restartedAt(t, c, "team-b", name); got != "" {
			t.Errorf("a workload of another namespace, team-b/%s, was restarted (%q)", name, got)
		}
	}
}

func TestRolledOutWaitsForEveryReplica(t *testing.T) {
	one := int32(2)
	stamped := map[string]string{RestartedAtAnnotation: restartAt.Format(time.RFC3339)}
	before := map[string]string{RestartedAtAnnotation: restartAt.Add(-time.Hour).Format(time.RFC3339)}
	dep := func(ann map[string]string, gen, observed int64, updated, total, available int32) *appsv1.Deployment {
		d := deployment("team-a", "api", nil)
		d.Generation, d.Spec.Replicas = gen, &one
		d.Spec.Template.Annotations = ann
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: observed, UpdatedReplicas: updated, Replicas: total, AvailableReplicas: available}
		return d
	}
	for name, tc := range map[string]struct {
		obj  *appsv1.Deployment
		want bool
		why  string
	}{
		"not restarted":           {dep(nil, 2, 2, 2, 2, 2), false, "not restarted yet"},
		"restarted before since":  {dep(before, 2, 2, 2, 2, 2), false, "not restarted yet"},
		"restart not observed":    {dep(stamped, 3, 2, 2, 2, 2), false, "the restart is not observed yet"},
		"old replicas still run":  {dep(stamped, 3, 3, 2, 3, 2), false, "2 of 2 replicas updated"},
		"new replicas not up yet": {dep(stamped, 3, 3, 1, 1, 1), false, "1 of 2 replicas updated"},
		"not available":           {dep(stamped, 3, 3, 2, 2, 1), false, "1 of 2 replicas available"},
		"rolled out":              {dep(stamped, 3, 3, 2, 2, 2), true, ""},
	} {
		t.Run(name, func(t *testing.T) {
			c := fake.NewClientBuilder().WithScheme(clientgoscheme.Scheme).WithObjects(tc.obj).Build()
			w := &Workloads{Client: c, Reader: c}
			ok, why, err := w.RolledOut(context.Background(), "team-a", []iamv1alpha1.RolloutRestartTarget{{Kind: "Deployment", Name: "api"}}, restartAt)
			if err != nil || ok != tc.want || (!ok && !strings.Contains(why, tc.why)) {
				t.Errorf("RolledOut = %v, %q, %v; want %v, %q", ok, why, err, tc.want, tc.why)
			}
		})
	}
}

func TestAMissingTargetIsNothingToWaitFor(t *testing.T) {
	c := fake.NewClientBuilder().WithScheme(clientgoscheme.Scheme).Build()
	w := &Workloads{Client: c, Reader: c}
	ok, _, err := w.RolledOut(context.Background(), "team-a", []iamv1alpha1.RolloutRestartTarget{{Kind: "StatefulSet", Name: "db"}}, restartAt)
	if !ok || err != nil {
		t.Errorf("RolledOut of a workload that does not exist = %v, %v; want true (it runs nothing)", ok, err)
	}
}

func TestStatefulSetWaitsForItsRevision(t *testing.T) {
	n := int32(1)
	s := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Generation: 2}}
	s.Spec.Replicas = &n
	s.Spec.Template.Annotations = map[string]string{RestartedAtAnnotation: restartAt.Format(time.RFC3339)}
	s.Status = appsv1.StatefulSetStatus{ObservedGeneration: 2, UpdatedReplicas: 1, Replicas: 1, AvailableReplicas: 1, CurrentRevision: "a", UpdateRevision: "b"}
	if ok, _ := rolledOut(workload{kind: "StatefulSet", obj: s}, restartAt); ok {
		t.Error("a StatefulSet whose current revision is not the update revision counts as rolled out")
	}
	s.Status.CurrentRevision = "b"
	if ok, why := rolledOut(workload{kind: "StatefulSet", obj: s}, restartAt); !ok {
		t.Errorf("a StatefulSet at its update revision: %s", why)
	}
}

func TestArgoRolloutIsReadFromItsSpecAndPhase(t *testing.T) {
	rollout := func(at, phase string, observed string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{
			"spec":   map[string]any{"restartAt": at},
			"status": map[string]any{"phase": phase, "observedGeneration": observed},
		}}
		u.SetGroupVersionKind(rolloutGVK)
		u.SetGeneration(4)
		return u
	}
	now := restartAt.Format(time.RFC3339)
	for name, tc := range map[string]struct {
		obj  *unstructured.Unstructured
		want bool
	}{
		"restarted before": {rollout(restartAt.Add(-time.Minute).Format(time.RFC3339), "Healthy", "4"), false},
		"progressing":      {rollout(now, "Progressing", "4"), false},
		"old generation":   {rollout(now, "Healthy", "3"), false},
		"healthy":          {rollout(now, "Healthy", "4"), true},
	} {
		if ok, _ := rolledOut(workload{kind: "Rollout", obj: tc.obj}, restartAt); ok != tc.want {
			t.Errorf("%s: rolled out %v, want %v", name, ok, tc.want)
		}
	}
	if got := string(restartPatch("Rollout", restartAt)); got != `{"spec":{"restartAt":"`+now+`"}}` {
		t.Errorf("the restart of a Rollout patches %s", got)
	}
}

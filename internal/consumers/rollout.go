package consumers

import (
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// rolledOut reports whether a workload runs a pod template restarted at or after since, on
// every replica, and when not, what is left.
func rolledOut(wl workload, since time.Time) (bool, string) {
	switch o := wl.obj.(type) {
	case *appsv1.Deployment:
		if !restartedSince(o.Spec.Template.Annotations, since) {
			return false, "not restarted yet"
		}
		want := replicas(o.Spec.Replicas)
		s := o.Status
		return done(o.Generation, s.ObservedGeneration, want, s.UpdatedReplicas, s.Replicas, s.AvailableReplicas)
	case *appsv1.StatefulSet:
		if !restartedSince(o.Spec.Template.Annotations, since) {
			return false, "not restarted yet"
		}
		want := replicas(o.Spec.Replicas)
		s := o.Status
		if s.CurrentRevision != s.UpdateRevision {
			return false, fmt.Sprintf("%d of %d replicas updated", s.UpdatedReplicas, want)
		}
		return done(o.Generation, s.ObservedGeneration, want, s.UpdatedReplicas, s.Replicas, s.AvailableReplicas)
	case *appsv1.DaemonSet:
		if !restartedSince(o.Spec.Template.Annotations, since) {
			return false, "not restarted yet"
		}
		s := o.Status
		return done(o.Generation, s.ObservedGeneration, s.DesiredNumberScheduled, s.UpdatedNumberScheduled, s.CurrentNumberScheduled, s.NumberAvailable)
	case *unstructured.Unstructured:
		return rolloutDone(o, since)
	}
	return true, ""
}

// done: the controller has seen the latest spec, and every replica runs it and is available.
func done(generation, observed int64, want, updated, total, available int32) (bool, string) {
	switch {
	case observed < generation:
		return false, "the restart is not observed yet"
	case updated < want || total > updated:
		return false, fmt.Sprintf("%d of %d replicas updated", updated, want)
	case available < want:
		return false, fmt.Sprintf("%d of %d replicas available", available, want)
	}
	return true, ""
}

// rolloutDone reads an Argo Rollout: restarted since (spec.restartAt), and Healthy at the
// current generation.
func rolloutDone(u *unstructured.Unstructured, since time.Time) (bool, string) {
	at, _, _ := unstructured.NestedString(u.Object, "spec", "restartAt")
	if t, err := time.Parse(time.RFC3339, at); err != nil || t.Before(since.Truncate(time.Second)) {
		return false, "not restarted yet"
	}
	observed, _, _ := unstructured.NestedString(u.Object, "status", "observedGeneration")
	phase, _, _ := unstructured.NestedString(u.Object, "status", "phase")
	if observed != fmt.Sprint(u.GetGeneration()) || phase != "Healthy" {
		return false, "phase " + phase
	}
	return true, ""
}

func restartedSince(annotations map[string]string, since time.Time) bool {
	t, err := time.Parse(time.RFC3339, annotations[RestartedAtAnnotation])
	return err == nil && !t.Before(since.Truncate(time.Second))
}

func replicas(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

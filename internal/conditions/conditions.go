// Package conditions sets the kstatus conditions of token-operator resources through one
// helper, so that every condition carries the observed generation and keeps its transition
// time while its status does not change.
package conditions

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// Set sets one condition on the list, stamped with the generation it describes.
// LastTransitionTime changes only when the status changes.
func Set(conds *[]metav1.Condition, generation int64, condType string, status metav1.ConditionStatus, reason, message string) {
	meta.SetStatusCondition(conds, metav1.Condition{
		Type:               condType,
		Status:             status,
		Reason:             reason,
		Message:            message,
		ObservedGeneration: generation,
	})
}

// Ready marks the resource as ready: Ready=True, Reconciling and Stalled removed.
func Ready(conds *[]metav1.Condition, generation int64, reason, message string) {
	Set(conds, generation, iamv1alpha1.ConditionReady, metav1.ConditionTrue, reason, message)
	meta.RemoveStatusCondition(conds, iamv1alpha1.ConditionReconciling)
	meta.RemoveStatusCondition(conds, iamv1alpha1.ConditionStalled)
}

// Progressing marks work under way: Reconciling=True, Ready=False (or left True when the
// resource still has a working credential, keepReady), Stalled removed.
func Progressing(conds *[]metav1.Condition, generation int64, reason, message string, keepReady bool) {
	Set(conds, generation, iamv1alpha1.ConditionReconciling, metav1.ConditionTrue, reason, message)
	if !keepReady {
		Set(conds, generation, iamv1alpha1.ConditionReady, metav1.ConditionFalse, reason, message)
	}
	meta.RemoveStatusCondition(conds, iamv1alpha1.ConditionStalled)
}

// Stalled marks a resource that cannot progress until its spec or the upstream account
// changes: Stalled=True, Ready=False (or left True when the resource still has a working
// credential, keepReady), Reconciling removed.
func Stalled(conds *[]metav1.Condition, generation int64, reason, message string, keepReady bool) {
	Set(conds, generation, iamv1alpha1.ConditionStalled, metav1.ConditionTrue, reason, message)
	if !keepReady {
		Set(conds, generation, iamv1alpha1.ConditionReady, metav1.ConditionFalse, reason, message)
	}
	meta.RemoveStatusCondition(conds, iamv1alpha1.ConditionReconciling)
}

// IsReady reports whether Ready is True for the given generation of the resource: a Ready
// condition observed for an older spec says nothing about the current one.
func IsReady(conds []metav1.Condition, generation int64) bool {
	c := meta.FindStatusCondition(conds, iamv1alpha1.ConditionReady)
	return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == generation
}

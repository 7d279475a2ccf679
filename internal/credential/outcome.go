package credential

import (
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/conditions"
)

// Verdict is a condition the lifecycle decided on; the controller's status step writes it.
type Verdict struct {
	Status          metav1.ConditionStatus
	Reason, Message string
}

// Outcome is what one reconcile of the lifecycle found, beside status fields it owns (the
// token, revocations, the policy): when to come back, and the verdicts that become
// conditions. Reconcile returns it whether it succeeds or not, with what was decided before
// it stopped.
type Outcome struct {
	// Wake is when to reconcile again; zero: on the next event.
	Wake time.Duration
	// Admitted is the verdict on the spec (nil: not judged this time); Unjudged says no
	// policy applies (--policy-mode=off), which removes the condition.
	Admitted *Verdict
	Unjudged bool
	// ConsumersRestarted is the result of a restart of the consumers; nil when none was made.
	ConsumersRestarted *Verdict
	// ExpiringSoon is the verdict on the upstream owner's expiry (a ServiceUser's), which its
	// controller sets; nil for kinds whose owner does not expire.
	ExpiringSoon *Verdict
	// Unused is the verdict on the current key's use (with spec unusedAfter), from the
	// periodic check; nil when no check ran.
	Unused *Verdict
}

// SetConditions writes the outcome's verdicts as conditions of obj, for the status step.
func (o Outcome) SetConditions(obj Object) {
	st := obj.CredentialStatus()
	set := func(typ string, v *Verdict) {
		if v != nil {
			conditions.Set(&st.Conditions, obj.GetGeneration(), typ, v.Status, v.Reason, v.Message)
		}
	}
	if o.Unjudged {
		meta.RemoveStatusCondition(&st.Conditions, iamv1alpha1.ConditionAdmitted)
	}
	set(iamv1alpha1.ConditionAdmitted, o.Admitted)
	set(iamv1alpha1.ConditionConsumersRestarted, o.ConsumersRestarted)
	set(iamv1alpha1.ConditionExpiringSoon, o.ExpiringSoon)
	if obj.Credential().UnusedAfter == nil {
		meta.RemoveStatusCondition(&st.Conditions, iamv1alpha1.ConditionUnused)
	} else {
		set(iamv1alpha1.ConditionUnused, o.Unused)
	}
}

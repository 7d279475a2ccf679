package kubectldevin

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/conditions"
)

// check reports whether the rotation is done: status acted on the value set, the resource
// is Ready with a token and, for a compromised token, the previous one is revoked. A Stalled
// condition that appeared or changed since the request refuses it.
func (rot *rotation) check(cur credentialObject, p *progress) (bool, error) {
	st := cur.CredentialStatus()
	if c := meta.FindStatusCondition(st.Conditions, iamv1alpha1.ConditionStalled); c != nil &&
		c.Status == metav1.ConditionTrue && changed(rot.stalledBefore, c) {
		if c.Reason == iamv1alpha1.ReasonMintBudgetExhausted {
			return false, answerNo("%s: the rotation was refused by the operator's mint budget (%s): %s. The Secret keeps "+
				"its token; the annotation stays set, so the operator rotates once the budget allows", rot.ref, c.Reason, c.Message)
		}
		return false, answerNo("%s: the rotation is stuck (Stalled, %s): %s", rot.ref, c.Reason, c.Message)
	}
	switch {
	case st.RotateRequest != rot.value:
		p.say("waiting for the operator to act on the request" + underWay(st.Conditions))
	case st.Token == nil || !conditions.IsReady(st.Conditions, cur.GetGeneration()):
		p.say("a new token was issued; waiting for Ready" + underWay(st.Conditions))
	case rot.compromised && rot.previous != nil && pendingRevocation(st, rot.previous.ID) != nil:
		p.say("the Secret holds the new token; revoking the previous token " + rot.previous.ID)
	default:
		return true, nil
	}
	return false, nil
}

// changed reports whether the Stalled condition now differs from the one before the request.
func changed(before, now *metav1.Condition) bool {
	return before == nil || before.Status != now.Status || before.Reason != now.Reason ||
		before.Message != now.Message || !before.LastTransitionTime.Equal(&now.LastTransitionTime)
}

// underWay names the work the operator says is under way, or the reason it is stuck.
func underWay(conds []metav1.Condition) string {
	for _, t := range []string{iamv1alpha1.ConditionStalled, iamv1alpha1.ConditionReconciling} {
		if c := meta.FindStatusCondition(conds, t); c != nil && c.Status == metav1.ConditionTrue {
			return fmt.Sprintf(" (%s: %s)", t, c.Reason)
		}
	}
	return ""
}

func pendingRevocation(st *iamv1alpha1.CredentialStatus, id string) *iamv1alpha1.PendingRevocation {
	for i := range st.PendingRevocations {
		if st.PendingRevocations[i].ID == id {
			return &st.PendingRevocations[i]
		}
	}
	return nil
}

// report says what the rotation did: the new token, and what became of the previous one.
func (rot *rotation) report(ios streams, cur credentialObject) {
	st := cur.CredentialStatus()
	fmt.Fprintf(ios.out, "%s rotated: Secret %s holds token %s\n", rot.ref, st.SecretName, st.Token.ID)
	if rot.previous == nil {
		fmt.Fprintln(ios.out, "There was no previous token.")
		return
	}
	fmt.Fprintf(ios.out, "Previous token %s: %s\n", rot.previous.ID, rot.previousFate(cur, ios.clock.Now()))
}

// previousFate says what became of the token the rotation replaced.
func (rot *rotation) previousFate(cur credentialObject, now time.Time) string {
	st := cur.CredentialStatus()
	id := rot.previous.ID
	switch pending := pendingRevocation(st, id); {
	case id == st.Token.ID:
		return "unchanged: the source Secret of the import holds the same token (put the owner's new token there)"
	case cur.Imported():
		return "not revoked: an imported token is revoked by its owner, in account settings"
	case pending != nil:
		return "still valid, waiting for " + revocations([]iamv1alpha1.PendingRevocation{*pending}, now)[0].WaitsFor
	case rot.compromised:
		return "revoked at once (--compromised)"
	}
	return "revoked (no longer pending)"
}

package kubectldevin

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// meanings say what each condition type means, when True and when False.
var meanings = map[string][2]string{
	iamv1alpha1.ConditionReady: {"ready: the Secret holds a live token",
		"not ready: the Secret holds no usable token for this spec"},
	iamv1alpha1.ConditionReconciling: {"in progress: the operator is working towards the spec",
		"settled: no work under way"},
	iamv1alpha1.ConditionStalled: {"stuck: only a change of the spec, of the policies or of the upstream account helps",
		"not stuck"},
	iamv1alpha1.ConditionAdmitted: {"admitted: a CredentialPolicy allows this spec for its requester",
		"not admitted: no CredentialPolicy allows this spec for its requester, nothing new is minted"},
	iamv1alpha1.ConditionConsumersRestarted: {"the restart targets were restarted for the current token",
		"the restart targets were not all restarted for the current token"},
	iamv1alpha1.ConditionExpiringSoon: {"the service user itself expires soon: a new one will be provisioned",
		"the service user is far from its own expiry"},
	iamv1alpha1.ConditionUnused: {"the key has not been used for spec.apiKey.unusedAfter: delete the resource if nothing needs it",
		"the key was used (or issued) within spec.apiKey.unusedAfter"},
}

// conditionOrder is the order status lists conditions in: the summary first, then what
// explains it.
var conditionOrder = []string{iamv1alpha1.ConditionReady, iamv1alpha1.ConditionStalled, iamv1alpha1.ConditionReconciling,
	iamv1alpha1.ConditionAdmitted, iamv1alpha1.ConditionConsumersRestarted, iamv1alpha1.ConditionExpiringSoon, iamv1alpha1.ConditionUnused}

// conditionReports lists the conditions in conditionOrder (others last), each in plain words.
func conditionReports(conds []metav1.Condition, generation int64) []conditionReport {
	rank := func(t string) int {
		if i := slices.Index(conditionOrder, t); i >= 0 {
			return i
		}
		return len(conditionOrder)
	}
	out := make([]conditionReport, 0, len(conds))
	for _, c := range conds {
		out = append(out, conditionReport{Type: c.Type, Status: string(c.Status), Reason: c.Reason, Message: c.Message,
			Meaning: meaning(c), Since: c.LastTransitionTime.DeepCopy(), Stale: c.ObservedGeneration != generation})
	}
	sort.SliceStable(out, func(i, j int) bool { return rank(out[i].Type) < rank(out[j].Type) })
	return out
}

func meaning(c metav1.Condition) string {
	m, ok := meanings[c.Type]
	switch {
	case !ok:
		return fmt.Sprintf("%s is %s", c.Type, c.Status)
	case c.Status == metav1.ConditionTrue:
		return m[0]
	case c.Status == metav1.ConditionFalse:
		return m[1]
	}
	return c.Type + ": not known yet"
}

// tokenOf reports the token the Secret holds, its expiry and its renewal.
func tokenOf(obj credentialObject) *tokenReport {
	st := obj.CredentialStatus()
	if st.Token == nil {
		return nil
	}
	rep := &tokenReport{
		ID: st.Token.ID, Name: st.Token.Name, Secret: st.SecretName, IssuedAt: st.Token.IssuedAt.DeepCopy(),
		ExpiresAt: st.ExpiresAt, RenewAt: st.RenewAt, Imported: obj.Imported(),
		LastRotation: st.LastRotationTime, LastRotationReason: st.LastRotationReason,
	}
	switch {
	case obj.Imported():
		rep.Renewal = "not renewed by the operator: an imported token is renewed and revoked by its owner in account settings"
	case obj.Suspended():
		rep.Renewal = "not renewed while spec.suspend is true"
	case st.RenewAt != nil:
		rep.Renewal = "replaced from " + st.RenewAt.UTC().Format(time.RFC3339)
	default:
		rep.Renewal = "not renewed: it ends with its owner (the service user's own expiry)"
	}
	return rep
}

// revocations reports each replaced token and what its revocation waits for.
func revocations(pending []iamv1alpha1.PendingRevocation, now time.Time) []revocationReport {
	out := []revocationReport{}
	for _, p := range pending {
		deadline := p.RevokeAt.UTC().Format(time.RFC3339)
		var waits string
		switch {
		case !p.RevokeAt.After(now):
			waits = "nothing: due now, the operator revokes it at its next pass"
		case p.WaitForConsumers && p.WaitingFor != "":
			waits = p.WaitingFor + "; at the latest " + deadline
		case p.WaitForConsumers:
			waits = "its consumers to switch to the new token; at the latest " + deadline
		default:
			waits = "the end of its grace period, " + deadline
		}
		out = append(out, revocationReport{ID: p.ID, Name: p.Name, Since: p.Since, RevokeAt: p.RevokeAt.DeepCopy(), WaitsFor: waits})
	}
	return out
}

// restartsOf reports the restart targets and their last restart; nil when there are none.
func restartsOf(obj credentialObject) *restartReport {
	spec := obj.Credential()
	st := obj.CredentialStatus()
	if len(spec.RolloutRestartTargets) == 0 && st.Restart == nil {
		return nil
	}
	rep := &restartReport{Targets: []string{}}
	for _, t := range spec.RolloutRestartTargets {
		if t.Name != "" {
			rep.Targets = append(rep.Targets, t.Kind+"/"+t.Name)
			continue
		}
		rep.Targets = append(rep.Targets, t.Kind+" selected by "+metav1.FormatLabelSelector(t.Selector))
	}
	if st.Restart != nil {
		rep.LastAt, rep.LastToken, rep.Restarted = st.Restart.At.DeepCopy(), st.Restart.TokenID, st.Restart.Targets
	}
	return rep
}

// describeOwner is the person a PersonalAccessToken belongs to, as the spec names them and
// as the operator resolved them.
func describeOwner(p *iamv1alpha1.PersonalAccessToken) string {
	parts := []string{}
	if p.Spec.User.Email != "" {
		parts = append(parts, p.Spec.User.Email)
	}
	if p.Spec.User.ID != "" {
		parts = append(parts, "user "+p.Spec.User.ID)
	}
	if p.Status.UserID != "" && p.Status.UserID != p.Spec.User.ID {
		parts = append(parts, "upstream "+p.Status.UserID)
	}
	return strings.Join(parts, ", ")
}

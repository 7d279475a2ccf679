package tenancy

import (
	"context"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/conditions"
	"github.com/cogtokens/token-operator/internal/credential"
)

// teamPolicy allows, in the namespaces listed: Member service users of the default
// organization, everyone's own personal access token, and delegates (RBAC delegate) to ask
// for dave@example.com's.
func teamPolicy(namespaces ...string) *iamv1alpha1.CredentialPolicy {
	return &iamv1alpha1.CredentialPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "team-" + rand.String(6)},
		Spec: iamv1alpha1.CredentialPolicySpec{
			NamespaceSelector: iamv1alpha1.NamespaceSelector{MatchExpressions: []iamv1alpha1.NamespaceSelectorRequirement{{
				Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpIn, Values: namespaces,
			}}},
			ServiceUsers: &iamv1alpha1.ServiceUserPolicy{Roles: []string{"Member"}},
			PersonalAccessTokens: &iamv1alpha1.PersonalAccessTokenPolicy{
				Delegation: &iamv1alpha1.DelegationPolicy{Users: []string{"dave@example.com"}},
			},
		},
	}
}

// waitFor waits until obj (re-read) satisfies ok, and returns it.
func waitFor[T credential.Object](t *testing.T, obj T, ok func(T) bool, what string) T {
	t.Helper()
	NewWithT(t).Eventually(func() bool {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return false
		}
		return ok(obj)
	}, timeout, interval).Should(BeTrue(), "%s/%s: %s; conditions: %+v", obj.GetNamespace(), obj.GetName(), what, obj.CredentialStatus().Conditions)
	return obj
}

func isReady[T credential.Object](obj T) bool {
	st := obj.CredentialStatus()
	return conditions.IsReady(st.Conditions, obj.GetGeneration()) && st.Token != nil
}

// waitReady waits until obj is Ready with a token.
func waitReady[T credential.Object](t *testing.T, obj T) T {
	t.Helper()
	return waitFor(t, obj, isReady[T], "Ready with a token")
}

// waitAdmitted waits until obj's Admitted condition, for its current generation, has the
// status and reason, and its message holds want.
func waitAdmitted[T credential.Object](t *testing.T, obj T, status metav1.ConditionStatus, reason, want string) T {
	t.Helper()
	return waitFor(t, obj, func(o T) bool {
		c := meta.FindStatusCondition(o.CredentialStatus().Conditions, iamv1alpha1.ConditionAdmitted)
		return c != nil && c.ObservedGeneration == o.GetGeneration() && c.Status == status && c.Reason == reason &&
			strings.Contains(c.Message, want)
	}, "Admitted "+string(status)+" "+reason+" saying "+want)
}

// waitStalled waits until obj is Stalled for reason, with a message holding want.
func waitStalled[T credential.Object](t *testing.T, obj T, reason, want string) T {
	t.Helper()
	return waitFor(t, obj, func(o T) bool {
		c := meta.FindStatusCondition(o.CredentialStatus().Conditions, iamv1alpha1.ConditionStalled)
		return c != nil && c.ObservedGeneration == o.GetGeneration() && c.Status == metav1.ConditionTrue &&
			c.Reason == reason && strings.Contains(c.Message, want)
	}, "Stalled "+reason+" saying "+want)
}

// upstreamOf lists what the Devin API holds for the resource: tokens and service users whose
// names carry its UID (every upstream name the operator makes does).
func upstreamOf(obj client.Object) (tokens, serviceUsers []string) {
	uid := string(obj.GetUID())
	for _, tok := range env.Devin.Tokens() {
		if strings.Contains(tok.Name, uid) {
			tokens = append(tokens, tok.ID)
		}
	}
	for _, su := range env.Devin.ServiceUsers() {
		if strings.Contains(su.Name, uid) {
			serviceUsers = append(serviceUsers, su.ID)
		}
	}
	return tokens, serviceUsers
}

// expectNothingUpstream asserts the Devin API holds nothing for the resource.
func expectNothingUpstream(t *testing.T, obj client.Object) {
	t.Helper()
	tokens, sus := upstreamOf(obj)
	NewWithT(t).Expect(append(tokens, sus...)).To(BeEmpty(), "%s/%s was minted upstream", obj.GetNamespace(), obj.GetName())
}

// writes counts the requests that change anything upstream (every method but GET).
func writes() int {
	n := 0
	for route, calls := range env.Devin.Calls() {
		if !strings.HasPrefix(route, "GET ") {
			n += calls
		}
	}
	return n
}

// upstreamRole is the ID of the role the resource's service user holds upstream.
func upstreamRole(t *testing.T, su *iamv1alpha1.ServiceUser) string {
	t.Helper()
	for _, u := range env.Devin.ServiceUsers() {
		if u.ID != su.Status.ServiceUserID {
			continue
		}
		for _, ra := range u.RoleAssignments {
			return ra.Role.ID
		}
	}
	t.Fatalf("service user %s not found upstream", su.Status.ServiceUserID)
	return ""
}

// eventReasons lists the reasons of the events about obj.
func eventReasons(obj client.Object) []string {
	evs := &eventsv1.EventList{}
	if err := k8s.List(context.Background(), evs, client.InNamespace(obj.GetNamespace())); err != nil {
		return nil
	}
	var reasons []string
	for _, ev := range evs.Items {
		if ev.Regarding.UID == obj.GetUID() {
			reasons = append(reasons, ev.Reason)
		}
	}
	return reasons
}

package reliability

import (
	"context"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

// TestOneUserLookupPerAdmissionAndMint: the webhook and the controller share one user
// directory, so a PersonalAccessToken admitted and then minted within the cache's TTL costs
// the Devin API the calls of one user lookup, not two.
func TestOneUserLookupPerAdmissionAndMint(t *testing.T) {
	g := newG(t)
	ctx := context.Background()
	const email = "looked-up-once@example.com"
	env.Devin.UpsertUser(devinapitest.SeedUser{ID: "user-looked-up-once", Email: email, PATEnabled: true})

	// What one lookup of this user costs, asked directly.
	before := userLookupCalls()
	_, err := devinClient().FindUserByEmail(ctx, email)
	g.Expect(err).NotTo(HaveOccurred())
	perLookup := userLookupCalls() - before
	g.Expect(perLookup).To(BeNumerically(">", 0))

	ns := newNamespace(t)
	supervise(t, operatorOptions())
	before = userLookupCalls()
	pat := newPAT(ns, "once", email)
	createAll(t, []client.Object{pat}) // admitted by the webhook: the first lookup
	waitSettled(t, ns)                 // minted by the controller: served from the directory
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(pat), pat)).To(Succeed())
	g.Expect(ready(pat)).To(BeTrue())
	g.Expect(userLookupCalls()-before).To(Equal(perLookup),
		"the admission and the mint of one user must cost one lookup (the webhook and the controllers share the directory)")
	expectInvariant(t)
}

// userLookupCalls counts the requests the Devin API has served for user lookups.
func userLookupCalls() int {
	n := 0
	for route, c := range env.Devin.Calls() {
		if strings.Contains(route, "/personal-access-tokens") {
			continue // the token itself, not the user
		}
		if strings.Contains(route, "/members/users") || strings.Contains(route, "/members/idp-users") || strings.Contains(route, "/v2/enterprise/members") {
			n += c
		}
	}
	return n
}

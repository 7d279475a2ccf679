// Phase webhook measures admission latency: dry-run creates through the webhooks with the
// user lookup cached and not, beside creates that the webhooks skip.

package main

import (
	"context"
	"fmt"
	"time"

	"github.com/cogtokens/token-operator/internal/testing/devenv"
	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

// latencySeries is the client-side duration of a series of server-side dry-run creates.
type latencySeries struct {
	name      string
	durations []time.Duration
	// calls is the number of Devin API calls the series caused.
	calls int
	// admission is what each webhook cost the series' creates.
	admission admissionSnapshot
}

// webhookResult compares dry-run PersonalAccessToken creates through the webhooks (the
// mutating one evaluates the CredentialPolicies and seals the admission record; the
// validating one looks the user up), with the user lookup cached and not, with creates the
// webhooks skip. d is the phase's cost: SubjectAccessReviews are those of the policy
// evaluation, cached for 10 s.
type webhookResult struct {
	baseline, cold, cached latencySeries
	d                      delta
}

// runWebhook measures, from the client side (the duration of the Create call), server-side
// dry-run creates of PersonalAccessTokens as a member of the PAT admin group, one at a time:
//   - baseline: in the operator's namespace, which both webhooks skip (API server cost only);
//   - cold: each for a different, newly seeded PAT-enabled user, so that every validation
//     looks the user up in the Devin API (a cache miss);
//   - cached: always alice@example.com, whose lookup the webhook has cached.
func runWebhook(ctx context.Context, c *cluster, o options) (webhookResult, error) {
	var res webhookResult
	n := o.webhookSamples
	for i := 0; i < n; i++ {
		c.srv.UpsertUser(devinapitest.SeedUser{Email: fmt.Sprintf("bench-webhook-%04d@example.com", i), Name: "Bench", PATEnabled: true})
	}
	series := func(name, ns string, n int, email func(i int) string) (latencySeries, error) {
		s := latencySeries{name: name}
		before := c.srv.TotalCalls()
		admBefore, err := c.admissionState(ctx)
		if err != nil {
			return s, err
		}
		for i := 0; i < n; i++ {
			d, err := dryRunCreate(ctx, c, o, ns, fmt.Sprintf("webhook-%s-%04d", name, i), email(i))
			if err != nil {
				return s, fmt.Errorf("%s series: %w", name, err)
			}
			s.durations = append(s.durations, d)
		}
		s.calls = c.srv.TotalCalls() - before
		admAfter, err := c.admissionState(ctx)
		s.admission = admBefore.to(admAfter)
		return s, err
	}
	before, err := c.snapshot(ctx)
	if err != nil {
		return res, err
	}
	if res.baseline, err = series("baseline", devenv.OperatorNamespace, n, func(int) string { return patUsers[0] }); err != nil {
		return res, err
	}
	if res.cold, err = series("cold", benchNamespace(o, 0), n, func(i int) string { return fmt.Sprintf("bench-webhook-%04d@example.com", i) }); err != nil {
		return res, err
	}
	// Warm alice's entry first (not measured): the lookup cache lives for --lookup-cache-ttl.
	if _, err := series("warm", benchNamespace(o, 0), 1, func(int) string { return patUsers[0] }); err != nil {
		return res, err
	}
	if res.cached, err = series("cached", benchNamespace(o, 0), n, func(int) string { return patUsers[0] }); err != nil {
		return res, err
	}
	after, err := c.snapshot(ctx)
	res.d = before.to(after)
	return res, err
}

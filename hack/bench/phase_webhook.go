package main

import (
	"context"
	"fmt"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cogtokens/token-operator/internal/devenv"
	"github.com/cogtokens/token-operator/internal/devinapi/devinapitest"
)

// latencySeries is the client-side duration of a series of server-side dry-run creates.
type latencySeries struct {
	name      string
	durations []time.Duration
	// calls is the number of Devin API calls the series caused.
	calls int
}

// webhookResult compares dry-run PersonalAccessToken creates through the webhooks, with
// the user lookup cached and not, with creates the webhooks skip.
type webhookResult struct {
	baseline, cold, cached latencySeries
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
		for i := 0; i < n; i++ {
			pat := newPAT(o, ns, fmt.Sprintf("webhook-%s-%04d", name, i), 0)
			pat.Spec.User.Email = email(i)
			t := time.Now()
			if err := c.admin.Create(ctx, pat, client.DryRunAll); err != nil {
				return s, fmt.Errorf("dry-run create (%s) %d: %w", name, i, err)
			}
			s.durations = append(s.durations, time.Since(t))
		}
		s.calls = c.srv.TotalCalls() - before
		return s, nil
	}
	var err error
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
	return res, nil
}

// The results table's rows of the steady state (3), memory (4), rotation storm (5), webhook
// (6) and restart (7).

package main

import (
	"fmt"
	"time"

	"github.com/cogtokens/token-operator/internal/policy"
)

// Devin API routes the report names.
const (
	routeListServiceUsers = "GET /v3/enterprise/members/service-users"
	routeGetServiceUser   = "GET /v3/enterprise/members/service-users/{service_user_id}"
	routeListKeys         = "GET /v3beta1/enterprise/service-users/{service_user_id}/api-keys"
)

// policyWrites are the writes of the CredentialPolicy status recount (checked once a minute
// per policy, written only when a count changed).
func policyWrites(d delta) float64 { return d.writes["credentialpolicies/status"] }

func (r *results) steadyRows(t *table) {
	id, ck := r.idle.d, r.check
	t.row("3", fmt.Sprintf("steady, no check due (%s): Devin calls / writes / reconciles", secs(id.elapsed)),
		fmt.Sprintf("%d / %.0f / %.0f", id.calls.Total(), id.writes.Total(), id.reconciles),
		fmt.Sprintf("with nothing changing and the periodic check an hour away; of the writes, %.0f by the CredentialPolicy status recount (when a count changed); SubjectAccessReviews / dry runs %.0f / %.0f",
			policyWrites(id), id.reviews, id.dryRuns.Total()))
	checks, w := ck.checks.total(), ck.window
	ckPAT, ckSU := splitCalls(w.calls)
	t.row("3", "steady, periodic check: Devin calls per check", per(float64(w.calls.Total()), checks),
		fmt.Sprintf("PAT %s, ServiceUser %s; %d checks (%d PAT, %d ServiceUser) and %d calls in %s at `--verify-interval=%s`, i.e. per token per hour at the default 1h (method in README)",
			per(float64(ckPAT), ck.checks.pats), per(float64(ckSU), ck.checks.serviceUsers), checks, ck.checks.pats, ck.checks.serviceUsers,
			w.calls.Total(), secs(w.elapsed), policy.FormatDuration(ck.interval)))
	t.row("3", "steady, periodic check: Kubernetes writes per check", per(w.writes.Total()-policyWrites(w), checks),
		fmt.Sprintf("besides the CredentialPolicy status recount (%.0f in the window); SubjectAccessReviews / dry runs per check %s / %s; reconciles per check %s",
			policyWrites(w), per(w.reviews, checks), per(w.dryRuns.Total(), checks), per(w.reconciles, checks)))
	rounds := w.elapsed.Seconds() / ck.interval.Seconds()
	t.row("3", "steady, periodic check of the ServiceUsers: service-user listings per round / key lists per check",
		fmt.Sprintf("%.1f / %s", float64(w.calls[routeListServiceUsers])/rounds, per(float64(w.calls[routeListKeys]), ck.checks.serviceUsers)),
		fmt.Sprintf("a round is one `--verify-interval` (%.1f in the window); `%s` (paged, shared by every ServiceUser's check), `%s` (one per service user); reads by ID `%s`: %d",
			rounds, routeListServiceUsers, routeListKeys, routeGetServiceUser, w.calls[routeGetServiceUser]))
	first := ck.firstRound
	t.row("3", "first round of checks after a restart", fmt.Sprintf("%d of %d resources within %s", len(first), ck.resources, secs(last(first))),
		fmt.Sprintf("at `--verify-interval=%s`, from the process start; the busiest tenth of the interval held %.0f%% of them (spread evenly: 10%%; all at once: 100%%); the restart until every resource was reconciled: %d calls, %.0f writes",
			policy.FormatDuration(ck.interval), 100*peakShare(first, ck.interval/10), ck.restart.calls.Total(), ck.restart.writes.Total()))
}

func last(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return ds[len(ds)-1]
}

func (r *results) memoryRows(t *table) {
	me, n := r.memory, r.create.total()
	t.row("4", "manager RSS, idle (0 resources)", mib(me.idleRSS), "VmRSS right after /readyz")
	t.row("4", fmt.Sprintf("manager RSS with %d resources / peak", n), mib(me.rssBefore)+" / "+mib(me.hwmBefore),
		fmt.Sprintf("VmRSS / VmHWM at the end of the idle window; Go heap in use %s; about %.0f KiB of RSS per resource over idle", mibf(me.heapBefore),
			perResourceKiB(me.rssBefore, me.idleRSS, n)))
	t.row("4", fmt.Sprintf("manager RSS with %d unrelated Secrets too / peak", me.secrets), mib(me.rssAfter)+" / "+mib(me.hwmAfter),
		fmt.Sprintf("**%s** RSS; Go heap in use %s; %d Secrets of %d bytes (%s) created in %s (%.0f/s); the operator meanwhile: %.0f reconciles, %d Devin calls, %.0f writes",
			signedMiB(me.rssAfter, me.rssBefore), mibf(me.heapAfter), me.secrets, me.secretBytes, mib(uint64(me.secrets*me.secretBytes)),
			secs(me.created), float64(me.secrets)/me.created.Seconds(), me.d.reconciles, me.d.calls.Total(), me.d.writes.Total()))
	bl := r.bloat
	if bl.secrets == 0 {
		return
	}
	how := "as the metric stood (no forced GC: --pprof=false)"
	if bl.gc {
		how = "each read right after a forced GC"
	}
	t.row("4", fmt.Sprintf("with %d Secrets of %s carrying the operator's label: Go heap / RSS", bl.secrets, mib(uint64(bl.size))),
		fmt.Sprintf("%s → %s (**%s**) / %s → %s (**%s**)", mibf(bl.heapBefore), mibf(bl.heapAfter), signedMiB(uint64(bl.heapAfter), uint64(bl.heapBefore)),
			mib(bl.rssBefore), mib(bl.rssAfter), signedMiB(bl.rssAfter, bl.rssBefore)),
		fmt.Sprintf("a tenant bloating the Secret cache: `%s` set, half with a 1 MiB data blob, half naming a missing PersonalAccessToken as controller with thousands of owner references, iam.devin.ai/ annotations and many data keys, %s in all, created in %s; heap %s; peak RSS since the start %s; the operator meanwhile: %.0f reconciles, %d Devin calls, %.0f writes; deleted afterwards",
			"app.kubernetes.io/managed-by=token-operator", mib(uint64(bl.secrets*bl.size)), secs(bl.created), how, mib(bl.hwmAfter),
			bl.d.reconciles, bl.d.calls.Total(), bl.d.writes.Total()))
}

// perResourceKiB is the RSS each of n resources adds over idle, in KiB.
func perResourceKiB(rss, idle uint64, n int) float64 {
	return (float64(rss) - float64(idle)) / 1024 / float64(max(n, 1))
}

func (r *results) stormRows(t *table) {
	st := r.storm
	t.row("5", fmt.Sprintf("rotation storm: all %d rotated", st.tokens), secs(st.rotated),
		fmt.Sprintf("from the first `iam.devin.ai/rotate` annotation (last written at %s) to the last new token Ready; per token p50 / p99 %s", secs(st.annotated), p50p99(st.latencies)))
	t.row("5", "rotation storm: every replaced token revoked upstream", secs(st.revoked), fmt.Sprintf("grace period %s", st.grace))
	t.row("5", "per rotation: Devin calls / Kubernetes writes / reconciles",
		fmt.Sprintf("%s / %s / %s", per(float64(st.d.calls.Total()), st.tokens), per(st.d.writes.Total(), st.tokens), per(st.d.reconciles, st.tokens)),
		fmt.Sprintf("issue + revoke after the grace period; writes besides events %s; the bench's annotations and the sampler's lookups (below) are not counted",
			per(st.d.writes.Total()-st.d.writes["events"], st.tokens)))
	t.row("5", "per rotation: SubjectAccessReviews / dry runs / all the API server served",
		fmt.Sprintf("%s / %s / %s", per(st.d.reviews, st.tokens), per(st.d.dryRuns.Total(), st.tokens), per(st.d.served(), st.tokens)),
		"the sampler's own dry runs are not counted; its admissions share the 10 s SubjectAccessReview cache with the controllers'")
	wh, sw := r.webhook, st.webhook
	t.row("5", "webhook during the storm: PAT create, user lookup cached, p50 / p99", p50p99(sw.cached.durations),
		fmt.Sprintf("idle: %s; %d samples while the PATs rotated, alternating with the next row, %s apart", p50p99(wh.cached.durations), len(sw.cached.durations), samplerPause))
	t.row("5", "webhook during the storm: PAT create, user lookup not cached, p50 / p99", p50p99(sw.cold.durations),
		fmt.Sprintf("idle: %s; %d samples, a newly seeded user each, %s Devin calls per create (%s); `--devin-api-qps=%g`",
			p50p99(wh.cold.durations), len(sw.cold.durations), per(float64(sw.calls.Total()), len(sw.cold.durations)), routes(sw.calls), r.opts.devinQPS))
}

func (r *results) webhookRows(t *table) {
	wh := r.webhook
	for _, s := range []struct {
		label string
		s     latencySeries
		note  string
	}{
		{"webhook: PAT create, user lookup not cached", wh.cold, "a different, newly seeded user each time"},
		{"webhook: PAT create, user lookup cached", wh.cached, "alice@example.com each time"},
		{"no webhook (baseline)", wh.baseline, "same create in the operator's namespace, which the webhooks skip"},
	} {
		t.row("6", s.label+", p50 / p99", p50p99(s.s.durations),
			fmt.Sprintf("server-side dry run, measured at the client (duration of Create), one at a time, %d samples, mean %s; %s Devin calls per create; %s",
				len(s.s.durations), secs(Mean(s.s.durations)), per(float64(s.s.calls), len(s.s.durations)), s.note))
	}
	for _, s := range []latencySeries{wh.cold, wh.cached} {
		t.row("6", "admission per webhook, lookup "+map[string]string{"cold": "not cached", "cached": "cached"}[s.name]+": calls per create × mean",
			s.admission.apiserver.perCreate(len(s.durations)),
			"as the API server measures each call (`"+apiserverWebhookSeconds+"`, network included); the manager's handlers: "+
				s.admission.manager.perCreate(len(s.durations))+" (`"+managerWebhookSeconds+"`)")
	}
	samples := len(wh.cold.durations) + len(wh.cached.durations) + 1
	t.row("6", "SubjectAccessReviews per admitted create", per(wh.d.reviews, samples),
		fmt.Sprintf("the policy decision's RBAC checks, cached 10 s per requester, namespace and verb: %.0f over the %d creates through the webhooks (%s)", wh.d.reviews, samples, secs(wh.d.elapsed)))
}

func (r *results) restartRows(t *table) {
	rc, o := r.recovery, r.opts
	t.row("7", "restart: SIGTERM to exit", secs(rc.shutdown), "")
	t.row("7", "restart: start to ready / to settled", secs(rc.ready)+" / "+secs(rc.settled),
		fmt.Sprintf("settled: every resource reconciled (%.0f reconciles), then %s without one; %d of %d still Ready", rc.reconciles, o.quiet, rc.stillReady, rc.total))
	t.row("7", "restart: Devin calls / Kubernetes writes it caused", fmt.Sprintf("%d / %.0f", rc.d.calls.Total(), rc.d.writes.Total()),
		fmt.Sprintf("routes: %s; %d periodic checks fell in the window (after a restart the first checks are spread over the hour); SubjectAccessReviews / dry runs %.0f / %.0f; RSS after restart %s (peak %s)",
			routes(rc.d.calls), rc.checks, rc.d.reviews, rc.d.dryRuns.Total(), mib(rc.rss), mib(rc.hwm)))
}

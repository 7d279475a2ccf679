// The report's opening: header and verdicts, machine, setup, and the results table with its
// throughput (1) and cost (2) rows.

package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/cogtokens/token-operator/internal/policy"
)

// markdown renders the report.
func (r *results) markdown() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	r.writeHeader(w)
	w("## Targets (issue 18)\n\n%s\n", r.targetsTable())
	r.writeMachine(w)
	r.writeSetup(w)
	w("## Results\n\n%s\n", r.resultsTable())
	r.writeProfiles(w)
	r.writeScale(w)
	r.writeAccount(w)
	r.writeCPU(w)
	r.writeRoutes(w)
	r.writeResources(w)
	return b.String()
}

func (r *results) writeHeader(w func(string, ...any)) {
	o := r.opts
	w("# token-operator benchmark\n\n")
	args := "(defaults)"
	if len(o.args) > 0 {
		args = "`" + strings.Join(o.args, " ") + "`"
	}
	w("`make bench` (`go run ./hack/bench`) with %s on %s; the run took %s. Figures, not pass/fail; [README.md](README.md) says what each one means and how to read them.\n\n",
		args, r.started.UTC().Format("2006-01-02 15:04 MST"), r.finished.Sub(r.started).Round(time.Second))
	inv := r.invariant
	verdict := "**Invariant holds.**"
	if !inv.Holds() {
		verdict = "**Invariant VIOLATED: the figures are of an incorrect run.**"
	}
	w("%s %d of %d resources Ready; %d Secrets hold the live upstream token their status names; %d live upstream tokens, %d owned by no resource. Operator logs: %d lines in %d runs, %d with a token value.\n\n",
		verdict, inv.Ready, inv.Resources, inv.Holding, inv.LiveTokens, inv.Orphans, r.logs.lines, r.logs.files, r.logs.leaks)
	list(w, inv.Problems)
	if len(r.violations) == 0 {
		w("**Devin API contract kept:** no request or answer of the run broke the published contract.\n\n")
	} else {
		w("**Devin API contract VIOLATED %d times: the run FAILED.**\n\n", len(r.violations))
		list(w, r.violations)
	}
}

func (r *results) writeMachine(w func(string, ...any)) {
	m := r.machine
	w("## Machine and source\n\n")
	t := newTable("", "")
	t.row("CPU", fmt.Sprintf("%s, %d cores", m.cpu, m.cores))
	t.row("memory", fmt.Sprintf("%.1f GiB", float64(m.memory)/(1<<30)))
	t.row("kernel", m.kernel)
	t.row("Go", m.goVersion)
	t.row("source tree", m.tree)
	t.row("kube-apiserver", m.apiserver+" (envtest)")
	t.row("etcd", m.etcd+" (envtest: `--unsafe-no-fsync`)")
	t.row("load average (1/5/15 min)", fmt.Sprintf("start %s; end %s", m.loadStart, m.loadEnd))
	t.row("other kube-apiservers running at start", fmt.Sprintf("%d (other engineers' test runs share the 2 cores)", m.otherAPIServers))
	w("%s\n", t)
}

func (r *results) writeSetup(w func(string, ...any)) {
	o, cr := r.opts, r.create
	w("## Setup\n\n")
	w("- N = %d PersonalAccessTokens (alternately alice@example.com and dave@example.com) and M = %d ServiceUsers (organization role %s), spread over %d namespaces, created by %d concurrent clients as a member of `system:masters` (through the webhooks); every resource has `rotationGracePeriod: %s`.\n",
		cr.pats, cr.serviceUsers, serviceUserRole, o.namespaces, o.applyConcurrency, o.grace)
	w("- CredentialPolicies enforced (the default `--policy-mode=enforce`) with the permissive policy of a single-tenant cluster (`devenv.InstallPermissivePolicy`): everything allowed, RBAC `use` for `system:authenticated`, `use` and `delegate` for `system:masters`. Every create goes through the mutating webhook `madmission.iam.devin.ai` (policy decision with SubjectAccessReviews cached 10 s, sealed admission record) and the validating one (user lookup); the controllers decide again before every mint.\n")
	w("- In-memory Devin API (`devinapitest`) in the bench process, **%s latency on every call**, no other fault.\n", o.latency)
	w("- The manager: the real binary built from this tree, a separate process (RSS is its own), with `%s` (`--verify-interval=%s` in the periodic-check phase only).\n",
		strings.Join(displayArgs(r.operatorArgs), " "), policy.FormatDuration(o.verifyInterval))
	w("- Bench flags: `--tokens=%d --service-users=%d --latency=%s --concurrency=%d --apply-concurrency=%d --unrelated-secrets=%d --unrelated-secret-size=%d --bloat-secrets=%d --bloat-secret-size=%d --grace=%s --idle-window=%s --verify-interval=%s --steady-window=%s --webhook-samples=%d --devin-api-qps=%g --pprof=%t --scale=%s`.\n\n",
		o.tokens, o.serviceUsers, policy.FormatDuration(o.latency), o.concurrency, o.applyConcurrency, o.unrelatedSecrets, o.unrelatedSize, o.bloatSecrets, o.bloatSize,
		policy.FormatDuration(o.grace), policy.FormatDuration(o.idleWindow), policy.FormatDuration(o.verifyInterval), policy.FormatDuration(o.steadyWindow), o.webhookSamples, o.devinQPS, o.pprof, scaleList(o.scale))
}

func scaleList(ns []int) string {
	var parts []string
	for _, n := range ns {
		parts = append(parts, fmt.Sprint(n))
	}
	return strings.Join(parts, ",")
}

// resultsTable is the table of every figure, by group (1 throughput, 2 cost per token, 3
// steady state, 4 memory, 5 rotation storm, 6 webhook, 7 restart).
func (r *results) resultsTable() string {
	t := newTable("#", "figure", "value", "how / note")
	r.throughputRows(t)
	r.costRows(t)
	r.steadyRows(t)
	r.memoryRows(t)
	r.stormRows(t)
	r.webhookRows(t)
	r.restartRows(t)
	return t.String()
}

func (r *results) throughputRows(t *table) {
	cr, fl, o := r.create, r.floor, r.opts
	n := cr.total()
	t.row("1", fmt.Sprintf("time to all Ready, %d resources", n), secs(cr.ready),
		fmt.Sprintf("from the first create to the last Ready (informer); the last create returned at %s", secs(cr.applied)))
	t.row("1", "throughput", fmt.Sprintf("%.1f tokens/s", float64(n)/cr.ready.Seconds()), "")
	t.row("1", "floor (no operator)", fmt.Sprintf("%s (%.1f tokens/s)", secs(fl.duration), float64(fl.items)/fl.duration.Seconds()),
		fmt.Sprintf("plain Go, %d workers: create the resource, create the token upstream, create the Secret, patch the status", o.concurrency))
	t.row("1", "**operator / floor**", fmt.Sprintf("**%.2f×**", ratio(cr.ready, fl.duration)), "1.00× would be no overhead at all")
	t.row("1", "time to Ready per resource, p50 / p99", p50p99(cr.latencies), "from its create call")
	t.row("1", "reconcile p50 / p99 / mean; mean Devin API call, as the operator saw them",
		fmt.Sprintf("%s / %s / %s; %s", secs(cr.d.hist.quantileDuration(0.5)), secs(cr.d.hist.quantileDuration(0.99)), secs(cr.d.meanReconcile()), secs(cr.d.meanDevin())),
		fmt.Sprintf("`controller_runtime_reconcile_time_seconds` (quantiles interpolated in its buckets), `devinapi_request_duration_seconds`; CPU: %.0f%% of the %d cores busy (table below); the manager was CPU-profiled meanwhile (profiles below)",
			100*cr.d.cpu.total()/cr.d.elapsed.Seconds()/float64(r.machine.cores), r.machine.cores))
}

func (r *results) costRows(t *table) {
	cr, fl := r.create, r.floor
	n := cr.total()
	patCalls, suCalls := splitCalls(cr.d.calls)
	t.row("2", "Devin API calls per minted token", per(float64(cr.d.calls.Total()), n),
		fmt.Sprintf("PAT %s, ServiceUser %s; floor %s (1 create each)", per(float64(patCalls), cr.pats), per(float64(suCalls), cr.serviceUsers), per(float64(fl.calls.Total()), fl.items)))
	t.row("2", "Kubernetes API writes per minted token", per(cr.d.writes.Total(), n),
		fmt.Sprintf("%s besides events (%s events); kube-apiserver `apiserver_request_total`, less the bench's own (the creates); floor %s (its Secret and status writes: the resource's create is the user's in both); by resource below",
			per(cr.d.writes.Total()-cr.d.writes["events"], n), per(cr.d.writes["events"], n), per(floorWrites(fl), fl.items)))
	t.row("2", "SubjectAccessReviews / server-side dry runs per minted token", per(cr.d.reviews, n)+" / "+per(cr.d.dryRuns.Total(), n),
		fmt.Sprintf("`apiserver_request_total` of resource `subjectaccessreviews` (POST), and of writes with a `dry_run` label (by resource below), less the bench's own; floor %s / %s",
			per(fl.reviews, fl.items), per(fl.dryRuns.Total(), fl.items)))
	t.row("2", "**everything the API server served per minted token**", "**"+per(cr.d.served(), n)+"**",
		fmt.Sprintf("writes + dry runs + SubjectAccessReviews; floor %s. The operator's own count of its write requests (`rest_client_requests_total`, which tells no resource apart): %s",
			per(floorWrites(fl)+fl.dryRuns.Total()+fl.reviews, fl.items), per(cr.d.opWrites, n)))
	t.row("2", "reconciles per minted token", per(cr.d.reconciles, n), "`controller_runtime_reconcile_total`")
}

// floorWrites are the floor's writes that the operator also makes: its Secret and status
// writes (the resource's create is the user's in both).
func floorWrites(fl floorResult) float64 {
	return fl.writes.Total() - fl.writes["personalaccesstokens"] - fl.writes["serviceusers"]
}

func ratio(a, b time.Duration) float64 {
	if b <= 0 {
		return 0
	}
	return a.Seconds() / b.Seconds()
}

// writeAccount is the second account's section: what a ClusterDevinAccount costs alone,
// and what its ServiceUsers cost beside the default account's.
func (r *results) writeAccount(w func(string, ...any)) {
	a := r.account
	if a.serviceUsers == 0 {
		return
	}
	n := float64(a.serviceUsers)
	mib := func(b uint64) float64 { return float64(b) / (1 << 20) }
	w("## A second account\n\n")
	w("After the invariant check, a ClusterDevinAccount on another enterprise of the in-memory API (a client and a watch of its Secret of its own), then %d ServiceUsers that act through it (same latency).\n\n", a.serviceUsers)
	t := newTable("figure", "measured")
	t.row("the account alone, Ready and idle", fmt.Sprintf("RSS %+.1f MiB (%.1f → %.1f), heap %+.1f MiB", mib(a.rssAccount)-mib(a.rssBefore), mib(a.rssBefore), mib(a.rssAccount), (a.heapAccount-a.heapBefore)/(1<<20)))
	t.row(fmt.Sprintf("its %d ServiceUsers, Ready", a.serviceUsers), fmt.Sprintf("after %s; RSS %+.1f MiB, heap %+.1f MiB", a.ready.Round(time.Millisecond), mib(a.rssUsers)-mib(a.rssAccount), (a.heapUsers-a.heapAccount)/(1<<20)))
	rest, su := splitCalls(a.d.calls)
	t.row("Devin API calls per ServiceUser of the account", fmt.Sprintf("%.2f on the routes of service users and roles (the default account's mint in the create phase: %.2f); besides, %d calls on other routes in the phase (the account's own checks of its credential)",
		float64(su)/n, r.defaultSUCallsPerMint(), rest))
	ev := a.d.writes["events"]
	t.row("Kubernetes writes per ServiceUser of the account", fmt.Sprintf("%.2f + %.2f events", (a.d.writes.Total()-ev)/n, ev/n))
	w("%s\n", t.String())
}

// defaultSUCallsPerMint is the create phase's Devin calls per ServiceUser of the default
// account (every route of service users and roles).
func (r *results) defaultSUCallsPerMint() float64 {
	_, su := splitCalls(r.create.d.calls)
	return float64(su) / float64(max(r.create.serviceUsers, 1))
}

package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/cogtokens/token-operator/internal/audit"
)

// machine describes where the bench ran.
type machine struct {
	cpu, kernel, goVersion, apiserver, etcd string
	cores                                   int
	memory                                  uint64
	loadStart, loadEnd                      string
	// otherAPIServers is how many kube-apiservers (other test runs) were running at start.
	otherAPIServers int
	// tree is the commit measured and what differs from it.
	tree string
}

func describeMachine(ctx context.Context) machine {
	m := machine{cores: runtime.NumCPU(), goVersion: runtime.Version(), loadStart: loadAverage()}
	m.cpu = firstField("/proc/cpuinfo", "model name")
	if kb, err := strconv.ParseUint(strings.Fields(firstField("/proc/meminfo", "MemTotal") + " 0")[0], 10, 64); err == nil {
		m.memory = kb * 1024
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = strings.TrimSpace(string(b))
	}
	if assets := os.Getenv("KUBEBUILDER_ASSETS"); assets != "" {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if out, err := exec.CommandContext(ctx, filepath.Join(assets, "etcd"), "--version").Output(); err == nil {
			m.etcd = strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
		}
	}
	m.otherAPIServers = countProcesses("kube-apiserver")
	m.tree = describeTree(ctx)
	return m
}

// describeTree names the source tree measured: its commit and the files changed since (read
// only: git rev-parse and git diff).
func describeTree(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	head, err := exec.CommandContext(ctx, "git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown (not a git checkout)"
	}
	out := "commit " + strings.TrimSpace(string(head))
	changed, err := exec.CommandContext(ctx, "git", "diff", "--name-only", "HEAD").Output()
	if err != nil {
		return out
	}
	var files []string
	for _, f := range strings.Fields(string(changed)) {
		files = append(files, "`"+f+"`")
	}
	if len(files) > 0 {
		out += fmt.Sprintf(" with uncommitted changes to %s (untracked files not listed)", strings.Join(files, ", "))
	}
	return out
}

// firstField returns the value of the first "key : value" line of a /proc file.
func firstField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return "unknown"
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " / ")
}

// countProcesses counts the processes whose executable is named name.
func countProcesses(name string) int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(b) == 0 {
			continue
		}
		argv0 := strings.SplitN(string(b), "\x00", 2)[0]
		if filepath.Base(argv0) == name {
			n++
		}
	}
	return n
}

// results are every figure of one run.
type results struct {
	opts              options
	machine           machine
	started, finished time.Time
	operatorArgs      []string
	floor             floorResult
	create            createResult
	idle              idleResult
	memory            memoryResult
	storm             stormResult
	webhook           webhookResult
	recovery          recoveryResult
	check             checkResult
	invariant         audit.Report
	// violations are the Devin API contract violations of the run, scrubbed.
	violations []string
	logs       logScan
}

// maxListed bounds the problems and violations the report lists.
const maxListed = 20

// list writes up to maxListed items as a Markdown list, and how many it left out.
func list(w func(string, ...any), items []string) {
	for i, it := range items {
		if i == maxListed {
			w("- … and %d more\n", len(items)-maxListed)
			break
		}
		w("- %s\n", it)
	}
	if len(items) > 0 {
		w("\n")
	}
}

// table is a Markdown table under construction.
type table struct {
	b strings.Builder
}

func newTable(head ...string) *table {
	t := &table{}
	t.row(head...)
	seps := make([]string, len(head))
	for i := range seps {
		seps[i] = "---"
	}
	t.row(seps...)
	return t
}

func (t *table) row(cells ...string) {
	t.b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
}

func (t *table) String() string { return t.b.String() }

func secs(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	default:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	}
}

// shortDuration prints 1h and 1m rather than 1h0m0s and 1m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func mibf(b float64) string { return fmt.Sprintf("%.1f MiB", b/(1<<20)) }

func signedMiB(after, before uint64) string {
	return fmt.Sprintf("%+.1f MiB", (float64(after)-float64(before))/(1<<20))
}

func per(n float64, d int) string {
	if d == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", n/float64(d))
}

// isServiceUserRoute tells the Devin API routes of ServiceUsers from those of PATs.
func isServiceUserRoute(route string) bool {
	return strings.Contains(route, "service-users") || strings.HasSuffix(route, "/roles")
}

func splitCalls(c Calls) (pat, su int) {
	for k, v := range c {
		if isServiceUserRoute(k) {
			su += v
		} else {
			pat += v
		}
	}
	return pat, su
}

func p50p99(ds []time.Duration) string {
	return secs(Percentile(ds, 50)) + " / " + secs(Percentile(ds, 99))
}

// markdown renders the report.
func (r *results) markdown() string {
	var b strings.Builder
	o := r.opts
	cr := r.create
	n := cr.total()
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }

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

	w("## Setup\n\n")
	w("- N = %d PersonalAccessTokens (alternately alice@example.com and dave@example.com) and M = %d ServiceUsers (organization role %s), spread over %d namespaces, created by %d concurrent clients as a member of the PAT admin group (through both webhooks); every resource has `rotationGracePeriod: %s`.\n",
		cr.pats, cr.serviceUsers, serviceUserRole, o.namespaces, o.applyConcurrency, o.grace)
	w("- In-memory Devin API (`devinapitest`) in the bench process, **%s latency on every call**, no other fault.\n", o.latency)
	w("- The manager: the real binary built from this tree, a separate process (RSS is its own), with `%s` (`--verify-interval=%s` in the periodic-check phase only).\n",
		strings.Join(displayArgs(r.operatorArgs), " "), shortDuration(o.verifyInterval))
	w("- Bench flags: `--tokens=%d --service-users=%d --latency=%s --concurrency=%d --apply-concurrency=%d --unrelated-secrets=%d --unrelated-secret-size=%d --grace=%s --idle-window=%s --verify-interval=%s --steady-window=%s --webhook-samples=%d --devin-api-qps=%g`.\n\n",
		o.tokens, o.serviceUsers, shortDuration(o.latency), o.concurrency, o.applyConcurrency, o.unrelatedSecrets, o.unrelatedSize, shortDuration(o.grace),
		shortDuration(o.idleWindow), shortDuration(o.verifyInterval), shortDuration(o.steadyWindow), o.webhookSamples, o.devinQPS)

	w("## Results\n\n")
	t = newTable("#", "figure", "value", "how / note")
	fl := r.floor
	t.row("1", fmt.Sprintf("time to all Ready, %d resources", n), secs(cr.ready),
		fmt.Sprintf("from the first create to the last Ready (informer); the last create returned at %s", secs(cr.applied)))
	t.row("1", "throughput", fmt.Sprintf("%.1f tokens/s", float64(n)/cr.ready.Seconds()), "")
	t.row("1", "floor (no operator)", fmt.Sprintf("%s (%.1f tokens/s)", secs(fl.duration), float64(fl.items)/fl.duration.Seconds()),
		fmt.Sprintf("plain Go, %d workers: create the resource, create the token upstream, create the Secret, patch the status", o.concurrency))
	t.row("1", "**operator / floor**", fmt.Sprintf("**%.2f×**", cr.ready.Seconds()/fl.duration.Seconds()), "1.00× would be no overhead at all")
	t.row("1", "time to Ready per resource, p50 / p99", p50p99(cr.latencies), "from its create call")
	t.row("1", "mean reconcile / mean Devin API call, as the operator saw them", secs(cr.d.meanReconcile())+" / "+secs(cr.d.meanDevin()),
		fmt.Sprintf("`controller_runtime_reconcile_time_seconds`, `devinapi_request_duration_seconds`; CPU: %.0f%% of the 2 cores busy (table below)", 100*cr.d.cpu.total()/cr.d.elapsed.Seconds()/float64(r.machine.cores)))
	patCalls, suCalls := splitCalls(cr.d.calls)
	t.row("2", "Devin API calls per minted token", per(float64(cr.d.calls.Total()), n),
		fmt.Sprintf("PAT %s, ServiceUser %s; floor %s (1 create each)", per(float64(patCalls), cr.pats), per(float64(suCalls), cr.serviceUsers), per(float64(fl.calls.Total()), fl.items)))
	t.row("2", "Kubernetes API writes per minted token", per(cr.d.writes.Total(), n),
		fmt.Sprintf("kube-apiserver `apiserver_request_total`, less the bench's own (the creates); operator's own count %s; floor %s (its Secret and status writes: the resource's create is the user's in both); by resource below",
			per(cr.d.opWrites, n), per(fl.writes.Total()-fl.writes["personalaccesstokens"]-fl.writes["serviceusers"], fl.items)))
	t.row("2", "reconciles per minted token", per(cr.d.reconciles, n), "`controller_runtime_reconcile_total`")
	id := r.idle.d
	t.row("3", fmt.Sprintf("steady, no check due (%s): Devin calls / writes / reconciles", secs(id.elapsed)),
		fmt.Sprintf("%d / %.0f / %.0f", id.calls.Total(), id.writes.Total()+0, id.reconciles), "with nothing changing and the periodic check an hour away")
	ck := r.check
	ckPAT, ckSU := splitCalls(ck.window.calls)
	t.row("3", "steady, periodic check: Devin calls per token per hour", per(float64(ck.window.calls.Total()), ck.checks.total()),
		fmt.Sprintf("at the default `--verify-interval=1h`, i.e. the cost of one check: PAT %s, ServiceUser %s; %d checks and %d calls in %s at `--verify-interval=%s` (method in README)",
			per(float64(ckPAT), ck.checks.pats), per(float64(ckSU), ck.checks.serviceUsers),
			ck.checks.total(), ck.window.calls.Total(), secs(ck.window.elapsed), shortDuration(ck.interval)))
	t.row("3", "steady, periodic check: Kubernetes writes per token per hour", per(ck.window.writes.Total(), ck.checks.total()),
		fmt.Sprintf("same method; operator's own count %s", per(ck.window.opWrites, ck.checks.total())))
	t.row("3", "one full check round after a restart (all overdue)", fmt.Sprintf("%s, %d calls, %.0f writes", secs(ck.catchUp), ck.catchUpD.calls.Total(), ck.catchUpD.writes.Total()),
		fmt.Sprintf("%d checks, from the start of the process with `--verify-interval=%s` until idle", ck.catchUpChecks.total(), shortDuration(ck.interval)))
	me := r.memory
	t.row("4", "manager RSS, idle (0 resources)", mib(me.idleRSS), "VmRSS right after /readyz")
	t.row("4", fmt.Sprintf("manager RSS with %d resources / peak", n), mib(me.rssBefore)+" / "+mib(me.hwmBefore),
		fmt.Sprintf("VmRSS / VmHWM; Go heap in use %s; about %.0f KiB of RSS per resource over idle", mibf(me.heapBefore),
			(float64(me.rssBefore)-float64(me.idleRSS))/1024/float64(max(n, 1))))
	t.row("4", fmt.Sprintf("manager RSS with %d unrelated Secrets too / peak", me.secrets), mib(me.rssAfter)+" / "+mib(me.hwmAfter),
		fmt.Sprintf("**%s** RSS; Go heap in use %s; %d Secrets of %d bytes (%s) created in %s (%.0f/s); the operator meanwhile: %.0f reconciles, %d Devin calls, %.0f writes",
			signedMiB(me.rssAfter, me.rssBefore), mibf(me.heapAfter), me.secrets, me.secretBytes, mib(uint64(me.secrets*me.secretBytes)),
			secs(me.created), float64(me.secrets)/me.created.Seconds(), me.d.reconciles, me.d.calls.Total(), me.d.writes.Total()))
	st := r.storm
	t.row("5", fmt.Sprintf("rotation storm: all %d rotated", st.tokens), secs(st.rotated),
		fmt.Sprintf("from the first `iam.devin.ai/rotate` annotation (last written at %s) to the last new token Ready; per token p50 / p99 %s", secs(st.annotated), p50p99(st.latencies)))
	t.row("5", "rotation storm: every replaced token revoked upstream", secs(st.revoked), fmt.Sprintf("grace period %s", st.grace))
	t.row("5", "per rotation: Devin calls / Kubernetes writes / reconciles",
		fmt.Sprintf("%s / %s / %s", per(float64(st.d.calls.Total()), st.tokens), per(st.d.writes.Total(), st.tokens), per(st.d.reconciles, st.tokens)),
		"issue + revoke after the grace period; the bench's annotations are not counted")
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
	rc := r.recovery
	t.row("7", "restart: SIGTERM to exit", secs(rc.shutdown), "")
	t.row("7", "restart: start to ready / to settled", secs(rc.ready)+" / "+secs(rc.settled),
		fmt.Sprintf("settled: every resource reconciled (%.0f reconciles), then %s without one; %d of %d still Ready", rc.reconciles, o.quiet, rc.stillReady, rc.total))
	t.row("7", "restart: Devin calls / Kubernetes writes it caused", fmt.Sprintf("%d / %.0f", rc.d.calls.Total(), rc.d.writes.Total()),
		fmt.Sprintf("routes: %s; RSS after restart %s (peak %s)", routes(rc.d.calls), mib(rc.rss), mib(rc.hwm)))
	w("%s\n", t)

	w("## CPU seconds by process\n\n")
	w("`process_cpu_seconds_total` of the manager, kube-apiserver and etcd, and getrusage of the bench process (its clients and informers, and the in-memory Devin API), over each phase's window; the last column is the rest of the machine's busy time (`/proc/stat`): other engineers' test runs.\n\n")
	t = newTable("phase", "wall", "manager", "kube-apiserver", "etcd", "bench + Devin API", "total", "cores busy", "other processes (cores)")
	for _, p := range []struct {
		name string
		wall time.Duration
		cpu  cpuTimes
	}{
		{"floor (no operator)", fl.duration, fl.cpu},
		{fmt.Sprintf("create %d, until idle", n), cr.d.elapsed, cr.d.cpu},
		{"steady, no check due", id.elapsed, id.cpu},
		{fmt.Sprintf("%d unrelated Secrets", me.secrets), me.d.elapsed, me.d.cpu},
		{"rotation storm, until idle", st.d.elapsed, st.d.cpu},
		{"restart, until settled", rc.d.elapsed, rc.d.cpu},
		{fmt.Sprintf("steady, check every %s", shortDuration(ck.interval)), ck.window.elapsed, ck.window.cpu},
	} {
		t.row(p.name, secs(p.wall), fmt.Sprintf("%.1f", p.cpu.operator), fmt.Sprintf("%.1f", p.cpu.apiserver), fmt.Sprintf("%.1f", p.cpu.etcd),
			fmt.Sprintf("%.1f", p.cpu.bench), fmt.Sprintf("%.1f", p.cpu.total()), fmt.Sprintf("%.2f", p.cpu.total()/p.wall.Seconds()),
			fmt.Sprintf("%.2f", max(p.cpu.machine-p.cpu.total(), 0)/p.wall.Seconds()))
	}
	w("%s\n", t)

	w("## Devin API calls by route\n\n")
	w("\"Per resource\" and \"per check\" divide by the resources (checks) of the route's kind: ServiceUser for the routes of service users and roles, PersonalAccessToken for the others.\n\n")
	t = newTable("route", fmt.Sprintf("create %d", n), "per resource", "storm", "per rotation", "restart", "check round", "steady window", "per check")
	for _, k := range union(cr.d.calls, st.d.calls, rc.d.calls, ck.catchUpD.calls, ck.window.calls) {
		resources, checks := cr.pats, ck.checks.pats
		if isServiceUserRoute(k) {
			resources, checks = cr.serviceUsers, ck.checks.serviceUsers
		}
		t.row("`"+k+"`", strconv.Itoa(cr.d.calls[k]), per(float64(cr.d.calls[k]), resources), strconv.Itoa(st.d.calls[k]), per(float64(st.d.calls[k]), st.tokens),
			strconv.Itoa(rc.d.calls[k]), strconv.Itoa(ck.catchUpD.calls[k]), strconv.Itoa(ck.window.calls[k]), per(float64(ck.window.calls[k]), checks))
	}
	w("%s\n", t)
	w("Floor: %s.\n\n", routes(fl.calls))

	w("## Kubernetes API writes by resource\n\n")
	w("From the kube-apiserver's `apiserver_request_total` (verbs POST, PUT, PATCH, APPLY, DELETE; dry runs excluded), less the bench's own writes (counted at its client); only the resources the operator writes. \"Per resource\" and \"per check\" divide by the resources (checks) of the row's kind, and by all of them for Secrets and events.\n\n")
	t = newTable("resource", fmt.Sprintf("create %d", n), "per resource", "storm", "per rotation", "restart", "check round", "steady window", "per check", "floor per resource")
	for _, k := range unionW(cr.d.writes, st.d.writes, rc.d.writes, ck.catchUpD.writes, ck.window.writes, fl.writes) {
		resources, checks := n, ck.checks.total()
		switch {
		case strings.HasPrefix(k, "personalaccesstokens"):
			resources, checks = cr.pats, ck.checks.pats
		case strings.HasPrefix(k, "serviceusers"):
			resources, checks = cr.serviceUsers, ck.checks.serviceUsers
		}
		t.row(k, fmt.Sprintf("%.0f", cr.d.writes[k]), per(cr.d.writes[k], resources), fmt.Sprintf("%.0f", st.d.writes[k]), per(st.d.writes[k], st.tokens),
			fmt.Sprintf("%.0f", rc.d.writes[k]), fmt.Sprintf("%.0f", ck.catchUpD.writes[k]), fmt.Sprintf("%.0f", ck.window.writes[k]), per(ck.window.writes[k], checks),
			per(fl.writes[k], resources))
	}
	w("%s\n", t)
	return b.String()
}

// displayArgs drops the flags whose values are of this run only (paths, URLs, ports).
func displayArgs(args []string) []string {
	var out []string
	for _, a := range args {
		name, _, _ := strings.Cut(a, "=")
		switch name {
		case "--kubeconfig", "--devin-api-url", "--webhook-cert-dir", "--webhook-port", "--webhook-host",
			"--metrics-bind-address", "--health-probe-bind-address":
			out = append(out, name+"=…")
		default:
			out = append(out, a)
		}
	}
	return out
}

func routes(c Calls) string {
	if len(c) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range c.Keys() {
		parts = append(parts, fmt.Sprintf("`%s` %d", k, c[k]))
	}
	return strings.Join(parts, ", ")
}

func union(cs ...Calls) []string {
	all := Calls{}
	for _, c := range cs {
		for k := range c {
			all[k] = 1
		}
	}
	return all.Keys()
}

func unionW(ws ...Writes) []string {
	all := Writes{}
	for _, w := range ws {
		for k := range w {
			all[k] = 1
		}
	}
	return all.Keys()
}

// The report's sections after the results table: profiles, scale curve, CPU seconds by
// process, Devin API calls by route and Kubernetes API requests by resource.

package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cogtokens/token-operator/internal/policy"
)

func (r *results) writeProfiles(w func(string, ...any)) {
	p := r.profile
	w("## Profiles of the manager\n\n")
	if p.err != "" {
		w("No profile: %s.\n\n", p.err)
		return
	}
	w("Taken through `--pprof-bind-address`: CPU over the create phase (%d profiles of %s in turn, merged: %s from the first create until the operator was idle), heap right after it (after a GC). `go tool pprof -top -nodecount=15` of each; the profiles are in `%s` (not committed: `go tool pprof -http=: cpu.pprof`).\n\n",
		p.chunks, cpuChunk, secs(p.cpuWindow), "profiles/")
	for _, s := range []struct{ title, top string }{
		{"CPU, by own time (flat)", p.cpuFlat},
		{"CPU, by time including callees (cum)", p.cpuCum},
		{"Heap in use after the creates (inuse_space)", p.heapInuse},
		{"Heap allocated since the start (alloc_space)", p.heapAlloc},
	} {
		w("**%s**\n\n```\n%s\n```\n\n", s.title, trimTop(s.top))
	}
}

func (r *results) writeScale(w func(string, ...any)) {
	w("## Scale curve\n\n")
	if len(r.scale) == 0 {
		// The heading stays, so that links to it (the design's sharding section) hold.
		w("Not run: `make bench BENCH_ARGS=\"--scale=1000,5000,10000\"` measures it.\n\n")
		return
	}
	w("Each point on a fresh control plane (envtest) and a fresh manager, the same mix (one ServiceUser in eleven) and flags: the floor first, then the creates until the operator is idle; memory read %s later; the invariant checked at the end of each. [![scale curve](%s)](%s)\n\n",
		policy.FormatDuration(r.opts.settle), scalePlotName, scalePlotName)
	t := newTable("N", "time to all Ready", "floor", "operator / floor", "per resource p50 / p99", "writes per token (+ events)",
		"SARs / dry runs per token", "Devin calls per token", "RSS idle → with N (peak)", "Go heap", "KiB RSS per resource", "reconcile mean / p99", "invariant", "wall")
	for _, p := range r.scale {
		if !p.ok() {
			t.row(strconv.Itoa(p.n), "failed: "+p.err, "", "", "", "", "", "", "", "", "", "", "", secs(p.wall))
			continue
		}
		cr, n := p.create, p.create.total()
		inv := "holds"
		if !p.invariant.Holds() {
			inv = fmt.Sprintf("**VIOLATED** (%d problems)", len(p.invariant.Problems))
		}
		t.row(fmt.Sprintf("%d (%d + %d)", p.n, p.pats, p.serviceUsers), secs(cr.ready), secs(p.floor.duration), fmt.Sprintf("%.2f×", ratio(cr.ready, p.floor.duration)),
			p50p99(cr.latencies), fmt.Sprintf("%s (+ %s)", per(cr.d.writes.Total()-cr.d.writes["events"], n), per(cr.d.writes["events"], n)),
			per(cr.d.reviews, n)+" / "+per(cr.d.dryRuns.Total(), n), per(float64(cr.d.calls.Total()), n),
			fmt.Sprintf("%s → %s (%s)", mib(p.idleRSS), mib(p.rss), mib(p.hwm)), mibf(p.heap), fmt.Sprintf("%.1f", perResourceKiB(p.rss, p.idleRSS, n)),
			secs(cr.d.meanReconcile())+" / "+secs(cr.d.hist.quantileDuration(0.99)), inv, secs(p.wall))
	}
	w("%s\n", t)
}

func (r *results) writeCPU(w func(string, ...any)) {
	w("## CPU seconds by process\n\n")
	w("`process_cpu_seconds_total` of the manager, kube-apiserver and etcd, and getrusage of the bench process (its clients and informers, and the in-memory Devin API), over each phase's window; the last column is the rest of the machine's busy time (`/proc/stat`): other engineers' test runs.\n\n")
	t := newTable("phase", "wall", "manager", "kube-apiserver", "etcd", "bench + Devin API", "total", "cores busy", "other processes (cores)")
	for _, p := range []struct {
		name string
		wall time.Duration
		cpu  cpuTimes
	}{
		{"floor (no operator)", r.floor.duration, r.floor.cpu},
		{fmt.Sprintf("create %d, until idle", r.create.total()), r.create.d.elapsed, r.create.d.cpu},
		{"steady, no check due", r.idle.d.elapsed, r.idle.d.cpu},
		{fmt.Sprintf("%d unrelated Secrets", r.memory.secrets), r.memory.d.elapsed, r.memory.d.cpu},
		{fmt.Sprintf("%d labelled Secrets", r.bloat.secrets), r.bloat.d.elapsed, r.bloat.d.cpu},
		{"rotation storm, until idle", r.storm.d.elapsed, r.storm.d.cpu},
		{"webhook latency series", r.webhook.d.elapsed, r.webhook.d.cpu},
		{"restart, until settled", r.recovery.d.elapsed, r.recovery.d.cpu},
		{fmt.Sprintf("steady, check every %s", policy.FormatDuration(r.check.interval)), r.check.window.elapsed, r.check.window.cpu},
	} {
		if p.wall <= 0 {
			continue
		}
		t.row(p.name, secs(p.wall), fmt.Sprintf("%.1f", p.cpu.operator), fmt.Sprintf("%.1f", p.cpu.apiserver), fmt.Sprintf("%.1f", p.cpu.etcd),
			fmt.Sprintf("%.1f", p.cpu.bench), fmt.Sprintf("%.1f", p.cpu.total()), fmt.Sprintf("%.2f", p.cpu.total()/p.wall.Seconds()),
			fmt.Sprintf("%.2f", max(p.cpu.machine-p.cpu.total(), 0)/p.wall.Seconds()))
	}
	w("%s\n", t)
}

func (r *results) writeRoutes(w func(string, ...any)) {
	cr, st, rc, ck := r.create, r.storm, r.recovery, r.check
	w("## Devin API calls by route\n\n")
	w("\"Per resource\" and \"per check\" divide by the resources (checks) of the route's kind: ServiceUser for the routes of service users and roles, PersonalAccessToken for the others. The storm's column leaves out the webhook sampler's lookups.\n\n")
	t := newTable("route", fmt.Sprintf("create %d", cr.total()), "per resource", "storm", "per rotation", "restart", fmt.Sprintf("steady, check every %s", policy.FormatDuration(ck.interval)), "per check")
	for _, k := range sortedKeys(cr.d.calls, st.d.calls, rc.d.calls, ck.window.calls) {
		resources, checks := cr.pats, ck.checks.pats
		if isServiceUserRoute(k) {
			resources, checks = cr.serviceUsers, ck.checks.serviceUsers
		}
		t.row("`"+k+"`", strconv.Itoa(cr.d.calls[k]), per(float64(cr.d.calls[k]), resources), strconv.Itoa(st.d.calls[k]), per(float64(st.d.calls[k]), st.tokens),
			strconv.Itoa(rc.d.calls[k]), strconv.Itoa(ck.window.calls[k]), per(float64(ck.window.calls[k]), checks))
	}
	w("%s\n", t)
	w("Floor: %s.\n\n", routes(r.floor.calls))
}

// costly are the API server's requests that cost like a write, by row of the resources
// table: committed writes by resource, dry runs as "<resource> (dry run)", and
// SubjectAccessReviews.
func costly(writes, dryRuns Writes, reviews float64) Writes {
	out := Writes{}
	for k, v := range writes {
		out[k] = v
	}
	for k, v := range dryRuns {
		out[k+" (dry run)"] = v
	}
	if reviews != 0 {
		out["subjectaccessreviews"] = reviews
	}
	return out
}

func (r *results) writeResources(w func(string, ...any)) {
	cr, st, rc, ck, fl := r.create.d, r.storm.d, r.recovery.d, r.check, r.floor
	w("## Kubernetes API requests by resource\n\n")
	w("From the kube-apiserver's `apiserver_request_total`: writes (verbs POST, PUT, PATCH, APPLY, DELETE) without and with `dry_run`, and SubjectAccessReviews (resource `subjectaccessreviews`, POST), less the bench's own writes and dry runs (counted at its client); only the resources the operator writes. \"Per resource\" and \"per check\" divide by the resources (checks) of the row's kind, and by all of them otherwise.\n\n")
	t := newTable("resource", fmt.Sprintf("create %d", r.create.total()), "per resource", "storm", "per rotation", "restart",
		fmt.Sprintf("steady, check every %s", policy.FormatDuration(ck.interval)), "per check", "floor per resource")
	rows := []Writes{costly(cr.writes, cr.dryRuns, cr.reviews), costly(st.writes, st.dryRuns, st.reviews), costly(rc.writes, rc.dryRuns, rc.reviews),
		costly(ck.window.writes, ck.window.dryRuns, ck.window.reviews), costly(fl.writes, fl.dryRuns, fl.reviews)}
	for _, k := range sortedKeys(rows...) {
		resources, checks := r.create.total(), ck.checks.total()
		switch {
		case strings.HasPrefix(k, "personalaccesstokens"):
			resources, checks = r.create.pats, ck.checks.pats
		case strings.HasPrefix(k, "serviceusers"):
			resources, checks = r.create.serviceUsers, ck.checks.serviceUsers
		}
		t.row(k, fmt.Sprintf("%.0f", rows[0][k]), per(rows[0][k], resources), fmt.Sprintf("%.0f", rows[1][k]), per(rows[1][k], r.storm.tokens),
			fmt.Sprintf("%.0f", rows[2][k]), fmt.Sprintf("%.0f", rows[3][k]), per(rows[3][k], checks), per(rows[4][k], resources))
	}
	w("%s\n", t)
}

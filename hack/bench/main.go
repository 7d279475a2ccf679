// Command bench measures token-operator on a real kube-apiserver and etcd (envtest) with the
// in-memory Devin API at a realistic latency, the manager running as a separate process (the
// real binary), and writes the figures to bench/results.md:
//
//   - throughput: N PersonalAccessTokens and M ServiceUsers created concurrently, time to all
//     Ready, beside a floor (the same upstream creates, Secret creates and status writes done
//     by a plain Go program with no operator), the manager profiled meanwhile (pprof);
//   - cost per token: Devin API calls, Kubernetes API writes, and what else costs the API
//     server like a write (server-side dry runs, SubjectAccessReviews);
//   - steady state: calls and writes with nothing changing, and of the periodic check;
//   - memory of the manager, with N resources, with many unrelated Secrets, and with large
//     Secrets carrying its label;
//   - a rotation storm (webhook latency sampled during it), webhook latency, and a restart;
//   - optionally (--scale), a curve of the creates at several sizes, each on a fresh cluster;
//   - and the invariant at the end, to show that the figures are of a correct run.
//
// Every resource is admitted through the webhooks under CredentialPolicies enforced (the
// default), with the permissive policy a single-tenant cluster installs.
//
// Figures, not pass/fail: it exits non-zero only when the run itself failed, or when the
// Devin API traffic broke the vendor's published contract (the in-memory API records it).
//
//	make bench                                   # the defaults
//	make bench BENCH_ARGS="--tokens=200 --unrelated-secrets=2000 --out=/tmp/b/results.md"
//	make bench BENCH_ARGS="--scale=1000,5000,10000"  # and the scale curve
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/cogtokens/token-operator/internal/logging"
	"github.com/cogtokens/token-operator/internal/policy"
	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

// options are the bench's flags.
type options struct {
	tokens, serviceUsers int
	// accountServiceUsers are the ServiceUsers of the second account's phase.
	accountServiceUsers int
	latency             time.Duration
	concurrency         int
	applyConcurrency    int
	namespaces          int
	unrelatedSecrets    int
	unrelatedSize       int
	bloatSecrets        int
	bloatSize           int
	grace               time.Duration
	idleWindow          time.Duration
	verifyInterval      time.Duration
	steadyWindow        time.Duration
	webhookSamples      int
	devinQPS            float64
	quiet               time.Duration
	settle              time.Duration
	phaseTimeout        time.Duration
	timeout             time.Duration
	pprof               bool
	scale               []int
	out                 string
	args                []string
}

func parseOptions(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.IntVar(&o.tokens, "tokens", 1000, "PersonalAccessTokens (N), alternately of alice@example.com and dave@example.com.")
	fs.IntVar(&o.serviceUsers, "service-users", 100, "ServiceUsers (M) in the mix.")
	fs.IntVar(&o.accountServiceUsers, "account-service-users", 100, "ServiceUsers of the second account's phase (0: no such phase).")
	fs.DurationVar(&o.latency, "latency", 50*time.Millisecond, "Latency of every Devin API call (in-memory server).")
	fs.IntVar(&o.concurrency, "concurrency", 8, "The operator's --max-concurrent-reconciles (per kind), and the floor's workers.")
	fs.IntVar(&o.applyConcurrency, "apply-concurrency", 32, "Concurrent clients creating (and annotating) the resources.")
	fs.IntVar(&o.namespaces, "namespaces", 10, "Namespaces the resources are spread over.")
	fs.IntVar(&o.unrelatedSecrets, "unrelated-secrets", 20000, "Unrelated Secrets created for the memory figure.")
	fs.IntVar(&o.unrelatedSize, "unrelated-secret-size", 10*1024, "Bytes of data of each unrelated Secret.")
	fs.IntVar(&o.bloatSecrets, "bloat-secrets", 300, "Secrets carrying the operator's managed-by label (a tenant bloating its cache) created for the memory figure.")
	fs.IntVar(&o.bloatSize, "bloat-secret-size", 1<<20, "Bytes of data of each of those Secrets (at most 1 MiB, the API server's limit).")
	fs.DurationVar(&o.grace, "grace", 20*time.Second, "spec.rotationGracePeriod of every resource (the storm waits for it).")
	fs.DurationVar(&o.idleWindow, "idle-window", 30*time.Second, "Steady window with no check due.")
	fs.DurationVar(&o.verifyInterval, "verify-interval", time.Minute, "The operator's --verify-interval in the periodic-check phase (1h elsewhere).")
	fs.DurationVar(&o.steadyWindow, "steady-window", 2*time.Minute, "Measurement window of the periodic-check phase (at least --verify-interval, to see every resource's first check after the restart).")
	fs.IntVar(&o.webhookSamples, "webhook-samples", 200, "Dry-run creates per webhook latency series.")
	fs.Float64Var(&o.devinQPS, "devin-api-qps", 0, "The operator's --devin-api-qps (0: no client-side limit; the operator's default is 10).")
	fs.DurationVar(&o.quiet, "quiet", 3*time.Second, "The operator is idle after this long without a reconcile.")
	fs.DurationVar(&o.settle, "settle", 10*time.Second, "Wait after creating the unrelated Secrets before reading memory.")
	fs.DurationVar(&o.phaseTimeout, "phase-timeout", 5*time.Minute, "Give up on a phase after this long (longer for the scale curve's larger points).")
	fs.DurationVar(&o.timeout, "timeout", 20*time.Minute, "Give up on the run after this long (the scale curve has a budget of its own on top).")
	fs.BoolVar(&o.pprof, "pprof", true, "Profile the manager (--pprof-bind-address): CPU over the create phase, heap after it; summaries in the report, profiles next to it in profiles/.")
	fs.Func("scale", "Comma-separated resource counts for the scale curve (e.g. 1000,5000,10000): after the other phases, each on a fresh control plane, with the floor; none by default.", func(s string) error {
		var err error
		o.scale, err = parseScale(s)
		return err
	})
	fs.StringVar(&o.out, "out", filepath.Join("bench", "results.md"), "Where to write the results (empty: do not write); the scale plot (scale.svg) and profiles/ go next to it.")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if err := o.validate(); err != nil {
		return o, err
	}
	o.args = args
	return o, nil
}

func (o options) validate() error {
	switch {
	case o.tokens < 2, o.serviceUsers < 0, o.accountServiceUsers < 0, o.concurrency < 1, o.applyConcurrency < 1, o.namespaces < 1,
		o.unrelatedSecrets < 0, o.unrelatedSize < 0, o.bloatSecrets < 0, o.webhookSamples < 1:
		return errors.New("--tokens must be at least 2; counts must not be negative; concurrencies, namespaces and samples at least 1")
	case o.bloatSize < 0 || o.bloatSize > 1<<20:
		return errors.New("--bloat-secret-size must be between 0 and 1 MiB")
	case o.verifyInterval <= 0, o.steadyWindow <= 0, o.idleWindow <= 0:
		return errors.New("--verify-interval, --steady-window and --idle-window must be positive")
	}
	return nil
}

// parseScale reads the --scale list: resource counts, each at least 3 (two PATs and one
// ServiceUser), without repeats, run in increasing order.
func parseScale(s string) ([]int, error) {
	var out []int
	seen := map[int]bool{}
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 3 {
			return nil, fmt.Errorf("--scale: %q is not a resource count of at least 3", f)
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Ints(out)
	return out, nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	o, err := parseOptions(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	if err := run(ctx, o, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench: run failed:", logging.Scrub(err.Error()))
		os.Exit(1)
	}
}

// run runs every phase in order, then the scale curve, and writes the report.
func run(ctx context.Context, o options, stdout, stderr io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, o.timeout+scaleBudget(o.scale))
	defer cancel()
	// The bench's own controller-runtime clients log nothing of interest.
	ctrl.SetLogger(zap.New(zap.WriteTo(io.Discard)))
	begin := time.Now()
	progress := func(format string, args ...any) {
		fmt.Fprintf(stderr, "▶ [%6.1fs] %s\n", time.Since(begin).Seconds(), logging.Scrub(fmt.Sprintf(format, args...)))
	}
	r := &results{opts: o, machine: describeMachine(ctx), started: begin}
	binDir, err := os.MkdirTemp("", "token-operator-bench-bin-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(binDir) }()
	progress("building the operator binary")
	binary, err := buildOperator(ctx, binDir)
	if err != nil {
		return err
	}
	if err := runMain(ctx, o, r, binary, progress); err != nil {
		return err
	}
	for _, n := range o.scale {
		p := runScalePoint(ctx, o, n, binary, progress)
		r.scale = append(r.scale, p)
		r.violations = append(r.violations, p.violations...)
		r.logs = r.logs.add(p.logs)
	}
	r.finished = time.Now()
	r.machine.loadEnd = loadAverage()
	return writeReport(r, stdout, progress)
}

// runMain runs the phases on one control plane, with N PATs and M ServiceUsers.
func runMain(ctx context.Context, o options, r *results, binary string, progress func(string, ...any)) error {
	c, err := startCluster(ctx, progress, binary)
	if err != nil {
		return err
	}
	defer c.stop()
	r.machine.apiserver = c.apiserverVersion()
	c.srv.SetFaults(devinapitest.Faults{Latency: o.latency})
	if err := runThroughputPhases(ctx, c, o, r, progress); err != nil {
		return err
	}
	if err := runLifecyclePhases(ctx, c, o, r, progress); err != nil {
		return err
	}
	progress("invariant")
	c.srv.SetFaults(devinapitest.Faults{})
	if r.invariant, err = checkInvariant(ctx, c); err != nil {
		return err
	}
	if o.accountServiceUsers > 0 {
		progress("second account: a ClusterDevinAccount on another enterprise, %d ServiceUsers through it", o.accountServiceUsers)
		c.srv.SetFaults(devinapitest.Faults{Latency: o.latency})
		if r.account, err = runSecondAccount(ctx, c, o); err != nil {
			return err
		}
	}
	if _, err := c.op.stop(time.Minute); err != nil {
		return err
	}
	r.violations = contractViolations(c.srv)
	r.logs, err = scanLogs(c.logs)
	return err
}

// runThroughputPhases: the floor, the operator's start, the creates (profiled), the idle
// window and the memory figures.
func runThroughputPhases(ctx context.Context, c *cluster, o options, r *results, progress func(string, ...any)) error {
	progress("floor: %d resources by a plain Go program, %d workers", o.tokens+o.serviceUsers, o.concurrency)
	var err error
	if r.floor, err = runFloor(ctx, c, o); err != nil {
		return err
	}
	progress("floor: %s", r.floor.duration.Round(time.Millisecond))
	if err := c.ensureNamespaces(ctx, benchNamespacePrefix, o.namespaces); err != nil {
		return err
	}
	progress("starting the operator (--verify-interval=1h)")
	if _, err := c.startOperator(ctx, o, time.Hour); err != nil {
		return err
	}
	r.operatorArgs = c.op.args
	idleRSS, _, err := c.op.memory()
	if err != nil {
		return err
	}
	progress("throughput: creating %d PersonalAccessTokens and %d ServiceUsers", o.tokens, o.serviceUsers)
	if r.create, r.profile, err = runProfiledCreate(ctx, c, o, profileDir(o, c)); err != nil {
		return err
	}
	progress("throughput: all Ready after %s", r.create.ready.Round(time.Millisecond))
	progress("steady state, no check due: watching for %s", o.idleWindow)
	if r.idle, err = runIdle(ctx, c, o); err != nil {
		return err
	}
	progress("memory: creating %d unrelated Secrets of %d bytes", o.unrelatedSecrets, o.unrelatedSize)
	if r.memory, err = runMemory(ctx, c, o, r.idle); err != nil {
		return err
	}
	r.memory.idleRSS = idleRSS
	progress("memory: creating %d Secrets of %d bytes with the operator's label", o.bloatSecrets, o.bloatSize)
	r.bloat, err = runBloat(ctx, c, o)
	return err
}

// runLifecyclePhases: the rotation storm (webhook sampled meanwhile), the webhook latency,
// a restart and the periodic checks.
func runLifecyclePhases(ctx context.Context, c *cluster, o options, r *results, progress func(string, ...any)) error {
	progress("rotation storm: annotating %d PersonalAccessTokens (grace %s), the webhook sampled meanwhile", o.tokens, o.grace)
	var err error
	if r.storm, err = runStorm(ctx, c, o); err != nil {
		return err
	}
	progress("rotation storm: rotated after %s, old tokens revoked after %s", r.storm.rotated.Round(time.Millisecond), r.storm.revoked.Round(time.Millisecond))
	progress("webhook latency: %d dry-run creates per series", o.webhookSamples)
	if r.webhook, err = runWebhook(ctx, c, o); err != nil {
		return err
	}
	progress("recovery: SIGTERM and restart")
	if r.recovery, err = runRecovery(ctx, c, o, time.Hour); err != nil {
		return err
	}
	progress("recovery: settled %s after the start", r.recovery.settled.Round(time.Millisecond))
	progress("periodic check: restart with --verify-interval=%s, then %s of steady state", policy.FormatDuration(o.verifyInterval), policy.FormatDuration(o.steadyWindow))
	r.check, err = runPeriodicCheck(ctx, c, o)
	return err
}

// writeReport prints the report, writes it (and the scale plot) next to o.out, and fails the
// run on a Devin API contract violation.
func writeReport(r *results, stdout io.Writer, progress func(string, ...any)) error {
	o := r.opts
	report := logging.Scrub(r.markdown())
	fmt.Fprint(stdout, report)
	if o.out != "" {
		if err := os.MkdirAll(filepath.Dir(o.out), 0o755); err != nil {
			return err
		}
		if len(r.scale) > 0 {
			if err := os.WriteFile(filepath.Join(filepath.Dir(o.out), scalePlotName), []byte(scaleSVG(r.scale)), 0o644); err != nil {
				return err
			}
		}
		if err := os.WriteFile(o.out, []byte(report), 0o644); err != nil {
			return err
		}
		progress("wrote %s", o.out)
	}
	if !r.invariant.Holds() {
		progress("the invariant does not hold: %s", strings.Join(r.invariant.Problems, "; "))
	}
	if len(r.violations) > 0 {
		progress("the Devin API traffic broke the published contract:\n%s", strings.Join(r.violations, "\n"))
		return fmt.Errorf("%d Devin API contract violations", len(r.violations))
	}
	for _, p := range r.scale {
		if !p.ok() {
			return fmt.Errorf("the scale curve's point of %d resources failed: %s", p.n, p.err)
		}
	}
	return nil
}

// Command bench measures token-operator on a real kube-apiserver and etcd (envtest) with the
// in-memory Devin API at a realistic latency, the manager running as a separate process (the
// real binary), and writes the figures to bench/results.md:
//
//   - throughput: N PersonalAccessTokens and M ServiceUsers created concurrently, time to all
//     Ready, beside a floor (the same upstream creates, Secret creates and status writes done
//     by a plain Go program with no operator);
//   - cost per token: Devin API calls and Kubernetes API writes;
//   - steady state: calls and writes with nothing changing, and of the periodic check;
//   - memory of the manager, with N resources and with many unrelated Secrets;
//   - a rotation storm, webhook latency, and a restart;
//   - and the invariant at the end, to show that the figures are of a correct run.
//
// Figures, not pass/fail: it exits non-zero only when the run itself failed, or when the
// Devin API traffic broke the vendor's published contract (the in-memory API records it).
//
//	make bench                                   # the defaults
//	make bench BENCH_ARGS="--tokens=200 --unrelated-secrets=2000"
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
	"strings"
	"syscall"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/cogtokens/token-operator/internal/devinapi/devinapitest"
	"github.com/cogtokens/token-operator/internal/logging"
)

// options are the bench's flags.
type options struct {
	tokens, serviceUsers int
	latency              time.Duration
	concurrency          int
	applyConcurrency     int
	namespaces           int
	unrelatedSecrets     int
	unrelatedSize        int
	grace                time.Duration
	idleWindow           time.Duration
	verifyInterval       time.Duration
	steadyWindow         time.Duration
	webhookSamples       int
	devinQPS             float64
	quiet                time.Duration
	settle               time.Duration
	phaseTimeout         time.Duration
	timeout              time.Duration
	out                  string
	args                 []string
}

func parseOptions(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.IntVar(&o.tokens, "tokens", 1000, "PersonalAccessTokens (N), alternately of alice@example.com and dave@example.com.")
	fs.IntVar(&o.serviceUsers, "service-users", 100, "ServiceUsers (M) in the mix.")
	fs.DurationVar(&o.latency, "latency", 50*time.Millisecond, "Latency of every Devin API call (in-memory server).")
	fs.IntVar(&o.concurrency, "concurrency", 8, "The operator's --max-concurrent-reconciles (per kind), and the floor's workers.")
	fs.IntVar(&o.applyConcurrency, "apply-concurrency", 32, "Concurrent clients creating (and annotating) the resources.")
	fs.IntVar(&o.namespaces, "namespaces", 10, "Namespaces the resources are spread over.")
	fs.IntVar(&o.unrelatedSecrets, "unrelated-secrets", 20000, "Unrelated Secrets created for the memory figure.")
	fs.IntVar(&o.unrelatedSize, "unrelated-secret-size", 10*1024, "Bytes of data of each unrelated Secret.")
	fs.DurationVar(&o.grace, "grace", 20*time.Second, "spec.rotationGracePeriod of every resource (the storm waits for it).")
	fs.DurationVar(&o.idleWindow, "idle-window", 30*time.Second, "Steady window with no check due.")
	fs.DurationVar(&o.verifyInterval, "verify-interval", time.Minute, "The operator's --verify-interval in the periodic-check phase (1h elsewhere).")
	fs.DurationVar(&o.steadyWindow, "steady-window", 2*time.Minute, "Measurement window of the periodic-check phase.")
	fs.IntVar(&o.webhookSamples, "webhook-samples", 200, "Dry-run creates per webhook latency series.")
	fs.Float64Var(&o.devinQPS, "devin-api-qps", 0, "The operator's --devin-api-qps (0: no client-side limit; the operator's default is 10).")
	fs.DurationVar(&o.quiet, "quiet", 3*time.Second, "The operator is idle after this long without a reconcile.")
	fs.DurationVar(&o.settle, "settle", 10*time.Second, "Wait after creating the unrelated Secrets before reading memory.")
	fs.DurationVar(&o.phaseTimeout, "phase-timeout", 5*time.Minute, "Give up on a phase after this long.")
	fs.DurationVar(&o.timeout, "timeout", 20*time.Minute, "Give up on the whole run after this long.")
	fs.StringVar(&o.out, "out", filepath.Join("bench", "results.md"), "Where to write the results (empty: do not write).")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch {
	case o.tokens < 2, o.serviceUsers < 0, o.concurrency < 1, o.applyConcurrency < 1, o.namespaces < 1,
		o.unrelatedSecrets < 0, o.unrelatedSize < 0, o.webhookSamples < 1:
		return o, errors.New("--tokens must be at least 2; counts must not be negative; concurrencies, namespaces and samples at least 1")
	case o.verifyInterval <= 0, o.steadyWindow <= 0, o.idleWindow <= 0:
		return o, errors.New("--verify-interval, --steady-window and --idle-window must be positive")
	}
	o.args = args
	return o, nil
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

// run runs every phase in order and writes the report.
func run(ctx context.Context, o options, stdout, stderr io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	// The bench's own controller-runtime clients log nothing of interest.
	ctrl.SetLogger(zap.New(zap.WriteTo(io.Discard)))
	begin := time.Now()
	progress := func(format string, args ...any) {
		fmt.Fprintf(stderr, "▶ [%6.1fs] %s\n", time.Since(begin).Seconds(), logging.Scrub(fmt.Sprintf(format, args...)))
	}
	r := &results{opts: o, machine: describeMachine(ctx), started: begin}

	c, err := startCluster(ctx, progress)
	if err != nil {
		return err
	}
	defer c.stop()
	r.machine.apiserver = c.apiserverVersion()
	c.srv.SetFaults(devinapitest.Faults{Latency: o.latency})

	progress("floor: %d resources by a plain Go program, %d workers", o.tokens+o.serviceUsers, o.concurrency)
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
	if r.memory.idleRSS, _, err = c.op.memory(); err != nil {
		return err
	}

	progress("throughput: creating %d PersonalAccessTokens and %d ServiceUsers", o.tokens, o.serviceUsers)
	if r.create, err = runCreate(ctx, c, o); err != nil {
		return err
	}
	progress("throughput: all Ready after %s", r.create.ready.Round(time.Millisecond))

	progress("steady state, no check due: watching for %s", o.idleWindow)
	idle, err := runIdle(ctx, c, o)
	if err != nil {
		return err
	}
	r.idle = idle

	progress("memory: creating %d unrelated Secrets of %d bytes", o.unrelatedSecrets, o.unrelatedSize)
	idleRSS := r.memory.idleRSS
	if r.memory, err = runMemory(ctx, c, o, idle); err != nil {
		return err
	}
	r.memory.idleRSS = idleRSS

	progress("rotation storm: annotating %d PersonalAccessTokens (grace %s)", o.tokens, o.grace)
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

	progress("periodic check: restart with --verify-interval=%s, then %s of steady state", shortDuration(o.verifyInterval), shortDuration(o.steadyWindow))
	if r.check, err = runPeriodicCheck(ctx, c, o); err != nil {
		return err
	}

	progress("invariant")
	c.srv.SetFaults(devinapitest.Faults{})
	if r.invariant, err = checkInvariant(ctx, c); err != nil {
		return err
	}
	if _, err := c.op.stop(time.Minute); err != nil {
		return err
	}
	r.violations = contractViolations(c.srv)
	if r.logs, err = scanLogs(c.logs); err != nil {
		return err
	}
	r.finished = time.Now()
	r.machine.loadEnd = loadAverage()

	report := logging.Scrub(r.markdown())
	fmt.Fprint(stdout, report)
	if o.out != "" {
		if err := os.MkdirAll(filepath.Dir(o.out), 0o755); err != nil {
			return err
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
	return nil
}

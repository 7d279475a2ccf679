// What the phases share: the measured resources, the worker pool, snapshots of every counter
// and the delta between two, waiting until the operator is idle, and bulk Secrets.

package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/credential"
)

// The seeded PAT-enabled users the PersonalAccessTokens are spread over.
var patUsers = []string{"alice@example.com", "dave@example.com"}

// serviceUserRole is the organization role of every ServiceUser.
const serviceUserRole = "Member"

// benchNamespace is the namespace of the i-th resource.
func benchNamespace(o options, i int) string {
	return numbered(benchNamespacePrefix, i%o.namespaces)
}

// newPAT is the i-th PersonalAccessToken: alternately alice's and dave's, with the short
// grace period of the rotation storm.
func newPAT(o options, ns, name string, i int) *iamv1alpha1.PersonalAccessToken {
	return &iamv1alpha1.PersonalAccessToken{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: iamv1alpha1.PersonalAccessTokenSpec{
			User:           iamv1alpha1.UserReference{Email: patUsers[i%len(patUsers)]},
			CredentialSpec: iamv1alpha1.CredentialSpec{RotationGracePeriod: &metav1.Duration{Duration: o.grace}},
		},
	}
}

// newServiceUser is the j-th ServiceUser (organization Member).
func newServiceUser(o options, ns, name string) *iamv1alpha1.ServiceUser {
	return &iamv1alpha1.ServiceUser{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: iamv1alpha1.ServiceUserSpec{
			Role:   serviceUserRole,
			APIKey: iamv1alpha1.CredentialSpec{RotationGracePeriod: &metav1.Duration{Duration: o.grace}},
		},
	}
}

// benchObjects are the measured resources: o.tokens PersonalAccessTokens and
// o.serviceUsers ServiceUsers, interleaved so that both kinds are created throughout.
func benchObjects(o options) []credential.Object {
	var out []credential.Object
	total := o.tokens + o.serviceUsers
	p, s := 0, 0
	for k := 0; k < total; k++ {
		// Interleave: a ServiceUser every total/serviceUsers objects.
		if s < o.serviceUsers && (p >= o.tokens || k*o.serviceUsers >= s*total) {
			out = append(out, newServiceUser(o, benchNamespace(o, s), fmt.Sprintf("su-%05d", s)))
			s++
			continue
		}
		out = append(out, newPAT(o, benchNamespace(o, p), fmt.Sprintf("pat-%05d", p), p))
		p++
	}
	return out
}

// parallel runs f(i) for i in [0, n), workers at a time, and returns the first error: it
// cancels the context of the calls under way and starts no more.
func parallel(ctx context.Context, n, workers int, f func(ctx context.Context, i int) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for i := 0; i < n && gctx.Err() == nil; i++ {
		g.Go(func() error { return f(gctx, i) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}

// snapshot is the state of every counter at one moment: Devin API calls by route, what the
// API server served (committed writes and dry runs by resource, SubjectAccessReviews), the
// bench's own writes and dry runs, and the operator's metrics.
type snapshot struct {
	at     time.Time
	calls  Calls
	served served
	// bench and benchDry are the bench's own writes and dry runs, counted at its client.
	bench, benchDry Writes
	// op and hist (the reconcile durations) are zero while no operator runs.
	op   operatorStats
	hist histogram
	cpu  cpuTimes
}

// cpuTimes are CPU seconds used by each process: the manager, kube-apiserver, etcd, and the
// bench itself (its clients and informers, and the in-memory Devin API).
type cpuTimes struct {
	operator, apiserver, etcd, bench float64
	// machine is the CPU time of every process on the machine (/proc/stat), to tell how much
	// others used meanwhile.
	machine float64
}

func (t cpuTimes) total() float64 { return t.operator + t.apiserver + t.etcd + t.bench }

func (t cpuTimes) sub(o cpuTimes) cpuTimes {
	return cpuTimes{operator: t.operator - o.operator, apiserver: t.apiserver - o.apiserver,
		etcd: t.etcd - o.etcd, bench: t.bench - o.bench, machine: t.machine - o.machine}
}

func (c *cluster) snapshot(ctx context.Context) (snapshot, error) {
	s := snapshot{at: time.Now(), calls: c.srv.Calls(), cpu: cpuTimes{bench: benchCPU(), machine: machineCPU()}}
	s.bench, s.benchDry = c.benchWrites.snapshot()
	var err error
	if s.served, s.cpu.apiserver, err = c.apiserverState(ctx); err != nil {
		return s, err
	}
	if s.cpu.etcd, err = c.etcdCPU(ctx); err != nil {
		return s, err
	}
	if c.op.running() {
		samples, err := c.operatorScrape(ctx)
		if err != nil {
			return s, fmt.Errorf("scrape the operator's metrics: %w", err)
		}
		s.op, s.hist = parseOperatorStats(samples), histogramOf(samples, "controller_runtime_reconcile_time_seconds")
		s.cpu.operator = s.op.CPU
	}
	return s, nil
}

// delta is what happened between two snapshots.
type delta struct {
	elapsed time.Duration
	calls   Calls
	// writes and dryRuns are the API server's committed writes and dry runs of the operator's
	// resources, less the bench's own; reviews are SubjectAccessReviews (the bench makes none).
	writes, dryRuns Writes
	reviews         float64
	// opWrites is the operator's own count of the write requests it sent (every resource,
	// SubjectAccessReviews and dry runs included: its client metric does not tell them apart).
	opWrites   float64
	reconciles float64
	// reconcileSeconds and devinSeconds are the time spent in reconciles and in Devin API
	// requests, as the operator measured them; devinRequests counts the latter. hist holds
	// the reconcile durations.
	reconcileSeconds, devinSeconds, devinRequests float64
	hist                                          histogram
	cpu                                           cpuTimes
}

// meanReconcile is the mean duration of a reconcile.
func (d delta) meanReconcile() time.Duration {
	if d.reconciles == 0 {
		return 0
	}
	return time.Duration(d.reconcileSeconds / d.reconciles * float64(time.Second))
}

// meanDevin is the mean duration of a Devin API request seen by the operator.
func (d delta) meanDevin() time.Duration {
	if d.devinRequests == 0 {
		return 0
	}
	return time.Duration(d.devinSeconds / d.devinRequests * float64(time.Second))
}

// served is everything the API server served for the operator that costs like a write:
// committed writes, dry runs and SubjectAccessReviews.
func (d delta) served() float64 { return d.writes.Total() + d.dryRuns.Total() + d.reviews }

func (s snapshot) to(e snapshot) delta {
	return delta{
		elapsed:    e.at.Sub(s.at),
		calls:      e.calls.Sub(s.calls),
		writes:     onlyOperatorResources(e.served.writes.Sub(s.served.writes).Sub(e.bench.Sub(s.bench))),
		dryRuns:    onlyOperatorResources(e.served.dryRuns.Sub(s.served.dryRuns).Sub(e.benchDry.Sub(s.benchDry))),
		reviews:    e.served.reviews - s.served.reviews,
		opWrites:   e.op.Writes - s.op.Writes,
		reconciles: e.op.Reconciles - s.op.Reconciles,

		reconcileSeconds: e.op.ReconcileSeconds - s.op.ReconcileSeconds,
		devinSeconds:     e.op.DevinSeconds - s.op.DevinSeconds,
		devinRequests:    e.op.DevinRequests - s.op.DevinRequests,
		hist:             e.hist.sub(s.hist),
		cpu:              e.cpu.sub(s.cpu),
	}
}

// Polling periods of waitIdle: every scrape of the manager's metrics makes it list every
// resource from its cache to build their series (a real Prometheus scrapes every 15 s or so),
// so the bench polls once a second while it only waits for the end of a phase, and more often
// only where the time of the last reconcile is itself the figure (the restart).
const (
	idlePoll     = time.Second
	idlePollFine = 200 * time.Millisecond
)

// waitIdle waits until the operator has nothing to do: no reconcile started or finished for
// quiet, an empty work queue and no worker busy, polling its metrics every poll. It returns
// the time of the last activity seen (within poll of the real one).
func (c *cluster) waitIdle(ctx context.Context, quiet, timeout, poll time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	last := -1.0
	lastChange := time.Now()
	for {
		st, err := c.operatorStats(ctx)
		now := time.Now()
		if err == nil {
			if st.Reconciles != last || st.Depth > 0 || st.Active > 0 {
				if st.Reconciles != last {
					lastChange = now
				}
				last = st.Reconciles
			} else if now.Sub(lastChange) >= quiet {
				return lastChange, nil
			}
		}
		if now.After(deadline) {
			return lastChange, fmt.Errorf("the operator was still busy after %s", timeout)
		}
		if err := sleep(ctx, poll); err != nil {
			return lastChange, err
		}
	}
}

// numbered is the i-th of the names that start with prefix (namespaces: bench-0, bench-1, …).
func numbered(prefix string, i int) string { return prefix + strconv.Itoa(i) }

// ensureNamespaces creates the namespaces prefix0 to prefix(n-1).
func (c *cluster) ensureNamespaces(ctx context.Context, prefix string, n int) error {
	for i := 0; i < n; i++ {
		if err := c.env.EnsureNamespace(ctx, numbered(prefix, i)); err != nil {
			return err
		}
	}
	return nil
}

// idleSince waits until the operator is idle, and returns what it did since before.
func (c *cluster) idleSince(ctx context.Context, o options, before snapshot) (delta, error) {
	if _, err := c.waitIdle(ctx, o.quiet, o.phaseTimeout, idlePoll); err != nil {
		return delta{}, err
	}
	after, err := c.snapshot(ctx)
	if err != nil {
		return delta{}, err
	}
	return before.to(after), nil
}

// randomBytes returns n random bytes: Secret data that does not compress.
func randomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	_, err := rand.Read(b)
	return b, err
}

// blobSecret is a Secret with the given labels whose data is the one key "blob".
func blobSecret(ns, name string, labels map[string]string, blob []byte) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Data:       map[string][]byte{"blob": blob},
	}
}

// createSecrets creates secret(i) for i in [0, n), workers at a time, and waits settle. It
// returns how long the creates took, what happened from before them until the end of the
// wait, and the snapshot taken then.
func (c *cluster) createSecrets(ctx context.Context, settle time.Duration, n, workers int, secret func(i int) *corev1.Secret) (time.Duration, delta, snapshot, error) {
	before, err := c.snapshot(ctx)
	if err != nil {
		return 0, delta{}, snapshot{}, err
	}
	start := time.Now()
	err = parallel(ctx, n, workers, func(ctx context.Context, i int) error { return c.admin.Create(ctx, secret(i)) })
	created := time.Since(start)
	if err != nil {
		return created, delta{}, snapshot{}, fmt.Errorf("create: %w", err)
	}
	if err := sleep(ctx, settle); err != nil {
		return created, delta{}, snapshot{}, err
	}
	after, err := c.snapshot(ctx)
	if err != nil {
		return created, delta{}, snapshot{}, err
	}
	return created, before.to(after), after, nil
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

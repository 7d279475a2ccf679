package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// The seeded PAT-enabled users the PersonalAccessTokens are spread over.
var patUsers = []string{"alice@example.com", "dave@example.com"}

// serviceUserRole is the organization role of every ServiceUser.
const serviceUserRole = "Member"

// benchNamespace is the namespace of the i-th resource.
func benchNamespace(o options, i int) string {
	return fmt.Sprintf("%s%d", benchNamespacePrefix, i%o.namespaces)
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
func benchObjects(o options) []credentialObject {
	var out []credentialObject
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

// parallel runs f(i) for i in [0, n) on workers goroutines and returns the first error.
func parallel(ctx context.Context, n, workers int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	var once sync.Once
	var firstErr error
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(ctx, i); err != nil {
					once.Do(func() { firstErr = err; cancel() })
				}
			}
		}()
	}
loop:
	for i := 0; i < n; i++ {
		select {
		case next <- i:
		case <-ctx.Done():
			break loop
		}
	}
	close(next)
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return firstErr
}

// snapshot is the state of every counter at one moment: Devin API calls by route, the API
// server's committed writes by resource, the bench's own writes, and the operator's metrics.
type snapshot struct {
	at     time.Time
	calls  Calls
	writes Writes
	bench  Writes
	// op is zero while no operator runs.
	op  operatorStats
	cpu cpuTimes
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

func (c *cluster) snapshot(ctx context.Context) (snapshot, error) {
	s := snapshot{at: time.Now(), calls: c.srv.Calls(), bench: c.benchWrites.snapshot(), cpu: cpuTimes{bench: benchCPU(), machine: machineCPU()}}
	var err error
	if s.writes, s.cpu.apiserver, err = c.apiserverState(ctx); err != nil {
		return s, err
	}
	if s.cpu.etcd, err = c.etcdCPU(ctx); err != nil {
		return s, err
	}
	if c.op.running() {
		if s.op, err = c.operatorStats(ctx); err != nil {
			return s, fmt.Errorf("scrape the operator's metrics: %w", err)
		}
		s.cpu.operator = s.op.CPU
	}
	return s, nil
}

// delta is what happened between two snapshots.
type delta struct {
	elapsed time.Duration
	calls   Calls
	// writes are the API server's writes to the operator's resources, less the bench's own.
	writes Writes
	// opWrites is the operator's own count of the writes it sent (every resource).
	opWrites   float64
	reconciles float64
	// reconcileSeconds and devinSeconds are the time spent in reconciles and in Devin API
	// requests, as the operator measured them; devinRequests counts the latter.
	reconcileSeconds, devinSeconds, devinRequests float64
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

func (s snapshot) to(e snapshot) delta {
	benchDelta := e.bench.Sub(s.bench)
	return delta{
		elapsed:    e.at.Sub(s.at),
		calls:      e.calls.Sub(s.calls),
		writes:     onlyOperatorResources(e.writes.Sub(s.writes).Sub(benchDelta)),
		opWrites:   e.op.Writes - s.op.Writes,
		reconciles: e.op.Reconciles - s.op.Reconciles,

		reconcileSeconds: e.op.ReconcileSeconds - s.op.ReconcileSeconds,
		devinSeconds:     e.op.DevinSeconds - s.op.DevinSeconds,
		devinRequests:    e.op.DevinRequests - s.op.DevinRequests,
		cpu: cpuTimes{
			operator:  e.cpu.operator - s.cpu.operator,
			apiserver: e.cpu.apiserver - s.cpu.apiserver,
			etcd:      e.cpu.etcd - s.cpu.etcd,
			bench:     e.cpu.bench - s.cpu.bench,
			machine:   e.cpu.machine - s.cpu.machine,
		},
	}
}

// waitIdle waits until the operator has nothing to do: no reconcile started or finished for
// quiet, an empty work queue and no worker busy. It returns the time of the last activity.
func (c *cluster) waitIdle(ctx context.Context, quiet, timeout time.Duration) (time.Time, error) {
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
		select {
		case <-ctx.Done():
			return lastChange, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// ensureNamespaces creates the bench's namespaces.
func (c *cluster) ensureNamespaces(ctx context.Context, prefix string, n int) error {
	for i := 0; i < n; i++ {
		if err := c.env.EnsureNamespace(ctx, fmt.Sprintf("%s%d", prefix, i)); err != nil {
			return err
		}
	}
	return nil
}

func key(o client.Object) string { return o.GetNamespace() + "/" + o.GetName() }

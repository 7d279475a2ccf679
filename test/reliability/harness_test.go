package reliability

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/wait"
	clientretry "k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/conditions"
	"github.com/cogtokens/token-operator/internal/credential"
	"github.com/cogtokens/token-operator/internal/devinapi"
	"github.com/cogtokens/token-operator/internal/operator"
	"github.com/cogtokens/token-operator/internal/testing/audit"
	"github.com/cogtokens/token-operator/internal/testing/devenv"
	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

const (
	timeout  = 3 * time.Minute
	interval = 100 * time.Millisecond
)

// newG is NewWithT whose failures end with the test's name: CI often keeps only the last
// lines of a log, and they should say which test failed, and why.
func newG(t *testing.T) *WithT { return NewWithT(named{t}) }

type named struct{ *testing.T }

func (n named) Fatalf(format string, args ...any) {
	n.Helper()
	n.T.Fatalf(format+"\n(in %s)", append(args, n.Name())...)
}

// operatorOptions are the operator's options in this suite: the real webhooks, leader
// election, the admin group allowed to create PATs for others, the most verbose logging.
func operatorOptions() operator.Options {
	o := env.OperatorOptions()
	o.Logger = testLogger()
	o.PATAdminGroups = []string{"system:masters"}
	o.LeaderElect = true
	o.LeaderElectionNamespace = devenv.OperatorNamespace
	o.MaxConcurrentReconciles = 8
	// The chaos here (kills at random writes, 30% of create answers lost) makes creates whose
	// tokens are revoked as strays, and a resource may spend the default budget of 6 an hour
	// on them and stall for the rest of the hour: what this suite proves is convergence, so
	// the circuit breaker is set out of its way (internal/credential tests the budget).
	o.MintBudget = 60
	return o
}

// supervisor keeps an operator running, as a Deployment would: when it dies (killed by the
// chaos), a new one starts, with fresh caches.
type supervisor struct {
	opts     operator.Options
	mu       sync.Mutex
	op       *devenv.Operator
	stopping bool
	restarts int
	done     chan struct{}
}

func supervise(t *testing.T, opts operator.Options) *supervisor {
	t.Helper()
	s := &supervisor{opts: opts, done: make(chan struct{})}
	if err := s.start(); err != nil {
		t.Fatalf("start operator: %v", err)
	}
	go s.loop()
	t.Cleanup(s.stop)
	return s
}

func (s *supervisor) start() error {
	op, err := env.StartOperatorAs(context.Background(), operatorCfg, s.opts)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.op = op
	s.mu.Unlock()
	return nil
}

func (s *supervisor) loop() {
	defer close(s.done)
	for {
		s.mu.Lock()
		op := s.op
		s.mu.Unlock()
		<-op.Done()
		debugf("operator stopped")
		s.mu.Lock()
		stopping := s.stopping
		if !stopping {
			s.restarts++
		}
		s.mu.Unlock()
		if stopping {
			return
		}
		debugf("operator restarting")
		// The previous one may still be releasing its ports: try again, as a kubelet would.
		_ = wait.PollUntilContextCancel(context.Background(), interval, true, func(context.Context) (bool, error) {
			return s.start() == nil, nil
		})
	}
}

// kill ends the running operator at once, as a crash would (non-blocking).
func (s *supervisor) kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.stopping && s.op != nil {
		debugf("kill")
		s.op.Kill()
	}
}

func (s *supervisor) stop() {
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		return
	}
	s.stopping = true
	op := s.op
	s.mu.Unlock()
	_ = op.Stop()
	<-s.done
}

func (s *supervisor) Restarts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.restarts
}

var errKilled = errors.New("killed by the chaos test")

// chaos kills the operator at random points: after a write to the API server or a change
// upstream has landed, with probability p, until its budget of kills is spent.
type chaos struct {
	mu     sync.Mutex
	rng    *rand.Rand
	p      float64
	budget int
	sup    *supervisor
}

func newChaos(seed uint64, p float64, budget int) *chaos {
	return &chaos{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), p: p, budget: budget}
}

func (c *chaos) strike() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sup == nil || c.budget == 0 || c.rng.Float64() >= c.p {
		return false
	}
	c.budget--
	c.sup.kill()
	return true
}

func (c *chaos) Remaining() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.budget
}

// wrap is the operator's client: each write lands, then the operator may die before it
// learns the outcome.
func (c *chaos) wrap(inner client.Client) client.Client {
	after := func(err error) error {
		if err == nil && c.strike() {
			return errKilled
		}
		return err
	}
	return interceptor.NewClient(inner.(client.WithWatch), interceptor.Funcs{
		Create: func(ctx context.Context, cl client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			return after(cl.Create(ctx, obj, opts...))
		},
		Update: func(ctx context.Context, cl client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			return after(cl.Update(ctx, obj, opts...))
		},
		Patch: func(ctx context.Context, cl client.WithWatch, obj client.Object, p client.Patch, opts ...client.PatchOption) error {
			return after(cl.Patch(ctx, obj, p, opts...))
		},
		Delete: func(ctx context.Context, cl client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
			return after(cl.Delete(ctx, obj, opts...))
		},
		SubResourcePatch: func(ctx context.Context, cl client.Client, sub string, obj client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
			return after(cl.SubResource(sub).Patch(ctx, obj, p, opts...))
		},
	})
}

// hook is the Devin API's hook: a change upstream has happened, and the operator may die
// before its answer arrives.
func (c *chaos) hook(devinapitest.Event) { c.strike() }

// newNamespace creates a namespace for one test.
func newNamespace(t *testing.T) string {
	t.Helper()
	name := "r-" + utilrand.String(6)
	if err := env.EnsureNamespace(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	// A test that failed half-way leaves its resources to nobody: delete them (while its
	// operator still runs: cleanups run in reverse), so that the invariant of the next test
	// is about that test only.
	t.Cleanup(func() {
		if t.Failed() {
			deleteAll(t, name)
		}
	})
	return name
}

func newPAT(ns, name, email string) *iamv1alpha1.PersonalAccessToken {
	return &iamv1alpha1.PersonalAccessToken{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: iamv1alpha1.PersonalAccessTokenSpec{
			User: iamv1alpha1.UserReference{Email: email},
			CredentialSpec: iamv1alpha1.CredentialSpec{
				RotationGracePeriod: &metav1.Duration{Duration: 3 * time.Second},
			},
		},
	}
}

func newSU(ns, name string) *iamv1alpha1.ServiceUser {
	return &iamv1alpha1.ServiceUser{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: iamv1alpha1.ServiceUserSpec{
			Role:   "Member",
			APIKey: iamv1alpha1.CredentialSpec{RotationGracePeriod: &metav1.Duration{Duration: 3 * time.Second}},
		},
	}
}

// createAll creates objects concurrently (as a GitOps sync would), retrying transient
// failures (a webhook call cut short by a crash).
func createAll(t *testing.T, objs []client.Object) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(objs))
	sem := make(chan struct{}, 16)
	for _, o := range objs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			errs <- retry(func() error { return k8s.Create(context.Background(), o) })
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("create: %v", err)
		}
	}
}

// retry calls f until it succeeds, 50 times at most, 100 ms apart: the API server may refuse
// a write for a moment (a conflict, the webhook restarting with the operator).
func retry(f func() error) error {
	return clientretry.OnError(wait.Backoff{Duration: interval, Factor: 1, Steps: 50}, func(error) bool { return true }, f)
}

// mutate re-reads obj and writes it with change, retrying conflicts.
func mutate[T client.Object](obj T, change func(T)) error {
	return retry(func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		change(obj)
		return k8s.Update(context.Background(), obj)
	})
}

func ready(obj credential.Object) bool {
	st := obj.CredentialStatus()
	return conditions.IsReady(st.Conditions, obj.GetGeneration()) && st.Token != nil && !credential.IntentPending(obj)
}

// settled reports whether every resource of the namespaces is Ready with no replaced token
// left to revoke, and nothing is being deleted.
func settled(ctx context.Context, namespaces ...string) (bool, string) {
	for _, ns := range namespaces {
		pats := &iamv1alpha1.PersonalAccessTokenList{}
		sus := &iamv1alpha1.ServiceUserList{}
		if err := k8s.List(ctx, pats, client.InNamespace(ns)); err != nil {
			return false, err.Error()
		}
		if err := k8s.List(ctx, sus, client.InNamespace(ns)); err != nil {
			return false, err.Error()
		}
		for i := range pats.Items {
			p := &pats.Items[i]
			if !p.DeletionTimestamp.IsZero() || !ready(p) || busy(&p.Status.CredentialStatus) {
				return false, fmt.Sprintf("pat %s/%s: %+v", p.Namespace, p.Name, p.Status.Conditions)
			}
		}
		for i := range sus.Items {
			s := &sus.Items[i]
			if !s.DeletionTimestamp.IsZero() || !ready(s) || busy(&s.Status.CredentialStatus) || s.Status.PendingProvision != nil {
				return false, fmt.Sprintf("su %s/%s: %+v", s.Namespace, s.Name, s.Status.Conditions)
			}
		}
	}
	return true, ""
}

// busy reports whether the operator still has work scheduled for a Ready resource: a
// replaced token waiting for its grace period, an intent not yet resolved, or the check
// that follows a create whose answer was lost.
func busy(st *iamv1alpha1.CredentialStatus) bool {
	return len(st.PendingRevocations) > 0 || st.PendingIssue != nil || st.LastInterruptedIssue != nil
}

func waitSettled(t *testing.T, namespaces ...string) {
	t.Helper()
	waitSettledWithin(t, timeout, namespaces...)
}

func waitSettledWithin(t *testing.T, within time.Duration, namespaces ...string) {
	t.Helper()
	var last string
	newG(t).Eventually(func() error {
		ok, why := settled(context.Background(), namespaces...)
		if ok {
			return nil
		}
		last = why
		return errors.New("not settled: " + why)
	}, within, interval).Should(Succeed(), func() string { return logsAbout(last) })
}

// logsAbout returns the last operator log lines about the resource a "not settled" message
// names (its first word after the kind is namespace/name), to tell why from CI output alone.
func logsAbout(why string) string {
	fields := strings.Fields(why)
	if len(fields) < 2 {
		return ""
	}
	ns, name, ok := strings.Cut(strings.TrimSuffix(fields[1], ":"), "/")
	if !ok {
		return ""
	}
	var about []string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, `"`+ns+`"`) && strings.Contains(l, `"`+name+`"`) {
			about = append(about, l)
		}
	}
	if len(about) > 40 {
		about = about[len(about)-40:]
	}
	return "operator log lines about it:\n" + strings.Join(about, "\n")
}

// adminTokenSource reads the in-memory Devin API's current admin credential on each request.
type adminTokenSource struct{}

func (adminTokenSource) Token(context.Context) (devinapi.Token, error) {
	return env.Devin.AdminToken(), nil
}

var (
	clientOnce sync.Once
	client0    *devinapi.Client
)

// devinClient is one client for the whole suite (one connection pool).
func devinClient() *devinapi.Client {
	clientOnce.Do(func() {
		client0 = env.Devin.Client(func(o *devinapi.Options) { o.Credentials = adminTokenSource{} })
	})
	return client0
}

// invariant checks the promise over the whole cluster, strictly (every grace period over):
// every resource is Ready with exactly one live upstream token, which its Secret holds;
// every live upstream token and active service user belongs to a resource. It returns the
// violations.
func invariant(ctx context.Context) []string {
	c := &audit.Checker{Kube: k8s, API: devinClient(), Upstream: env.Devin, Mode: audit.Strict}
	rep, err := c.Check(ctx)
	if err != nil {
		return []string{err.Error()}
	}
	return rep.Problems
}

// expectInvariant waits until the invariant holds (revocations after a grace period take a
// moment) and fails with the violations if it does not.
func expectInvariant(t *testing.T) {
	t.Helper()
	var last []string
	newG(t).Eventually(func() []string {
		last = invariant(context.Background())
		return last
	}, timeout, interval).Should(BeEmpty(), func() string { return strings.Join(last, "\n") })
}

// deleteAll deletes every PersonalAccessToken and ServiceUser of the namespaces and waits
// until they are gone (so the next test starts from a clean upstream).
func deleteAll(t *testing.T, namespaces ...string) {
	t.Helper()
	ctx := context.Background()
	for _, ns := range namespaces {
		_ = k8s.DeleteAllOf(ctx, &iamv1alpha1.PersonalAccessToken{}, client.InNamespace(ns))
		_ = k8s.DeleteAllOf(ctx, &iamv1alpha1.ServiceUser{}, client.InNamespace(ns))
	}
	newG(t).Eventually(func() int {
		n := 0
		for _, ns := range namespaces {
			pats := &iamv1alpha1.PersonalAccessTokenList{}
			sus := &iamv1alpha1.ServiceUserList{}
			_ = k8s.List(ctx, pats, client.InNamespace(ns))
			_ = k8s.List(ctx, sus, client.InNamespace(ns))
			n += len(pats.Items) + len(sus.Items)
		}
		return n
	}, timeout, interval).Should(BeZero())
}

func debugf(format string, args ...any) {
	if os.Getenv("RELIABILITY_DEBUG") != "" {
		fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05.000")+" "+format+"\n", args...)
	}
}

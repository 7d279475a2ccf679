package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/directory"
	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

// Settings of the shared environment.
const (
	testCacheTTL       = time.Minute
	testBackendTimeout = 3 * time.Second
	// adminGroup is the PAT admin group of the tests (a GitOps controller's).
	adminGroup = "gitops-admins"
	// operatorNamespace is excluded by the webhooks' namespaceSelector.
	operatorNamespace = "token-operator-system"
)

// logs records every log line of the test binary, so that tests can check that no token
// value is ever logged. Verbosity 1 runs the webhooks' decision logging.
var logs logRecorder

type logRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *logRecorder) add(prefix, args string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, prefix+" "+args)
}

// containing returns the recorded lines that contain s.
func (r *logRecorder) containing(s string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, l := range r.lines {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return out
}

func TestMain(m *testing.M) {
	ctrl.SetLogger(funcr.New(logs.add, funcr.Options{Verbosity: 1}))
	code := m.Run()
	if shared != nil {
		for _, v := range shared.devin.TakeViolations() {
			fmt.Fprintf(os.Stderr, "FAIL: the Devin API traffic broke the published contract: %s\n", v)
			code = 1
		}
		if err := shared.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop test environment:", err)
			if code == 0 {
				code = 1
			}
		}
	}
	os.Exit(code)
}

// testEnv is a kube-apiserver with the CRDs and the webhook configuration of config/webhook,
// a manager serving only the webhooks (no controllers), and the in-memory Devin API. It is
// started once, by the first test that needs it, and shared: tests run one after another
// and each works in its own namespace.
type testEnv struct {
	te     *envtest.Environment
	cfg    *rest.Config
	scheme *runtime.Scheme
	admin  client.Client
	devin  *devinapitest.Server
	clock  *clocktesting.FakeClock
	probe  *probeServer
	cancel context.CancelFunc
	done   chan error
}

var (
	shared    *testEnv
	sharedErr error
	startOnce sync.Once
)

// env returns the shared environment, starting it on first use.
func env(t *testing.T) *testEnv {
	t.Helper()
	startOnce.Do(func() { shared, sharedErr = startEnv() })
	if sharedErr != nil {
		t.Fatalf("start the test environment: %v", sharedErr)
	}
	return shared
}

func testScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(iamv1alpha1.AddToScheme(s))
	return s
}

func startEnv() (_ *testEnv, err error) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		return nil, errors.New("KUBEBUILDER_ASSETS is not set: run make test, or export KUBEBUILDER_ASSETS=$(hack/setup-envtest.sh --print-path)")
	}
	e := &testEnv{
		te: &envtest.Environment{
			CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
			ErrorIfCRDPathMissing: true,
			WebhookInstallOptions: envtest.WebhookInstallOptions{Paths: []string{filepath.Join("..", "..", "config", "webhook")}},
		},
		scheme: testScheme(),
		devin:  devinapitest.NewServer(),
		clock:  clocktesting.NewFakeClock(time.Now()),
	}
	if e.cfg, err = e.te.Start(); err != nil {
		_ = e.te.Stop() // a failed start may leave the control plane running
		e.devin.Close()
		return nil, fmt.Errorf("start envtest: %w", err)
	}
	defer func() {
		if err != nil {
			_ = e.stop()
		}
	}()
	if e.admin, err = client.New(e.cfg, client.Options{Scheme: e.scheme}); err != nil {
		return nil, err
	}

	wo := e.te.WebhookInstallOptions
	e.probe = &probeServer{Server: webhook.NewServer(webhook.Options{
		Host: wo.LocalServingHost, Port: wo.LocalServingPort, CertDir: wo.LocalServingCertDir,
	})}
	mgr, err := ctrl.NewManager(e.cfg, ctrl.Options{
		Scheme:                 e.scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		WebhookServer:          e.probe,
	})
	if err != nil {
		return nil, fmt.Errorf("create manager: %w", err)
	}
	if err := Setup(mgr, Options{
		Directory:         directory.New(e.devin.Client(), directory.Options{TTL: testCacheTTL, Clock: e.clock}),
		SAR:               e.admin,
		PATAdminGroups:    []string{adminGroup},
		BackendTimeout:    testBackendTimeout,
		MaxServiceUserTTL: 8760 * time.Hour,
	}); err != nil {
		return nil, fmt.Errorf("set up webhooks: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel, e.done = cancel, make(chan error, 1)
	go func() { e.done <- mgr.Start(ctx) }()

	// Wait until the webhook server answers and the test users may use the CRDs.
	if err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		return e.probe.StartedChecker()(nil) == nil, nil
	}); err != nil {
		return nil, fmt.Errorf("wait for the webhook server: %w", err)
	}
	if err := e.grantCRDAccess(ctx); err != nil {
		return nil, err
	}
	if err := e.admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: operatorNamespace}}); err != nil {
		return nil, fmt.Errorf("create namespace %s: %w", operatorNamespace, err)
	}
	return e, nil
}

// grantCRDAccess lets every authenticated user (the impersonated test users) do anything with
// the operator's resources, and waits until the authorizer knows it.
func (e *testEnv) grantCRDAccess(ctx context.Context) error {
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "webhook-test-iam-editor"},
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{iamv1alpha1.GroupVersion.Group},
			Resources: []string{"personalaccesstokens", "serviceusers"},
			Verbs:     []string{rbacv1.VerbAll},
		}},
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "webhook-test-iam-editor"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: "system:authenticated"}},
	}
	for _, obj := range []client.Object{role, binding} {
		if err := e.admin.Create(ctx, obj); err != nil {
			return fmt.Errorf("create %s: %w", obj.GetName(), err)
		}
	}
	probe := e.clientAs("rbac-probe@example.com")
	if err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		return probe.List(ctx, &iamv1alpha1.PersonalAccessTokenList{}, client.InNamespace("default")) == nil, nil
	}); err != nil {
		return fmt.Errorf("wait for RBAC: %w", err)
	}
	return nil
}

func (e *testEnv) stop() error {
	var errs []error
	if e.cancel != nil {
		e.cancel()
		if err := <-e.done; err != nil {
			errs = append(errs, fmt.Errorf("manager: %w", err))
		}
	}
	if err := e.te.Stop(); err != nil {
		errs = append(errs, fmt.Errorf("envtest: %w", err))
	}
	e.devin.Close()
	return errors.Join(errs...)
}

// clientAs is a client that acts as user (and groups) through impersonation.
func (e *testEnv) clientAs(user string, groups ...string) client.Client {
	cfg := rest.CopyConfig(e.cfg)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: groups}
	c, err := client.New(cfg, client.Options{Scheme: e.scheme})
	if err != nil {
		panic(fmt.Sprintf("impersonating client: %v", err))
	}
	return c
}

// namespace creates a fresh namespace for one test.
func (e *testEnv) namespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "webhook-test-"}}
	if err := e.admin.Create(context.Background(), ns); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	return ns.Name
}

// expireCaches moves the lookup caches' clock past their TTL, so that the next lookup asks
// the Devin API.
func (e *testEnv) expireCaches() { e.clock.Step(2 * testCacheTTL) }

// backendDown makes the Devin API answer 503 to everything until the test ends.
func (e *testEnv) backendDown(t *testing.T) {
	t.Helper()
	e.devin.SetFaults(devinapitest.Faults{Down: true})
	t.Cleanup(func() { e.devin.SetFaults(devinapitest.Faults{}) })
}

// probeServer is the manager's webhook server with a probe in front of every webhook: it
// counts the admission requests each path receives and, when broken, answers them with an
// HTTP 500 as a crashed or unreachable webhook server would look to the API server.
type probeServer struct {
	webhook.Server
	mu     sync.Mutex
	calls  map[string]*atomic.Int64
	broken atomic.Bool
}

// Register wraps hook with the probe.
func (p *probeServer) Register(path string, hook http.Handler) {
	p.mu.Lock()
	if p.calls == nil {
		p.calls = map[string]*atomic.Int64{}
	}
	n := &atomic.Int64{}
	p.calls[path] = n
	p.mu.Unlock()
	p.Server.Register(path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if p.broken.Load() {
			http.Error(w, "webhook server broken by the test", http.StatusInternalServerError)
			return
		}
		hook.ServeHTTP(w, r)
	}))
}

// Calls is how many admission requests path received.
func (p *probeServer) Calls(path string) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n, ok := p.calls[path]; ok {
		return n.Load()
	}
	return 0
}

// breakUntilCleanup makes every webhook fail until the test ends.
func (p *probeServer) breakUntilCleanup(t *testing.T) {
	t.Helper()
	p.broken.Store(true)
	t.Cleanup(func() { p.broken.Store(false) })
}

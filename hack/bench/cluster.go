// The bench's world: envtest's control plane with the webhooks and the permissive policy, the
// in-memory Devin API, the bench's counted clients, and the manager run as a separate process
// that each phase starts, stops, scrapes and reads the memory of.

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/cogtokens/token-operator/internal/operator"
	"github.com/cogtokens/token-operator/internal/policy"
	"github.com/cogtokens/token-operator/internal/testing/devenv"
	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

// cluster is the bench's world: envtest's kube-apiserver and etcd with the CRDs and webhooks,
// the in-memory Devin API (in this process, so its counters are readable), the bench's own
// clients, and the operator binary run as a separate process.
type cluster struct {
	env *devenv.Env
	srv *devinapitest.Server
	// admin is a cluster-admin client with a high rate limit whose writes are counted in
	// benchWrites, so that they can be told apart from the operator's.
	admin       client.Client
	benchWrites *writeCounter
	// apiHTTP reaches the API server as cluster admin (for /metrics).
	apiHTTP *http.Client
	// objects watches PersonalAccessTokens and ServiceUsers for the bench.
	objects *tracker

	dir         string
	binary      string
	kubeconfig  string
	metricsPort int
	probePort   int
	// pprofPort serves the manager's profiles (0: not served).
	pprofPort    int
	op           *operatorProcess
	runs         int
	logs         []string
	stopTracking context.CancelFunc
}

// startCluster starts the control plane (webhooks installed, the permissive
// CredentialPolicy in force) and the Devin API, and writes the operator's kubeconfig; binary
// is the manager built from this tree.
func startCluster(ctx context.Context, progress func(string, ...any), binary string) (*cluster, error) {
	dir, err := os.MkdirTemp("", "token-operator-bench-")
	if err != nil {
		return nil, err
	}
	c := &cluster{dir: dir, binary: binary, benchWrites: &writeCounter{}}
	progress("starting kube-apiserver and etcd (envtest), webhooks installed")
	env, err := devenv.Start(ctx, devenv.Options{Webhooks: true})
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	c.env, c.srv = env, env.Devin
	// CredentialPolicies are enforced: with none, the webhook refuses every resource. The
	// bench runs with what a single-tenant cluster runs with: every ServiceUser and PAT
	// allowed, RBAC use for every authenticated user, delegation (PATs of other people) for
	// system:masters, the group the bench creates as.
	if err := env.InstallPermissivePolicy(ctx, "system:masters"); err != nil {
		c.stop()
		return nil, fmt.Errorf("install the permissive CredentialPolicy: %w", err)
	}
	if err := c.setUp(ctx); err != nil {
		c.stop()
		return nil, err
	}
	return c, nil
}

func (c *cluster) setUp(ctx context.Context) error {
	cfg := countWrites(c.env.Config, c.benchWrites)
	cfg.QPS, cfg.Burst = 5000, 10000
	var err error
	if c.admin, err = client.New(cfg, client.Options{Scheme: operator.Scheme()}); err != nil {
		return err
	}
	if c.apiHTTP, err = rest.HTTPClientFor(c.env.Config); err != nil {
		return err
	}
	user, err := c.env.Env.AddUser(envtest.User{Name: "bench-operator", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("add the operator's user: %w", err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return err
	}
	c.kubeconfig = filepath.Join(c.dir, "kubeconfig")
	if err := os.WriteFile(c.kubeconfig, kc, 0o600); err != nil {
		return err
	}
	if c.metricsPort, err = freePort(ctx); err != nil {
		return err
	}
	if c.probePort, err = freePort(ctx); err != nil {
		return err
	}
	if c.pprofPort, err = freePort(ctx); err != nil {
		return err
	}
	trackCtx, cancel := context.WithCancel(context.Background())
	c.stopTracking = cancel
	ca, err := cache.New(c.env.Config, cache.Options{Scheme: operator.Scheme()})
	if err != nil {
		return err
	}
	if c.objects, err = newTracker(trackCtx, ca); err != nil {
		return err
	}
	return nil
}

// stop stops the operator, the control plane and the Devin API, and removes the temporary
// directory (the operator's logs are scanned before).
func (c *cluster) stop() {
	if c.op != nil {
		_, _ = c.op.stop(30 * time.Second)
	}
	if c.stopTracking != nil {
		c.stopTracking()
	}
	if c.env != nil {
		_ = c.env.Stop()
	}
	_ = os.RemoveAll(c.dir)
}

// apiserverVersion asks the API server for its version.
func (c *cluster) apiserverVersion() string {
	dc, err := discovery.NewDiscoveryClientForConfig(c.env.Config)
	if err != nil {
		return "unknown"
	}
	v, err := dc.ServerVersion()
	if err != nil {
		return "unknown"
	}
	return v.GitVersion
}

// apiserverState scrapes what the API server served (writes, dry runs, reviews) and its CPU
// seconds.
func (c *cluster) apiserverState(ctx context.Context) (served, float64, error) {
	s, err := scrape(ctx, c.apiHTTP, strings.TrimSuffix(c.env.Config.Host, "/")+"/metrics", named("apiserver_request_total", "process_cpu_seconds_total"))
	if err != nil {
		return served{}, 0, fmt.Errorf("scrape kube-apiserver metrics: %w", err)
	}
	return apiserverServed(s), Sum(s, "process_cpu_seconds_total", nil), nil
}

// etcdCPU scrapes etcd's CPU seconds.
func (c *cluster) etcdCPU(ctx context.Context) (float64, error) {
	u := c.env.Env.ControlPlane.Etcd.URL
	if u == nil {
		return 0, errors.New("etcd has no client URL")
	}
	s, err := scrape(ctx, http.DefaultClient, strings.TrimSuffix(u.String(), "/")+"/metrics", named("process_cpu_seconds_total"))
	if err != nil {
		return 0, fmt.Errorf("scrape etcd metrics: %w", err)
	}
	return Sum(s, "process_cpu_seconds_total", nil), nil
}

// operatorScrape scrapes the bench's families of the running operator's metrics.
func (c *cluster) operatorScrape(ctx context.Context) ([]Sample, error) {
	return c.scrapeOperator(ctx, operatorSeries...)
}

// scrapeOperator scrapes the given series of the running operator.
func (c *cluster) scrapeOperator(ctx context.Context, series ...string) ([]Sample, error) {
	u := seriesURL(fmt.Sprintf("http://127.0.0.1:%d/metrics", c.metricsPort), series)
	return scrape(ctx, http.DefaultClient, u, named(series...))
}

// operatorStats scrapes the running operator's metrics.
func (c *cluster) operatorStats(ctx context.Context) (operatorStats, error) {
	s, err := c.operatorScrape(ctx)
	if err != nil {
		return operatorStats{}, err
	}
	return parseOperatorStats(s), nil
}

// buildOperator builds the manager binary from the repository root into dir.
func buildOperator(ctx context.Context, dir string) (string, error) {
	root, err := devenv.FindRepoRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "token-operator")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build the operator: %w\n%s", err, out.String())
	}
	return bin, nil
}

func freePort(ctx context.Context) (int, error) {
	l, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// operatorArgs are the manager's flags for this environment.
func (c *cluster) operatorArgs(o options, verifyInterval time.Duration) []string {
	wo := c.env.Env.WebhookInstallOptions
	args := []string{
		"--kubeconfig=" + c.kubeconfig,
		"--devin-api-url=" + c.srv.URL,
		"--credentials-secret-namespace=" + devenv.OperatorNamespace,
		"--default-organization=" + devinapitest.DefaultOrg,
		fmt.Sprintf("--metrics-bind-address=127.0.0.1:%d", c.metricsPort),
		"--metrics-secure=false",
		fmt.Sprintf("--health-probe-bind-address=127.0.0.1:%d", c.probePort),
		"--leader-elect=false",
		"--devin-api-qps=" + strconv.FormatFloat(o.devinQPS, 'f', -1, 64),
		fmt.Sprintf("--max-concurrent-reconciles=%d", o.concurrency),
		"--pat-admin-groups=system:masters",
		"--verify-interval=" + policy.FormatDuration(verifyInterval),
		"--webhook-host=" + wo.LocalServingHost,
		fmt.Sprintf("--webhook-port=%d", wo.LocalServingPort),
		"--webhook-cert-dir=" + wo.LocalServingCertDir,
	}
	if o.pprof {
		args = append(args, fmt.Sprintf("--pprof-bind-address=127.0.0.1:%d", c.pprofPort))
	}
	return args
}

// operatorProcess is one run of the manager binary.
type operatorProcess struct {
	cmd     *exec.Cmd
	log     *os.File
	args    []string
	started time.Time
	exited  chan struct{}
	waitErr error
}

// startOperator starts the manager with the given verification interval and waits until
// its /readyz answers (credentials read, webhook server started). It returns how long that
// took.
func (c *cluster) startOperator(ctx context.Context, o options, verifyInterval time.Duration) (time.Duration, error) {
	c.runs++
	logPath := filepath.Join(c.dir, fmt.Sprintf("operator-%d.log", c.runs))
	lf, err := os.Create(logPath)
	if err != nil {
		return 0, err
	}
	c.logs = append(c.logs, logPath)
	args := c.operatorArgs(o, verifyInterval)
	// Not tied to ctx: the bench stops the manager itself, with SIGTERM.
	cmd := exec.CommandContext(context.WithoutCancel(ctx), c.binary, args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	// The manager dies with the bench, whatever happens to the bench.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p := &operatorProcess{cmd: cmd, log: lf, args: args, exited: make(chan struct{})}
	p.started = time.Now()
	if err := cmd.Start(); err != nil {
		_ = lf.Close()
		return 0, fmt.Errorf("start the operator: %w", err)
	}
	go func() {
		p.waitErr = cmd.Wait()
		_ = lf.Close()
		close(p.exited)
	}()
	c.op = p
	url := fmt.Sprintf("http://127.0.0.1:%d/readyz", c.probePort)
	deadline := time.After(2 * time.Minute)
	for {
		select {
		case <-p.exited:
			return 0, fmt.Errorf("the operator exited at start (%w); its log:\n%s", p.waitErr, tail(logPath, 20))
		case <-deadline:
			return 0, fmt.Errorf("the operator did not become ready within 2m; its log:\n%s", tail(logPath, 20))
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		resp, err := http.Get(url) //nolint:gosec,noctx // a local probe
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(p.started), nil
			}
		}
	}
}

// running reports whether the process has not exited.
func (p *operatorProcess) running() bool {
	if p == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM and waits for the process to exit (SIGKILL after timeout). It returns
// how long the shutdown took.
func (p *operatorProcess) stop(timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	select {
	case <-p.exited:
		return 0, p.waitErr
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return 0, err
	}
	select {
	case <-p.exited:
		return time.Since(start), p.waitErr
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return time.Since(start), fmt.Errorf("the operator did not stop within %s after SIGTERM; killed", timeout)
	}
}

// memory reads the process's resident set (VmRSS) and its peak (VmHWM), in bytes.
func (p *operatorProcess) memory() (rss, hwm uint64, err error) {
	status, err := procFields(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, 0, err
	}
	if rss, err = kiBytes(status["VmRSS"]); err != nil {
		return 0, 0, fmt.Errorf("VmRSS: %w", err)
	}
	if hwm, err = kiBytes(status["VmHWM"]); err != nil {
		return 0, 0, fmt.Errorf("VmHWM: %w", err)
	}
	return rss, hwm, nil
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

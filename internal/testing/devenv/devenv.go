// Package devenv runs token-operator without a cluster: a local kube-apiserver and etcd
// (envtest, built from source by hack/setup-envtest.sh), the CRDs and, optionally, the
// webhook configuration installed, the in-memory Devin API, and the operator started through
// the same wiring as main.go. The dev environment (hack/dev), the controller and webhook
// tests, the reliability suite and the benchmark all stand on it.
package devenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/cogtokens/token-operator/internal/operator"
	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

// OperatorNamespace is where the operator's credentials Secret lives in the environment.
const OperatorNamespace = "token-operator-system"

// Options configure an environment.
type Options struct {
	// Webhooks installs the webhook configurations of config/webhook, served by the operator.
	Webhooks bool
	// Devin configures the in-memory Devin API.
	Devin []devinapitest.Option
	// DevinServer, when set, is used instead of starting one.
	DevinServer *devinapitest.Server
	// RepoRoot is the repository root; empty finds it from the working directory.
	RepoRoot string
	// APIServerFlags are extra kube-apiserver flags ("--flag=value").
	APIServerFlags map[string]string
}

// Env is a running environment.
type Env struct {
	// Config is a cluster-admin REST config.
	Config *rest.Config
	// Client is a cluster-admin client that reads around any cache.
	Client client.Client
	// Devin is the in-memory Devin API.
	Devin *devinapitest.Server
	// Env is the envtest environment (API server, etcd, webhook install options).
	Env *envtest.Environment
	// RepoRoot is the repository root.
	RepoRoot string

	ownDevin bool
}

// Start starts the control plane, installs the CRDs (and webhooks), starts the in-memory
// Devin API and writes the operator's credentials Secret. KUBEBUILDER_ASSETS must point at
// the envtest binaries (the Makefile sets it).
func Start(ctx context.Context, o Options) (*Env, error) {
	root := o.RepoRoot
	if root == "" {
		var err error
		if root, err = FindRepoRoot(); err != nil {
			return nil, err
		}
	}
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		return nil, errors.New("KUBEBUILDER_ASSETS is not set: run through make (make test, make run) or export KUBEBUILDER_ASSETS=$(hack/setup-envtest.sh --print-path)")
	}
	te := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	if o.Webhooks {
		te.WebhookInstallOptions = envtest.WebhookInstallOptions{Paths: []string{filepath.Join(root, "config", "webhook")}}
	}
	for k, v := range o.APIServerFlags {
		te.ControlPlane.GetAPIServer().Configure().Set(k, v)
	}
	cfg, err := te.Start()
	if err != nil {
		// Start fails after the control plane is up (a CRD the API server refuses, say):
		// stop it, or its processes outlive the test (and any lock the test held).
		_ = te.Stop()
		return nil, fmt.Errorf("start envtest control plane: %w", err)
	}
	e := &Env{Config: cfg, Env: te, RepoRoot: root, Devin: o.DevinServer}
	if e.Client, err = client.New(cfg, client.Options{Scheme: operator.Scheme()}); err != nil {
		_ = te.Stop()
		return nil, fmt.Errorf("create client: %w", err)
	}
	if e.Devin == nil {
		e.Devin = devinapitest.NewServer(o.Devin...)
		e.ownDevin = true
	}
	if err := e.EnsureNamespace(ctx, OperatorNamespace); err != nil {
		_ = e.Stop()
		return nil, err
	}
	if err := e.WriteCredentials(ctx, e.Devin.AdminToken().Reveal()); err != nil {
		_ = e.Stop()
		return nil, err
	}
	return e, nil
}

// ContractViolations returns, one per line, every request and answer of the in-memory Devin
// API that broke the vendor's published contract since the last call ("" when none). The
// suites built on the environment fail on any, after their tests have run.
func (e *Env) ContractViolations() string {
	var lines []string
	for _, v := range e.Devin.TakeViolations() {
		lines = append(lines, v.String())
	}
	return strings.Join(lines, "\n")
}

// Stop stops the Devin API (when the environment started it) and the control plane.
func (e *Env) Stop() error {
	if e.ownDevin && e.Devin != nil {
		e.Devin.Close()
	}
	return e.Env.Stop()
}

// EnsureNamespace creates a namespace if it does not exist.
func (e *Env) EnsureNamespace(ctx context.Context, name string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := e.Client.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", name, err)
	}
	return nil
}

// WriteCredentials writes (or replaces) the operator's credentials Secret.
func (e *Env) WriteCredentials(ctx context.Context, token string) error {
	o := operator.DefaultOptions()
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: o.CredentialsSecretName, Namespace: OperatorNamespace}}
	_, err := createOrUpdate(ctx, e.Client, sec, func() {
		sec.Data = map[string][]byte{o.CredentialsSecretKey: []byte(token)}
	})
	if err != nil {
		return fmt.Errorf("write credentials secret: %w", err)
	}
	return nil
}

func createOrUpdate(ctx context.Context, c client.Client, obj *corev1.Secret, mutate func()) (bool, error) {
	key := client.ObjectKeyFromObject(obj)
	if err := c.Get(ctx, key, obj); err != nil {
		if !apierrors.IsNotFound(err) {
			return false, err
		}
		mutate()
		return true, c.Create(ctx, obj)
	}
	mutate()
	return false, c.Update(ctx, obj)
}

// OperatorOptions are the operator's options for this environment: the in-memory Devin
// API, no leader election, metrics and probes off, the webhook server on envtest's local
// address when webhooks are installed.
func (e *Env) OperatorOptions() operator.Options {
	o := operator.DefaultOptions()
	o.DevinAPIURL = e.Devin.URL
	o.AccountAPIURLs = []string{e.Devin.URL}
	o.DefaultOrganization = "org-default"
	o.CredentialsSecretNamespace = OperatorNamespace
	o.MetricsAddr = "0"
	o.ProbeAddr = "0"
	o.LeaderElect = false
	o.APIQPS = 0
	o.APITimeout = 10 * time.Second
	o.SkipNameValidation = true
	o.EnableWebhooks = len(e.Env.WebhookInstallOptions.Paths) > 0
	if o.EnableWebhooks {
		wo := e.Env.WebhookInstallOptions
		o.WebhookHost = wo.LocalServingHost
		o.WebhookPort = wo.LocalServingPort
		o.WebhookCertDir = wo.LocalServingCertDir
	}
	return o
}

// Operator is a running operator.
type Operator struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	err    error
}

// StartOperator starts the operator with the given options in the background, as cluster
// admin.
func (e *Env) StartOperator(ctx context.Context, o operator.Options) (*Operator, error) {
	return e.StartOperatorAs(ctx, e.Config, o)
}

// StartOperatorAs starts the operator with the given REST config (e.g. a user that holds
// only the operator's RBAC) in the background.
func (e *Env) StartOperatorAs(ctx context.Context, cfg *rest.Config, o operator.Options) (*Operator, error) {
	mgr, err := operator.NewManager(cfg, o)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	op := &Operator{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(op.done)
		err := mgr.Start(ctx)
		op.mu.Lock()
		op.err = err
		op.mu.Unlock()
	}()
	return op, nil
}

// Stop stops the operator and waits until it has stopped. It returns the manager's error.
func (op *Operator) Stop() error {
	op.cancel()
	<-op.done
	op.mu.Lock()
	defer op.mu.Unlock()
	return op.err
}

// Crash cancels the operator's context at once, as a kill would end it: work under way
// stops at its next call. It waits until the manager has returned.
func (op *Operator) Crash() { _ = op.Stop() }

// Kill cancels the operator's context and returns at once (call it from inside the
// operator's own call path, where waiting for the stop would deadlock); Done tells when it
// has stopped.
func (op *Operator) Kill() { op.cancel() }

// Done is closed when the operator has stopped.
func (op *Operator) Done() <-chan struct{} { return op.done }

// ImpersonatingClient returns a client acting as user (with groups), for tests of who may
// do what.
func (e *Env) ImpersonatingClient(user string, groups ...string) (client.Client, error) {
	cfg := rest.CopyConfig(e.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: append(groups, "system:authenticated")}
	return client.New(cfg, client.Options{Scheme: operator.Scheme()})
}

// FindRepoRoot walks up from the working directory to the directory holding go.mod.
func FindRepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cannot find the repository root (no go.mod above the working directory)")
		}
		dir = parent
	}
}

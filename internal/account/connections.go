package account

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/cogtokens/token-operator/internal/devinapi"
)

// Endpoint is where one account's requests go and how fast: its API URL, the Secret that
// holds its credential, its rate limit (QPS <= 0: none).
type Endpoint struct {
	URL    string
	Secret SecretRef
	// AdminKey is the Secret of an enterprise admin's personal API key, for SAML identities
	// through v2; zero: none.
	AdminKey SecretRef
	QPS      float64
	Burst    int
}

// Connection is one account's client, whose credential a watch of the account's Secret keeps
// in step without a restart.
type Connection struct {
	Endpoint Endpoint
	Client   *devinapi.Client
	token    *devinapi.SwappableToken
	watcher  *CredentialWatcher
	ctx      context.Context
	cancel   context.CancelFunc
}

// close stops the connection's watch and drops its client's metrics.
func (c *Connection) close() {
	c.cancel()
	c.Client.ForgetMetrics()
}

// closed reports whether the connection was closed (its account went or changed).
func (c *Connection) closed() bool { return c.ctx.Err() != nil }

// Use makes the client use value (read from the account's Secret) from the next request on,
// ahead of the watch, which sets the same.
func (c *Connection) Use(value []byte) { c.token.Set(devinapi.NewToken(string(value))) }

// Secret returns the account's Secret once its watch has synced (nil when it does not
// exist). It holds the credential: never log or print it.
func (c *Connection) Secret(ctx context.Context) (*corev1.Secret, error) {
	return c.watcher.Secret(ctx)
}

// Errors of Connections.Get.
var (
	// ErrNotStarted: the connections do not run yet (the manager is starting); retry.
	ErrNotStarted = errors.New("the account connections have not started")
	// ErrTooManyAccounts: as many connections are open as MaxConnections allows.
	ErrTooManyAccounts = errors.New("too many accounts")
)

// DefaultMaxConnections bounds the connections when MaxConnections is zero: each holds a
// client and a watch, and tenants create DevinAccounts.
const DefaultMaxConnections = 256

// Connections keeps one Connection per account, by key (kind/namespace/name), each with a
// watch of that one Secret (a small cache of its own, never the cache of the Secrets the
// operator writes). Changed is told the key of an account whose Secret changed or went. It
// is a manager Runnable: connections live as long as the manager.
type Connections struct {
	Config  *rest.Config
	Scheme  *runtime.Scheme
	Timeout time.Duration
	// MaxConnections bounds the open connections; zero means DefaultMaxConnections.
	MaxConnections int
	// Changed is called with the key of an account whose Secret changed or was deleted.
	Changed func(key string)
	// Registerer receives the metrics of the accounts' clients (label account); nil: none.
	Registerer prometheus.Registerer

	mu    sync.Mutex
	ctx   context.Context
	conns map[string]*Connection
}

// Start keeps the connections until ctx ends.
func (cs *Connections) Start(ctx context.Context) error {
	cs.begin(ctx)
	<-ctx.Done()
	cs.stop()
	return nil
}

func (cs *Connections) begin(ctx context.Context) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.ctx = ctx
}

func (cs *Connections) stop() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for key, c := range cs.conns {
		c.close()
		delete(cs.conns, key)
	}
}

// NeedLeaderElection is false: every replica may act for an account.
func (cs *Connections) NeedLeaderElection() bool { return false }

// Get returns the account's connection to ep, made (or remade, when the endpoint changed)
// as needed.
func (cs *Connections) Get(key string, ep Endpoint) (*Connection, error) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.ctx == nil {
		return nil, ErrNotStarted
	}
	if c, ok := cs.conns[key]; ok {
		if c.Endpoint == ep {
			return c, nil
		}
		c.close()
		delete(cs.conns, key)
	}
	if limit := cs.max(); len(cs.conns) >= limit {
		return nil, fmt.Errorf("%w: the operator keeps at most %d account connections (a client and a watch each); delete an account that is not used", ErrTooManyAccounts, limit)
	}
	c, err := cs.connect(key, ep)
	if err != nil {
		return nil, err
	}
	if cs.conns == nil {
		cs.conns = map[string]*Connection{}
	}
	cs.conns[key] = c
	return c, nil
}

func (cs *Connections) max() int {
	if cs.MaxConnections > 0 {
		return cs.MaxConnections
	}
	return DefaultMaxConnections
}

// watch makes a watcher of one of the account's Secrets that keeps source in step and tells
// Changed.
func (cs *Connections) watch(key, what string, ref SecretRef, source *devinapi.SwappableToken) (*CredentialWatcher, error) {
	w, err := NewCredentialWatcher(cs.Config, cs.Scheme, what, ref, source)
	if err != nil {
		return nil, err
	}
	if cs.Changed != nil {
		w.OnChange = func(context.Context, *corev1.Secret) { cs.Changed(key) }
		w.OnDelete = func() { cs.Changed(key) }
	}
	return w, nil
}

// run runs a watcher until ctx ends.
func (cs *Connections) run(ctx context.Context, key string, w *CredentialWatcher) {
	go func() {
		if err := w.Start(ctx); err != nil && ctx.Err() == nil {
			ctrl.LoggerFrom(ctx).Info("the watch of an account's Secret stopped", "account", key, "error", err.Error())
		}
	}()
}

// Lookup returns the account's connection as its controller made it, or nil.
func (cs *Connections) Lookup(key string) *Connection {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.conns[key]
}

// Forget closes the account's connection (the account is gone).
func (cs *Connections) Forget(key string) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if c, ok := cs.conns[key]; ok {
		c.close()
		delete(cs.conns, key)
	}
}

func (cs *Connections) connect(key string, ep Endpoint) (*Connection, error) {
	token := devinapi.NewSwappableToken(devinapi.Token{})
	opts := devinapi.Options{BaseURL: ep.URL, Credentials: token, Timeout: cs.Timeout, QPS: ep.QPS, Burst: ep.Burst,
		Registerer: cs.Registerer, Account: Label(key)}
	var adminKey *devinapi.SwappableToken
	if ep.AdminKey.Name != "" {
		adminKey = devinapi.NewSwappableToken(devinapi.Token{})
		opts.EnterpriseAdminKey = adminKey
	}
	api, err := devinapi.New(opts)
	if err != nil {
		return nil, fmt.Errorf("account %s: %w", key, err)
	}
	w, err := cs.watch(key, "the credential of account "+key, ep.Secret, token)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(cs.ctx)
	cs.run(ctx, key, w)
	if adminKey != nil {
		aw, err := cs.watch(key, "the enterprise admin key of account "+key, ep.AdminKey, adminKey)
		if err != nil {
			cancel()
			return nil, err
		}
		cs.run(ctx, key, aw)
	}
	return &Connection{Endpoint: ep, Client: api, token: token, watcher: w, ctx: ctx, cancel: cancel}, nil
}

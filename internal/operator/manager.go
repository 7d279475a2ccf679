package operator

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/controllers"
	"github.com/cogtokens/token-operator/internal/account"
	"github.com/cogtokens/token-operator/internal/consumers"
	"github.com/cogtokens/token-operator/internal/credential"
	"github.com/cogtokens/token-operator/internal/devinapi"
	"github.com/cogtokens/token-operator/internal/directory"
	"github.com/cogtokens/token-operator/internal/logging"
	resourcemetrics "github.com/cogtokens/token-operator/internal/metrics"
	"github.com/cogtokens/token-operator/internal/tenancy"
	"github.com/cogtokens/token-operator/internal/ttlcache"
	"github.com/cogtokens/token-operator/internal/version"
	iamwebhook "github.com/cogtokens/token-operator/internal/webhook"
	"github.com/cogtokens/token-operator/internal/webhook/certs"
)

// Scheme is the scheme of every object the operator reads or writes.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(iamv1alpha1.AddToScheme(s))
	return s
}

// NewManager builds the manager with the Devin API client, the three controllers and, when
// enabled, the webhooks: one step each, in the order they depend on each other.
func NewManager(cfg *rest.Config, o Options) (manager.Manager, error) {
	o = o.withDefaults()
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("options: %w", err)
	}
	var err error
	if o.ClusterID, err = clusterID(cfg, o.ClusterID); err != nil {
		return nil, err
	}
	mgr, err := newControllerManager(cfg, o)
	if err != nil {
		return nil, err
	}
	api, keys, err := newDevinClient(o)
	if err != nil {
		return nil, err
	}
	check := account.NewSelfCheck(api, o.Clock, mgr.GetEventRecorder("token-operator"), metrics.Registry)
	watcher, err := addCredentialWatchers(mgr, cfg, o, keys, check)
	if err != nil {
		return nil, err
	}
	// One directory for the controllers and the webhooks: a user looked up at admission is
	// not looked up again before the mint.
	dir := directory.New(api, directory.Options{TTL: o.LookupCacheTTL, Clock: o.Clock, SSOEnforced: o.SSOMode == SSOModeEnforced})
	conns, err := addAccountControllers(mgr, o)
	if err != nil {
		return nil, err
	}
	accounts := newBackends(mgr, o, conns, &account.Backend{Name: iamv1alpha1.DefaultAccount, API: api, Directory: dir, DefaultOrganization: o.DefaultOrganization})
	gate, err := newGate(mgr, o, dir)
	if err != nil {
		return nil, err
	}
	gate.Accounts = accounts
	if err := addControllers(mgr, o, accounts, gate); err != nil {
		return nil, err
	}
	if err := addWebhooks(mgr, o, accounts, gate); err != nil {
		return nil, err
	}
	if err := addWebhookCerts(mgr, cfg, o); err != nil {
		return nil, err
	}
	if err := addChecks(mgr, o, watcher, check); err != nil {
		return nil, err
	}
	return mgr, nil
}

// withDefaults fills what the caller may leave unset: the real clock and the global logger.
func (o Options) withDefaults() Options {
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.Logger.GetSink() == nil {
		o.Logger = ctrl.Log
	}
	o.Logger = logging.Safe(o.Logger)
	return o
}

// newControllerManager creates the controller-runtime manager: its client, cache, metrics
// and webhook servers and leader election.
func newControllerManager(cfg *rest.Config, o Options) (manager.Manager, error) {
	cfg = rest.CopyConfig(cfg)
	switch {
	case o.KubeAPIQPS > 0:
		cfg.QPS, cfg.Burst = float32(o.KubeAPIQPS), max(o.KubeAPIBurst, int(o.KubeAPIQPS))
	case cfg.QPS == 0:
		// No client-side limit (as controller-runtime's GetConfig does): the API server's
		// Priority and Fairness protects it, and client-go's default of 5 QPS would make a
		// thousand tokens take minutes.
		cfg.QPS = -1
	}
	var tlsOpts []func(*tls.Config)
	if !o.EnableHTTP2 {
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	cacheOpts, err := cacheOptions(o)
	if err != nil {
		return nil, err
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        Scheme(),
		Metrics:                       metricsOptions(o, tlsOpts),
		HealthProbeBindAddress:        o.ProbeAddr,
		PprofBindAddress:              o.PprofAddr,
		LeaderElection:                o.LeaderElect,
		LeaderElectionID:              leaderElectionID(o.WatchLabelSelector),
		LeaderElectionNamespace:       o.LeaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true,
		WebhookServer: webhook.NewServer(webhook.Options{
			Host: o.WebhookHost, Port: o.WebhookPort, CertDir: o.WebhookCertDir,
			CertName: o.WebhookCertName, KeyName: o.WebhookKeyName, TLSOpts: tlsOpts,
		}),
		Logger:     o.Logger,
		NewClient:  newClient(o),
		Controller: config.Controller{SkipNameValidation: &o.SkipNameValidation},
		Cache:      cacheOpts,
	})
	if err != nil {
		return nil, fmt.Errorf("create manager: %w", err)
	}
	return mgr, nil
}

// cacheOptions: what the manager's cache holds, and of each object what it keeps.
func cacheOptions(o Options) (cache.Options, error) {
	byObject := map[client.Object]cache.ByObject{
		// The operator writes Secrets in every namespace but must not hold every Secret of
		// the cluster in memory: only those it labelled, and of those only what the
		// reconcilers read (anyone who may create a Secret can set the label). Not sharded:
		// a Secret carries no label of its resource's shard.
		&corev1.Secret{}: {
			Label:     labels.SelectorFromSet(labels.Set{iamv1alpha1.ManagedByLabel: iamv1alpha1.ManagedByValue}),
			Transform: credential.CacheTransform,
		},
	}
	if o.WatchLabelSelector != "" {
		shard, err := labels.Parse(o.WatchLabelSelector)
		if err != nil {
			return cache.Options{}, fmt.Errorf("--watch-label-selector: %w", err)
		}
		// A shard sees only its own resources: another shard's are not in its cache, so a
		// Secret event naming one finds nothing to reconcile (and no tombstone to sweep).
		byObject[&iamv1alpha1.PersonalAccessToken{}] = cache.ByObject{Label: shard}
		byObject[&iamv1alpha1.ServiceUser{}] = cache.ByObject{Label: shard}
	}
	// Nothing reads managed fields; dropping them halves what a resource costs.
	return cache.Options{DefaultTransform: cache.TransformStripManagedFields(), ByObject: byObject}, nil
}

// leaderElectionID is the lease of this process's replicas: one per shard, so that every
// shard has a leader (a selector's canonical form names its shard).
func leaderElectionID(selector string) string {
	const id = "token-operator.iam.devin.ai"
	sel, err := labels.Parse(selector)
	if err != nil || sel.Empty() {
		return id
	}
	sum := sha256.Sum256([]byte(sel.String()))
	return "shard-" + hex.EncodeToString(sum[:])[:10] + "." + id
}

func metricsOptions(o Options, tlsOpts []func(*tls.Config)) metricsserver.Options {
	opts := metricsserver.Options{BindAddress: o.MetricsAddr, SecureServing: o.SecureMetrics, TLSOpts: tlsOpts, CertDir: o.MetricsCertDir}
	if o.SecureMetrics {
		opts.FilterProvider = resourcemetrics.AccessFilter
	}
	return opts
}

// clientKeys are the credentials of the Devin API client, set and swapped by watchers of
// their Secrets.
type clientKeys struct {
	operator, enterpriseAdmin *devinapi.SwappableToken
}

// newDevinClient creates the Devin API client.
func newDevinClient(o Options) (*devinapi.Client, clientKeys, error) {
	keys := clientKeys{operator: devinapi.NewSwappableToken(devinapi.Token{})}
	opts := devinapi.Options{
		BaseURL:     o.DevinAPIURL,
		Credentials: keys.operator,
		Timeout:     o.APITimeout,
		QPS:         o.APIQPS,
		Burst:       o.APIBurst,
		Registerer:  metrics.Registry,
		UserAgent:   "token-operator/" + version.Version,
	}
	if o.EnterpriseAdminKeySecretName != "" {
		keys.enterpriseAdmin = devinapi.NewSwappableToken(devinapi.Token{})
		opts.EnterpriseAdminKey = keys.enterpriseAdmin
	}
	api, err := devinapi.New(opts)
	if err != nil {
		return nil, keys, fmt.Errorf("create Devin API client: %w", err)
	}
	return api, keys, nil
}

// addCredentialWatchers keeps the client's credentials in step with their Secrets; each
// change of the operator's own credential is checked.
func addCredentialWatchers(mgr manager.Manager, cfg *rest.Config, o Options, keys clientKeys, check *account.SelfCheck) (*account.CredentialWatcher, error) {
	ns := o.CredentialsSecretNamespace
	watcher, err := account.NewCredentialWatcher(cfg, mgr.GetScheme(), "the Devin API credential",
		account.SecretRef{Namespace: ns, Name: o.CredentialsSecretName, Key: o.CredentialsSecretKey}, keys.operator)
	if err != nil {
		return nil, err
	}
	watcher.OnChange = check.Run
	if err := mgr.Add(watcher); err != nil {
		return nil, fmt.Errorf("add credentials watcher: %w", err)
	}
	if keys.enterpriseAdmin == nil {
		return watcher, nil
	}
	admin, err := account.NewCredentialWatcher(cfg, mgr.GetScheme(), "the enterprise admin key",
		account.SecretRef{Namespace: ns, Name: o.EnterpriseAdminKeySecretName, Key: o.EnterpriseAdminKeySecretKey}, keys.enterpriseAdmin)
	if err != nil {
		return nil, err
	}
	if err := mgr.Add(admin); err != nil {
		return nil, fmt.Errorf("add enterprise admin key watcher: %w", err)
	}
	return watcher, nil
}

// addControllers sets up the PersonalAccessToken and ServiceUser controllers, each with a
// token lifecycle of its own kind.
func addControllers(mgr manager.Manager, o Options, accounts *account.Backends, gate *tenancy.Gate) error {
	api, dir := accounts.Default.API, accounts.Default.Directory
	lifecycleMetrics := credential.NewMetrics(metrics.Registry)
	restore := &credential.Restore{Keys: gate.Keys, Adopt: o.AdoptRestored}
	newLifecycle := func(kind string) *credential.Lifecycle {
		return &credential.Lifecycle{
			Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Recorder: mgr.GetEventRecorder("token-operator"),
			Clock: o.Clock, Kind: kind, VerifyInterval: o.VerifyInterval, MintBudget: o.MintBudget, Metrics: lifecycleMetrics, Cluster: o.ClusterID,
			ReissueRevoked: o.OnUpstreamRevocation == UpstreamRevocationReissue,
			APIURL:         o.DevinAPIURL, DefaultOrganization: o.DefaultOrganization,
			Consumers: &consumers.Workloads{Client: mgr.GetClient(), Reader: mgr.GetAPIReader()},
			Admission: gate,
			Restore:   restore,
			// A create whose answer was lost cannot land later than the client's timeout.
			Settle: o.APITimeout + 10*time.Second,
		}
	}
	if err := (&controllers.PersonalAccessTokenReconciler{
		Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), API: api, Lifecycle: newLifecycle("PersonalAccessToken"),
		Recorder: mgr.GetEventRecorder("token-operator"), Clock: o.Clock, Directory: dir, Accounts: accounts,
		Listings:                &credential.ListingCache{TTL: listingTTL(o), Clock: o.Clock},
		MaxConcurrentReconciles: o.MaxConcurrentReconciles,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up PersonalAccessToken controller: %w", err)
	}
	if err := (&controllers.ServiceUserReconciler{
		Client: mgr.GetClient(), API: api, Lifecycle: newLifecycle("ServiceUser"),
		Recorder: mgr.GetEventRecorder("token-operator"), Clock: o.Clock, Directory: dir, Accounts: accounts,
		DefaultOrganization:     o.DefaultOrganization,
		Listing:                 ttlcache.New[[]devinapi.ServiceUser](o.VerifyInterval, 1, o.Clock),
		Names:                   ttlcache.New[string](o.VerifyInterval, 4096, o.Clock),
		MaxConcurrentReconciles: o.MaxConcurrentReconciles,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up ServiceUser controller: %w", err)
	}
	if o.CredentialPolicyStatus {
		var counter client.Reader // nil: the cache, which holds every resource
		if o.WatchLabelSelector != "" {
			counter = mgr.GetAPIReader() // every shard's resources, not this shard's cache
		}
		if err := (&controllers.CredentialPolicyReconciler{Client: mgr.GetClient(), Resources: counter}).SetupWithManager(mgr); err != nil {
			return fmt.Errorf("set up CredentialPolicy controller: %w", err)
		}
	}
	// Conditions and pending revocations of every resource, read from the cache at scrape time.
	rc := resourcemetrics.NewResourceCollector(mgr.GetCache(), mgr.GetLogger().WithName("metrics"))
	if err := resourcemetrics.Register(metrics.Registry, rc); err != nil {
		return fmt.Errorf("register resource metrics: %w", err)
	}
	return nil
}

// addWebhookCerts adds the loop that keeps the webhooks' own serving certificate, when the
// webhooks are served and --webhook-cert-secret-name is set.
func addWebhookCerts(mgr manager.Manager, cfg *rest.Config, o Options) error {
	if !o.EnableWebhooks || o.WebhookCertSecretName == "" {
		return nil
	}
	return certs.Add(mgr, cfg, certs.Config{
		SecretNamespace: o.WebhookCertSecretNamespace, SecretName: o.WebhookCertSecretName,
		ServiceName: o.WebhookServiceName,
		CertDir:     o.WebhookCertDir, CertName: o.WebhookCertName, KeyName: o.WebhookKeyName,
		MutatingConfig: o.MutatingWebhookConfigName, ValidatingConfig: o.ValidatingWebhookConfigName,
		Clock: o.Clock,
	})
}

// addWebhooks serves the admission webhooks, when enabled, with the controllers' directory.
func addWebhooks(mgr manager.Manager, o Options, accounts *account.Backends, gate *tenancy.Gate) error {
	if !o.EnableWebhooks {
		return nil
	}
	if err := iamwebhook.Setup(mgr, iamwebhook.Options{
		Directory:         accounts.Default.Directory,
		Accounts:          accounts,
		Gate:              gate,
		SAR:               mgr.GetClient(),
		PATAdminGroups:    o.PATAdminGroups,
		BackendTimeout:    o.WebhookBackendTimeout,
		MaxServiceUserTTL: iamv1alpha1.MaxServiceUserTTL,
	}); err != nil {
		return fmt.Errorf("set up webhooks: %w", err)
	}
	return nil
}

// addChecks adds the liveness check and the readiness checks: the credential is loaded and
// is a service user's key and, with webhooks, their server has started.
func addChecks(mgr manager.Manager, o Options, watcher *account.CredentialWatcher, check *account.SelfCheck) error {
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return fmt.Errorf("add health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("credentials", watcher.ReadyCheck); err != nil {
		return fmt.Errorf("add ready check: %w", err)
	}
	if err := mgr.AddReadyzCheck("credential-kind", check.ReadyCheck); err != nil {
		return fmt.Errorf("add ready check: %w", err)
	}
	if o.EnableWebhooks {
		if err := mgr.AddReadyzCheck("webhook", mgr.GetWebhookServer().StartedChecker()); err != nil {
			return fmt.Errorf("add ready check: %w", err)
		}
	}
	return nil
}

func newClient(o Options) client.NewClientFunc {
	return func(cfg *rest.Config, opts client.Options) (client.Client, error) {
		c, err := client.NewWithWatch(cfg, opts)
		if err != nil || o.WrapClient == nil {
			return c, err
		}
		return o.WrapClient(c), nil
	}
}

// listingTTL is how long a user's token listing is shared by the checks of their PATs: a
// tenth of the check interval, so that checks spread over the interval share most lists.
func listingTTL(o Options) time.Duration {
	return o.VerifyInterval / 10
}

// Run starts the operator and blocks until ctx ends.
func Run(ctx context.Context, cfg *rest.Config, o Options) error {
	mgr, err := NewManager(cfg, o)
	if err != nil {
		return err
	}
	ctrl.LoggerFrom(ctx).Info("starting token-operator", "version", version.Version, "commit", version.Commit, "devinAPI", o.DevinAPIURL)
	return mgr.Start(ctx)
}

// Package operator wires token-operator together, and does nothing else: the options (flags,
// checked by Validate), the manager, the Devin API client and the operator's account
// (internal/account), the tenancy gate, the three controllers, the webhooks and their
// certificates (internal/webhook/certs). main.go and the local dev environment (hack/dev) both
// start the operator through it, so there is one copy of the wiring.
package operator

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cogtokens/token-operator/internal/credential"
	"github.com/cogtokens/token-operator/internal/devinapi"
	"github.com/cogtokens/token-operator/internal/policy"
	"github.com/cogtokens/token-operator/internal/tenancy"
)

// Options configure the operator. BindFlags exposes them as command-line flags.
type Options struct {
	// Manager.
	MetricsAddr    string
	SecureMetrics  bool
	MetricsCertDir string
	ProbeAddr      string
	// PprofAddr serves net/http/pprof's profiles (/debug/pprof/...) on this address; "0"
	// (the default) or empty serves none.
	PprofAddr               string
	EnableHTTP2             bool
	LeaderElect             bool
	LeaderElectionNamespace string
	MaxConcurrentReconciles int
	KubeAPIQPS              float64
	KubeAPIBurst            int
	// WatchLabelSelector, when set, makes this process one shard: it caches and reconciles
	// only the PersonalAccessTokens and ServiceUsers whose labels match (Flux's
	// --watch-label-selector). Shards share the webhook endpoint, the admission key ring and
	// the webhook certificate; see docs/design.md, "Sharding".
	WatchLabelSelector string
	// CredentialPolicyStatus keeps the CredentialPolicies' status (whether each applies, and
	// how many resources rely on it). With WatchLabelSelector the count lists every shard's
	// resources from the API server: leave it on in one shard only.
	CredentialPolicyStatus bool

	// Webhook server.
	EnableWebhooks  bool
	WebhookHost     string
	WebhookPort     int
	WebhookCertDir  string
	WebhookCertName string
	WebhookKeyName  string

	// Webhook certificates made by the operator itself, without cert-manager (internal/webhook/certs):
	// on when WebhookCertSecretName is set. The Secret holds a self-signed CA and the serving
	// certificate for WebhookServiceName, in WebhookCertSecretNamespace (the Service's too);
	// the CA is injected into the webhook configurations named here.
	WebhookCertSecretName       string
	WebhookCertSecretNamespace  string
	WebhookServiceName          string
	MutatingWebhookConfigName   string
	ValidatingWebhookConfigName string

	// Devin API.
	DevinAPIURL                string
	DefaultOrganization        string
	CredentialsSecretName      string
	CredentialsSecretNamespace string
	CredentialsSecretKey       string
	APIQPS                     float64
	APIBurst                   int
	APITimeout                 time.Duration
	// EnterpriseAdminKeySecretName names an optional Secret, in the credentials Secret's
	// namespace, holding an enterprise admin's personal API key (apk_user_...). Only with it
	// does the operator read users' SAML identities (the v2 member record accepts no other
	// credential); empty: v2 is never called.
	EnterpriseAdminKeySecretName string
	EnterpriseAdminKeySecretKey  string

	// Behaviour.
	// ClusterID identifies this cluster in the names of the upstream objects the operator
	// creates; empty derives it from the UID of the kube-system namespace. Set it when a
	// copy of the cluster restored from an etcd backup (same UIDs) may run beside it.
	ClusterID string
	// PolicyMode is how CredentialPolicies apply: enforce (default), warn or off.
	PolicyMode tenancy.Mode
	// AdmissionKeySecretName names the Secret, in the credentials Secret's namespace, that
	// holds the key sealing admission records (created when missing).
	AdmissionKeySecretName string
	// RequesterEmailClaim, RequesterStripPrefixes and RequesterEmailRules map a Kubernetes
	// requester to the Devin email the policies compare with a token's owner.
	RequesterEmailClaim    string
	RequesterStripPrefixes []string
	RequesterEmailRules    []string
	// OnUpstreamRevocation is UpstreamRevocationStop (a token revoked upstream by someone
	// else stops its resource until a person annotates iam.devin.ai/rotate) or
	// UpstreamRevocationReissue (replace it at once).
	OnUpstreamRevocation UpstreamRevocation
	// AdoptRestored lets a resource re-created from a backup (a new UID) adopt the token and
	// service user of its restored Secret, when a restore record this operator sealed names
	// them for the same kind, namespace and name. Off by default: never in a clone of a
	// cluster running beside the original.
	AdoptRestored bool
	// ClusterAccountSecretNamespaces are the namespaces, besides the operator's own, from
	// which a ClusterDevinAccount may read its credential Secret.
	ClusterAccountSecretNamespaces []string
	// AccountAPIURLs are the API URLs a DevinAccount may name: a tenant must not make the
	// operator call a URL of its choosing from inside the cluster.
	AccountAPIURLs []string
	// SSOMode is SSOModeDetect (a user is SSO-linked when the Devin API says so) or
	// SSOModeEnforced (the enterprise enforces SSO for every member: no PATs at all).
	SSOMode        SSOMode
	VerifyInterval time.Duration
	// MintBudget is how many creates upstream one resource may cause per hour.
	MintBudget     int
	PATAdminGroups []string
	LookupCacheTTL time.Duration
	// WebhookBackendTimeout is how long a webhook waits for the Devin API before it denies.
	WebhookBackendTimeout time.Duration

	// Clock is the time source of the controllers and webhooks; nil is the real clock.
	// Tests inject a fake one.
	Clock clock.PassiveClock

	// Logger is the manager's logger; the zero value uses controller-runtime's global one.
	Logger logr.Logger
	// WrapClient, when set, wraps the manager's Kubernetes client (tests inject crashes
	// between two writes with it).
	WrapClient func(client.Client) client.Client
	// SkipNameValidation allows several managers in one process (tests, restarts in the
	// dev environment).
	SkipNameValidation bool
}

// UpstreamRevocation is what to do when a token is revoked upstream by someone else.
type UpstreamRevocation string

const (
	// UpstreamRevocationStop issues no new token until a person asks for one.
	UpstreamRevocationStop UpstreamRevocation = "stop"
	// UpstreamRevocationReissue replaces the token at once.
	UpstreamRevocationReissue UpstreamRevocation = "reissue"
)

// SSOMode is how SSO-linked accounts are found.
type SSOMode string

const (
	// SSOModeDetect finds a user SSO-linked when the Devin API says so.
	SSOModeDetect SSOMode = "detect"
	// SSOModeEnforced says the enterprise enforces SSO for every member: no PAT at all.
	SSOModeEnforced SSOMode = "enforced"
)

// DefaultOptions returns the defaults of every flag.
func DefaultOptions() Options {
	ns := os.Getenv("POD_NAMESPACE")
	if ns == "" {
		ns = "token-operator-system"
	}
	return Options{
		MetricsAddr:                 ":8443",
		SecureMetrics:               true,
		ProbeAddr:                   ":8081",
		PprofAddr:                   "0",
		MaxConcurrentReconciles:     8,
		CredentialPolicyStatus:      true,
		EnableWebhooks:              true,
		WebhookPort:                 9443,
		WebhookCertDir:              "/tmp/k8s-webhook-server/serving-certs",
		WebhookCertName:             "tls.crt",
		WebhookKeyName:              "tls.key",
		WebhookCertSecretNamespace:  ns,
		DevinAPIURL:                 "https://api.devin.ai",
		CredentialsSecretName:       "token-operator-credentials",
		CredentialsSecretNamespace:  ns,
		AccountAPIURLs:              []string{"https://api.devin.ai"},
		CredentialsSecretKey:        "token",
		EnterpriseAdminKeySecretKey: "token",
		SSOMode:                     SSOModeDetect,
		OnUpstreamRevocation:        UpstreamRevocationStop,
		PolicyMode:                  tenancy.Enforce,
		AdmissionKeySecretName:      "token-operator-admission-key",
		APIQPS:                      10,
		APIBurst:                    20,
		APITimeout:                  30 * time.Second,
		VerifyInterval:              time.Hour,
		MintBudget:                  credential.DefaultMintBudget,
		LookupCacheTTL:              time.Minute,
		WebhookBackendTimeout:       4 * time.Second,
	}
}

// The values each typed option takes.
var (
	policyModes         = []tenancy.Mode{tenancy.Enforce, tenancy.Warn, tenancy.Off}
	upstreamRevocations = []UpstreamRevocation{UpstreamRevocationStop, UpstreamRevocationReissue}
	ssoModes            = []SSOMode{SSOModeDetect, SSOModeEnforced}
)

// The range of --mint-budget: at least one token an hour, and never so many that a
// resource's loop could spend the account's quota.
const (
	minMintBudget = 1
	maxMintBudget = 60
)

// Validate checks the options as the command line's flags name them; NewManager calls it, so
// that tests, make run and main.go get the same checks. It reports every problem at once.
func (o Options) Validate() error {
	var errs []error
	bad := func(flag, format string, args ...any) {
		errs = append(errs, fmt.Errorf("--%s: %s", flag, fmt.Sprintf(format, args...)))
	}
	oneOf(bad, "policy-mode", o.PolicyMode, policyModes)
	oneOf(bad, "on-upstream-revocation", o.OnUpstreamRevocation, upstreamRevocations)
	oneOf(bad, "sso-mode", o.SSOMode, ssoModes)
	if o.MintBudget < minMintBudget || o.MintBudget > maxMintBudget {
		bad("mint-budget", "%d: want a whole number from %d to %d", o.MintBudget, minMintBudget, maxMintBudget)
	}
	if err := devinapi.CheckBaseURL(o.DevinAPIURL); err != nil {
		bad("devin-api-url", "%v", err)
	}
	for flag, v := range map[string]string{
		"credentials-secret-name": o.CredentialsSecretName, "credentials-secret-namespace": o.CredentialsSecretNamespace,
		"credentials-secret-key": o.CredentialsSecretKey, "admission-key-secret-name": o.AdmissionKeySecretName,
	} {
		if v == "" {
			bad(flag, "must not be empty")
		}
	}
	for flag, d := range map[string]time.Duration{"devin-api-timeout": o.APITimeout, "webhook-backend-timeout": o.WebhookBackendTimeout} {
		if d <= 0 {
			bad(flag, "%s: want a positive duration", d)
		}
	}
	for flag, d := range map[string]time.Duration{"verify-interval": o.VerifyInterval, "lookup-cache-ttl": o.LookupCacheTTL} {
		if d < 0 {
			bad(flag, "%s: want 0 or a positive duration", d)
		}
	}
	for flag, v := range map[string]float64{"devin-api-qps": o.APIQPS, "devin-api-burst": float64(o.APIBurst), "kube-api-qps": o.KubeAPIQPS, "kube-api-burst": float64(o.KubeAPIBurst)} {
		if v < 0 {
			bad(flag, "%v: want 0 or more", v)
		}
	}
	if _, err := labels.Parse(o.WatchLabelSelector); err != nil {
		bad("watch-label-selector", "%q: %v", o.WatchLabelSelector, err)
	}
	if o.MaxConcurrentReconciles < 1 {
		bad("max-concurrent-reconciles", "%d: want 1 or more", o.MaxConcurrentReconciles)
	}
	if o.EnableWebhooks && o.WebhookCertSecretName != "" && o.WebhookServiceName == "" {
		bad("webhook-service-name", "required with --webhook-cert-secret-name")
	}
	for _, r := range o.RequesterEmailRules {
		if _, err := policy.ParseRule(r); err != nil {
			bad("requester-email-rule", "%q: %v", r, err)
		}
	}
	// In the flags' order, whatever the order the checks above ran in.
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

func oneOf[T ~string](bad func(flag, format string, args ...any), flag string, v T, allowed []T) {
	if !slices.Contains(allowed, v) {
		bad(flag, "%q: want %s", v, quoted(allowed))
	}
}

// Package operator wires token-operator together: flags, the manager, the Devin API client
// and the operator's own credential (watched, self-checked), the tenancy gate, the three
// controllers, the webhooks and their certificates. main.go and the local dev environment (hack/dev) both
// start the operator through it, so there is one copy of the wiring.
package operator

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cogtokens/token-operator/internal/credential"
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
	PolicyMode string
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
	OnUpstreamRevocation string
	// SSOMode is SSOModeDetect (a user is SSO-linked when the Devin API says so) or
	// SSOModeEnforced (the enterprise enforces SSO for every member: no PATs at all).
	SSOMode        string
	VerifyInterval time.Duration
	// MintBudget is how many creates upstream one resource may cause per hour.
	MintBudget      int
	PATAdminGroups  []string
	LookupCacheTTL  time.Duration
	WebhookDeadline time.Duration

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

// What to do when a token is revoked upstream by someone else.
const (
	UpstreamRevocationStop    = "stop"
	UpstreamRevocationReissue = "reissue"
)

// SSO modes.
const (
	SSOModeDetect   = "detect"
	SSOModeEnforced = "enforced"
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
		EnableWebhooks:              true,
		WebhookPort:                 9443,
		WebhookCertDir:              "/tmp/k8s-webhook-server/serving-certs",
		WebhookCertName:             "tls.crt",
		WebhookKeyName:              "tls.key",
		WebhookCertSecretNamespace:  ns,
		DevinAPIURL:                 "https://api.devin.ai",
		CredentialsSecretName:       "token-operator-credentials",
		CredentialsSecretNamespace:  ns,
		CredentialsSecretKey:        "token",
		EnterpriseAdminKeySecretKey: "token",
		SSOMode:                     SSOModeDetect,
		OnUpstreamRevocation:        UpstreamRevocationStop,
		PolicyMode:                  "enforce",
		AdmissionKeySecretName:      "token-operator-admission-key",
		APIQPS:                      10,
		APIBurst:                    20,
		APITimeout:                  30 * time.Second,
		VerifyInterval:              time.Hour,
		MintBudget:                  credential.DefaultMintBudget,
		LookupCacheTTL:              time.Minute,
		WebhookDeadline:             4 * time.Second,
	}
}

// BindFlags registers the options as flags on fs, with the current values as defaults.
func (o *Options) BindFlags(fs *flag.FlagSet) {
	o.bindManagerFlags(fs)
	o.bindDevinFlags(fs)
	o.bindPolicyFlags(fs)
}

// bindManagerFlags registers the flags of the manager: metrics, probes, leader election, webhooks.
func (o *Options) bindManagerFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.MetricsAddr, "metrics-bind-address", o.MetricsAddr, "Address of the metrics endpoint (:8443 for HTTPS, :8080 for HTTP, 0 to disable).")
	fs.BoolVar(&o.SecureMetrics, "metrics-secure", o.SecureMetrics, "Serve metrics over HTTPS, authenticated and authorized through the API server.")
	fs.StringVar(&o.MetricsCertDir, "metrics-cert-dir", o.MetricsCertDir, "Directory with tls.crt and tls.key for the metrics server; empty uses a self-signed certificate.")
	fs.StringVar(&o.ProbeAddr, "health-probe-bind-address", o.ProbeAddr, "Address of the /healthz and /readyz probes.")
	fs.StringVar(&o.PprofAddr, "pprof-bind-address", o.PprofAddr, "Address of the Go profiler's endpoints (/debug/pprof/), unauthenticated: bind it to localhost or a port no one else reaches (0: off).")
	fs.BoolVar(&o.EnableHTTP2, "enable-http2", o.EnableHTTP2, "Serve metrics and webhooks over HTTP/2 (off by default: CVE-2023-44487, CVE-2023-39325).")
	fs.BoolVar(&o.LeaderElect, "leader-elect", o.LeaderElect, "Elect a leader among replicas; only the leader reconciles, every replica serves the webhook.")
	fs.StringVar(&o.LeaderElectionNamespace, "leader-election-namespace", o.LeaderElectionNamespace, "Namespace of the leader election lease (default: the pod's namespace).")
	fs.IntVar(&o.MaxConcurrentReconciles, "max-concurrent-reconciles", o.MaxConcurrentReconciles, "Reconciles run in parallel, per kind.")
	fs.Float64Var(&o.KubeAPIQPS, "kube-api-qps", o.KubeAPIQPS, "Client-side rate limit of requests to the Kubernetes API server (0: none; the API server's Priority and Fairness applies).")
	fs.IntVar(&o.KubeAPIBurst, "kube-api-burst", o.KubeAPIBurst, "Burst above --kube-api-qps.")
	fs.BoolVar(&o.EnableWebhooks, "enable-webhooks", o.EnableWebhooks, "Serve the admission webhooks.")
	fs.StringVar(&o.WebhookHost, "webhook-host", o.WebhookHost, "Address the webhook server binds to (empty: all).")
	fs.IntVar(&o.WebhookPort, "webhook-port", o.WebhookPort, "Port of the webhook server.")
	fs.StringVar(&o.WebhookCertDir, "webhook-cert-dir", o.WebhookCertDir, "Directory with the webhook serving certificate; reloaded when it changes.")
	fs.StringVar(&o.WebhookCertName, "webhook-cert-name", o.WebhookCertName, "File name of the webhook certificate.")
	fs.StringVar(&o.WebhookKeyName, "webhook-key-name", o.WebhookKeyName, "File name of the webhook key.")
	fs.StringVar(&o.WebhookCertSecretName, "webhook-cert-secret-name", o.WebhookCertSecretName, "Secret in which the operator keeps its own self-signed CA and webhook serving certificate, renewed before expiry, written to --webhook-cert-dir and its CA injected into the webhook configurations; empty: the certificate is only read from --webhook-cert-dir (e.g. from cert-manager).")
	fs.StringVar(&o.WebhookCertSecretNamespace, "webhook-cert-secret-namespace", o.WebhookCertSecretNamespace, "Namespace of that Secret and of the webhook Service (default: $POD_NAMESPACE or token-operator-system).")
	fs.StringVar(&o.WebhookServiceName, "webhook-service-name", o.WebhookServiceName, "Service of the webhook, whose DNS names the serving certificate has (needed with --webhook-cert-secret-name).")
	fs.StringVar(&o.MutatingWebhookConfigName, "mutating-webhook-config-name", o.MutatingWebhookConfigName, "MutatingWebhookConfiguration into which the operator injects its CA (with --webhook-cert-secret-name).")
	fs.StringVar(&o.ValidatingWebhookConfigName, "validating-webhook-config-name", o.ValidatingWebhookConfigName, "ValidatingWebhookConfiguration into which the operator injects its CA (with --webhook-cert-secret-name).")
}

// bindDevinFlags registers the flags of the Devin API and its credentials.
func (o *Options) bindDevinFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.DevinAPIURL, "devin-api-url", o.DevinAPIURL, "Base URL of the Devin API (dedicated deployments have their own).")
	fs.StringVar(&o.DefaultOrganization, "default-organization", o.DefaultOrganization, "Organization ID (org-...) of ServiceUsers whose spec names none.")
	fs.StringVar(&o.CredentialsSecretName, "credentials-secret-name", o.CredentialsSecretName, "Secret holding the operator's admin credential for the Devin API; changes are picked up without a restart.")
	fs.StringVar(&o.CredentialsSecretNamespace, "credentials-secret-namespace", o.CredentialsSecretNamespace, "Namespace of the credentials Secret (default: $POD_NAMESPACE or token-operator-system).")
	fs.StringVar(&o.CredentialsSecretKey, "credentials-secret-key", o.CredentialsSecretKey, "Data key of the credential in the credentials Secret.")
	fs.StringVar(&o.EnterpriseAdminKeySecretName, "enterprise-admin-key-secret-name", o.EnterpriseAdminKeySecretName, "Optional Secret (in the credentials Secret's namespace) holding an enterprise admin's personal API key (apk_user_...), used only to read users' SAML identities from the v2 member record; empty: the v2 API is never called.")
	fs.StringVar(&o.EnterpriseAdminKeySecretKey, "enterprise-admin-key-secret-key", o.EnterpriseAdminKeySecretKey, "Data key of the key in the enterprise admin key Secret.")
	fs.StringVar(&o.ClusterID, "cluster-id", o.ClusterID, "Identity of this cluster in the names of the service users and tokens the operator creates upstream (default: derived from the kube-system namespace's UID); give each cluster that shares a Devin enterprise, and each copy restored from an etcd backup, its own.")
	fs.Func("policy-mode", "How CredentialPolicies apply: 'enforce' (refuse, at admission and before every mint, what no policy allows), 'warn' (only warn: for a first rollout) or 'off'.", func(s string) error {
		if s != "enforce" && s != "warn" && s != "off" {
			return fmt.Errorf("want enforce, warn or off")
		}
		o.PolicyMode = s
		return nil
	})
	fs.StringVar(&o.AdmissionKeySecretName, "admission-key-secret-name", o.AdmissionKeySecretName, "Secret, in the credentials Secret's namespace, holding the key that seals admission records (created when missing; keys 'current' and 'previous').")
	fs.StringVar(&o.RequesterEmailClaim, "requester-email-claim", o.RequesterEmailClaim, "Take a requester's Devin email from this key of their user info's extra (e.g. the OIDC email claim your authenticator passes on).")
	fs.Func("requester-strip-prefixes", "Comma-separated prefixes stripped from a requester's user name before it is taken as their Devin email (e.g. 'oidc:').", func(s string) error {
		o.RequesterStripPrefixes = splitList(s)
		return nil
	})
	fs.Func("requester-email-rule", "A rule 'regexp=>template' mapping a requester's user name to their Devin email, repeatable; e.g. for EKS with IAM Identity Center '^arn:aws:sts::[0-9]+:assumed-role/AWSReservedSSO_[^/]+/([^/@]+)$=>${1}@example.com'. Name only roles whose session name the identity provider sets: whoever assumes any other role chooses its session name (--role-session-name), and so the email (warned about at start).", func(s string) error {
		o.RequesterEmailRules = append(o.RequesterEmailRules, s)
		return nil
	})
	fs.Func("on-upstream-revocation", "What to do when a token is found revoked upstream by someone else (incident response): 'stop' (no new token until a person changes the iam.devin.ai/rotate annotation) or 'reissue' (a new one at once). An expired token is always replaced.", func(s string) error {
		if s != UpstreamRevocationStop && s != UpstreamRevocationReissue {
			return fmt.Errorf("want %q or %q", UpstreamRevocationStop, UpstreamRevocationReissue)
		}
		o.OnUpstreamRevocation = s
		return nil
	})
	fs.Func("sso-mode", "How SSO-linked accounts are found: 'detect' (from the Devin API's user records) or 'enforced' (the enterprise enforces SSO for every member, so no personal access token is ever allowed).", func(s string) error {
		if s != SSOModeDetect && s != SSOModeEnforced {
			return fmt.Errorf("want %q or %q", SSOModeDetect, SSOModeEnforced)
		}
		o.SSOMode = s
		return nil
	})
	fs.Float64Var(&o.APIQPS, "devin-api-qps", o.APIQPS, "Requests per second to the Devin API, for the whole process (0: unlimited).")
	fs.IntVar(&o.APIBurst, "devin-api-burst", o.APIBurst, "Burst of requests to the Devin API above --devin-api-qps.")
	fs.DurationVar(&o.APITimeout, "devin-api-timeout", o.APITimeout, "Timeout of one request to the Devin API.")
	fs.Func("mint-budget", fmt.Sprintf("How many tokens one resource may cause to be created upstream per hour (1 to 60, default %d), whatever the reason (renewal, repair, rotation requests); past it the resource is Stalled (MintBudgetExhausted) until the hour has passed.", o.MintBudget), func(s string) error {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 60 {
			return fmt.Errorf("want a whole number from 1 to 60")
		}
		o.MintBudget = n
		return nil
	})
	fs.DurationVar(&o.VerifyInterval, "verify-interval", o.VerifyInterval, "How often each token is checked upstream (revoked or expired out of band); 0 disables.")
}

// bindPolicyFlags registers the flags of who may get which credential, and how they are kept.
func (o *Options) bindPolicyFlags(fs *flag.FlagSet) {
	fs.Func("pat-admin-groups", "Comma-separated groups whose members may create PersonalAccessTokens for other people (e.g. the GitOps controller's service account group), with --policy-mode off or warn; in enforce mode CredentialPolicies decide (delegation).", func(s string) error {
		o.PATAdminGroups = splitList(s)
		return nil
	})
	fs.DurationVar(&o.LookupCacheTTL, "lookup-cache-ttl", o.LookupCacheTTL, "How long user and role lookups are cached (webhook and controllers).")
	fs.DurationVar(&o.WebhookDeadline, "webhook-backend-timeout", o.WebhookDeadline, "How long the webhook waits for the Devin API before it denies with 'cannot verify' (keep below the webhook's timeoutSeconds).")
}

// splitList splits a comma-separated flag value, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

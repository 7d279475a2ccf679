package operator

import (
	"flag"
	"fmt"
	"slices"
	"strings"
)

// BindFlags registers the options as flags on fs, with the current values as defaults, in
// groups that match the Options' sections. Values are checked by Validate (NewManager calls
// it), so that options set in code get the same checks as the command line.
func (o *Options) BindFlags(fs *flag.FlagSet) {
	o.bindManagerFlags(fs)
	o.bindWebhookFlags(fs)
	o.bindDevinFlags(fs)
	o.bindTokenFlags(fs)
	o.bindTenancyFlags(fs)
}

// bindManagerFlags: metrics, probes, profiling, leader election, the Kubernetes client.
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
	fs.StringVar(&o.WatchLabelSelector, "watch-label-selector", o.WatchLabelSelector, "Make this process a shard: reconcile only the PersonalAccessTokens and ServiceUsers whose labels match (e.g. sharding.fluxcd.io/key=shard1 here, !sharding.fluxcd.io/key on the main process). Shards share the webhooks, the admission key ring and the webhook certificate; each elects its own leader.")
	fs.BoolVar(&o.CredentialPolicyStatus, "credential-policy-status", o.CredentialPolicyStatus, "Keep the CredentialPolicies' status (and the count of resources relying on each); with --watch-label-selector the count lists every shard's resources from the API server: leave it on in one shard only.")
}

// bindWebhookFlags: the webhook server, its certificate, and how long it waits for the Devin API.
func (o *Options) bindWebhookFlags(fs *flag.FlagSet) {
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
	fs.DurationVar(&o.WebhookBackendTimeout, "webhook-backend-timeout", o.WebhookBackendTimeout, "How long the webhook waits for the Devin API before it denies with 'cannot verify' (keep below the webhook's timeoutSeconds).")
}

// bindDevinFlags: the Devin API, the operator's credential, lookups and SSO.
func (o *Options) bindDevinFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.DevinAPIURL, "devin-api-url", o.DevinAPIURL, "Base URL of the Devin API (dedicated deployments have their own): https, or http to a loopback address only.")
	fs.StringVar(&o.DefaultOrganization, "default-organization", o.DefaultOrganization, "Organization ID (org-...) of ServiceUsers whose spec names none.")
	fs.StringVar(&o.CredentialsSecretName, "credentials-secret-name", o.CredentialsSecretName, "Secret holding the operator's admin credential for the Devin API; changes are picked up without a restart.")
	fs.StringVar(&o.CredentialsSecretNamespace, "credentials-secret-namespace", o.CredentialsSecretNamespace, "Namespace of the credentials Secret (default: $POD_NAMESPACE or token-operator-system).")
	fs.StringVar(&o.CredentialsSecretKey, "credentials-secret-key", o.CredentialsSecretKey, "Data key of the credential in the credentials Secret.")
	fs.StringVar(&o.EnterpriseAdminKeySecretName, "enterprise-admin-key-secret-name", o.EnterpriseAdminKeySecretName, "Optional Secret (in the credentials Secret's namespace) holding an enterprise admin's personal API key (apk_user_...), used only to read users' SAML identities from the v2 member record; empty: the v2 API is never called.")
	fs.StringVar(&o.EnterpriseAdminKeySecretKey, "enterprise-admin-key-secret-key", o.EnterpriseAdminKeySecretKey, "Data key of the key in the enterprise admin key Secret.")
	fs.Float64Var(&o.APIQPS, "devin-api-qps", o.APIQPS, "Requests per second to the Devin API, for the whole process (0: unlimited).")
	fs.IntVar(&o.APIBurst, "devin-api-burst", o.APIBurst, "Burst of requests to the Devin API above --devin-api-qps.")
	fs.DurationVar(&o.APITimeout, "devin-api-timeout", o.APITimeout, "Timeout of one request to the Devin API.")
	fs.DurationVar(&o.LookupCacheTTL, "lookup-cache-ttl", o.LookupCacheTTL, "How long user and role lookups are cached (webhook and controllers).")
	enumVar(fs, &o.SSOMode, "sso-mode", "How SSO-linked accounts are found: 'detect' (from the Devin API's user records) or 'enforced' (the enterprise enforces SSO for every member, so no personal access token is ever allowed).", ssoModes...)
}

// bindTokenFlags: how the tokens are named, checked and renewed.
func (o *Options) bindTokenFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.ClusterID, "cluster-id", o.ClusterID, "Identity of this cluster in the names of the service users and tokens the operator creates upstream (default: derived from the kube-system namespace's UID); give each cluster that shares a Devin enterprise, and each copy restored from an etcd backup, its own.")
	fs.DurationVar(&o.VerifyInterval, "verify-interval", o.VerifyInterval, "How often each token is checked upstream (revoked or expired out of band); 0 disables.")
	fs.IntVar(&o.MintBudget, "mint-budget", o.MintBudget, fmt.Sprintf("How many tokens one resource may cause to be created upstream per hour (%d to %d), whatever the reason (renewal, repair, rotation requests); past it the resource is Stalled (MintBudgetExhausted) until the hour has passed.", minMintBudget, maxMintBudget))
	fs.BoolVar(&o.AdoptRestored, "adopt-restored", o.AdoptRestored, "Let a resource re-created from a backup adopt the token (and service user) of its restored Secret when a restore record this operator sealed (with the admission key ring, which must be restored too) names them for the same kind, namespace and name; without it new credentials are minted. Never in a clone of a cluster running beside the original: it would adopt, rotate and revoke the original's tokens.")
	enumVar(fs, &o.OnUpstreamRevocation, "on-upstream-revocation", "What to do when a token is found revoked upstream by someone else (incident response): 'stop' (no new token until a person changes the iam.devin.ai/rotate annotation) or 'reissue' (a new one at once). An expired token is always replaced.", upstreamRevocations...)
}

// bindTenancyFlags: who may get which credential (CredentialPolicies, the requester's email).
func (o *Options) bindTenancyFlags(fs *flag.FlagSet) {
	enumVar(fs, &o.PolicyMode, "policy-mode", "How CredentialPolicies apply: 'enforce' (refuse, at admission and before every mint, what no policy allows), 'warn' (only warn: for a first rollout) or 'off'.", policyModes...)
	fs.StringVar(&o.AdmissionKeySecretName, "admission-key-secret-name", o.AdmissionKeySecretName, "Secret, in the credentials Secret's namespace, holding the key that seals admission records (created when missing; keys 'current' and 'previous').")
	fs.StringVar(&o.RequesterEmailClaim, "requester-email-claim", o.RequesterEmailClaim, "Take a requester's Devin email from this key of their user info's extra (e.g. the OIDC email claim your authenticator passes on).")
	fs.Func("account-api-urls", "Comma-separated API URLs a DevinAccount may name (ClusterDevinAccounts, which only cluster administrators write, may name any): the operator calls no URL a tenant chooses (default https://api.devin.ai).", func(s string) error {
		o.AccountAPIURLs = splitList(s)
		return nil
	})
	fs.Func("cluster-account-secret-namespaces", "Comma-separated namespaces, besides the operator's own, from which a ClusterDevinAccount may read its credential Secret (default: none).", func(s string) error {
		o.ClusterAccountSecretNamespaces = splitList(s)
		return nil
	})
	fs.Func("requester-strip-prefixes", "Comma-separated prefixes stripped from a requester's user name before it is taken as their Devin email (e.g. 'oidc:').", func(s string) error {
		o.RequesterStripPrefixes = splitList(s)
		return nil
	})
	fs.Func("requester-email-rule", "A rule 'regexp=>template' mapping a requester's user name to their Devin email, repeatable; e.g. for EKS with IAM Identity Center '^arn:aws:sts::[0-9]+:assumed-role/AWSReservedSSO_[^/]+/([^/@]+)$=>${1}@example.com'. Name only roles whose session name the identity provider sets: whoever assumes any other role chooses its session name (--role-session-name), and so the email (warned about at start).", func(s string) error {
		o.RequesterEmailRules = append(o.RequesterEmailRules, s)
		return nil
	})
	fs.Func("pat-admin-groups", "Comma-separated groups whose members may create PersonalAccessTokens for other people (e.g. the GitOps controller's service account group), with --policy-mode off or warn; in enforce mode CredentialPolicies decide (delegation).", func(s string) error {
		o.PATAdminGroups = splitList(s)
		return nil
	})
}

// enumVar registers a flag that takes one of allowed, refused at parse time.
func enumVar[T ~string](fs *flag.FlagSet, p *T, name, usage string, allowed ...T) {
	fs.Func(name, usage+fmt.Sprintf(" (default %q)", *p), func(s string) error {
		if !slices.Contains(allowed, T(s)) {
			return fmt.Errorf("want %s", quoted(allowed))
		}
		*p = T(s)
		return nil
	})
}

// quoted lists values as "a", "b" or "c".
func quoted[T ~string](values []T) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = fmt.Sprintf("%q", v)
	}
	if len(q) < 2 {
		return strings.Join(q, "")
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
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

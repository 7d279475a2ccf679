// Package controllers holds the reconcilers of token-operator's three kinds: the
// PersonalAccessToken and ServiceUser reconcilers, which each adapt their kind to the shared
// token lifecycle (internal/credential) through an Issuer that knows its upstream calls
// (PAT create/list/revoke and import; service-user provisioning, API keys, role drift and
// expiry), and the CredentialPolicy reconciler, which keeps each policy's status (Ready, what
// it selects, how many resources rely on it).
//
// It owns the orchestration of one reconcile (get, finalizer, lifecycle, status written once
// through internal/patch) and how a result becomes conditions, events and a requeue
// (report.go). The domain rules live below it (internal/credential, internal/tenancy,
// internal/directory), shared with the admission webhooks, which this package never imports.
package controllers

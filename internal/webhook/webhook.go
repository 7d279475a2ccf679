// Package webhook serves the admission webhooks of token-operator: the checks that need the
// Devin API, the requester's identity or the CredentialPolicies (static rules live in the
// CRDs as CEL). The controllers check the same rules again before every upstream create,
// from the packages below both (internal/tenancy, internal/directory), never through this one.
//
// Three webhooks, configured by the +kubebuilder:webhook markers of this package:
//   - madmission (mutating, CREATE and UPDATE of both kinds): decides under the
//     CredentialPolicies for the requester and seals the verdict into the
//     iam.devin.ai/admission annotation, which the controllers check; on the CREATE of a
//     PersonalAccessToken it records the requester in the iam.devin.ai/requested-by
//     annotation too (the one mutating webhook, so that none makes the API server call
//     another again);
//   - vpersonalaccesstoken (validating, CREATE and UPDATE): the user exists, is not linked to
//     enterprise SSO, and is the requester (or, with the policies off or warning, the
//     requester is in a PAT admin group; in enforce mode a policy's delegation decides); the
//     annotation never changes; the requester may patch each restart target;
//   - vserviceuser (validating, CREATE and UPDATE): the role exists upstream for the scope, the
//     TTL is within the backend's limit, the requester may patch each restart target.
//
// DELETE is never registered, and the configurations' matchConditions keep every UPDATE that
// leaves the spec (and the requested-by annotation) alone away from the webhooks, so that
// removing a finalizer never depends on the webhook server or on the Devin API.
package webhook

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/directory"
	"github.com/cogtokens/token-operator/internal/tenancy"
)

// Options configure the webhooks.
type Options struct {
	// Directory answers user and role lookups through the cache the controllers use too, so
	// that a user looked up at admission is not looked up again before the mint. Required.
	Directory *directory.Directory
	// Accounts resolves the account a resource names (its own directory); nil serves only
	// the default account.
	Accounts tenancy.Accounts
	// PATAdminGroups are groups whose members may create PATs for other people.
	PATAdminGroups []string
	// Gate applies the CredentialPolicies and seals the admission records; nil applies none
	// (the owner check of PersonalAccessTokens then applies, as before policies).
	Gate *tenancy.Gate
	// SAR creates SubjectAccessReviews, to check that a requester may restart the workloads
	// they name as rolloutRestartTargets; nil refuses every such target ("cannot verify").
	SAR SARCreator
	// BackendTimeout bounds the Devin API lookups of one admission request.
	BackendTimeout time.Duration
	// MaxServiceUserTTL is the backend's limit on a service user's lifetime.
	MaxServiceUserTTL time.Duration
}

// Paths the webhooks are served on; the markers name the same paths, but for
// MutatePersonalAccessTokenPath, served for a configuration that still names it (see
// requestedByHandler).
const (
	MutatePersonalAccessTokenPath   = "/mutate-iam-devin-ai-v1alpha1-personalaccesstoken"
	MutateAdmissionPath             = "/mutate-iam-devin-ai-v1alpha1-admission"
	ValidatePersonalAccessTokenPath = "/validate-iam-devin-ai-v1alpha1-personalaccesstoken"
	ValidateServiceUserPath         = "/validate-iam-devin-ai-v1alpha1-serviceuser"
)

const (
	// defaultBackendTimeout stays below the webhooks' timeoutSeconds (5), so that the API
	// server gets our "cannot verify" answer rather than a timeout of its own.
	defaultBackendTimeout = 4 * time.Second
)

// Setup registers the webhooks with the manager's webhook server, on the paths the generated
// configuration (config/webhook) names. Options.Directory is required. A zero BackendTimeout
// means 4s (below the configuration's timeoutSeconds of 5), a zero MaxServiceUserTTL the
// backend's limit of 8760h.
func Setup(mgr ctrl.Manager, o Options) error {
	hooks, err := newWebhooks(mgr.GetScheme(), o)
	if err != nil {
		return err
	}
	srv := mgr.GetWebhookServer()
	for _, path := range []string{MutatePersonalAccessTokenPath, MutateAdmissionPath, ValidatePersonalAccessTokenPath, ValidateServiceUserPath} {
		srv.Register(path, hooks[path])
	}
	return nil
}

// newWebhooks builds the webhooks by path. Setup serves them; the tests call them directly.
func newWebhooks(scheme *runtime.Scheme, o Options) (map[string]*admission.Webhook, error) {
	if o.Directory == nil {
		return nil, errors.New("webhook: Options.Directory is required")
	}
	if scheme == nil {
		return nil, errors.New("webhook: a scheme is required")
	}
	for _, obj := range []runtime.Object{&iamv1alpha1.PersonalAccessToken{}, &iamv1alpha1.ServiceUser{}} {
		if gvks, _, err := scheme.ObjectKinds(obj); err != nil || len(gvks) == 0 {
			return nil, fmt.Errorf("webhook: the scheme does not know %T: %w", obj, err)
		}
	}
	timeout := o.BackendTimeout
	if timeout <= 0 {
		timeout = defaultBackendTimeout
	}
	maxTTL := o.MaxServiceUserTTL
	if maxTTL <= 0 {
		maxTTL = iamv1alpha1.MaxServiceUserTTL
	}
	look := &lookup{dir: o.Directory, accounts: o.Accounts, timeout: timeout}

	mutate := &admission.Webhook{Handler: requestedByHandler{}}
	targets := &restartTargets{sar: o.SAR}
	validatePAT := admission.WithValidator[*iamv1alpha1.PersonalAccessToken](scheme,
		&personalAccessTokenValidator{lookup: look, adminGroups: append([]string(nil), o.PATAdminGroups...), targets: targets,
			ownerByPolicy: !o.Gate.Off() && o.Gate.Enforced()})
	record := &admission.Webhook{Handler: &admissionRecorder{gate: o.Gate, decoder: admission.NewDecoder(scheme), lookup: look}}
	validateSU := admission.WithValidator[*iamv1alpha1.ServiceUser](scheme,
		&serviceUserValidator{lookup: look, maxTTL: maxTTL, targets: targets})

	mutate.LogConstructor = logConstructor("mpersonalaccesstoken.iam.devin.ai")
	record.LogConstructor = logConstructor("madmission.iam.devin.ai")
	validatePAT.LogConstructor = logConstructor("vpersonalaccesstoken.iam.devin.ai")
	validateSU.LogConstructor = logConstructor("vserviceuser.iam.devin.ai")
	return map[string]*admission.Webhook{
		MutatePersonalAccessTokenPath:   mutate,
		MutateAdmissionPath:             record,
		ValidatePersonalAccessTokenPath: validatePAT,
		ValidateServiceUserPath:         validateSU,
	}, nil
}

// logConstructor names the webhook in every log line of a request, besides the request's
// object, user and ID.
func logConstructor(name string) func(logr.Logger, *admission.Request) logr.Logger {
	return func(base logr.Logger, req *admission.Request) logr.Logger {
		return admission.DefaultLogConstructor(base.WithValues("webhook", name), req)
	}
}

// decided logs a decision at V(1) and returns err: nil allows, anything else denies.
func decided(ctx context.Context, check string, err error) error {
	log := ctrl.LoggerFrom(ctx).V(1)
	if err != nil {
		log.Info("denied", "check", check, "reason", err.Error())
		return err
	}
	log.Info("allowed", "check", check)
	return nil
}

// beingDeleted reports whether either version of an object has a deletion timestamp: such an
// update is the controller's cleanup (finalizer removal) and is never blocked.
func beingDeleted(objs ...metav1.Object) bool {
	return slices.ContainsFunc(objs, func(o metav1.Object) bool { return o.GetDeletionTimestamp() != nil })
}

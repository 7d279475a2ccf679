package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/account"
	"github.com/cogtokens/token-operator/internal/credential"
	"github.com/cogtokens/token-operator/internal/devinapi"
	"github.com/cogtokens/token-operator/internal/directory"
	"github.com/cogtokens/token-operator/internal/patch"
	"github.com/cogtokens/token-operator/internal/ttlcache"
)

// ServiceUserAPI is what the ServiceUser controller needs of the Devin API.
type ServiceUserAPI interface {
	ProvisionServiceUser(ctx context.Context, req devinapi.ProvisionServiceUserRequest) (*devinapi.ProvisionedServiceUser, error)
	GetServiceUser(ctx context.Context, id string) (*devinapi.ServiceUser, error)
	ListServiceUsers(ctx context.Context, includeInactive bool) ([]devinapi.ServiceUser, error)
	UpdateServiceUserRole(ctx context.Context, scope devinapi.Scope, orgID, serviceUserID, roleID string) (*devinapi.ServiceUser, error)
	DeleteServiceUser(ctx context.Context, id string) error
	CreateServiceUserAPIKey(ctx context.Context, serviceUserID string, req devinapi.CreateKeyRequest) (*devinapi.IssuedKey, error)
	ListServiceUserAPIKeys(ctx context.Context, serviceUserID string, status devinapi.KeyStatus) ([]devinapi.APIKey, error)
	RevokeServiceUserAPIKey(ctx context.Context, serviceUserID, keyID string) error
}

var _ ServiceUserAPI = &devinapi.Client{}

// ServiceUserReconciler keeps a ServiceUser provisioned with its role, its API key in a
// Secret and rotated, and deletes it upstream on deletion.
type ServiceUserReconciler struct {
	Client    client.Client
	API       ServiceUserAPI
	Lifecycle *credential.Lifecycle
	Recorder  events.EventRecorder
	Clock     clock.PassiveClock
	// Directory lists the enterprise's roles, through the cache shared with the webhook.
	Directory *directory.Directory
	// DefaultOrganization is used when an Organization-scoped spec names none.
	DefaultOrganization string
	// Listing shares the listing of every service user between the periodic checks of all
	// ServiceUsers (key "all"); nil reads each service user by its ID.
	Listing *ttlcache.Cache[[]devinapi.ServiceUser]
	// Names caches the upstream names of service users by ID, which prove ownership (their
	// marker) before anything is done to one; nil looks each up.
	Names *ttlcache.Cache[string]
	// Accounts resolves a spec.accountRef; API, Directory, DefaultOrganization, Listing and
	// Names serve the default account. Nil serves only the default account.
	Accounts Accounts
	// MaxConcurrentReconciles bounds parallel reconciles.
	MaxConcurrentReconciles int
}

// +kubebuilder:rbac:groups=iam.devin.ai,resources=serviceusers,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=iam.devin.ai,resources=serviceusers/status,verbs=patch
// +kubebuilder:rbac:groups=iam.devin.ai,resources=serviceusers/finalizers,verbs=update

// Reconcile tells the story of one ServiceUser: finalizer first, then either deletion
// upstream or: resolve the role, repair the service user upstream (gone, expired, role
// changed), claim its name, then the API key lifecycle shared with PersonalAccessToken.
func (r *ServiceUserReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return credentialKind[*iamv1alpha1.ServiceUser]{
		client: r.Client, recorder: r.Recorder, lifecycle: r.Lifecycle,
		sweep: r.sweep, delete: r.reconcileDelete, normal: r.reconcileNormal,
	}.reconcile(ctx, req, &iamv1alpha1.ServiceUser{})
}

func (r *ServiceUserReconciler) reconcileNormal(ctx context.Context, su *iamv1alpha1.ServiceUser, status *patch.StatusPatcher) (ctrl.Result, credential.Outcome, error) {
	var none credential.Outcome
	// The finalizer comes first: a resource deleted at any later point is deleted upstream.
	if err := status.EnsureFinalizer(ctx, iamv1alpha1.Finalizer); err != nil {
		return ctrl.Result{}, none, err
	}
	up, err := r.upstream(ctx, su)
	if err != nil {
		return ctrl.Result{}, none, err
	}
	role, err := resolveRole(ctx, su, up)
	if err != nil {
		return ctrl.Result{}, none, err
	}
	orgID, err := organization(su, up)
	if err != nil {
		return ctrl.Result{}, none, err
	}
	iss := r.issuer(su, up)
	iss.role, iss.orgID = role, orgID
	iss.mayChangeRole = r.Lifecycle.Allows(ctx, su)
	if err := r.repairUpstream(ctx, iss); err != nil {
		return ctrl.Result{}, none, err
	}
	out, err := r.Lifecycle.Reconcile(ctx, su, iss, status)
	if err != nil {
		return ctrl.Result{}, out, err
	}
	var again time.Duration
	out.ExpiringSoon, again = r.expiringSoon(su)
	return ctrl.Result{RequeueAfter: earliest(out.Wake, again)}, out, nil
}

// repairUpstream finds a service user whose provisioning was interrupted, then checks the
// one on record when a check is due (at once when it has expired or the spec's role
// changed). One deleted or expired upstream took its keys with it: the lifecycle forgets
// them; an expired one is provisioned again, a deleted one when a person asks.
func (r *ServiceUserReconciler) repairUpstream(ctx context.Context, iss *serviceUserIssuer) error {
	if err := iss.Prepare(ctx); err != nil {
		return err
	}
	due := r.Lifecycle.VerifyDue(iss.su, r.Clock.Now())
	gone, deleted, err := iss.checkUpstream(ctx, due)
	if err != nil || !gone {
		return err
	}
	r.Lifecycle.OwnerGone(iss.su, iamv1alpha1.RotationServiceUserGone, deleted)
	return nil
}

func (r *ServiceUserReconciler) reconcileDelete(ctx context.Context, su *iamv1alpha1.ServiceUser) (ctrl.Result, error) {
	orphan, err := r.Lifecycle.OrphanAllowed(ctx, su, su.Spec.DeletionPolicy)
	if err != nil {
		return ctrl.Result{}, err
	}
	if orphan {
		if err := r.Lifecycle.Forget(ctx, su); err != nil {
			return ctrl.Result{}, err
		}
		r.Recorder.Eventf(su, nil, corev1.EventTypeNormal, iamv1alpha1.EventServiceUserOrphaned, "Delete",
			"left service user %s and its keys upstream (deletionPolicy Orphan)", su.Status.ServiceUserID)
		return ctrl.Result{}, removeFinalizer(ctx, r.Client, su)
	}
	// A provisioning or key create whose answer was lost may still land: wait for it, so
	// that the service user found (or deleted) below is the last one.
	if err := r.Lifecycle.WaitSettled(su); err != nil {
		return ctrl.Result{}, err
	}
	up, err := r.upstream(ctx, su)
	if err != nil {
		return ctrl.Result{}, errRevocationPending(err)
	}
	if err := r.issuer(su, up).deleteUpstream(ctx); err != nil {
		return ctrl.Result{}, errRevocationPending(err)
	}
	// Any other service user that carries the resource's marker goes too (one provisioned
	// while status named another, one without the marker).
	if err := r.sweep(ctx, client.ObjectKeyFromObject(su), credential.Tombstone{UID: su.UID, Account: su.Spec.AccountRef}); err != nil {
		return ctrl.Result{}, errRevocationPending(err)
	}
	if err := r.Lifecycle.Forget(ctx, su); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, removeFinalizer(ctx, r.Client, su)
}

// suUpstream is what a ServiceUser acts through: its account's client, directory, default
// organization and caches.
type suUpstream struct {
	api        ServiceUserAPI
	dir        *directory.Directory
	defaultOrg string
	listing    *ttlcache.Cache[[]devinapi.ServiceUser]
	names      *ttlcache.Cache[string]
}

// upstream resolves the resource's account, and records it in status.
func (r *ServiceUserReconciler) upstream(ctx context.Context, su *iamv1alpha1.ServiceUser) (suUpstream, error) {
	b, err := backendFor(ctx, r.Accounts, su.Namespace, su.Spec.AccountRef)
	switch {
	case err != nil:
		return suUpstream{}, err
	case b == nil:
		su.Status.Account = iamv1alpha1.DefaultAccount
		return suUpstream{api: r.API, dir: r.Directory, defaultOrg: r.DefaultOrganization, listing: r.Listing, names: r.Names}, nil
	}
	su.Status.Account = b.Name
	up := suUpstream{api: b.API, dir: b.Directory, defaultOrg: b.DefaultOrganization}
	if r.Listing != nil {
		up.listing = account.Cache(b, "serviceuser-listing", func() *ttlcache.Cache[[]devinapi.ServiceUser] { return r.Listing.Empty() })
	}
	if r.Names != nil {
		up.names = account.Cache(b, "serviceuser-names", func() *ttlcache.Cache[string] { return r.Names.Empty() })
	}
	return up, nil
}

func (r *ServiceUserReconciler) issuer(su *iamv1alpha1.ServiceUser, up suUpstream) *serviceUserIssuer {
	iss := &serviceUserIssuer{api: up.api, recorder: r.Recorder, clock: r.Clock, marker: func() credential.Owner { return r.Lifecycle.Owner(su) }, su: su,
		everIssued: r.Lifecycle.EverIssued(su), names: up.names}
	if up.listing != nil {
		iss.listing = func(ctx context.Context) ([]devinapi.ServiceUser, error) {
			return up.listing.GetOrFetch(ctx, "all", func(ctx context.Context) ([]devinapi.ServiceUser, error) {
				return up.api.ListServiceUsers(ctx, true)
			})
		}
	}
	return iss
}

// resolveRole finds the spec's role (by ID or name) among the roles that fit the scope.
func resolveRole(ctx context.Context, su *iamv1alpha1.ServiceUser, up suUpstream) (devinapi.Role, error) {
	roles, err := up.dir.Roles(ctx)
	if err != nil {
		return devinapi.Role{}, fmt.Errorf("list roles: %w", err)
	}
	role, ok, names := directory.MatchRole(roles, su.EffectiveScope().RoleType(), su.Spec.Role)
	if !ok {
		return devinapi.Role{}, credential.Stall(iamv1alpha1.ReasonUnknownRole,
			fmt.Sprintf("role %q does not exist for scope %s; roles available: %s", su.Spec.Role, su.EffectiveScope(), strings.Join(names, ", ")), nil)
	}
	return role, nil
}

func organization(su *iamv1alpha1.ServiceUser, up suUpstream) (string, error) {
	if su.EffectiveScope() == iamv1alpha1.ScopeEnterprise {
		return "", nil
	}
	if su.Spec.OrganizationID != "" {
		return su.Spec.OrganizationID, nil
	}
	if up.defaultOrg != "" {
		return up.defaultOrg, nil
	}
	// Looked at again with the controller's backoff: the flag is set by a restart, which
	// reconciles everything anyway.
	return "", credential.Stall(iamv1alpha1.ReasonInvalidSpec,
		"spec.organizationID is empty and the account has no default organization (the operator's --default-organization, or the account's spec.defaultOrganization)", errNoOrganization).After(0)
}

// expiringSoon is the verdict on the service user's expiry, for the ExpiringSoon condition
// (with an event when it turns True), and when to look again for it.
func (r *ServiceUserReconciler) expiringSoon(su *iamv1alpha1.ServiceUser) (*credential.Verdict, time.Duration) {
	st := &su.Status
	if st.ServiceUserExpiresAt == nil {
		return nil, 0
	}
	now := r.Clock.Now()
	expires := st.ServiceUserExpiresAt.Time
	warnAt := expires.Add(-su.ExpiryWarning())
	if now.Before(warnAt) {
		return &credential.Verdict{Status: metav1.ConditionFalse, Reason: iamv1alpha1.ReasonServiceUserValid,
			Message: fmt.Sprintf("service user expires %s", expires.UTC().Format(time.RFC3339))}, warnAt.Sub(now)
	}
	if !isConditionTrue(su, iamv1alpha1.ConditionExpiringSoon) {
		r.Recorder.Eventf(su, nil, corev1.EventTypeWarning, iamv1alpha1.EventExpiringSoon, "Verify",
			"service user %s expires %s; a new service user (new ID, new key) is provisioned when it does",
			st.ServiceUserID, expires.UTC().Format(time.RFC3339))
	}
	return &credential.Verdict{Status: metav1.ConditionTrue, Reason: iamv1alpha1.ReasonServiceUserExpiring,
		Message: fmt.Sprintf("service user expires %s; a new one (new ID, new key) is provisioned then; recreate the resource earlier to choose the moment",
			expires.UTC().Format(time.RFC3339))}, max(expires.Sub(now), time.Second)
}

// earliest is the sooner of two wake-ups; zero means none.
func earliest(a, b time.Duration) time.Duration {
	if a == 0 || (b > 0 && b < a) {
		return b
	}
	return a
}

// SetupWithManager registers the controller.
func (r *ServiceUserReconciler) SetupWithManager(mgr ctrl.Manager) error {
	b := ctrl.NewControllerManagedBy(mgr).
		For(&iamv1alpha1.ServiceUser{}, builder.WithPredicates(
			predicate.Or(predicate.GenerationChangedPredicate{}, othersAnnotationsChanged{}))).
		Owns(&corev1.Secret{}).
		// A policy whose spec changes (or that goes) may allow less, or more, than before:
		// judge every resource again. Not on its status (a count of resources).
		Watches(&iamv1alpha1.CredentialPolicy{}, handler.EnqueueRequestsFromMapFunc(everyOf(mgr.GetClient(), &iamv1alpha1.ServiceUserList{})),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Named("serviceuser").
		WithOptions(controller.Options{MaxConcurrentReconciles: r.MaxConcurrentReconciles, RateLimiter: retryLimiter()})
	return watchAccounts(b, mgr.GetClient(), &iamv1alpha1.ServiceUserList{}).Complete(r)
}

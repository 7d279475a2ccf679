package controllers

import (
	"context"

	corev1 "k8s.io/api/core/v1"
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
)

// PATAPI is what the PersonalAccessToken controller needs of the Devin API (users are
// looked up through the directory). The PAT endpoints are assumed (none is published);
// SelfWithToken is published, and is all an imported token needs.
type PATAPI interface {
	CreatePAT(ctx context.Context, userID string, req devinapi.CreateKeyRequest) (*devinapi.IssuedKey, error)
	ListPATs(ctx context.Context, userID string, status devinapi.KeyStatus) ([]devinapi.APIKey, error)
	RevokePAT(ctx context.Context, userID, keyID string) error
	SelfWithToken(ctx context.Context, token devinapi.Token) (*devinapi.Self, error)
}

var _ PATAPI = &devinapi.Client{}

// PersonalAccessTokenReconciler keeps a PersonalAccessToken's token issued, stored in its
// Secret, rotated and, on deletion, revoked.
type PersonalAccessTokenReconciler struct {
	Client client.Client
	// Reader reads around the cache: the Secret an imported token comes from.
	Reader    client.Reader
	API       PATAPI
	Lifecycle *credential.Lifecycle
	Recorder  events.EventRecorder
	Clock     clock.PassiveClock
	// Directory looks users up, through the cache shared with the webhook (the SSO check
	// before each mint reads it).
	Directory *directory.Directory
	// Listings shares the periodic token listing between the PATs of one user.
	Listings *credential.ListingCache
	// Accounts resolves a spec.accountRef; API, Directory and Listings serve the default
	// account. Nil serves only the default account.
	Accounts Accounts
	// MaxConcurrentReconciles bounds parallel reconciles.
	MaxConcurrentReconciles int
}

// The resource is read around the cache when it announces a create its status does not
// account for (credential.Lifecycle.Latest): hence get.
// +kubebuilder:rbac:groups=iam.devin.ai,resources=personalaccesstokens,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=iam.devin.ai,resources=personalaccesstokens/status,verbs=patch
// +kubebuilder:rbac:groups=iam.devin.ai,resources=personalaccesstokens/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile tells the story of one PersonalAccessToken: finalizer first, then either
// revocation (being deleted) or the token lifecycle; status is written once at the end
// (and once before each upstream create, inside the lifecycle).
func (r *PersonalAccessTokenReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return credentialKind[*iamv1alpha1.PersonalAccessToken]{
		client: r.Client, recorder: r.Recorder, lifecycle: r.Lifecycle,
		sweep: r.sweep, delete: r.reconcileDelete, normal: r.reconcileNormal,
	}.reconcile(ctx, req, &iamv1alpha1.PersonalAccessToken{})
}

func (r *PersonalAccessTokenReconciler) reconcileNormal(ctx context.Context, pat *iamv1alpha1.PersonalAccessToken, status *patch.StatusPatcher) (ctrl.Result, credential.Outcome, error) {
	// The finalizer comes first: a resource deleted at any later point is revoked upstream.
	if err := status.EnsureFinalizer(ctx, iamv1alpha1.Finalizer); err != nil {
		return ctrl.Result{}, credential.Outcome{}, err
	}
	up, err := r.upstream(ctx, pat)
	if err != nil {
		return ctrl.Result{}, credential.Outcome{}, err
	}
	out, err := r.Lifecycle.Reconcile(ctx, pat, r.issuer(pat, up), status)
	return ctrl.Result{RequeueAfter: out.Wake}, out, err
}

func (r *PersonalAccessTokenReconciler) reconcileDelete(ctx context.Context, pat *iamv1alpha1.PersonalAccessToken) (ctrl.Result, error) {
	if pat.Imported() {
		if err := r.Lifecycle.Forget(ctx, pat); err != nil {
			return ctrl.Result{}, err
		}
		if pat.Status.Token != nil {
			r.Recorder.Eventf(pat, nil, corev1.EventTypeWarning, iamv1alpha1.EventImportedTokenNotRevoked, "Delete",
				"deleted the Secret; the imported token %s stays valid upstream: its owner revokes it in account settings (no endpoint to revoke it is published)", pat.Status.Token.ID)
		}
		return ctrl.Result{}, removeFinalizer(ctx, r.Client, pat)
	}
	orphan, err := r.Lifecycle.OrphanAllowed(ctx, pat, pat.Spec.DeletionPolicy)
	if err != nil {
		return ctrl.Result{}, err
	}
	if orphan {
		if err := r.Lifecycle.Forget(ctx, pat); err != nil {
			return ctrl.Result{}, err
		}
		r.Recorder.Eventf(pat, nil, corev1.EventTypeNormal, iamv1alpha1.EventTokenOrphaned, "Delete",
			"left the token upstream (deletionPolicy Orphan)")
		return ctrl.Result{}, removeFinalizer(ctx, r.Client, pat)
	}
	if r.Lifecycle.EverIssued(pat) {
		up, err := r.upstream(ctx, pat)
		if err != nil {
			return ctrl.Result{}, errRevocationPending(err)
		}
		if err := r.Lifecycle.Revoke(ctx, pat, r.issuer(pat, up)); err != nil {
			return ctrl.Result{}, errRevocationPending(err)
		}
	} else if err := r.Lifecycle.Forget(ctx, pat); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, removeFinalizer(ctx, r.Client, pat)
}

// patUpstream is what a PersonalAccessToken acts through: its account's client, directory
// and listings.
type patUpstream struct {
	name     string
	api      PATAPI
	users    *directory.Directory
	listings *credential.ListingCache
}

// upstream resolves the resource's account, and records it in status.
func (r *PersonalAccessTokenReconciler) upstream(ctx context.Context, pat *iamv1alpha1.PersonalAccessToken) (patUpstream, error) {
	return r.upstreamOf(ctx, pat.Namespace, pat.Spec.AccountRef, &pat.Status.Account)
}

func (r *PersonalAccessTokenReconciler) upstreamOf(ctx context.Context, namespace string, ref *iamv1alpha1.AccountRef, record *string) (patUpstream, error) {
	b, err := backendFor(ctx, r.Accounts, namespace, ref)
	switch {
	case err != nil:
		return patUpstream{}, err
	case b == nil:
		*record = iamv1alpha1.DefaultAccount
		return patUpstream{name: iamv1alpha1.DefaultAccount, api: r.API, users: r.Directory, listings: r.Listings}, nil
	}
	*record = b.Name
	listings := account.Cache(b, "pat-listings", func() *credential.ListingCache {
		return &credential.ListingCache{TTL: r.Listings.TTL, Clock: r.Clock}
	})
	return patUpstream{name: b.Name, api: b.API, users: b.Directory, listings: listings}, nil
}

// issuer is the upstream side of the resource: its user's PATs, or an imported token.
func (r *PersonalAccessTokenReconciler) issuer(pat *iamv1alpha1.PersonalAccessToken, up patUpstream) credential.Issuer {
	minted := &patIssuer{api: up.api, users: up.users, listings: up.listings, clock: r.Clock, marker: func() credential.Owner { return r.Lifecycle.Owner(pat) }, pat: pat}
	if pat.Imported() {
		return &importIssuer{owner: minted, api: up.api, reader: r.Reader, clock: r.Clock, pat: pat}
	}
	return minted
}

// SetupWithManager registers the controller: PersonalAccessTokens, and the Secrets they own
// (the cache holds only Secrets the operator labelled).
func (r *PersonalAccessTokenReconciler) SetupWithManager(mgr ctrl.Manager) error {
	b := ctrl.NewControllerManagedBy(mgr).
		For(&iamv1alpha1.PersonalAccessToken{}, builder.WithPredicates(
			predicate.Or(predicate.GenerationChangedPredicate{}, othersAnnotationsChanged{}))).
		Owns(&corev1.Secret{}).
		// A policy whose spec changes (or that goes) may allow less, or more, than before:
		// judge every resource again. Not on its status (a count of resources).
		Watches(&iamv1alpha1.CredentialPolicy{}, handler.EnqueueRequestsFromMapFunc(everyOf(mgr.GetClient(), &iamv1alpha1.PersonalAccessTokenList{})),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Named("personalaccesstoken").
		WithOptions(controller.Options{MaxConcurrentReconciles: r.MaxConcurrentReconciles, RateLimiter: retryLimiter()})
	return watchAccounts(b, mgr.GetClient(), &iamv1alpha1.PersonalAccessTokenList{}).Complete(r)
}

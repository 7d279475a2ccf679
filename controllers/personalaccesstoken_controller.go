package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/credential"
	"github.com/cogtokens/token-operator/internal/devinapi"
	"github.com/cogtokens/token-operator/internal/directory"
	"github.com/cogtokens/token-operator/internal/patch"
)

// PATAPI is what the PersonalAccessToken controller needs of the Devin API (users are
// looked up through the directory).
type PATAPI interface {
	CreatePAT(ctx context.Context, userID string, req devinapi.CreateKeyRequest) (*devinapi.IssuedKey, error)
	ListPATs(ctx context.Context, userID string, status devinapi.KeyStatus) ([]devinapi.APIKey, error)
	RevokePAT(ctx context.Context, userID, keyID string) error
}

var _ PATAPI = &devinapi.Client{}

// PersonalAccessTokenReconciler keeps a PersonalAccessToken's token issued, stored in its
// Secret, rotated and, on deletion, revoked.
type PersonalAccessTokenReconciler struct {
	Client    client.Client
	API       PATAPI
	Lifecycle *credential.Lifecycle
	Recorder  events.EventRecorder
	Clock     clock.PassiveClock
	// Directory looks users up, through the cache shared with the webhook (the SSO check
	// before each mint reads it).
	Directory *directory.Directory
	// Listings shares the periodic token listing between the PATs of one user.
	Listings *credential.ListingCache
	// MaxConcurrentReconciles bounds parallel reconciles.
	MaxConcurrentReconciles int
}

// +kubebuilder:rbac:groups=iam.devin.ai,resources=personalaccesstokens,verbs=list;watch;patch
// +kubebuilder:rbac:groups=iam.devin.ai,resources=personalaccesstokens/status,verbs=patch
// +kubebuilder:rbac:groups=iam.devin.ai,resources=personalaccesstokens/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile tells the story of one PersonalAccessToken: finalizer first, then either
// revocation (being deleted) or the token lifecycle; status is written once at the end
// (and once before each upstream create, inside the lifecycle).
func (r *PersonalAccessTokenReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	pat := &iamv1alpha1.PersonalAccessToken{}
	if err := r.Client.Get(ctx, req.NamespacedName, pat); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !pat.DeletionTimestamp.IsZero() && !controllerutil.ContainsFinalizer(pat, iamv1alpha1.Finalizer) {
		return ctrl.Result{}, nil
	}
	if pat.DeletionTimestamp.IsZero() && !controllerutil.ContainsFinalizer(pat, iamv1alpha1.Finalizer) {
		if err := addFinalizer(ctx, r.Client, pat); err != nil {
			return ctrl.Result{}, err
		}
	}

	status := patch.NewStatusPatcher(r.Client, pat)
	defer func() {
		result, retErr = report(ctx, r.Recorder, pat, result, retErr)
		result, retErr = writeStatus(ctx, status, result, retErr)
	}()

	if !pat.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, pat)
	}
	return r.reconcileNormal(ctx, pat, status)
}

func (r *PersonalAccessTokenReconciler) reconcileNormal(ctx context.Context, pat *iamv1alpha1.PersonalAccessToken, status *patch.StatusPatcher) (ctrl.Result, error) {
	wake, err := r.Lifecycle.Reconcile(ctx, pat, r.issuer(pat), status.Patch)
	if err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: wake}, nil
}

func (r *PersonalAccessTokenReconciler) reconcileDelete(ctx context.Context, pat *iamv1alpha1.PersonalAccessToken) (ctrl.Result, error) {
	if credential.IsDeletionPolicyOrphan(pat.Spec.DeletionPolicy) {
		if err := r.Lifecycle.Forget(ctx, pat); err != nil {
			return ctrl.Result{}, err
		}
		r.Recorder.Eventf(pat, nil, corev1.EventTypeNormal, "TokenOrphaned", "Delete",
			"left the token upstream (deletionPolicy Orphan)")
		return ctrl.Result{}, removeFinalizer(ctx, r.Client, pat)
	}
	if pat.Status.IssueCount > 0 {
		if err := r.Lifecycle.Revoke(ctx, pat, r.issuer(pat)); err != nil {
			return ctrl.Result{}, errRevocationPending(err)
		}
	} else if err := r.Lifecycle.Forget(ctx, pat); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, removeFinalizer(ctx, r.Client, pat)
}

func (r *PersonalAccessTokenReconciler) issuer(pat *iamv1alpha1.PersonalAccessToken) *patIssuer {
	return &patIssuer{r: r, pat: pat}
}

// SetupWithManager registers the controller: PersonalAccessTokens, and the Secrets they own
// (the cache holds only Secrets the operator labelled).
func (r *PersonalAccessTokenReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&iamv1alpha1.PersonalAccessToken{}, builder.WithPredicates(
			predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Owns(&corev1.Secret{}).
		Named("personalaccesstoken").
		WithOptions(controller.Options{MaxConcurrentReconciles: r.MaxConcurrentReconciles, RateLimiter: retryLimiter()}).
		Complete(r)
}

// patIssuer is the upstream side of one PersonalAccessToken: the PATs of its user whose
// names carry the resource's UID.
type patIssuer struct {
	r   *PersonalAccessTokenReconciler
	pat *iamv1alpha1.PersonalAccessToken
	// owner is the user Prepare found, not linked to SSO.
	owner *devinapi.User
}

var _ credential.Issuer = &patIssuer{}

// user resolves the resource's user (cached briefly) and records it in status.
func (i *patIssuer) user(ctx context.Context) (*devinapi.User, error) {
	ref := i.pat.Spec.User
	var u *devinapi.User
	var err error
	if ref.Email != "" {
		u, err = i.r.Directory.UserByEmail(ctx, ref.Email)
	} else {
		u, err = i.r.Directory.UserByID(ctx, ref.ID)
	}
	if isNotFound(err) {
		return nil, &credential.Problem{Reason: iamv1alpha1.ReasonUserNotFound, Stalled: true, RetryAfter: credential.RefusalRecheck, Err: err,
			Message: fmt.Sprintf("no user %s exists in the Devin enterprise", describeUser(ref))}
	}
	if err != nil {
		return nil, fmt.Errorf("look up user %s: %w", describeUser(ref), err)
	}
	i.pat.Status.UserID = u.ID
	i.pat.Status.UserEmail = u.Email
	return u, nil
}

func (i *patIssuer) userID(ctx context.Context) (string, error) {
	if i.pat.Status.UserID != "" {
		return i.pat.Status.UserID, nil
	}
	u, err := i.user(ctx)
	if err != nil {
		return "", err
	}
	return u.ID, nil
}

// Prepare looks the user up and checks again that it is not linked to SSO (the webhook may
// not be installed).
func (i *patIssuer) Prepare(ctx context.Context) error {
	u, err := i.user(ctx)
	if err != nil {
		return err
	}
	if u.SSOLinked() {
		return fmt.Errorf("user %s: %w", u.Email, devinapi.ErrSSOAccount)
	}
	i.owner = u
	return nil
}

// Issue creates the PAT for the user Prepare found.
func (i *patIssuer) Issue(ctx context.Context, name string, expiresAt time.Time) (*devinapi.IssuedKey, error) {
	if i.owner == nil {
		if err := i.Prepare(ctx); err != nil {
			return nil, err
		}
	}
	defer i.r.Listings.Invalidate(i.owner.ID)
	return i.r.API.CreatePAT(ctx, i.owner.ID, devinapi.CreateKeyRequest{Name: name, ExpiresAt: &expiresAt})
}

// Owned lists the user's active PATs that carry this resource's UID.
func (i *patIssuer) Owned(ctx context.Context, fresh bool) (credential.Listing, error) {
	uid, err := i.userID(ctx)
	if isProblem(err, iamv1alpha1.ReasonUserNotFound) {
		return credential.Listing{At: i.r.Clock.Now()}, nil // no user, no tokens
	}
	if err != nil {
		return credential.Listing{}, err
	}
	all, err := i.r.Listings.Get(ctx, uid, fresh, func(ctx context.Context) ([]devinapi.APIKey, error) {
		keys, err := i.r.API.ListPATs(ctx, uid, devinapi.KeyStatusActive)
		if isNotFound(err) {
			return nil, nil // the user is gone, and so are their tokens
		}
		return keys, err
	})
	if err != nil {
		return credential.Listing{}, err
	}
	own := credential.Listing{At: all.At}
	for _, k := range all.Keys {
		if credential.OwnedBy(k.Name, i.pat.UID) {
			own.Keys = append(own.Keys, k)
		}
	}
	return own, nil
}

// Revoke revokes one PAT; one already gone is fine.
func (i *patIssuer) Revoke(ctx context.Context, id string) error {
	uid, err := i.userID(ctx)
	if err != nil {
		return err
	}
	defer i.r.Listings.Invalidate(uid)
	if err := i.r.API.RevokePAT(ctx, uid, id); err != nil && !devinapi.IsGone(err) {
		return err
	}
	return nil
}

func describeUser(ref iamv1alpha1.UserReference) string {
	if ref.Email != "" {
		return ref.Email
	}
	return "with ID " + ref.ID
}

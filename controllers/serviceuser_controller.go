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
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/credential"
	"github.com/cogtokens/token-operator/internal/devinapi"
	"github.com/cogtokens/token-operator/internal/directory"
	"github.com/cogtokens/token-operator/internal/patch"
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

// DefaultServiceUserTTL is the lifetime of a service user whose spec says none.
const DefaultServiceUserTTL = 8760 * time.Hour

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
	// MaxConcurrentReconciles bounds parallel reconciles.
	MaxConcurrentReconciles int
}

// +kubebuilder:rbac:groups=iam.devin.ai,resources=serviceusers,verbs=list;watch;patch
// +kubebuilder:rbac:groups=iam.devin.ai,resources=serviceusers/status,verbs=patch
// +kubebuilder:rbac:groups=iam.devin.ai,resources=serviceusers/finalizers,verbs=update

// Reconcile tells the story of one ServiceUser: finalizer first, then either deletion
// upstream or: resolve the role, repair the service user upstream (gone, expired, role
// changed), claim its name, then the API key lifecycle shared with PersonalAccessToken.
func (r *ServiceUserReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	su := &iamv1alpha1.ServiceUser{}
	if err := r.Client.Get(ctx, req.NamespacedName, su); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !su.DeletionTimestamp.IsZero() && !controllerutil.ContainsFinalizer(su, iamv1alpha1.Finalizer) {
		return ctrl.Result{}, nil
	}
	if su.DeletionTimestamp.IsZero() && !controllerutil.ContainsFinalizer(su, iamv1alpha1.Finalizer) {
		if err := addFinalizer(ctx, r.Client, su); err != nil {
			return ctrl.Result{}, err
		}
	}

	status := patch.NewStatusPatcher(r.Client, su)
	defer func() {
		result, retErr = report(ctx, r.Recorder, su, result, retErr)
		result, retErr = writeStatus(ctx, status, result, retErr)
	}()

	if !su.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, su)
	}
	return r.reconcileNormal(ctx, su, status)
}

func (r *ServiceUserReconciler) reconcileNormal(ctx context.Context, su *iamv1alpha1.ServiceUser, status *patch.StatusPatcher) (ctrl.Result, error) {
	role, err := r.resolveRole(ctx, su)
	if err != nil {
		return ctrl.Result{}, err
	}
	orgID, err := r.organization(su)
	if err != nil {
		return ctrl.Result{}, err
	}
	iss := &serviceUserIssuer{r: r, su: su, role: role, orgID: orgID}
	// A provisioning interrupted before its answer was recorded: find the service user by
	// the name the intent reserved.
	if _, err := iss.serviceUserID(ctx); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.repairUpstream(ctx, iss); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.claimName(ctx, iss); err != nil {
		return ctrl.Result{}, err
	}
	wake, err := r.Lifecycle.Reconcile(ctx, su, iss, status.Patch)
	if err != nil {
		return ctrl.Result{}, err
	}
	expiryWake := r.setExpiringSoon(su)
	if expiryWake > 0 && (wake == 0 || expiryWake < wake) {
		wake = expiryWake
	}
	return ctrl.Result{RequeueAfter: wake}, nil
}

func (r *ServiceUserReconciler) reconcileDelete(ctx context.Context, su *iamv1alpha1.ServiceUser) (ctrl.Result, error) {
	if credential.IsDeletionPolicyOrphan(su.Spec.DeletionPolicy) {
		if err := r.Lifecycle.Forget(ctx, su); err != nil {
			return ctrl.Result{}, err
		}
		r.Recorder.Eventf(su, nil, corev1.EventTypeNormal, "ServiceUserOrphaned", "Delete",
			"left service user %s and its keys upstream (deletionPolicy Orphan)", su.Status.ServiceUserID)
		return ctrl.Result{}, removeFinalizer(ctx, r.Client, su)
	}
	// A provisioning or key create whose answer was lost may still land: wait for it, so
	// that the service user found (or deleted) below is the last one.
	if err := r.Lifecycle.WaitSettled(su); err != nil {
		return ctrl.Result{}, err
	}
	iss := &serviceUserIssuer{r: r, su: su}
	id, err := iss.serviceUserID(ctx)
	if err != nil {
		return ctrl.Result{}, errRevocationPending(err)
	}
	if id != "" {
		// Deleting the service user revokes its keys with it.
		if err := r.API.DeleteServiceUser(ctx, id); err != nil && !devinapi.IsGone(err) {
			return ctrl.Result{}, errRevocationPending(fmt.Errorf("delete service user %s: %w", id, err))
		}
		r.Recorder.Eventf(su, nil, corev1.EventTypeNormal, "ServiceUserDeleted", "Delete",
			"deleted service user %s and its keys upstream", id)
	}
	if err := r.Lifecycle.Forget(ctx, su); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, removeFinalizer(ctx, r.Client, su)
}

// resolveRole finds the spec's role (by ID or name) among the roles that fit the scope.
func (r *ServiceUserReconciler) resolveRole(ctx context.Context, su *iamv1alpha1.ServiceUser) (devinapi.Role, error) {
	roles, err := r.Directory.Roles(ctx)
	if err != nil {
		return devinapi.Role{}, fmt.Errorf("list roles: %w", err)
	}
	role, ok, names := MatchRole(roles, su.Spec.Scope, su.Spec.Role)
	if !ok {
		return devinapi.Role{}, &credential.Problem{
			Reason: iamv1alpha1.ReasonUnknownRole, Stalled: true, RetryAfter: credential.RefusalRecheck,
			Message: fmt.Sprintf("role %q does not exist for scope %s; roles available: %s", su.Spec.Role, scopeOf(su), strings.Join(names, ", ")),
		}
	}
	return role, nil
}

// MatchRole finds a role by ID or (case-insensitive) name among those of the scope's type,
// and lists the names of those roles for a message.
func MatchRole(roles []devinapi.Role, scope iamv1alpha1.ServiceUserScope, want string) (devinapi.Role, bool, []string) {
	wantType := "org"
	if scope == iamv1alpha1.ScopeEnterprise {
		wantType = "enterprise"
	}
	var names []string
	for _, role := range roles {
		if role.Type != wantType {
			continue
		}
		names = append(names, role.Name)
		if role.ID == want || strings.EqualFold(role.Name, want) {
			return role, true, nil
		}
	}
	return devinapi.Role{}, false, names
}

func scopeOf(su *iamv1alpha1.ServiceUser) iamv1alpha1.ServiceUserScope {
	if su.Spec.Scope == "" {
		return iamv1alpha1.ScopeOrganization
	}
	return su.Spec.Scope
}

func (r *ServiceUserReconciler) organization(su *iamv1alpha1.ServiceUser) (string, error) {
	if scopeOf(su) == iamv1alpha1.ScopeEnterprise {
		return "", nil
	}
	if su.Spec.OrganizationID != "" {
		return su.Spec.OrganizationID, nil
	}
	if r.DefaultOrganization != "" {
		return r.DefaultOrganization, nil
	}
	return "", &credential.Problem{Reason: iamv1alpha1.ReasonInvalidSpec, Stalled: true, Err: errNoOrganization,
		Message: "spec.organizationID is empty and the operator has no --default-organization"}
}

// repairUpstream checks the service user upstream when a check is due (or at once when it
// has expired or the spec's role changed): a service user deleted or expired upstream is
// forgotten so that a new one is provisioned; a role changed upstream is set back.
func (r *ServiceUserReconciler) repairUpstream(ctx context.Context, iss *serviceUserIssuer) error {
	su := iss.su
	st := &su.Status
	if st.ServiceUserID == "" {
		return nil
	}
	now := r.Clock.Now()
	expired := st.ServiceUserExpiresAt != nil && !now.Before(st.ServiceUserExpiresAt.Time)
	roleChanged := st.RoleID != "" && st.RoleID != iss.role.ID
	if !expired && !roleChanged && !r.Lifecycle.VerifyDue(&st.CredentialStatus, now) {
		return nil
	}
	var upstream *devinapi.ServiceUser
	if !expired {
		var err error
		upstream, err = r.API.GetServiceUser(ctx, st.ServiceUserID)
		if err != nil && !isNotFound(err) {
			return fmt.Errorf("check service user %s: %w", st.ServiceUserID, err)
		}
	}
	if expired || upstream == nil || !upstream.IsActive {
		why := "was deleted upstream"
		if expired || (upstream != nil && upstream.ExpiresAt != nil && !now.Before(*upstream.ExpiresAt)) {
			why = "has expired"
		}
		r.Recorder.Eventf(su, nil, corev1.EventTypeWarning, "ServiceUserGone", "Repair",
			"service user %s %s; provisioning a new one and a new key", st.ServiceUserID, why)
		ctrl.LoggerFrom(ctx).Info("service user gone upstream; provisioning again", "serviceUserID", st.ServiceUserID, "why", why)
		st.ServiceUserID, st.ServiceUserExpiresAt, st.RoleID = "", nil, ""
		// Its keys went with it: nothing to keep or revoke.
		st.Token, st.PendingRevocations = nil, nil
		st.LastRotationReason = iamv1alpha1.RotationServiceUserGone
		return nil
	}
	if current := roleIn(upstream, iss.orgID, scopeOf(su)); current != iss.role.ID {
		if _, err := r.API.UpdateServiceUserRole(ctx, devinapi.Scope(scopeOf(su)), iss.orgID, st.ServiceUserID, iss.role.ID); err != nil {
			return fmt.Errorf("set role of service user %s: %w", st.ServiceUserID, err)
		}
		if roleChanged {
			r.Recorder.Eventf(su, nil, corev1.EventTypeNormal, "RoleUpdated", "Update", "set role %s", iss.role.Name)
		} else {
			r.Recorder.Eventf(su, nil, corev1.EventTypeWarning, "RoleDriftRepaired", "Repair",
				"the role was changed upstream (to %q); set back to %s", current, iss.role.Name)
		}
	}
	st.RoleID = iss.role.ID
	if upstream.ExpiresAt != nil {
		st.ServiceUserExpiresAt = &metav1.Time{Time: *upstream.ExpiresAt}
	}
	return nil
}

// roleIn is the ID of the role the service user holds in the scope ("" when none).
func roleIn(su *devinapi.ServiceUser, orgID string, scope iamv1alpha1.ServiceUserScope) string {
	for _, ra := range su.RoleAssignments {
		if scope == iamv1alpha1.ScopeEnterprise && ra.OrgID == "" {
			return ra.Role.ID
		}
		if scope != iamv1alpha1.ScopeEnterprise && ra.OrgID == orgID {
			return ra.Role.ID
		}
	}
	return ""
}

// claimName makes sure the name is not taken upstream before a service user is provisioned
// under it, then records the intent, so that after a crash the one found by that name is ours.
func (r *ServiceUserReconciler) claimName(ctx context.Context, iss *serviceUserIssuer) error {
	su := iss.su
	st := &su.Status
	if st.ServiceUserID != "" || st.PendingProvision != nil {
		return nil
	}
	name := su.UpstreamName()
	all, err := r.API.ListServiceUsers(ctx, false)
	if err != nil {
		return fmt.Errorf("list service users: %w", err)
	}
	for _, other := range all {
		if other.Name == name && other.IsActive {
			return &credential.Problem{
				Reason: iamv1alpha1.ReasonNameConflict, Stalled: true, RetryAfter: credential.RefusalRecheck,
				Message: fmt.Sprintf("a service user named %q already exists upstream (%s) and does not belong to this resource; set spec.name to another name", name, other.ID),
			}
		}
	}
	st.PendingProvision = &iamv1alpha1.PendingIssue{Name: name, Since: metav1.NewTime(r.Clock.Now())}
	iss.searched = true // nobody has the name: nothing to find under it
	return nil
}

// setExpiringSoon sets the ExpiringSoon condition (and an event when it turns True) and
// returns when to look again for it.
func (r *ServiceUserReconciler) setExpiringSoon(su *iamv1alpha1.ServiceUser) time.Duration {
	st := &su.Status
	if st.ServiceUserExpiresAt == nil {
		return 0
	}
	now := r.Clock.Now()
	expires := st.ServiceUserExpiresAt.Time
	warnAt := expires.Add(-ExpiryWarning(su))
	if now.Before(warnAt) {
		setCondition(su, iamv1alpha1.ConditionExpiringSoon, metav1.ConditionFalse, iamv1alpha1.ReasonServiceUserValid,
			fmt.Sprintf("service user expires %s", expires.UTC().Format(time.RFC3339)))
		return warnAt.Sub(now)
	}
	if !isConditionTrue(su, iamv1alpha1.ConditionExpiringSoon) {
		r.Recorder.Eventf(su, nil, corev1.EventTypeWarning, "ExpiringSoon", "Verify",
			"service user %s expires %s; a new service user (new ID, new key) is provisioned when it does",
			st.ServiceUserID, expires.UTC().Format(time.RFC3339))
	}
	setCondition(su, iamv1alpha1.ConditionExpiringSoon, metav1.ConditionTrue, iamv1alpha1.ReasonServiceUserExpiring,
		fmt.Sprintf("service user expires %s; a new one (new ID, new key) is provisioned then; recreate the resource earlier to choose the moment",
			expires.UTC().Format(time.RFC3339)))
	return max(expires.Sub(now), time.Second)
}

// ExpiryWarning is how long before its expiry a service user is reported ExpiringSoon: a
// fifth of its lifetime, at most 30 days.
func ExpiryWarning(su *iamv1alpha1.ServiceUser) time.Duration {
	ttl := DefaultServiceUserTTL
	if su.Spec.TTL != nil && su.Spec.TTL.Duration > 0 {
		ttl = su.Spec.TTL.Duration
	}
	return min(ttl/5, 30*24*time.Hour)
}

// SetupWithManager registers the controller.
func (r *ServiceUserReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&iamv1alpha1.ServiceUser{}, builder.WithPredicates(
			predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Owns(&corev1.Secret{}).
		Named("serviceuser").
		WithOptions(controller.Options{MaxConcurrentReconciles: r.MaxConcurrentReconciles, RateLimiter: retryLimiter()}).
		Complete(r)
}

package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/devinapi"
)

// The service user itself, upstream: its repair, the reservation of its name before it is
// provisioned, and its deletion.

// checkUpstream checks the service user on record when due (or at once when it has expired
// or the spec's role changed) and sets a role changed upstream back. It reports whether the
// service user is gone, and whether it was deleted (by someone else) rather than expired;
// its status fields are cleared then, and the caller lets the lifecycle forget its keys.
func (i *serviceUserIssuer) checkUpstream(ctx context.Context, due bool) (gone, deleted bool, err error) {
	st := &i.su.Status
	if st.ServiceUserID == "" {
		return false, false, nil
	}
	now := i.clock.Now()
	expired := st.ServiceUserExpiresAt != nil && !now.Before(st.ServiceUserExpiresAt.Time)
	roleChanged := i.mayChangeRole && st.RoleID != "" && st.RoleID != i.role.ID
	if !expired && !roleChanged && !due {
		return false, false, nil
	}
	var upstream *devinapi.ServiceUser
	if !expired {
		upstream, err = i.lookUp(ctx, !roleChanged)
		if err != nil {
			return false, false, fmt.Errorf("check service user %s: %w", st.ServiceUserID, err)
		}
	}
	if expired || upstream == nil || !upstream.IsActive {
		expired = expired || (upstream != nil && upstream.ExpiresAt != nil && !now.Before(*upstream.ExpiresAt))
		i.forgetGone(ctx, expired)
		return true, !expired, nil
	}
	if err := i.repairRole(ctx, upstream, roleChanged); err != nil {
		return false, false, err
	}
	if upstream.ExpiresAt != nil {
		st.ServiceUserExpiresAt = &metav1.Time{Time: *upstream.ExpiresAt}
	}
	return false, false, nil
}

// lookUp reads the service user on record: from the listing of every service user, shared
// by the periodic checks of all ServiceUsers (one list call for all of them), when shared
// is set and the listing has it; from the API otherwise (a role just changed, or one the
// listing does not show: deleted, or newer than the listing). nil when it does not exist.
func (i *serviceUserIssuer) lookUp(ctx context.Context, shared bool) (*devinapi.ServiceUser, error) {
	id := i.su.Status.ServiceUserID
	if shared && i.listing != nil {
		all, err := i.listing(ctx)
		if err != nil {
			return nil, err
		}
		for k := range all {
			if all[k].ID == id {
				return &all[k], nil
			}
		}
	}
	u, err := i.api.GetServiceUser(ctx, id)
	if isNotFound(err) {
		return nil, nil
	}
	return u, err
}

// forgetGone reports a service user deleted or expired upstream and clears its fields, so
// that a new one is provisioned.
func (i *serviceUserIssuer) forgetGone(ctx context.Context, expired bool) {
	st := &i.su.Status
	why := "was deleted upstream"
	if expired {
		why = "has expired"
	}
	i.recorder.Eventf(i.su, nil, corev1.EventTypeWarning, iamv1alpha1.EventServiceUserGone, "Repair",
		"service user %s %s", st.ServiceUserID, why)
	ctrl.LoggerFrom(ctx).Info("service user gone upstream; provisioning again", "serviceUserID", st.ServiceUserID, "why", why)
	st.ServiceUserID, st.ServiceUserExpiresAt, st.RoleID = "", nil, ""
}

// repairRole sets the spec's role upstream when the service user holds another one there,
// and the tenancy policy allows the spec (the Admitted condition says why not, otherwise).
func (i *serviceUserIssuer) repairRole(ctx context.Context, upstream *devinapi.ServiceUser, specChanged bool) error {
	st := &i.su.Status
	if !i.mayChangeRole {
		return nil
	}
	if ours, err := i.mayWrite(ctx, st.ServiceUserID); err != nil || !ours {
		return err
	}
	scope := i.su.EffectiveScope()
	if current := roleIn(upstream, i.orgID, scope); current != i.role.ID {
		if _, err := i.api.UpdateServiceUserRole(ctx, devinapi.Scope(scope), i.orgID, st.ServiceUserID, i.role.ID); err != nil {
			return fmt.Errorf("set role of service user %s: %w", st.ServiceUserID, err)
		}
		if specChanged {
			i.recorder.Eventf(i.su, nil, corev1.EventTypeNormal, iamv1alpha1.EventRoleUpdated, "Update", "set role %s", i.role.Name)
		} else {
			i.recorder.Eventf(i.su, nil, corev1.EventTypeWarning, iamv1alpha1.EventRoleDriftRepaired, "Repair",
				"the role was changed upstream (to %q); set back to %s", current, i.role.Name)
		}
	}
	st.RoleID = i.role.ID
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

// deleteUpstream deletes the service user (and with it its keys) on deletion of the
// resource: the one on record, or the one an interrupted provisioning created.
func (i *serviceUserIssuer) deleteUpstream(ctx context.Context) error {
	id, err := i.serviceUserID(ctx)
	if err != nil || id == "" {
		return err
	}
	if ours, err := i.mayWrite(ctx, id); err != nil || !ours {
		return err // not provably this resource's: left upstream, reported
	}
	if err := i.api.DeleteServiceUser(ctx, id); err != nil && !devinapi.IsGone(err) {
		return fmt.Errorf("delete service user %s: %w", id, err)
	}
	i.recorder.Eventf(i.su, nil, corev1.EventTypeNormal, iamv1alpha1.EventServiceUserDeleted, "Delete",
		"deleted service user %s and its keys upstream", id)
	return nil
}

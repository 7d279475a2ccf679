package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/credential"
	"github.com/cogtokens/token-operator/internal/devinapi"
	"github.com/cogtokens/token-operator/internal/ttlcache"
)

// serviceUserIssuer is the upstream side of one ServiceUser: the service user itself, whose
// first key comes with its provisioning, and its API keys (all of which belong to the
// resource). It is built per reconcile.
type serviceUserIssuer struct {
	api      ServiceUserAPI
	recorder events.EventRecorder
	clock    clock.PassiveClock
	// marker proves which upstream service user is this resource's: its name ends with its marker (or a restored one).
	marker func() credential.Owner
	su     *iamv1alpha1.ServiceUser
	// role and orgID are what the spec asks for, resolved by the controller (unset when
	// the resource is being deleted).
	role  devinapi.Role
	orgID string
	// mayChangeRole is set when the tenancy policy allows the current spec: only then is a
	// role set upstream (a spec's new role, or the spec's role over a drift), since a role
	// is a privilege as much as a new key is.
	mayChangeRole bool
	// listing lists every service user, through a cache shared by the periodic checks; nil
	// reads each one by its ID.
	listing func(ctx context.Context) ([]devinapi.ServiceUser, error)
	// everIssued is set when the resource ever announced a create upstream: a provisioning
	// may then have landed without its answer.
	everIssued bool
	// searched is set once this reconcile has looked for the service user by its name: no
	// need to list them all again.
	searched bool
	// provisioned describes the service user provisioned by this reconcile's Issue ("" when
	// the key was created for an existing one): told in the issue's event.
	provisioned string
	// names caches the upstream names of service users by ID (shared, bounded); nil reads
	// them each time.
	names *ttlcache.Cache[string]
	// provenID is the recorded service user this reconcile proved to be the resource's;
	// unproven is set once one could not be (and was reported).
	provenID string
	unproven bool
}

var (
	_ credential.Issuer     = &serviceUserIssuer{}
	_ credential.IssueNoter = &serviceUserIssuer{}
)

// IssueNote says that the last Issue provisioned the service user with the key.
func (i *serviceUserIssuer) IssueNote() string { return i.provisioned }

// Prepare finds the service user by the name its intent reserved, when a provisioning was
// interrupted before its answer was recorded.
func (i *serviceUserIssuer) Prepare(ctx context.Context) error {
	_, err := i.serviceUserID(ctx)
	return err
}

// Issue provisions the service user when there is none (keeping the key that comes with
// it), else creates an API key.
func (i *serviceUserIssuer) Issue(ctx context.Context, name string, expiresAt time.Time) (*devinapi.IssuedKey, error) {
	id, err := i.serviceUserID(ctx)
	if err != nil {
		return nil, err
	}
	ours, err := i.mayWrite(ctx, id)
	if err != nil {
		return nil, err
	}
	if ours {
		return i.api.CreateServiceUserAPIKey(ctx, id, devinapi.CreateKeyRequest{Name: name, ExpiresAt: &expiresAt})
	}
	return i.provision(ctx)
}

// name is the upstream name of the resource's service user, derived from its UID and the
// cluster (never read back from status or anything else a tenant could influence).
func (i *serviceUserIssuer) name() string { return i.marker().ServiceUserName(i.su.DisplayName()) }

func (i *serviceUserIssuer) provision(ctx context.Context) (*devinapi.IssuedKey, error) {
	name := i.name()
	p, err := i.api.ProvisionServiceUser(ctx, devinapi.ProvisionServiceUserRequest{
		Scope: devinapi.Scope(i.su.EffectiveScope()), OrgID: i.orgID, Name: name, RoleID: i.role.ID, TTL: i.su.EffectiveTTL(),
	})
	if err != nil {
		return nil, fmt.Errorf("provision service user %q: %w", name, err)
	}
	i.adoptServiceUser(&p.ServiceUser)
	i.provisioned = fmt.Sprintf("provisioned service user %s (%s) with role %s", p.ServiceUser.ID, name, i.role.Name)
	// The backend does not say which key came with the service user: it is its only one.
	keys, err := i.api.ListServiceUserAPIKeys(ctx, p.ServiceUser.ID, devinapi.KeyStatusActive)
	if err != nil {
		return nil, fmt.Errorf("find the first key of service user %s: %w", p.ServiceUser.ID, err)
	}
	if len(keys) != 1 {
		return nil, fmt.Errorf("service user %s has %d active keys right after provisioning, want 1", p.ServiceUser.ID, len(keys))
	}
	k := keys[0]
	expires := k.ExpiresAt
	if expires == nil {
		expires = p.ServiceUser.ExpiresAt
	}
	return &devinapi.IssuedKey{ID: k.ID, Name: k.Name, ExpiresAt: expires, Token: p.Token}, nil
}

func (i *serviceUserIssuer) adoptServiceUser(u *devinapi.ServiceUser) {
	st := &i.su.Status
	st.ServiceUserID = u.ID
	st.ServiceUserName = u.Name
	st.PendingProvision = nil
	st.RoleID = i.role.ID
	st.ServiceUserExpiresAt = nil
	if u.ExpiresAt != nil {
		st.ServiceUserExpiresAt = &metav1.Time{Time: *u.ExpiresAt}
	}
}

// serviceUserID is the upstream ID: the one recorded (a service user named without the
// marker, made before names carried it, keeps working by it), or, when a provisioning may
// have landed without its answer (the resource announced creates before), the active
// service user whose name is this resource's (ends with its marker). Whatever else has a
// similar name is never adopted. "" when there is none upstream.
func (i *serviceUserIssuer) serviceUserID(ctx context.Context) (string, error) {
	st := &i.su.Status
	mayExist := st.PendingProvision != nil || i.everIssued
	if st.ServiceUserID != "" || !mayExist || i.searched {
		return st.ServiceUserID, nil
	}
	i.searched = true
	name := i.name()
	all, err := i.api.ListServiceUsers(ctx, false)
	if err != nil {
		return "", fmt.Errorf("look for service user %q: %w", name, err)
	}
	for _, u := range all {
		if u.Name == name && u.IsActive && i.marker().OwnsServiceUser(u.Name) {
			i.adoptServiceUser(&u)
			return u.ID, nil
		}
	}
	return "", nil
}

// mayWrite reports whether the service user status names (id) may be changed upstream: a
// key created for it, a key revoked, its role set, itself deleted. Only one whose name carries
// this resource's marker may: the only proof that the operator created it for this resource,
// since status may be written by others (a status writer could name anybody's service user,
// and have a key created for it land in this resource's Secret). One without it is read (its
// keys listed, so that the token it holds keeps being checked) and never changed: an earlier
// release's service user keeps serving until the next key create, which provisions one of the
// resource's own; a foreign one is left alone. Both are reported once per reconcile. One that
// no longer exists may be "written" (a call on it finds nothing).
func (i *serviceUserIssuer) mayWrite(ctx context.Context, id string) (bool, error) {
	if id == "" || id == i.provenID {
		return id != "", nil
	}
	name, ok := "", false
	if i.names != nil {
		name, ok = i.names.Get(id)
	}
	if !ok {
		u, err := i.lookUp(ctx, true)
		if err != nil {
			return false, fmt.Errorf("check service user %s: %w", id, err)
		}
		if u == nil {
			return true, nil
		}
		name = u.Name
		if i.names != nil {
			i.names.Set(id, name)
		}
	}
	if i.marker().OwnsServiceUser(name) {
		i.provenID = id
		return true, nil
	}
	if !i.unproven {
		i.unproven = true
		i.recorder.Eventf(i.su, nil, corev1.EventTypeWarning, iamv1alpha1.EventOwnershipUnproven, "Adopt",
			"service user %s (%.100q) does not carry this resource's marker in its name: the operator changes nothing of it upstream (no key, role, revocation or deletion); the next key comes from a service user of the resource's own", id, name)
		ctrl.LoggerFrom(ctx).Info("service user on record is not provably this resource's; changing nothing of it", "serviceUserID", id)
	}
	return false, nil
}

// Owned lists the service user's active keys: every one belongs to this resource.
func (i *serviceUserIssuer) Owned(ctx context.Context, _ bool) (credential.Listing, error) {
	at := i.clock.Now()
	id, err := i.serviceUserID(ctx)
	if err != nil || id == "" {
		return credential.Listing{At: at}, err
	}
	keys, err := i.api.ListServiceUserAPIKeys(ctx, id, devinapi.KeyStatusActive)
	if isNotFound(err) {
		return credential.Listing{At: at}, nil
	}
	if err != nil {
		return credential.Listing{}, err
	}
	return credential.Listing{Keys: keys, At: at}, nil
}

// Revoke revokes one key; one already gone (or whose service user is gone) is fine.
func (i *serviceUserIssuer) Revoke(ctx context.Context, id string) error {
	su, err := i.serviceUserID(ctx)
	if err != nil || su == "" {
		return err
	}
	if ours, err := i.mayWrite(ctx, su); err != nil || !ours {
		return err // not provably this resource's: left alone, the entry done with
	}
	if err := i.api.RevokeServiceUserAPIKey(ctx, su, id); err != nil && !devinapi.IsGone(err) {
		return err
	}
	return nil
}

// Revoked tells whether the key was revoked rather than expired.
func (i *serviceUserIssuer) Revoked(ctx context.Context, id string) (bool, error) {
	su, err := i.serviceUserID(ctx)
	if err != nil {
		return false, err
	}
	if su == "" {
		return true, nil
	}
	keys, err := i.api.ListServiceUserAPIKeys(ctx, su, devinapi.KeyStatusAll)
	if err != nil && !isNotFound(err) {
		return false, err
	}
	return revokedNotExpired(keys, id, i.clock.Now()), nil
}

// LastUsed is when the service user's key was last used, as the API reports it (nil when
// never). It makes the lifecycle wait for consumers to switch before revoking a key.
func (i *serviceUserIssuer) LastUsed(ctx context.Context, id string) (*time.Time, error) {
	su, err := i.serviceUserID(ctx)
	if err != nil || su == "" {
		return nil, err
	}
	keys, err := i.api.ListServiceUserAPIKeys(ctx, su, devinapi.KeyStatusActive)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if k.ID == id {
			return k.LastUsedAt, nil
		}
	}
	return nil, nil
}

var _ credential.UsageReporter = &serviceUserIssuer{}

// sweep deletes the service user of a ServiceUser deleted without its finalizer's work: the
// active one whose name carries its marker.
func (r *ServiceUserReconciler) sweep(ctx context.Context, key types.NamespacedName, t credential.Tombstone) error {
	stub := &iamv1alpha1.ServiceUser{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name, UID: t.UID}}
	stub.Status.RestoredFrom = t.RestoredFrom
	stub.Spec.AccountRef = t.Account
	marker := r.Lifecycle.Owner(stub)
	up, err := r.upstream(ctx, stub)
	if err != nil {
		return err
	}
	all, err := up.api.ListServiceUsers(ctx, false)
	if err != nil {
		return err
	}
	for _, u := range all {
		if !u.IsActive || !marker.OwnsServiceUser(u.Name) {
			continue
		}
		if err := up.api.DeleteServiceUser(ctx, u.ID); err != nil && !devinapi.IsGone(err) {
			return fmt.Errorf("delete service user %s: %w", u.ID, err)
		}
	}
	return nil
}

// AdoptRestored takes the service user a verified restore record names as the resource's,
// once its name proves it: active, and ending with one of the resource's owner markers (the
// lifecycle has put the record in status, so restored owners count). A service user gone, or
// named otherwise, is not adopted (nil undo).
func (i *serviceUserIssuer) AdoptRestored(ctx context.Context, rec credential.RestoreRecord) (func(), error) {
	if rec.ServiceUserID == "" {
		return nil, nil
	}
	u, err := i.api.GetServiceUser(ctx, rec.ServiceUserID)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("check restored service user %s: %w", rec.ServiceUserID, err)
	}
	if !u.IsActive || !i.marker().OwnsServiceUser(u.Name) {
		ctrl.LoggerFrom(ctx).Info("not adopting a restored service user: inactive, or its name carries none of the record's markers", "serviceUserID", u.ID)
		return nil, nil
	}
	before := i.su.Status.DeepCopy()
	i.adoptServiceUser(u)
	i.provenID = u.ID
	return func() {
		st := &i.su.Status
		st.ServiceUserID, st.ServiceUserName, st.PendingProvision = before.ServiceUserID, before.ServiceUserName, before.PendingProvision
		st.RoleID, st.ServiceUserExpiresAt = before.RoleID, before.ServiceUserExpiresAt
		i.provenID = ""
	}, nil
}

var _ credential.RestoreAdopter = &serviceUserIssuer{}

// Package tenancy applies the cluster administrators' CredentialPolicies to one resource, for
// both the admission webhook (which decides for the requester and seals the decision into the
// resource) and the controllers (which check that seal, and decide again for the recorded
// requester, before every upstream create: the policy holds with the webhook disabled). The
// decision itself is internal/policy's; this package gathers what it needs (the policies,
// the namespace's labels, the resolved user or role) and reads and writes the record.
package tenancy

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/account"
	"github.com/cogtokens/token-operator/internal/directory"
	"github.com/cogtokens/token-operator/internal/policy"
)

// Mode says how the policies are applied.
type Mode string

const (
	// Enforce refuses, at admission and before every create upstream, what no policy allows.
	Enforce Mode = "enforce"
	// Warn only warns (admission warnings, events): for a first rollout of policies.
	Warn Mode = "warn"
	// Off applies no policy: only the webhook's owner check remains (a PAT's owner, or a
	// member of --pat-admin-groups, may ask for it).
	Off Mode = "off"
)

// Keys gives the key ring that seals admission records (see KeySecret).
type Keys interface {
	KeyRing(ctx context.Context) (*policy.KeyRing, error)
}

// Gate applies the policies. Reader reads CredentialPolicies and namespaces (from the
// manager's cache); Reviewer answers RBAC questions; Directory resolves users and roles.
type Gate struct {
	Reader   client.Reader
	Reviewer *policy.SubjectAccessReviewer
	// Directory and DefaultOrganization are the default account's; Accounts, when set,
	// resolves the account a resource names (its directory, its default organization).
	Directory           *directory.Directory
	Accounts            Accounts
	Keys                Keys
	Mapping             policy.Mapping
	Mode                Mode
	DefaultOrganization string
	Clock               clock.PassiveClock
}

// Accounts resolves the account a resource acts through (account.Backends).
type Accounts interface {
	For(ctx context.Context, namespace string, ref *iamv1alpha1.AccountRef) (*account.Backend, error)
}

// Enforced reports whether a refusal refuses (Enforce), rather than warns.
func (g *Gate) Enforced() bool { return g.Mode == "" || g.Mode == Enforce }

// Off reports whether no policy applies.
func (g *Gate) Off() bool { return g == nil || g.Mode == Off }

// Decide judges obj's current spec for who.
func (g *Gate) Decide(ctx context.Context, obj client.Object, who policy.Requester) (policy.Decision, error) {
	req, err := g.request(ctx, obj, who)
	if err != nil {
		return policy.Decision{}, err
	}
	labels, err := g.namespaceLabels(ctx, obj.GetNamespace())
	if err != nil {
		return policy.Decision{}, err
	}
	req.NamespaceLabels = labels
	if req.AccountLabels, err = g.accountLabels(ctx, req.Account); err != nil {
		return policy.Decision{}, err
	}
	policies := &iamv1alpha1.CredentialPolicyList{}
	if err := g.Reader.List(ctx, policies); err != nil {
		return policy.Decision{}, fmt.Errorf("list CredentialPolicies: %w", err)
	}
	return policy.Decide(ctx, req, policies.Items, g.Reviewer.For(who, obj.GetNamespace())), nil
}

// request builds the policy request of obj: the PAT's owner email, or the ServiceUser's
// organization and role, resolved through the directory (cached, shared with the webhook).
func (g *Gate) request(ctx context.Context, obj client.Object, who policy.Requester) (policy.Request, error) {
	dir, defaultOrg, err := g.account(ctx, obj)
	if err != nil {
		return policy.Request{}, err
	}
	switch o := obj.(type) {
	case *iamv1alpha1.PersonalAccessToken:
		email := o.Spec.User.Email
		if email == "" && o.Status.UserID == o.Spec.User.ID {
			email = o.Status.UserEmail // resolved before; spares a lookup per check
		}
		if email == "" {
			u, err := dir.UserByID(ctx, o.Spec.User.ID)
			if err != nil {
				return policy.Request{}, fmt.Errorf("look up user %s: %w", o.Spec.User.ID, err)
			}
			email = u.Email
		}
		return policy.ForPersonalAccessToken(o, who, email), nil
	case *iamv1alpha1.ServiceUser:
		target, err := serviceUserTarget(ctx, o, dir, defaultOrg)
		if err != nil {
			return policy.Request{}, err
		}
		return policy.ForServiceUser(o, who, target), nil
	}
	return policy.Request{}, fmt.Errorf("no policy applies to %T", obj)
}

// account returns the directory and default organization of the account obj acts through.
func (g *Gate) account(ctx context.Context, obj client.Object) (*directory.Directory, string, error) {
	ref := accountRef(obj)
	if ref == nil || g.Accounts == nil {
		if ref != nil {
			return nil, "", fmt.Errorf("%w: %s: this operator serves only its default account", account.ErrNotReady, ref)
		}
		return g.Directory, g.DefaultOrganization, nil
	}
	b, err := g.Accounts.For(ctx, obj.GetNamespace(), ref)
	if err != nil {
		return nil, "", err
	}
	return b.Directory, b.DefaultOrganization, nil
}

// accountLabels are the labels of the ClusterDevinAccount ref names (for a policy's
// clusterAccountSelector); nil for any other account.
func (g *Gate) accountLabels(ctx context.Context, ref *iamv1alpha1.AccountRef) (map[string]string, error) {
	if ref == nil || ref.Kind != iamv1alpha1.KindClusterDevinAccount {
		return nil, nil
	}
	acc := &iamv1alpha1.ClusterDevinAccount{}
	if err := g.Reader.Get(ctx, client.ObjectKey{Name: ref.Name}, acc); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("read ClusterDevinAccount %s: %w", ref.Name, err)
	}
	return acc.Labels, nil
}

func accountRef(obj client.Object) *iamv1alpha1.AccountRef {
	if o, ok := obj.(interface {
		AccountReference() *iamv1alpha1.AccountRef
	}); ok {
		return o.AccountReference()
	}
	return nil
}

func serviceUserTarget(ctx context.Context, su *iamv1alpha1.ServiceUser, dir *directory.Directory, defaultOrg string) (policy.ServiceUserTarget, error) {
	t := policy.ServiceUserTarget{}
	if su.EffectiveScope() == iamv1alpha1.ScopeOrganization {
		t.OrganizationID = su.Spec.OrganizationID
		if t.OrganizationID == "" {
			t.OrganizationID, t.DefaultOrganization = defaultOrg, true
		}
	}
	roles, err := dir.Roles(ctx)
	if err != nil {
		return t, fmt.Errorf("list roles: %w", err)
	}
	if role, ok, _ := directory.MatchRole(roles, su.EffectiveScope().RoleType(), su.Spec.Role); ok {
		t.RoleID, t.RoleName = role.ID, role.Name
	} else {
		t.RoleName = su.Spec.Role // unknown: no policy lists it by ID
	}
	return t, nil
}

func (g *Gate) namespaceLabels(ctx context.Context, name string) (map[string]string, error) {
	ns := &metav1.PartialObjectMetadata{}
	ns.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	if err := g.Reader.Get(ctx, client.ObjectKey{Name: name}, ns); err != nil {
		return nil, fmt.Errorf("read namespace %s: %w", name, err)
	}
	return ns.GetLabels(), nil
}

// Seal is the admission record of obj's current spec, admitted for who by decision in the
// admission request requestUID: the value of the iam.devin.ai/admission annotation.
func (g *Gate) Seal(ctx context.Context, obj client.Object, who policy.Requester, decision policy.Decision, requestUID string) (string, error) {
	ring, err := g.Keys.KeyRing(ctx)
	if err != nil {
		return "", err
	}
	hash, err := policy.SpecHash(obj)
	if err != nil {
		return "", err
	}
	return ring.Seal(policy.Record{
		Kind: kindOf(obj), Namespace: obj.GetNamespace(), Name: obj.GetName(), SpecHash: hash,
		Policy: decision.Policy, User: who.User, Groups: who.Groups, UserUID: who.UID, Extra: who.Extra, Email: who.Email,
		UID: requestUID, At: g.now(),
	})
}

// ErrNotAdmitted is wrapped by Verify's error when obj carries no valid record for its
// current spec.
var ErrNotAdmitted = errors.New("not admitted")

// Verify opens obj's admission record and decides again, for the recorded requester, with
// the policies as they are now. A resource without a record that already held a token when
// Verify first judged it (admitted before the operator wrote records: an upgrade must strand
// no token) is allowed while its spec is the one it had then (status.unsealedSpecHash, which
// Verify records on that first sight). A resource judged before never becomes one: removing
// its record does not make it legacy.
func (g *Gate) Verify(ctx context.Context, obj client.Object, st *iamv1alpha1.CredentialStatus) (policy.Decision, error) {
	hash, err := policy.SpecHash(obj)
	if err != nil {
		return policy.Decision{}, err
	}
	value := obj.GetAnnotations()[iamv1alpha1.AdmissionAnnotation]
	judged := meta.FindStatusCondition(st.Conditions, iamv1alpha1.ConditionAdmitted) != nil
	if value == "" && st.Token != nil && (st.UnsealedSpecHash != "" || !judged) {
		if st.UnsealedSpecHash == "" {
			st.UnsealedSpecHash = hash
		}
		if st.UnsealedSpecHash == hash {
			return policy.Decision{Allowed: true, Message: "admitted by an earlier release, before admission records; its spec is unchanged since"}, nil
		}
	}
	ring, err := g.Keys.KeyRing(ctx)
	if err != nil {
		return policy.Decision{}, err
	}
	rec, err := ring.Open(value)
	if err == nil {
		err = rec.Check(kindOf(obj), obj.GetNamespace(), obj.GetName(), hash)
	}
	if err == nil {
		err = rec.CheckCreated(obj.GetCreationTimestamp().Time)
	}
	if err != nil {
		return policy.Decision{}, fmt.Errorf("%w: %w", ErrNotAdmitted, err)
	}
	return g.Decide(ctx, obj, rec.Requester())
}

func (g *Gate) now() time.Time {
	if g.Clock == nil {
		return clock.RealClock{}.Now()
	}
	return g.Clock.Now()
}

func kindOf(obj client.Object) policy.Kind {
	if _, ok := obj.(*iamv1alpha1.ServiceUser); ok {
		return policy.KindServiceUser
	}
	return policy.KindPersonalAccessToken
}

package webhook

import (
	"context"
	"errors"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/devinapi"
	"github.com/cogtokens/token-operator/internal/directory"
)

// The matchConditions keep away every UPDATE that changes neither the spec nor the recorded
// requester (finalizers, other annotations, labels) and every UPDATE of an object being
// deleted, so that finalizer removal never waits on this webhook or on the Devin API.
// +kubebuilder:webhook:path=/validate-iam-devin-ai-v1alpha1-personalaccesstoken,mutating=false,failurePolicy=Fail,sideEffects=None,groups=iam.devin.ai,resources=personalaccesstokens,verbs=create;update,versions=v1alpha1,name=vpersonalaccesstoken.iam.devin.ai,admissionReviewVersions=v1,timeoutSeconds=5,patch=`{"namespaceSelector":{"matchExpressions":[{"key":"kubernetes.io/metadata.name","operator":"NotIn","values":["token-operator-system"]}]},"matchConditions":[{"name":"not-being-deleted","expression":"request.operation == 'CREATE' || !has(oldObject.metadata.deletionTimestamp)"},{"name":"spec-or-requester-changed","expression":"request.operation != 'UPDATE' || object.spec != oldObject.spec || (has(object.metadata.annotations) && 'iam.devin.ai/requested-by' in object.metadata.annotations ? object.metadata.annotations['iam.devin.ai/requested-by'] : '') != (has(oldObject.metadata.annotations) && 'iam.devin.ai/requested-by' in oldObject.metadata.annotations ? oldObject.metadata.annotations['iam.devin.ai/requested-by'] : '')"}]}`

// personalAccessTokenValidator admits PersonalAccessTokens: a token acts as its owner, so only
// the owner (or a PAT admin) may ask for one, and only for an account the backend can issue
// one to. The closed beta feature flag is not checked: only the backend knows it, and the
// controller reports its refusal.
type personalAccessTokenValidator struct {
	lookup      *lookup
	adminGroups []string
	targets     *restartTargets
	// ownerByPolicy: the CredentialPolicies decide who may request whose token (the owner,
	// or a delegate they allow); otherwise (policies off) the owner check below decides.
	ownerByPolicy bool
}

var _ admission.Validator[*iamv1alpha1.PersonalAccessToken] = &personalAccessTokenValidator{}

// ValidateCreate checks, in order: the requester is recorded; the requester may ask for a
// token of this user; the user exists; the user is not linked to enterprise SSO. The owner
// check comes before the lookup when the spec names an email, so that a refused requester
// learns nothing about the account.
func (v *personalAccessTokenValidator) ValidateCreate(ctx context.Context, pat *iamv1alpha1.PersonalAccessToken) (admission.Warnings, error) {
	req, err := admission.RequestFromContext(ctx)
	if err != nil {
		return nil, err
	}
	requester := req.UserInfo.Username
	if err := checkRequestedBy(pat, requester); err != nil {
		return nil, decided(ctx, "requested-by", err)
	}
	admin := v.ownerByPolicy || inAnyGroup(req.UserInfo.Groups, v.adminGroups)
	ref := pat.Spec.User
	if !admin && ref.Email != "" && !devinapi.SameEmail(requester, ref.Email) {
		return nil, decided(ctx, "owner", v.notOwner(requester, ref.Email))
	}
	dir, err := v.lookup.directory(ctx, pat.Namespace, pat.Spec.AccountRef)
	if err != nil {
		return nil, decided(ctx, "account", err)
	}
	user, err := v.user(ctx, pat, dir)
	if err != nil {
		return nil, decided(ctx, "user", err)
	}
	if !admin && !devinapi.SameEmail(requester, user.Email) {
		// Name the user as the request did: a requester who gave an ID learns nothing more.
		return nil, decided(ctx, "owner", v.notOwner(requester, "user ID "+echo(ref.ID)))
	}
	if linked, why := dir.SSOLinked(user); linked {
		// Named as the request named it: an email the requester did not give stays unsaid.
		return nil, decided(ctx, "sso", fmt.Errorf("%s is linked to enterprise SSO (%s), and the Devin API issues no personal access tokens to SSO-linked accounts: create a ServiceUser instead (a non-human principal with a role and its own API key)", describeRef(ref), why))
	}
	if err := v.targets.check(ctx, pat.Namespace, pat.Spec.RolloutRestartTargets, nil, field.NewPath("spec", "rolloutRestartTargets")); err != nil {
		return nil, decided(ctx, "restart-targets", err)
	}
	return nil, decided(ctx, "create", nil)
}

// ValidateUpdate refuses a change of the recorded requester. Everything else of the spec that
// may not change is immutable by the CRD's rules; an object being deleted is never blocked.
func (v *personalAccessTokenValidator) ValidateUpdate(ctx context.Context, oldPAT, newPAT *iamv1alpha1.PersonalAccessToken) (admission.Warnings, error) {
	if beingDeleted(oldPAT, newPAT) {
		return nil, decided(ctx, "being-deleted", nil)
	}
	if err := checkRequestedByUnchanged(oldPAT, newPAT); err != nil {
		return nil, decided(ctx, "requested-by", err)
	}
	return nil, decided(ctx, "restart-targets", v.targets.check(ctx, newPAT.Namespace, newPAT.Spec.RolloutRestartTargets,
		oldPAT.Spec.RolloutRestartTargets, field.NewPath("spec", "rolloutRestartTargets")))
}

// ValidateDelete allows every deletion (the webhook is not registered for DELETE anyway).
func (v *personalAccessTokenValidator) ValidateDelete(context.Context, *iamv1alpha1.PersonalAccessToken) (admission.Warnings, error) {
	return nil, nil
}

// user looks up the user the spec names, by email or by ID.
func (v *personalAccessTokenValidator) user(ctx context.Context, pat *iamv1alpha1.PersonalAccessToken, dir *directory.Directory) (*devinapi.User, error) {
	ref := pat.Spec.User
	var path *field.Path
	var what string
	var find func(context.Context) (*devinapi.User, error)
	switch {
	case ref.Email != "" && ref.ID != "", ref.Email == "" && ref.ID == "":
		// The CRD already requires exactly one; without it, the owner check could be
		// made against one user and the token minted for another.
		return nil, invalidPAT(pat, field.Invalid(field.NewPath("spec", "user"), "", "exactly one of email or id must be set"))
	case ref.Email != "":
		path, what = field.NewPath("spec", "user", "email"), fmt.Sprintf("user %q", echo(ref.Email))
		find = func(ctx context.Context) (*devinapi.User, error) { return dir.UserByEmail(ctx, ref.Email) }
	default:
		path, what = field.NewPath("spec", "user", "id"), fmt.Sprintf("user ID %q", echo(ref.ID))
		find = func(ctx context.Context) (*devinapi.User, error) { return dir.UserByID(ctx, ref.ID) }
	}
	ctx, cancel := v.lookup.withTimeout(ctx)
	defer cancel()
	user, err := find(ctx)
	switch {
	case err == nil:
		return user, nil
	case errors.Is(err, devinapi.ErrNotFound):
		return nil, invalidPAT(pat, field.Invalid(path, echo(ref.Email+ref.ID), "no member of the Devin enterprise has it"))
	case errors.Is(err, devinapi.ErrInvalid):
		return nil, invalidPAT(pat, field.Invalid(path, echo(ref.Email+ref.ID), "the Devin API does not accept it as a user reference"))
	}
	ctrl.LoggerFrom(ctx).V(1).Info("Devin API lookup failed", "lookup", what, "error", err.Error())
	return nil, unverifiable(what, err, v.lookup.timeout)
}

// describeRef names the user as the spec does: by email, or by ID.
func describeRef(ref iamv1alpha1.UserReference) string {
	if ref.Email != "" {
		return echo(ref.Email)
	}
	return "user ID " + echo(ref.ID)
}

// notOwner is the refusal of a requester who is neither the owner nor a PAT admin.
func (v *personalAccessTokenValidator) notOwner(requester, owner string) error {
	who := "only its owner"
	if len(v.adminGroups) > 0 {
		who += " or a member of " + strings.Join(v.adminGroups, ", ")
	}
	return fmt.Errorf("%q may not create a PersonalAccessToken for %s: the token acts as its owner, so %s may request it", echo(requester), echo(owner), who)
}

func invalidPAT(pat *iamv1alpha1.PersonalAccessToken, errs ...*field.Error) error {
	return apierrors.NewInvalid(iamv1alpha1.GroupVersion.WithKind("PersonalAccessToken").GroupKind(), pat.Name, errs)
}

package webhook

import (
	"context"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/directory"
)

// The matchConditions keep away every UPDATE that leaves the spec alone (finalizers,
// annotations, labels) and every UPDATE of an object being deleted.
// +kubebuilder:webhook:path=/validate-iam-devin-ai-v1alpha1-serviceuser,mutating=false,failurePolicy=Fail,sideEffects=None,groups=iam.devin.ai,resources=serviceusers,verbs=create;update,versions=v1alpha1,name=vserviceuser.iam.devin.ai,admissionReviewVersions=v1,timeoutSeconds=5,patch=`{"namespaceSelector":{"matchExpressions":[{"key":"kubernetes.io/metadata.name","operator":"NotIn","values":["token-operator-system"]}]},"matchConditions":[{"name":"not-being-deleted","expression":"request.operation == 'CREATE' || !has(oldObject.metadata.deletionTimestamp)"},{"name":"spec-changed","expression":"request.operation != 'UPDATE' || object.spec != oldObject.spec"}]}`

// serviceUserValidator admits ServiceUsers whose role exists upstream for their scope and
// whose lifetime the backend accepts.
type serviceUserValidator struct {
	lookup  *lookup
	maxTTL  time.Duration
	targets *restartTargets
}

var _ admission.Validator[*iamv1alpha1.ServiceUser] = &serviceUserValidator{}

// ValidateCreate checks the TTL and the role.
func (v *serviceUserValidator) ValidateCreate(ctx context.Context, su *iamv1alpha1.ServiceUser) (admission.Warnings, error) {
	if err := v.checkTTL(su); err != nil {
		return nil, decided(ctx, "ttl", err)
	}
	if err := v.targets.check(ctx, su.Namespace, su.Spec.APIKey.RolloutRestartTargets, nil, field.NewPath("spec", "apiKey", "rolloutRestartTargets")); err != nil {
		return nil, decided(ctx, "restart-targets", err)
	}
	return nil, decided(ctx, "role", v.checkRole(ctx, su))
}

// ValidateUpdate checks what changed: the TTL, and the role (the only check that needs the
// Devin API) only when spec.role changed. An object being deleted is never blocked.
func (v *serviceUserValidator) ValidateUpdate(ctx context.Context, oldSU, newSU *iamv1alpha1.ServiceUser) (admission.Warnings, error) {
	if beingDeleted(oldSU, newSU) {
		return nil, decided(ctx, "being-deleted", nil)
	}
	if ttlOf(oldSU) != ttlOf(newSU) {
		if err := v.checkTTL(newSU); err != nil {
			return nil, decided(ctx, "ttl", err)
		}
	}
	if err := v.targets.check(ctx, newSU.Namespace, newSU.Spec.APIKey.RolloutRestartTargets, oldSU.Spec.APIKey.RolloutRestartTargets,
		field.NewPath("spec", "apiKey", "rolloutRestartTargets")); err != nil {
		return nil, decided(ctx, "restart-targets", err)
	}
	if oldSU.Spec.Role == newSU.Spec.Role {
		return nil, decided(ctx, "update", nil)
	}
	return nil, decided(ctx, "role", v.checkRole(ctx, newSU))
}

// ValidateDelete allows every deletion (the webhook is not registered for DELETE anyway).
func (v *serviceUserValidator) ValidateDelete(context.Context, *iamv1alpha1.ServiceUser) (admission.Warnings, error) {
	return nil, nil
}

// checkRole refuses a role that no role of the scope's type matches by ID or name, listing
// the roles that would.
func (v *serviceUserValidator) checkRole(ctx context.Context, su *iamv1alpha1.ServiceUser) error {
	want := su.Spec.Role
	ctx, cancel := v.lookup.withTimeout(ctx)
	defer cancel()
	dir, err := v.lookup.directory(ctx, su.Namespace, su.Spec.AccountRef)
	if err != nil {
		return err
	}
	roles, err := dir.Roles(ctx)
	if err != nil {
		what := fmt.Sprintf("role %q", echo(want))
		ctrl.LoggerFrom(ctx).V(1).Info("Devin API lookup failed", "lookup", what, "error", err.Error())
		return unverifiable(what, err, v.lookup.timeout)
	}
	scope := su.EffectiveScope()
	if _, ok, names := directory.MatchRole(roles, scope.RoleType(), want); !ok {
		kind := "organization"
		if scope == iamv1alpha1.ScopeEnterprise {
			kind = "enterprise (account-level)"
		}
		detail := fmt.Sprintf("no %s role has this name or ID; the %s roles are: %s", kind, kind, strings.Join(names, ", "))
		if len(names) == 0 {
			detail = fmt.Sprintf("the Devin API lists no %s roles", kind)
		}
		return invalidSU(su, field.Invalid(field.NewPath("spec", "role"), echo(want), detail))
	}
	return nil
}

// checkTTL repeats the CRD's bound on spec.ttl against the operator's configured limit, in
// case the two ever disagree.
func (v *serviceUserValidator) checkTTL(su *iamv1alpha1.ServiceUser) error {
	if ttl := ttlOf(su); ttl <= 0 || ttl > v.maxTTL {
		return invalidSU(su, field.Invalid(field.NewPath("spec", "ttl"), ttl.String(),
			fmt.Sprintf("must be positive and at most %s, the Devin API's limit on a service user's lifetime", v.maxTTL)))
	}
	return nil
}

// ttlOf is the lifetime the spec asks for: its own value when set (a zero or negative one is
// refused, not defaulted), the default otherwise.
func ttlOf(su *iamv1alpha1.ServiceUser) time.Duration {
	if su.Spec.TTL == nil {
		return su.EffectiveTTL()
	}
	return su.Spec.TTL.Duration
}

func invalidSU(su *iamv1alpha1.ServiceUser, errs ...*field.Error) error {
	return apierrors.NewInvalid(iamv1alpha1.GroupVersion.WithKind("ServiceUser").GroupKind(), su.Name, errs)
}

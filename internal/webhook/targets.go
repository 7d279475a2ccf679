package webhook

import (
	"context"
	"fmt"
	"reflect"
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

// SARCreator creates SubjectAccessReviews (a controller-runtime client does).
type SARCreator interface {
	Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error
}

// restartTargets refuses rolloutRestartTargets that the requester could not restart
// themselves: through the operator, nobody gains the power to restart a workload they may
// not patch (ESO's CVE-2024-45041 came from that kind of borrowed power).
type restartTargets struct {
	sar SARCreator
}

// workloadResources maps a target kind to the resource that patching it needs.
var workloadResources = map[string][2]string{
	"Deployment":  {"apps", "deployments"},
	"StatefulSet": {"apps", "statefulsets"},
	"DaemonSet":   {"apps", "daemonsets"},
	"Rollout":     {"argoproj.io", "rollouts"},
}

// check asks, for every target not already in old, whether the requester may patch it (by
// name, or every workload of the kind in the namespace for a selector).
func (r *restartTargets) check(ctx context.Context, ns string, targets, old []iamv1alpha1.RolloutRestartTarget, path *field.Path) error {
	var fresh []iamv1alpha1.RolloutRestartTarget
	for _, t := range targets {
		if !containsTarget(old, t) {
			fresh = append(fresh, t)
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	req, err := admission.RequestFromContext(ctx)
	if err != nil {
		return err
	}
	if r.sar == nil {
		return fmt.Errorf("cannot verify %s: the webhook has no client for SubjectAccessReviews", path)
	}
	var refused []string
	for _, t := range fresh {
		ok, err := r.allowed(ctx, req, ns, t)
		if err != nil {
			return fmt.Errorf("cannot verify %s: %w", path, err)
		}
		if !ok {
			refused = append(refused, describeTarget(t))
		}
	}
	if len(refused) > 0 {
		return fmt.Errorf("%s: %q may not patch %s in namespace %s, so may not have the operator restart it",
			path, echo(req.UserInfo.Username), strings.Join(refused, ", "), ns)
	}
	return nil
}

func (r *restartTargets) allowed(ctx context.Context, req admission.Request, ns string, t iamv1alpha1.RolloutRestartTarget) (bool, error) {
	res := workloadResources[t.Kind]
	extra := map[string]authorizationv1.ExtraValue{}
	for k, v := range req.UserInfo.Extra {
		extra[k] = authorizationv1.ExtraValue(v)
	}
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: req.UserInfo.Username, Groups: req.UserInfo.Groups, UID: req.UserInfo.UID, Extra: extra,
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: ns, Verb: "patch", Group: res[0], Resource: res[1], Name: t.Name,
		},
	}}
	if err := r.sar.Create(ctx, sar); err != nil {
		return false, fmt.Errorf("create SubjectAccessReview: %w", err)
	}
	return sar.Status.Allowed, nil
}

func containsTarget(list []iamv1alpha1.RolloutRestartTarget, t iamv1alpha1.RolloutRestartTarget) bool {
	for _, o := range list {
		if reflect.DeepEqual(o, t) {
			return true
		}
	}
	return false
}

func describeTarget(t iamv1alpha1.RolloutRestartTarget) string {
	if t.Name != "" {
		return t.Kind + "/" + echo(t.Name)
	}
	return "every " + t.Kind
}

package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"gomodules.xyz/jsonpatch/v2"
	admissionv1 "k8s.io/api/admission/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// The mutating webhook runs on CREATE only: the annotation records the creator once, and the
// validating webhook refuses any later change to it.
// +kubebuilder:webhook:path=/mutate-iam-devin-ai-v1alpha1-personalaccesstoken,mutating=true,failurePolicy=Fail,sideEffects=None,groups=iam.devin.ai,resources=personalaccesstokens,verbs=create,versions=v1alpha1,name=mpersonalaccesstoken.iam.devin.ai,admissionReviewVersions=v1,timeoutSeconds=5,reinvocationPolicy=Never,patch=`{"namespaceSelector":{"matchExpressions":[{"key":"kubernetes.io/metadata.name","operator":"NotIn","values":["token-operator-system"]}]}}`

// requestedByHandler sets the iam.devin.ai/requested-by annotation of a new
// PersonalAccessToken to the requester's user name, replacing whatever the request put there.
// It patches that one annotation and nothing else of the object.
type requestedByHandler struct{}

var _ admission.Handler = requestedByHandler{}

// Handle answers one admission request.
func (requestedByHandler) Handle(ctx context.Context, req admission.Request) admission.Response {
	log := ctrl.LoggerFrom(ctx).V(1)
	switch req.Operation {
	case admissionv1.Create:
	case admissionv1.Update, admissionv1.Delete, admissionv1.Connect:
		// Not registered for them: the requester is recorded once, at creation.
		return admission.Allowed("")
	default:
		return admission.Errored(http.StatusBadRequest, fmt.Errorf("unknown operation %q", echo(string(req.Operation))))
	}
	if req.Kind.Group != iamv1alpha1.GroupVersion.Group || req.Kind.Kind != "PersonalAccessToken" {
		return admission.Errored(http.StatusBadRequest, fmt.Errorf("expected a PersonalAccessToken, got %q", echo(req.Kind.String())))
	}
	requester := req.UserInfo.Username
	if requester == "" {
		log.Info("denied", "reason", "no user name")
		return admission.Denied("the request carries no user name: cannot record who requested this PersonalAccessToken")
	}
	var obj struct {
		Metadata *struct {
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(req.Object.Raw, &obj); err != nil {
		return admission.Errored(http.StatusBadRequest, fmt.Errorf("decode the PersonalAccessToken: %w", err))
	}
	if obj.Metadata == nil {
		return admission.Errored(http.StatusBadRequest, errors.New("the PersonalAccessToken has no metadata"))
	}
	if v, ok := obj.Metadata.Annotations[iamv1alpha1.RequestedByAnnotation]; ok && v == requester {
		return admission.Allowed("")
	}
	op := jsonpatch.NewOperation("add", "/metadata/annotations/"+escapeJSONPointer(iamv1alpha1.RequestedByAnnotation), requester)
	if obj.Metadata.Annotations == nil {
		op = jsonpatch.NewOperation("add", "/metadata/annotations", map[string]string{iamv1alpha1.RequestedByAnnotation: requester})
	}
	log.Info("recorded the requester", "annotation", iamv1alpha1.RequestedByAnnotation)
	return admission.Patched("", op)
}

// escapeJSONPointer escapes one reference token of a JSON pointer (RFC 6901).
func escapeJSONPointer(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

// requestedBy is the requester recorded on an object; absent and empty are the same, as in
// the webhook configuration's matchConditions.
func requestedBy(pat *iamv1alpha1.PersonalAccessToken) string {
	return pat.GetAnnotations()[iamv1alpha1.RequestedByAnnotation]
}

// checkRequestedBy refuses a new PersonalAccessToken whose annotation does not name the
// requester: the mutating webhook sets it, so a mismatch means that webhook did not run.
func checkRequestedBy(pat *iamv1alpha1.PersonalAccessToken, requester string) error {
	if requester == "" {
		return errors.New("the request carries no user name: cannot tell who requests this PersonalAccessToken")
	}
	if got := requestedBy(pat); got != requester {
		return fmt.Errorf("annotation %s must name the requester %q but is %q: the mutating webhook mpersonalaccesstoken.iam.devin.ai, which sets it, did not run; check that token-operator's MutatingWebhookConfiguration is installed",
			iamv1alpha1.RequestedByAnnotation, echo(requester), echo(got))
	}
	return nil
}

// checkRequestedByUnchanged refuses an update that changes or removes the recorded requester.
func checkRequestedByUnchanged(oldPAT, newPAT *iamv1alpha1.PersonalAccessToken) error {
	if was, is := requestedBy(oldPAT), requestedBy(newPAT); was != is {
		return fmt.Errorf("annotation %s records who created this PersonalAccessToken (%q) and cannot be changed or removed (got %q)",
			iamv1alpha1.RequestedByAnnotation, echo(was), echo(is))
	}
	return nil
}

// inAnyGroup reports whether one of groups is one of want.
func inAnyGroup(groups, want []string) bool {
	return slices.ContainsFunc(groups, func(g string) bool { return slices.Contains(want, g) })
}

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

// requestedByHandler sets the iam.devin.ai/requested-by annotation of a new
// PersonalAccessToken to the requester's user name, replacing whatever the request put there.
// It patches that one annotation and nothing else of the object.
//
// madmission records the requester itself (one webhook, no reinvocation: see
// admissionRecorder); this handler is served at MutatePersonalAccessTokenPath for a
// MutatingWebhookConfiguration that still names it (an upgrade replaces the configuration and
// the Deployment at different moments), so that creates are not refused in between. It has
// no marker: the configuration generated from this code does not call it.
type requestedByHandler struct{}

var _ admission.Handler = requestedByHandler{}

// Handle answers one admission request.
func (requestedByHandler) Handle(ctx context.Context, req admission.Request) admission.Response {
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
	op, refused := requestedByOp(ctx, req)
	if refused != nil {
		return *refused
	}
	if op == nil {
		return admission.Allowed("")
	}
	return admission.Patched("", *op)
}

// requestedByOp is the patch that records the requester of a PersonalAccessToken's CREATE
// (nil when the object already names them), or the answer that refuses the request: it
// carries no user name, or is not an object with metadata.
func requestedByOp(ctx context.Context, req admission.Request) (*jsonpatch.Operation, *admission.Response) {
	log := ctrl.LoggerFrom(ctx).V(1)
	requester := req.UserInfo.Username
	if requester == "" {
		log.Info("denied", "reason", "no user name")
		r := admission.Denied("the request carries no user name: cannot record who requested this PersonalAccessToken")
		return nil, &r
	}
	var obj struct {
		Metadata *struct {
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(req.Object.Raw, &obj); err != nil {
		r := admission.Errored(http.StatusBadRequest, fmt.Errorf("decode the PersonalAccessToken: %w", err))
		return nil, &r
	}
	if obj.Metadata == nil {
		r := admission.Errored(http.StatusBadRequest, errors.New("the PersonalAccessToken has no metadata"))
		return nil, &r
	}
	if v, ok := obj.Metadata.Annotations[iamv1alpha1.RequestedByAnnotation]; ok && v == requester {
		return nil, nil
	}
	op := jsonpatch.NewOperation("add", "/metadata/annotations/"+escapeJSONPointer(iamv1alpha1.RequestedByAnnotation), requester)
	if obj.Metadata.Annotations == nil {
		op = jsonpatch.NewOperation("add", "/metadata/annotations", map[string]string{iamv1alpha1.RequestedByAnnotation: requester})
	}
	log.Info("recorded the requester", "annotation", iamv1alpha1.RequestedByAnnotation)
	return &op, nil
}

// withRequestedBy adds the requester's op to an allowing response. A response that adds the
// annotations map already gets the requester as one more key of it, after that op: two
// ops adding the whole map would keep only the second.
func withRequestedBy(resp admission.Response, op *jsonpatch.Operation) admission.Response {
	if op == nil || !resp.Allowed {
		return resp
	}
	if op.Path == "/metadata/annotations" {
		for _, o := range resp.Patches {
			if o.Path == "/metadata/annotations" {
				rb := op.Value.(map[string]string)[iamv1alpha1.RequestedByAnnotation]
				*op = jsonpatch.NewOperation("add", "/metadata/annotations/"+escapeJSONPointer(iamv1alpha1.RequestedByAnnotation), rb)
				break
			}
		}
	}
	resp.Patches = append(resp.Patches, *op)
	if resp.PatchType == nil {
		pt := admissionv1.PatchTypeJSONPatch
		resp.PatchType = &pt
	}
	return resp
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
		return fmt.Errorf("annotation %s must name the requester %q but is %q: the mutating webhook madmission.iam.devin.ai, which sets it, did not run; check that token-operator's MutatingWebhookConfiguration is installed",
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

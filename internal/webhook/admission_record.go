package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"gomodules.xyz/jsonpatch/v2"
	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/policy"
	"github.com/cogtokens/token-operator/internal/tenancy"
)

// The admission record is written on CREATE and on every UPDATE that changes the spec, for
// both kinds (and the requester of a new PersonalAccessToken with it); the API server calls the webhook again if a later mutation changes the spec.
// An UPDATE that changes the record and nothing of the spec (a person asking that the
// resource be admitted again) is recorded when the requester is allowed, and never refused;
// other metadata-only updates (the operator's finalizer, kubectl annotate) do not call it.
// +kubebuilder:webhook:path=/mutate-iam-devin-ai-v1alpha1-admission,mutating=true,failurePolicy=Fail,sideEffects=None,groups=iam.devin.ai,resources=personalaccesstokens;serviceusers,verbs=create;update,versions=v1alpha1,name=madmission.iam.devin.ai,admissionReviewVersions=v1,timeoutSeconds=5,reinvocationPolicy=IfNeeded,patch=`{"namespaceSelector":{"matchExpressions":[{"key":"kubernetes.io/metadata.name","operator":"NotIn","values":["token-operator-system"]}]},"matchConditions":[{"name":"not-being-deleted","expression":"request.operation == 'CREATE' || !has(oldObject.metadata.deletionTimestamp)"},{"name":"spec-or-record-changed","expression":"request.operation != 'UPDATE' || object.spec != oldObject.spec || (has(object.metadata.annotations) && 'iam.devin.ai/admission' in object.metadata.annotations ? object.metadata.annotations['iam.devin.ai/admission'] : '') != (has(oldObject.metadata.annotations) && 'iam.devin.ai/admission' in oldObject.metadata.annotations ? oldObject.metadata.annotations['iam.devin.ai/admission'] : '')"}]}`

// admissionRecorder applies the CredentialPolicies to the requester and the new spec, and
// seals the decision into the iam.devin.ai/admission annotation, which the controllers check
// (and decide again on) before every upstream create. What no policy allows is refused here
// (enforce) or only warned about (warn).
type admissionRecorder struct {
	gate    *tenancy.Gate
	decoder admission.Decoder
	lookup  *lookup
}

var _ admission.Handler = &admissionRecorder{}

// Handle answers one admission request. The CREATE of a PersonalAccessToken also records its
// requester (iam.devin.ai/requested-by), whatever the policy mode, in the same patch: a second
// mutating webhook would make the API server call this one again (reinvocationPolicy
// IfNeeded), and every call of either is a round trip of the create.
func (h *admissionRecorder) Handle(ctx context.Context, req admission.Request) admission.Response {
	if req.Operation != admissionv1.Create || req.Kind.Kind != "PersonalAccessToken" {
		return h.decide(ctx, req)
	}
	op, refused := requestedByOp(ctx, req)
	if refused != nil {
		if !refused.Allowed && refused.Result != nil && refused.Result.Code == http.StatusBadRequest {
			// Not an object with metadata: the schema refuses it, naming what is wrong.
			return h.decide(ctx, req)
		}
		return *refused
	}
	return withRequestedBy(h.decide(ctx, req), op)
}

// decide applies the CredentialPolicies and seals the verdict (see admissionRecorder).
func (h *admissionRecorder) decide(ctx context.Context, req admission.Request) admission.Response {
	if h.gate.Off() || (req.Operation != admissionv1.Create && req.Operation != admissionv1.Update) {
		return admission.Allowed("")
	}
	if req.Kind.Kind != "PersonalAccessToken" && req.Kind.Kind != "ServiceUser" {
		return admission.Errored(http.StatusBadRequest, fmt.Errorf("expected a PersonalAccessToken or a ServiceUser, got %q", echo(req.Kind.Kind)))
	}
	obj, err := h.decode(req)
	if err != nil || incomplete(obj) {
		// Malformed: a duration that does not parse, a required field missing. Mutating
		// webhooks run before the API server validates the object against its schema; that
		// validation refuses it, naming the field, once it is passed on unsealed. (Should it
		// pass, it carries no record: the controllers act on nothing it asks.)
		return admission.Allowed("")
	}
	same, oldRecord, err := h.specUnchanged(req, obj)
	switch {
	case err != nil:
		return admission.Errored(http.StatusBadRequest, err)
	case same && obj.GetAnnotations()[iamv1alpha1.AdmissionAnnotation] == oldRecord:
		return admission.Allowed("") // the same spec, perhaps written another way ("1h" as "1h0m0s")
	case same:
		return h.readmit(ctx, req, obj, oldRecord)
	}
	who := h.requester(req)
	lctx, cancel := h.lookup.withTimeout(ctx)
	defer cancel()
	d, err := h.gate.Decide(lctx, obj, who)
	if err != nil {
		return errorResponse(decided(ctx, "policy", unverifiable(fmt.Sprintf("the CredentialPolicies for %s", echo(req.Name)), err, h.lookup.timeout)))
	}
	warnings := d.Warnings
	if !d.Allowed {
		switch {
		case d.Err != nil && h.gate.Enforced():
			return errorResponse(decided(ctx, "policy", unverifiable("the CredentialPolicies (RBAC)", d.Err, h.lookup.timeout)))
		case h.gate.Enforced():
			_ = decided(ctx, "policy", fmt.Errorf("%s", d.Message))
			return admission.Denied(d.Message).WithWarnings(warnings...)
		}
		warnings = append(warnings, "no CredentialPolicy allows this (--policy-mode=warn, so it is admitted): "+d.Message)
	}
	return h.seal(ctx, req, obj, who, d, warnings)
}

// readmit answers an UPDATE that changes (or removes) the record and nothing of the spec: a
// person asks that the resource be admitted again, for its current spec (one created while
// the webhook was away, say). Recorded when a policy allows it for the requester; otherwise
// the record is left as it was, with a warning saying why: never refused, so that nobody
// depends on the webhook for anything but credentials.
func (h *admissionRecorder) readmit(ctx context.Context, req admission.Request, obj client.Object, oldRecord string) admission.Response {
	who := h.requester(req)
	lctx, cancel := h.lookup.withTimeout(ctx)
	defer cancel()
	d, err := h.gate.Decide(lctx, obj, who)
	switch {
	case err != nil:
		return h.keep(obj, oldRecord).WithWarnings("the admission record was left as it was: " + err.Error())
	case !d.Allowed:
		return h.keep(obj, oldRecord).WithWarnings(append(d.Warnings, "the admission record was left as it was: "+d.Message)...)
	}
	return h.seal(ctx, req, obj, who, d, d.Warnings)
}

func (h *admissionRecorder) requester(req admission.Request) policy.Requester {
	return h.gate.Mapping.Requester(req.UserInfo.Username, req.UserInfo.UID, req.UserInfo.Groups, extraOf(req.UserInfo.Extra))
}

func (h *admissionRecorder) seal(ctx context.Context, req admission.Request, obj client.Object, who policy.Requester, d policy.Decision, warnings []string) admission.Response {
	sealed, err := h.gate.Seal(ctx, obj, who, d, string(req.UID))
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, fmt.Errorf("seal the admission record: %w", err))
	}
	_ = decided(ctx, "policy", nil)
	resp := h.patch(obj, sealed)
	if req.Operation == admissionv1.Create {
		resp = withFinalizer(resp, obj)
	}
	return resp.WithWarnings(warnings...)
}

// specUnchanged reports whether an UPDATE leaves the spec as it was, once decoded (the API
// server's matchCondition compares the raw JSON, which a typed client rewrites), and the
// record the resource had.
func (h *admissionRecorder) specUnchanged(req admission.Request, obj client.Object) (same bool, oldRecord string, err error) {
	if req.Operation != admissionv1.Update || len(req.OldObject.Raw) == 0 {
		return false, "", nil
	}
	old := obj.DeepCopyObject().(client.Object)
	if err := h.decoder.DecodeRaw(req.OldObject, old); err != nil {
		return false, "", fmt.Errorf("decode the %s as it was: %w", req.Kind.Kind, err)
	}
	was, err := policy.SpecHash(old)
	if err != nil {
		return false, "", err
	}
	is, err := policy.SpecHash(obj)
	return err == nil && was == is, old.GetAnnotations()[iamv1alpha1.AdmissionAnnotation], err
}

// incomplete reports whether obj lacks what the schema requires for a policy to decide on
// it: a PersonalAccessToken's user, a ServiceUser's role.
func incomplete(obj client.Object) bool {
	switch o := obj.(type) {
	case *iamv1alpha1.PersonalAccessToken:
		return o.Spec.User.Email == "" && o.Spec.User.ID == ""
	case *iamv1alpha1.ServiceUser:
		return o.Spec.Role == ""
	}
	return false
}

func (h *admissionRecorder) decode(req admission.Request) (client.Object, error) {
	var obj client.Object
	switch req.Kind.Kind {
	case "PersonalAccessToken":
		obj = &iamv1alpha1.PersonalAccessToken{}
	case "ServiceUser":
		obj = &iamv1alpha1.ServiceUser{}
	default:
		return nil, fmt.Errorf("expected a PersonalAccessToken or a ServiceUser, got %q", echo(req.Kind.Kind))
	}
	if err := h.decoder.DecodeRaw(req.Object, obj); err != nil {
		return nil, fmt.Errorf("decode the %s: %w", req.Kind.Kind, err)
	}
	return obj, nil
}

// patch sets the record annotation and nothing else of the object.
func (h *admissionRecorder) patch(obj client.Object, sealed string) admission.Response {
	if obj.GetAnnotations()[iamv1alpha1.AdmissionAnnotation] == sealed {
		return admission.Allowed("")
	}
	op := jsonpatch.NewOperation("add", "/metadata/annotations/"+escapeJSONPointer(iamv1alpha1.AdmissionAnnotation), sealed)
	if obj.GetAnnotations() == nil {
		op = jsonpatch.NewOperation("add", "/metadata/annotations", map[string]string{iamv1alpha1.AdmissionAnnotation: sealed})
	}
	return admission.Patched("", op)
}

// withFinalizer adds the operator's finalizer to a create's patch, so that the resource has
// it from the start at no extra write (the controllers add it on their first reconcile when
// the webhook did not): deleting it at any point later revokes its credentials.
func withFinalizer(resp admission.Response, obj client.Object) admission.Response {
	if controllerutil.ContainsFinalizer(obj, iamv1alpha1.Finalizer) {
		return resp
	}
	op := jsonpatch.NewOperation("add", "/metadata/finalizers/-", iamv1alpha1.Finalizer)
	if len(obj.GetFinalizers()) == 0 {
		op = jsonpatch.NewOperation("add", "/metadata/finalizers", []string{iamv1alpha1.Finalizer})
	}
	resp.Patches = append(resp.Patches, op)
	if resp.PatchType == nil {
		pt := admissionv1.PatchTypeJSONPatch
		resp.PatchType = &pt
	}
	return resp
}

// keep puts the record back as it was ("" : none) on an object whose request changed it.
func (h *admissionRecorder) keep(obj client.Object, oldRecord string) admission.Response {
	path := "/metadata/annotations/" + escapeJSONPointer(iamv1alpha1.AdmissionAnnotation)
	_, has := obj.GetAnnotations()[iamv1alpha1.AdmissionAnnotation]
	switch {
	case oldRecord != "":
		return h.patch(obj, oldRecord)
	case has:
		return admission.Patched("", jsonpatch.NewOperation("remove", path, nil))
	}
	return admission.Allowed("")
}

func extraOf(extra map[string]authenticationv1.ExtraValue) map[string][]string {
	if len(extra) == 0 {
		return nil
	}
	out := make(map[string][]string, len(extra))
	for k, v := range extra {
		out[k] = []string(v)
	}
	return out
}

// errorResponse turns a denial built as an API error into the admission answer.
func errorResponse(err error) admission.Response {
	var s apierrors.APIStatus
	if errors.As(err, &s) {
		st := s.Status()
		return admission.Response{AdmissionResponse: admissionv1.AdmissionResponse{Allowed: false, Result: &st}}
	}
	return admission.Errored(http.StatusInternalServerError, err)
}

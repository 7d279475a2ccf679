package tenancy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/credential"
)

var _ credential.Admission = &Gate{}

// Admit is the controllers' check, before every create upstream: the resource's admission
// record (or, for one that held a token before the operator wrote records, its unchanged
// spec) and the policies as they are now, for the requester the record names.
func (g *Gate) Admit(ctx context.Context, obj credential.Object) credential.AdmissionResult {
	if g.Off() {
		return credential.AdmissionResult{Allowed: true, Enforced: true, Off: true}
	}
	res := credential.AdmissionResult{Enforced: g.Enforced()}
	d, err := g.Verify(ctx, obj, obj.CredentialStatus())
	switch {
	case errors.Is(err, ErrNotAdmitted):
		res.Reason = iamv1alpha1.ReasonNotAdmitted
		res.Message = "the resource has no valid admission record for its current spec (" + err.Error() +
			"): it was created or changed while the operator's admission webhook was not in the way; nothing is minted for it " +
			"until it is admitted through the webhook again (change its spec, or its iam.devin.ai/admission annotation, as someone a CredentialPolicy allows)"
		return res
	case err != nil:
		res.Err = err
		return res
	case !d.Allowed && d.Err != nil:
		res.Err = d.Err
		return res
	case !d.Allowed:
		res.Reason, res.Message = iamv1alpha1.ReasonPolicyDenied, d.Message
		return res
	}
	res.Allowed, res.Policy = true, d.Policy
	if d.Policy != "" {
		reissue := d.OnUpstreamRevocation == iamv1alpha1.UpstreamRevocationReissue
		res.ReissueRevoked = &reissue
	}
	return res
}

// Fingerprint sums up what a verdict on obj depends on, besides RBAC: the mode, the spec
// (generation), the admission record, what marks a resource admitted before records, the
// policies (names, generations, deletion), the namespace's labels and the labels of the
// ClusterDevinAccount it names. Read from the cache: no request to the API server.
func (g *Gate) Fingerprint(ctx context.Context, obj credential.Object) (string, error) {
	h := sha256.New()
	st := obj.CredentialStatus()
	fmt.Fprintf(h, "%s\x00%s\x00%d\x00%s\x00%s\x00%t\x00%t\x00", g.Mode, obj.GetUID(), obj.GetGeneration(),
		obj.GetAnnotations()[iamv1alpha1.AdmissionAnnotation], st.UnsealedSpecHash, st.Token != nil,
		meta.FindStatusCondition(st.Conditions, iamv1alpha1.ConditionAdmitted) != nil)
	if g.Off() {
		return hex.EncodeToString(h.Sum(nil)), nil
	}
	policies := &iamv1alpha1.CredentialPolicyList{}
	if err := g.Reader.List(ctx, policies); err != nil {
		return "", fmt.Errorf("list CredentialPolicies: %w", err)
	}
	names := make([]string, 0, len(policies.Items))
	for _, p := range policies.Items {
		names = append(names, fmt.Sprintf("%s/%d/%t", p.Name, p.Generation, p.DeletionTimestamp != nil))
	}
	slices.Sort(names)
	labels, err := g.namespaceLabels(ctx, obj.GetNamespace())
	if err != nil {
		return "", err
	}
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		fmt.Fprintf(h, "label\x00%s\x00%s\x00", k, labels[k])
	}
	accountLabels, err := g.accountLabels(ctx, accountRef(obj))
	if err != nil {
		return "", err
	}
	for _, k := range slices.Sorted(maps.Keys(accountLabels)) {
		fmt.Fprintf(h, "account-label\x00%s\x00%s\x00", k, accountLabels[k])
	}
	fmt.Fprintf(h, "policies\x00%s", strings.Join(names, "\x00"))
	return hex.EncodeToString(h.Sum(nil)), nil
}

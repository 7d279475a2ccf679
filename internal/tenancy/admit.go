package tenancy

import (
	"context"
	"errors"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/credential"
)

var _ credential.Admission = &Gate{}

// Admit is the controllers' check, before every create upstream: the resource's admission
// record (or, for one admitted by an earlier release, its unchanged spec) and the policies
// as they are now, for the requester the record names.
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

package kubectldevin

import (
	"time"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/policy"
)

// admissionReport is who asked for the resource and which policy admitted it.
type admissionReport struct {
	// Policy is status.policy: the CredentialPolicy that allows the current spec, as the
	// operator last decided.
	Policy string `json:"policy,omitempty"`
	// RequestedBy is the iam.devin.ai/requested-by annotation (PersonalAccessTokens).
	RequestedBy string `json:"requestedBy,omitempty"`
	// Record is the admission record as written; the plugin holds no key to check its seal
	// (the operator does, and says so in the Admitted condition).
	Record *recordReport `json:"record,omitempty"`
	// RecordProblem says why no record is shown.
	RecordProblem string `json:"recordProblem,omitempty"`
}

// recordReport is what the admission record says.
type recordReport struct {
	User       string    `json:"user"`
	Groups     []string  `json:"groups,omitempty"`
	Email      string    `json:"email,omitempty"`
	Policy     string    `json:"policy"`
	At         time.Time `json:"at"`
	RequestUID string    `json:"requestUID"`
}

func admissionOf(obj credentialObject) admissionReport {
	rep := admissionReport{
		Policy:      obj.CredentialStatus().Policy,
		RequestedBy: obj.GetAnnotations()[iamv1alpha1.RequestedByAnnotation],
	}
	rec, err := policy.Unverified(obj.GetAnnotations()[iamv1alpha1.AdmissionAnnotation])
	if err != nil {
		rep.RecordProblem = err.Error() + " (" + iamv1alpha1.AdmissionAnnotation + ")"
		return rep
	}
	rep.Record = &recordReport{User: rec.User, Groups: rec.Groups, Email: rec.Email, Policy: rec.Policy, At: rec.At, RequestUID: rec.UID}
	return rep
}

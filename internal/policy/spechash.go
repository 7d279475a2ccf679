package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// SpecHash is "sha256:<hex>" of the canonical JSON of a ServiceUser's or
// PersonalAccessToken's whole spec: the encoding of its Go type (fields in declaration
// order, map keys sorted, durations normalised, so "60m" and "1h" hash alike). Every spec
// field counts, policy-relevant or not, so that no later field escapes the record; metadata
// (labels, annotations, the admission record itself) and status do not. Both the webhook and
// the controller see specs with the CRD's defaults applied, so they hash alike; a new
// defaulted spec field in a later release changes the hash of existing resources.
func SpecHash(obj runtime.Object) (string, error) {
	var spec any
	switch o := obj.(type) {
	case *iamv1alpha1.ServiceUser:
		spec = &o.Spec
	case *iamv1alpha1.PersonalAccessToken:
		spec = &o.Spec
	default:
		return "", fmt.Errorf("spec hash: unsupported object %T", obj)
	}
	raw, err := json.Marshal(spec)
	if err != nil {
		return "", fmt.Errorf("spec hash: %w", err)
	}
	sum := sha256.Sum256(raw)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

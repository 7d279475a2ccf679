// Package v1alpha1 contains the v1alpha1 API of the iam.devin.ai group: ServiceUser and
// PersonalAccessToken, the Devin API credentials that token-operator manages, and
// CredentialPolicy, which says what may be minted where and for whom. It owns the static
// rules (CEL in the CRDs), the condition types, reasons and events, and the annotations the
// operator and its webhooks read and write.
// +kubebuilder:object:generate=true
// +groupName=iam.devin.ai
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of this API.
	GroupVersion = schema.GroupVersion{Group: "iam.devin.ai", Version: "v1alpha1"}

	// SchemeBuilder registers the types of this API with a scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the types of this API to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion,
		&PersonalAccessToken{}, &PersonalAccessTokenList{},
		&ServiceUser{}, &ServiceUserList{},
		&DevinAccount{}, &DevinAccountList{}, &ClusterDevinAccount{}, &ClusterDevinAccountList{},
	)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}

// Package v1alpha1 contains the v1alpha1 API of the iam.devin.ai group: ServiceUser and
// PersonalAccessToken, the Devin API credentials that token-operator manages.
// +kubebuilder:object:generate=true
// +groupName=iam.devin.ai
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of this API.
	GroupVersion = schema.GroupVersion{Group: "iam.devin.ai", Version: "v1alpha1"}

	// SchemeBuilder registers the types of this API with a scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the types of this API to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

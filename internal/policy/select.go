package policy

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// Selects reports whether policy p selects the namespace with the given labels: the
// namespace matches spec.namespaceSelector AND, if spec.namespaces is set, is listed there.
// The label kubernetes.io/metadata.name is assumed when nsLabels lacks it, as the API server
// sets it on every namespace. The error says why the selector is invalid.
func Selects(p *iamv1alpha1.CredentialPolicy, namespace string, nsLabels map[string]string) (bool, error) {
	if namespace == "" {
		return false, nil
	}
	if len(p.Spec.Namespaces) > 0 && !slices.Contains(p.Spec.Namespaces, namespace) {
		return false, nil
	}
	sel, err := selector(&p.Spec)
	if err != nil {
		return false, err
	}
	set := labels.Set(nsLabels)
	if _, ok := set[corev1.LabelMetadataName]; !ok {
		set = maps.Clone(set)
		if set == nil {
			set = labels.Set{}
		}
		set[corev1.LabelMetadataName] = namespace
	}
	return sel.Matches(set), nil
}

// Validate returns what makes a policy unusable beyond what the CRD's rules refuse (the
// controller reports it in the policy's Ready condition); such a policy allows nothing.
func Validate(p *iamv1alpha1.CredentialPolicy) error {
	_, err := selector(&p.Spec)
	return err
}

func selector(spec *iamv1alpha1.CredentialPolicySpec) (labels.Selector, error) {
	sel, err := metav1.LabelSelectorAsSelector(spec.NamespaceSelector.LabelSelector())
	if err != nil {
		return nil, fmt.Errorf("its namespaceSelector is invalid: %w", err)
	}
	return sel, nil
}

// NamespaceSummary describes the namespaces a policy selects, for status.namespaces (the
// NAMESPACES column): "all", the listed names, the selector, or names and selector
// ("team-a, team-b (tenant in (a,b))").
func NamespaceSummary(spec *iamv1alpha1.CredentialPolicySpec) string {
	sel := "<invalid selector>"
	if s, err := selector(spec); err == nil {
		sel = s.String()
	}
	names := ""
	if len(spec.Namespaces) > 0 {
		names = strings.Trim(listOf(spec.Namespaces), "[]")
	}
	switch {
	case names == "" && sel == "":
		return "all"
	case names == "":
		return sel
	case sel == "":
		return names
	}
	return names + " (" + sel + ")"
}

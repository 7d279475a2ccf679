package operator

import (
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/cogtokens/token-operator/internal/directory"
	"github.com/cogtokens/token-operator/internal/policy"
	"github.com/cogtokens/token-operator/internal/tenancy"
)

// +kubebuilder:rbac:groups=iam.devin.ai,resources=credentialpolicies,verbs=list;watch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=list;watch

// newGate builds the tenancy gate shared by the webhook and the controllers: the policies
// and namespaces from the manager's cache, RBAC through cached SubjectAccessReviews, the
// admission key from its Secret, and the requester-to-email mapping of the flags.
func newGate(mgr manager.Manager, o Options, dir *directory.Directory) (*tenancy.Gate, error) {
	mapping := policy.Mapping{ExtraKey: o.RequesterEmailClaim, StripPrefixes: o.RequesterStripPrefixes}
	for _, r := range o.RequesterEmailRules {
		rule, err := policy.ParseRule(r)
		if err != nil {
			return nil, fmt.Errorf("--requester-email-rule %q: %w", r, err)
		}
		mapping.Rules = append(mapping.Rules, rule)
	}
	return &tenancy.Gate{
		Reader:    mgr.GetClient(),
		Reviewer:  policy.NewSubjectAccessReviewer(mgr.GetClient(), policy.SAROptions{Clock: o.Clock}),
		Directory: dir,
		Keys: &tenancy.KeySecret{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(),
			Namespace: o.CredentialsSecretNamespace, Name: o.AdmissionKeySecretName, Clock: o.Clock},
		Mapping:             mapping,
		Mode:                tenancy.Mode(o.PolicyMode),
		DefaultOrganization: o.DefaultOrganization,
		Clock:               o.Clock,
	}, nil
}

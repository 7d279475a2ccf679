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
	mapping, err := requesterMapping(o)
	if err != nil {
		return nil, err
	}
	return &tenancy.Gate{
		Reader:    mgr.GetClient(),
		Reviewer:  policy.NewSubjectAccessReviewer(mgr.GetClient(), policy.SAROptions{Clock: o.Clock}),
		Directory: dir,
		Keys: &tenancy.KeySecret{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(),
			Namespace: o.CredentialsSecretNamespace, Name: o.AdmissionKeySecretName, Clock: o.Clock},
		Mapping:             mapping,
		Mode:                o.PolicyMode,
		DefaultOrganization: o.DefaultOrganization,
		Clock:               o.Clock,
	}, nil
}

// requesterMapping parses the requester-to-email flags, and logs a warning for each rule whose
// email a caller can choose (the session name of an AWS role outside IAM Identity Center,
// policy.Rule.CallerChosen): such a rule lets anyone who may assume the role name the session
// after a colleague and mint that colleague's personal access token. The operator still
// starts: the rule may be intended (a role only one person may assume), and refusing it would
// stop every tenant's renewals at an upgrade.
func requesterMapping(o Options) (policy.Mapping, error) {
	mapping := policy.Mapping{ExtraKey: o.RequesterEmailClaim, StripPrefixes: o.RequesterStripPrefixes}
	for _, r := range o.RequesterEmailRules {
		rule, err := policy.ParseRule(r)
		if err != nil {
			return policy.Mapping{}, fmt.Errorf("--requester-email-rule %q: %w", r, err)
		}
		if why := rule.CallerChosen(); why != "" {
			o.Logger.Info("WARNING: a --requester-email-rule lets the caller choose the email it maps to; name only roles whose session name the identity provider sets (assumed-role/AWSReservedSSO_...)",
				"rule", r, "why", why)
		}
		mapping.Rules = append(mapping.Rules, rule)
	}
	return mapping, nil
}

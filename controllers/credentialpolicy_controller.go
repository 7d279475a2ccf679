package controllers

import (
	"context"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/conditions"
	"github.com/cogtokens/token-operator/internal/credential"
	"github.com/cogtokens/token-operator/internal/patch"
	"github.com/cogtokens/token-operator/internal/policy"
)

// +kubebuilder:rbac:groups=iam.devin.ai,resources=credentialpolicies/status,verbs=patch

// policyRecount is how often a CredentialPolicy's count of resources is brought up to date.
const policyRecount = time.Minute

// CredentialPolicyReconciler keeps a CredentialPolicy's status: whether it can be applied,
// what it selects, and how many resources it currently allows.
type CredentialPolicyReconciler struct {
	Client client.Client
	// Resources lists the resources counted; nil is Client (the cache). A shard, whose cache
	// holds only its own resources, counts every shard's with the API server (paged).
	Resources client.Reader
}

// countPage is how many resources one page of the count lists, when it is read from the API
// server rather than the cache.
const countPage = 500

// Reconcile writes the status of one CredentialPolicy.
func (r *CredentialPolicyReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	p := &iamv1alpha1.CredentialPolicy{}
	if err := r.Client.Get(ctx, req.NamespacedName, p); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	status := patch.NewStatusPatcher(r.Client, p)
	if err := policy.Validate(p); err != nil {
		conditions.Set(&p.Status.Conditions, p.Generation, iamv1alpha1.ConditionReady, metav1.ConditionFalse, iamv1alpha1.ReasonPolicyInvalid, err.Error())
	} else {
		conditions.Set(&p.Status.Conditions, p.Generation, iamv1alpha1.ConditionReady, metav1.ConditionTrue, iamv1alpha1.ReasonPolicyAccepted, "in force")
	}
	p.Status.ObservedGeneration = p.Generation
	p.Status.Namespaces = policy.NamespaceSummary(&p.Spec)
	n, err := r.relying(ctx, p.Name)
	if err != nil {
		return ctrl.Result{}, err
	}
	p.Status.Resources = n
	// As for the credentials: nothing changed, no write; a write from a stale state conflicts
	// and the policy is read again.
	return writeStatus(ctx, status, ctrl.Result{RequeueAfter: policyRecount}, nil)
}

// relying counts the resources whose current spec the policy allows (status.policy).
func (r *CredentialPolicyReconciler) relying(ctx context.Context, name string) (int32, error) {
	// The cache lists everything at once (it pages nothing: a limit would cut the count);
	// the API server pages.
	reader, page := r.Resources, []client.ListOption{client.Limit(countPage)}
	if reader == nil {
		reader, page = r.Client, nil
	}
	var n int32
	for _, list := range []client.ObjectList{&iamv1alpha1.PersonalAccessTokenList{}, &iamv1alpha1.ServiceUserList{}} {
		for cont := ""; ; {
			opts := page
			if cont != "" {
				opts = append(slices.Clip(page), client.Continue(cont))
			}
			if err := reader.List(ctx, list, opts...); err != nil {
				return 0, err
			}
			_ = meta.EachListItem(list, func(o runtime.Object) error {
				if obj, ok := o.(credential.Object); ok && obj.CredentialStatus().Policy == name {
					n++
				}
				return nil
			})
			// The cache answers everything at once (its list carries a token that is not one).
			if cont = list.GetContinue(); page == nil || cont == "" {
				break
			}
		}
	}
	return n, nil
}

// SetupWithManager registers the controller.
func (r *CredentialPolicyReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&iamv1alpha1.CredentialPolicy{}).
		Named("credentialpolicy").
		Complete(r)
}

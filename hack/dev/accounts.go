package main

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

// teamNamespaces each get an enterprise of their own in the in-memory Devin API, and a
// DevinAccount "team" acting as that enterprise's admin service user.
var teamNamespaces = []string{"team-red", "team-blue"}

const teamPolicy = "teams"

// seedAccounts creates, for each team namespace, an enterprise upstream, the Secret with its
// admin key and the DevinAccount "team"; and a policy letting the teams' ServiceUsers
// (role Member) act through their own account.
func (d *devEnv) seedAccounts(ctx context.Context) error {
	objs := []client.Object{&iamv1alpha1.CredentialPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: teamPolicy},
		Spec: iamv1alpha1.CredentialPolicySpec{
			NamespaceSelector: iamv1alpha1.NamespaceSelector{MatchExpressions: []iamv1alpha1.NamespaceSelectorRequirement{{
				Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpIn, Values: teamNamespaces,
			}}},
			ServiceUsers: &iamv1alpha1.ServiceUserPolicy{Roles: []string{"Member"}},
		},
	}}
	for _, ns := range teamNamespaces {
		if err := d.env.EnsureNamespace(ctx, ns); err != nil {
			return err
		}
		ent := d.env.Devin.AddEnterprise(devinapitest.DefaultSeed(), devinapitest.EnterpriseName(ns))
		objs = append(objs,
			&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "devin-team"},
				StringData: map[string]string{"token": ent.AdminToken().Reveal()}},
			&iamv1alpha1.DevinAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "team"},
				Spec: iamv1alpha1.DevinAccountSpec{APIURL: d.env.Devin.URL, CredentialSecretRef: iamv1alpha1.AccountSecretRef{Name: "devin-team"},
					DefaultOrganization: ent.Organizations()[0]}})
	}
	for _, obj := range objs {
		if err := d.env.Client.Create(ctx, obj); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create %T %s: %w", obj, obj.GetName(), err)
		}
	}
	return nil
}

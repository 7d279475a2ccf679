package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/go-logr/logr"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/testing/devenv"
	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

// Who is who in the dev environment. Every seeded user may manage tokens in the namespace
// "default"; the gitops user stands for a GitOps controller in the PAT admin group.
const (
	devNamespace     = "default"
	developersGroup  = "devin-developers"
	gitopsUser       = "system:serviceaccount:argocd:argocd-application-controller"
	gitopsGroup      = "system:serviceaccounts:argocd"
	devUserRoleName  = "token-operator-dev-user"
	devPolicy        = "dev"
	adminKubeconfig  = "kubeconfig"
	gitopsKubeconfig = "kubeconfig-gitops"
)

type devEnv struct {
	env      *devenv.Env
	operator *devenv.Operator
	dir      string
}

func (d *devEnv) stop() {
	if d.operator != nil {
		_ = d.operator.Stop()
	}
	_ = d.env.Stop()
}

func start(ctx context.Context, o options, logger logr.Logger) (*devEnv, error) {
	env, err := devenv.Start(ctx, devenv.Options{Webhooks: true})
	if err != nil {
		return nil, err
	}
	d := &devEnv{env: env, dir: o.dir}
	if err := d.writeAccess(ctx); err != nil {
		d.stop()
		return nil, err
	}
	if err := d.installPolicy(ctx); err != nil {
		d.stop()
		return nil, err
	}
	if err := d.seedAccounts(ctx); err != nil {
		d.stop()
		return nil, err
	}
	opts := env.OperatorOptions()
	opts.Logger = logger
	opts.PATAdminGroups = []string{gitopsGroup}
	opts.MetricsAddr = o.metricsAddr
	opts.SecureMetrics = false
	opts.ProbeAddr = o.probeAddr
	opts.VerifyInterval = 10 * time.Minute
	if d.operator, err = env.StartOperator(ctx, opts); err != nil {
		d.stop()
		return nil, err
	}
	if err := d.waitForWebhook(ctx); err != nil {
		d.stop()
		return nil, err
	}
	return d, nil
}

// writeAccess gives every seeded user (and the GitOps identity) the right to manage tokens
// in the namespace "default", and writes a kubeconfig for each plus one for the admin.
func (d *devEnv) writeAccess(ctx context.Context) error {
	if err := os.MkdirAll(d.dir, 0o700); err != nil {
		return err
	}
	c := d.env.Client
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: devUserRoleName},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{iamv1alpha1.GroupVersion.Group}, Resources: []string{"personalaccesstokens", "serviceusers"}, Verbs: []string{"*"}},
			{APIGroups: []string{iamv1alpha1.GroupVersion.Group}, Resources: []string{"credentialpolicies"}, Verbs: []string{"get", "list", "watch"}},
			{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get", "list", "watch"}},
			{APIGroups: []string{"events.k8s.io"}, Resources: []string{"events"}, Verbs: []string{"get", "list", "watch"}},
			{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"get", "list", "watch"}},
		},
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: devUserRoleName, Namespace: devNamespace},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: devUserRoleName},
		Subjects: []rbacv1.Subject{
			{APIGroup: rbacv1.GroupName, Kind: "Group", Name: developersGroup},
			{APIGroup: rbacv1.GroupName, Kind: "Group", Name: gitopsGroup},
		},
	}
	for _, obj := range []client.Object{role, binding} {
		if err := c.Create(ctx, obj); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create %s: %w", obj.GetName(), err)
		}
	}
	users := []envtest.User{{Name: "admin", Groups: []string{"system:masters"}}, {Name: gitopsUser, Groups: []string{gitopsGroup}}}
	files := []string{adminKubeconfig, gitopsKubeconfig}
	for _, u := range devinapitest.DefaultSeed().Users {
		users = append(users, envtest.User{Name: u.Email, Groups: []string{developersGroup}})
		files = append(files, userKubeconfig(u.Email))
	}
	for i, u := range users {
		au, err := d.env.Env.AddUser(u, nil)
		if err != nil {
			return fmt.Errorf("add user %s: %w", u.Name, err)
		}
		kc, err := au.KubeConfig()
		if err != nil {
			return fmt.Errorf("kubeconfig of %s: %w", u.Name, err)
		}
		if err := os.WriteFile(filepath.Join(d.dir, files[i]), kc, 0o600); err != nil {
			return err
		}
	}
	envFile := fmt.Sprintf("export KUBECONFIG=%s\nexport DEVIN_API_URL=%s\nexport DEVIN_ADMIN_TOKEN=%s\n",
		d.path(adminKubeconfig), d.env.Devin.URL, d.env.Devin.AdminToken().Reveal())
	return os.WriteFile(filepath.Join(d.dir, "env"), []byte(envFile), 0o600)
}

// installPolicy installs the CredentialPolicy of the namespace "default": Member service
// users of the default organization, everyone's own personal access token, and the GitOps
// identity as a delegate for example.com; `use` for the developers and the GitOps identity,
// `delegate` for the GitOps identity alone, both only in "default".
func (d *devEnv) installPolicy(ctx context.Context) error {
	policy := &iamv1alpha1.CredentialPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: devPolicy},
		Spec: iamv1alpha1.CredentialPolicySpec{
			NamespaceSelector: iamv1alpha1.NamespaceSelector{MatchLabels: map[string]iamv1alpha1.LabelValue{
				"kubernetes.io/metadata.name": devNamespace,
			}},
			ServiceUsers: &iamv1alpha1.ServiceUserPolicy{Roles: []string{"Member"}},
			PersonalAccessTokens: &iamv1alpha1.PersonalAccessTokenPolicy{
				Delegation: &iamv1alpha1.DelegationPolicy{Domains: []string{"example.com"}},
			},
		},
	}
	rules := func(verbs ...string) []rbacv1.PolicyRule {
		return []rbacv1.PolicyRule{{
			APIGroups: []string{iamv1alpha1.GroupVersion.Group}, Resources: []string{"credentialpolicies"},
			ResourceNames: []string{devPolicy}, Verbs: verbs,
		}}
	}
	group := func(name string) rbacv1.Subject {
		return rbacv1.Subject{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: name}
	}
	objs := []client.Object{policy}
	for _, g := range []struct {
		name     string
		verbs    []string
		subjects []rbacv1.Subject
	}{
		{"use-credentialpolicy-dev", []string{"use"}, []rbacv1.Subject{group(developersGroup), group(gitopsGroup)}},
		{"delegate-credentialpolicy-dev", []string{"use", "delegate"}, []rbacv1.Subject{group(gitopsGroup)}},
	} {
		objs = append(objs,
			&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: g.name, Namespace: devNamespace}, Rules: rules(g.verbs...)},
			&rbacv1.RoleBinding{
				ObjectMeta: metav1.ObjectMeta{Name: g.name, Namespace: devNamespace},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: g.name},
				Subjects:   g.subjects,
			})
	}
	for _, obj := range objs {
		if err := d.env.Client.Create(ctx, obj); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create %T %s: %w", obj, obj.GetName(), err)
		}
	}
	return nil
}

func userKubeconfig(email string) string { return "kubeconfig-" + email }

func (d *devEnv) path(name string) string {
	p, err := filepath.Abs(filepath.Join(d.dir, name))
	if err != nil {
		return filepath.Join(d.dir, name)
	}
	return p
}

// waitForWebhook waits until the operator answers admission requests (a server-side dry
// run of a ServiceUser goes through the validating webhook).
func (d *devEnv) waitForWebhook(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	probe := &iamv1alpha1.ServiceUser{
		ObjectMeta: metav1.ObjectMeta{Name: "webhook-probe", Namespace: devNamespace},
		Spec:       iamv1alpha1.ServiceUserSpec{Role: "Member"},
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		last = d.env.Client.Create(ctx, probe.DeepCopy(), client.DryRunAll)
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.Join(errors.New("the operator's webhook did not come up"), last)
		case <-tick.C:
		}
	}
}

func printTryThis(out io.Writer, d *devEnv) {
	alice, bob := d.path(userKubeconfig("alice@example.com")), d.path(userKubeconfig("bob@example.com"))
	fmt.Fprintf(out, `
Kubeconfigs and the env file are in %s. In another terminal:

  source %s                         # KUBECONFIG (admin), DEVIN_API_URL, DEVIN_ADMIN_TOKEN

  # Alice asks for a personal access token; the operator writes it into a Secret.
  kubectl --kubeconfig %s apply -f config/samples/iam_v1alpha1_personalaccesstoken.yaml
  kubectl get pat alice-devin-token
  kubectl get secret alice-devin-token -o jsonpath='{.metadata.annotations}'

  # Bob's account is linked to SSO: the webhook refuses, and says to use a ServiceUser.
  kubectl --kubeconfig %s create -f - <<<'{"apiVersion":"iam.devin.ai/v1alpha1","kind":"PersonalAccessToken","metadata":{"name":"bob"},"spec":{"user":{"email":"bob@example.com"}}}'

  # The policy that lets them: who may get what in the namespace "default".
  kubectl get cpol dev -o yaml

  # A service user with its API key.
  kubectl apply -f config/samples/iam_v1alpha1_serviceuser.yaml
  kubectl get su ci-bot

  # Two teams, each with its own Devin account (its own enterprise upstream).
  kubectl get devinaccounts -A
  kubectl apply -f config/samples/iam_v1alpha1_serviceuser_team.yaml
  kubectl get su -n team-red ci-bot -o jsonpath='{.status.account}'

  # Deleting revokes upstream (look at the Devin API's tokens before and after).
  curl -s $DEVIN_API_URL/_fake/tokens
  kubectl delete pat alice-devin-token

Press Ctrl-C to stop; nothing is left running.
`, d.dir, d.path("env"), alice, bob)
}

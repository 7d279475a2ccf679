package upgrade

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/conditions"
	"github.com/cogtokens/token-operator/internal/credential"
	"github.com/cogtokens/token-operator/internal/logging"
	"github.com/cogtokens/token-operator/internal/testing/devenv"
)

const (
	timeout    = 60 * time.Second
	interval   = 100 * time.Millisecond
	orgDefault = "org-default"
	ns         = "team-a"
)

var adminUser = envtest.User{Name: "admin", Groups: []string{"system:masters"}}

// held is what a resource held under the previous release.
type held struct {
	tokenID string
	value   []byte
}

func TestUpgradeKeepsTokensAndRenewals(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	root, err := devenv.FindRepoRoot()
	g.Expect(err).NotTo(HaveOccurred())
	oldTree, manager := previousTree(t, root)

	// The previous release: its CRDs, its webhooks, its manager.
	logs := &devenv.LogBuffer{}
	logger := logging.Safe(zap.New(zap.WriteTo(logs), zap.UseDevMode(true)))
	ctrl.SetLogger(logger)
	env, err := devenv.Start(ctx, devenv.Options{Webhooks: true, RepoRoot: oldTree})
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = env.Stop() })
	k8s := env.Client
	g.Expect(env.EnsureNamespace(ctx, ns)).To(Succeed())
	previous := startPrevious(t, env, manager)
	objs := []credential.Object{
		&iamv1alpha1.PersonalAccessToken{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "alice"},
			Spec:       iamv1alpha1.PersonalAccessTokenSpec{User: iamv1alpha1.UserReference{Email: "alice@example.com"}},
		},
		&iamv1alpha1.ServiceUser{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ci-bot"},
			Spec:       iamv1alpha1.ServiceUserSpec{Role: "Member"},
		},
	}
	for _, o := range objs {
		g.Eventually(func() error { return k8s.Create(ctx, o) }, timeout, interval).Should(Succeed(), "the previous release's webhook must come up")
	}
	before := map[string]held{}
	for _, o := range objs {
		g.Eventually(func() bool { return ready(ctx, k8s, o) }, timeout, interval).Should(BeTrue(),
			"the previous release did not make %s Ready:\n%s", o.GetName(), logging.Scrub(previous.out.String()))
		before[o.GetName()] = held{tokenID: o.CredentialStatus().Token.ID, value: secretValue(ctx, t, k8s, o)}
	}
	previous.stop()
	// The previous release's client broke the published contract in places (the reason for
	// this release's contract checks): only this release's traffic is held to it.
	if v := env.ContractViolations(); v != "" {
		t.Logf("the previous release's traffic broke the published contract (not this release's concern):\n%s", v)
	}

	// The upgrade: the new CRDs and webhooks, and the new operator with its default settings.
	_, err = envtest.InstallCRDs(env.Config, envtest.CRDInstallOptions{Paths: []string{filepath.Join(root, "config", "crd", "bases")}})
	g.Expect(err).NotTo(HaveOccurred())
	hooks := envtest.WebhookInstallOptions{Paths: []string{filepath.Join(root, "config", "webhook")}}
	g.Expect(hooks.Install(env.Config)).To(Succeed())
	t.Cleanup(func() { _ = hooks.Cleanup() })
	opts := env.OperatorOptions()
	opts.Logger = logger
	opts.WebhookHost, opts.WebhookPort, opts.WebhookCertDir = hooks.LocalServingHost, hooks.LocalServingPort, hooks.LocalServingCertDir
	op, err := env.StartOperator(ctx, opts)
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = op.Stop() })

	for _, o := range objs {
		// Judged as admitted before records, with the same token and Secret.
		g.Eventually(func() bool {
			if !ready(ctx, k8s, o) {
				return false
			}
			c := meta.FindStatusCondition(o.CredentialStatus().Conditions, iamv1alpha1.ConditionAdmitted)
			return c != nil && c.Status == metav1.ConditionTrue && strings.Contains(c.Message, "earlier release")
		}, timeout, interval).Should(BeTrue(), "%s after the upgrade: %+v", o.GetName(), o.CredentialStatus().Conditions)
		g.Expect(o.CredentialStatus().Token.ID).To(Equal(before[o.GetName()].tokenID), "%s lost its token in the upgrade", o.GetName())
		g.Expect(bytes.Equal(secretValue(ctx, t, k8s, o), before[o.GetName()].value)).To(BeTrue(), "%s: the Secret changed in the upgrade", o.GetName())
		g.Expect(live(env, before[o.GetName()].tokenID)).To(BeTrue())

		// Renewal goes on: a rotation asked for mints a new token, with no policy written.
		g.Eventually(func() error {
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(o), o); err != nil {
				return err
			}
			ann := o.GetAnnotations()
			if ann == nil {
				ann = map[string]string{}
			}
			ann[iamv1alpha1.RotateAnnotation] = "after-upgrade"
			o.SetAnnotations(ann)
			return k8s.Update(ctx, o)
		}, timeout, interval).Should(Succeed())
		g.Eventually(func() bool {
			return ready(ctx, k8s, o) && o.CredentialStatus().Token.ID != before[o.GetName()].tokenID
		}, timeout, interval).Should(BeTrue(), "%s was not renewed after the upgrade: %+v", o.GetName(), o.CredentialStatus().Conditions)
		g.Expect(bytes.Equal(secretValue(ctx, t, k8s, o), before[o.GetName()].value)).To(BeFalse())
	}

	// A spec change is a new request: without a policy it is refused, saying what is missing.
	su := objs[1].(*iamv1alpha1.ServiceUser)
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(su), su)).To(Succeed())
	su.Spec.Role = "Admin"
	err = k8s.Update(ctx, su)
	g.Expect(err).To(MatchError(ContainSubstring(`no CredentialPolicy selects namespace "` + ns + `"`)))

	g.Expect(op.Stop()).To(Succeed())
	if leaks := devenv.FindTokens(ctx, k8s, logs.String()+previous.out.String()); len(leaks) > 0 {
		t.Errorf("token values where none may be:\n%s", strings.Join(leaks, "\n"))
	}
	if v := env.ContractViolations(); v != "" {
		t.Errorf("the Devin API traffic broke the published contract:\n%s", v)
	}
}

func ready(ctx context.Context, c client.Client, o credential.Object) bool {
	if err := c.Get(ctx, client.ObjectKeyFromObject(o), o); err != nil {
		return false
	}
	st := o.CredentialStatus()
	return conditions.IsReady(st.Conditions, o.GetGeneration()) && st.Token != nil
}

func secretValue(ctx context.Context, t *testing.T, c client.Client, o credential.Object) []byte {
	t.Helper()
	sec := &corev1.Secret{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: o.GetNamespace(), Name: credential.SecretName(o)}, sec); err != nil {
		t.Fatalf("the Secret of %s: %v", o.GetName(), err)
	}
	return sec.Data["token"]
}

func live(env *devenv.Env, id string) bool {
	for _, tok := range env.Devin.Tokens() {
		if tok.ID == id {
			return tok.RevokedAt == nil
		}
	}
	return false
}

package tenancy

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/logging"
	"github.com/cogtokens/token-operator/internal/testing/devenv"
)

const (
	timeout  = 30 * time.Second
	interval = 100 * time.Millisecond
	// tenantRole lets its subjects manage both kinds and read Secrets, as `edit` does.
	tenantRole = "tenancy-test-editor"
)

var (
	env  *devenv.Env
	k8s  client.Client
	logs = &devenv.LogBuffer{}
)

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	ctx := context.Background()
	var err error
	env, err = devenv.Start(ctx, devenv.Options{Webhooks: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	k8s = env.Client
	logger := logging.Safe(zap.New(zap.WriteTo(logs), zap.UseDevMode(true)))
	ctrl.SetLogger(logger)
	if err := k8s.Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: tenantRole},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{iamv1alpha1.GroupVersion.Group}, Resources: []string{"personalaccesstokens", "serviceusers"}, Verbs: []string{"*"}},
			{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get", "list", "watch"}},
		},
	}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	opts := env.OperatorOptions() // default policy mode: enforce
	opts.Logger = logger
	op, err := env.StartOperator(ctx, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	if err := op.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "operator:", err)
		code = 1
	}
	if v := env.ContractViolations(); v != "" {
		fmt.Fprintf(os.Stderr, "FAIL: the Devin API traffic broke the published contract:\n%s\n", v)
		code = 1
	}
	if leaks := devenv.FindTokens(ctx, k8s, logs.String()); len(leaks) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: token values where none may be:\n%s\n", strings.Join(leaks, "\n"))
		code = 1
	}
	return code
}

// newNamespace creates a namespace for one test, with labels.
func newNamespace(t *testing.T, labels map[string]string) string {
	t.Helper()
	name := "t-" + rand.String(6)
	if err := env.EnsureNamespace(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	if len(labels) > 0 {
		nsObj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
		NewWithT(t).Expect(k8s.Get(context.Background(), client.ObjectKeyFromObject(nsObj), nsObj)).To(Succeed())
		for k, v := range labels {
			nsObj.Labels[k] = v
		}
		NewWithT(t).Expect(k8s.Update(context.Background(), nsObj)).To(Succeed())
	}
	return name
}

// member is a tenant: a Kubernetes user (with groups) who may manage tokens in some
// namespaces (the editor role), and a client that acts as them.
type member struct {
	user   string
	groups []string
	client.Client
}

func newMember(t *testing.T, user string, groups []string, namespaces ...string) member {
	t.Helper()
	for _, ns := range namespaces {
		bind(t, ns, "ClusterRole", tenantRole, user)
	}
	c, err := env.ImpersonatingClient(user, groups...)
	if err != nil {
		t.Fatal(err)
	}
	return member{user: user, groups: groups, Client: c}
}

// bind binds a role (Role or ClusterRole) to user in ns.
func bind(t *testing.T, ns, kind, role, user string) {
	t.Helper()
	rb := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: role + "-" + rand.String(5), Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: kind, Name: role},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
	}
	NewWithT(t).Expect(k8s.Create(context.Background(), rb)).To(Succeed())
}

// allowPolicy lets user rely on policy in ns with verbs (use, and delegate for delegates).
func allowPolicy(t *testing.T, ns, policy, user string, verbs ...string) {
	t.Helper()
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "policy-" + policy + "-" + rand.String(5), Namespace: ns},
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{iamv1alpha1.GroupVersion.Group}, Resources: []string{"credentialpolicies"},
			ResourceNames: []string{policy}, Verbs: verbs,
		}},
	}
	NewWithT(t).Expect(k8s.Create(context.Background(), role)).To(Succeed())
	bind(t, ns, "Role", role.Name, user)
}

// createPolicy creates a policy, deleted when the test ends, and waits until the operator
// has it (Ready, observed).
func createPolicy(t *testing.T, p *iamv1alpha1.CredentialPolicy) *iamv1alpha1.CredentialPolicy {
	t.Helper()
	ctx := context.Background()
	NewWithT(t).Expect(k8s.Create(ctx, p)).To(Succeed())
	t.Cleanup(func() { _ = k8s.Delete(ctx, p) })
	waitPolicy(t, p)
	return p
}

// waitPolicy waits until the operator has observed the policy's current generation.
func waitPolicy(t *testing.T, p *iamv1alpha1.CredentialPolicy) {
	t.Helper()
	NewWithT(t).Eventually(func(g Gomega) {
		g.Expect(k8s.Get(context.Background(), client.ObjectKeyFromObject(p), p)).To(Succeed())
		c := meta.FindStatusCondition(p.Status.Conditions, "Ready")
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.ObservedGeneration).To(Equal(p.Generation))
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue), c.Message)
	}, timeout, interval).Should(Succeed())
}

// refused asserts that err is an admission denial saying all of want.
func refused(t *testing.T, err error, want ...string) {
	t.Helper()
	g := NewWithT(t)
	g.Expect(err).To(HaveOccurred())
	g.Expect(apierrors.IsForbidden(err) || apierrors.IsInvalid(err)).To(BeTrue(), "not a denial: %v", err)
	for _, w := range want {
		g.Expect(err.Error()).To(ContainSubstring(w))
	}
}

func newPAT(ns, name, email string) *iamv1alpha1.PersonalAccessToken {
	return &iamv1alpha1.PersonalAccessToken{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       iamv1alpha1.PersonalAccessTokenSpec{User: iamv1alpha1.UserReference{Email: email}},
	}
}

func newSU(ns, name, role string) *iamv1alpha1.ServiceUser {
	return &iamv1alpha1.ServiceUser{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       iamv1alpha1.ServiceUserSpec{Role: role},
	}
}

package plugin

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/kubectldevin"
	"github.com/cogtokens/token-operator/internal/logging"
	"github.com/cogtokens/token-operator/internal/testing/devenv"
	"github.com/cogtokens/token-operator/internal/tokenpattern"
)

const (
	timeout  = 30 * time.Second
	interval = 100 * time.Millisecond
	// mintBudget is the operator's --mint-budget: a resource's first token and one rotation
	// fit in it, a second rotation within the hour does not.
	mintBudget = 2
	// tenantRole lets its subjects manage both kinds, read and create Secrets and read
	// events, as `edit` does.
	tenantRole = "plugin-test-editor"

	alice = "alice@example.com"
	bob   = "bob@example.com"
	dave  = "dave@example.com"
)

var (
	env  *devenv.Env
	k8s  client.Client
	logs = &devenv.LogBuffer{}
	// kubeconfigs of the users the tests run the plugin as, by user name.
	kubeconfigs = map[string]string{}
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
	dir, err := os.MkdirTemp("", "kubectl-devin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err := setUpUsers(ctx, dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	opts := env.OperatorOptions() // default policy mode: enforce
	opts.Logger = logger
	opts.MintBudget = mintBudget
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

// setUpUsers writes a kubeconfig for the admin and for each tenant, and the tenants' role.
func setUpUsers(ctx context.Context, dir string) error {
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: tenantRole},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{iamv1alpha1.GroupVersion.Group}, Resources: []string{"personalaccesstokens", "serviceusers"}, Verbs: []string{"*"}},
			{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get", "list", "watch", "create", "patch", "delete"}},
			{APIGroups: []string{"events.k8s.io"}, Resources: []string{"events"}, Verbs: []string{"get", "list", "watch"}},
		},
	}
	if err := k8s.Create(ctx, role); err != nil {
		return err
	}
	for _, u := range []envtest.User{{Name: "admin", Groups: []string{"system:masters"}}, {Name: alice}, {Name: bob}} {
		au, err := env.Env.AddUser(u, nil)
		if err != nil {
			return fmt.Errorf("add user %s: %w", u.Name, err)
		}
		kc, err := au.KubeConfig()
		if err != nil {
			return err
		}
		path := filepath.Join(dir, "kubeconfig-"+u.Name)
		if err := os.WriteFile(path, kc, 0o600); err != nil {
			return err
		}
		kubeconfigs[u.Name] = path
	}
	return nil
}

// result is what one run of the plugin printed and returned.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", r.code, r.stdout, r.stderr)
}

// plugin runs `kubectl devin args...` in-process as user (with that user's kubeconfig),
// stdin as its input. Whatever it prints must hold no token value.
func plugin(t *testing.T, user, stdin string, args ...string) result {
	t.Helper()
	kc, ok := kubeconfigs[user]
	if !ok {
		t.Fatalf("no kubeconfig for %s", user)
	}
	var out, errOut bytes.Buffer
	args = append(args, "--kubeconfig", kc)
	code := kubectldevin.Run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	r := result{code: code, stdout: out.String(), stderr: errOut.String()}
	// The arguments of a test that passes a token as one are masked, as the operator's logs are.
	t.Logf("kubectl devin %s (as %s)\n%s", logging.Scrub(strings.Join(args[:len(args)-2], " ")), user, r)
	if tokenpattern.Contains(r.stdout + r.stderr) {
		t.Fatalf("kubectl devin %s printed a token value", strings.Join(args, " "))
	}
	return r
}

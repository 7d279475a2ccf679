package reliability

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"go.uber.org/zap/zapcore"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/yaml"

	"github.com/cogtokens/token-operator/internal/logging"
	"github.com/cogtokens/token-operator/internal/testing/devenv"
)

// operatorUser is the identity the operator runs as: what its ServiceAccount would be.
const operatorUser = "system:serviceaccount:token-operator-system:token-operator-controller-manager"

var (
	env         *devenv.Env
	k8s         client.Client
	operatorCfg *rest.Config
	auditLog    string
	logs        = &devenv.LogBuffer{}
)

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "reliability-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	policy := filepath.Join(dir, "audit-policy.yaml")
	auditLog = filepath.Join(dir, "audit.log")
	if err := os.WriteFile(policy, []byte(auditPolicy), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	env, err = devenv.Start(ctx, devenv.Options{
		Webhooks: true,
		APIServerFlags: map[string]string{
			"audit-policy-file": policy,
			"audit-log-path":    auditLog,
			// Setting blockOwnerDeletion on a Secret needs "update" on the owner's finalizers:
			// with this plugin on, the operator proves it holds exactly that.
			"enable-admission-plugins": "OwnerReferencesPermissionEnforcement",
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	k8s = env.Client
	ctrl.SetLogger(testLogger())
	if err := env.InstallPermissivePolicy(ctx, "system:masters"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if operatorCfg, err = operatorIdentity(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	if v := env.ContractViolations(); v != "" {
		fmt.Fprintf(os.Stderr, "FAIL: the Devin API traffic broke the published contract:\n%s\n", v)
		code = 1
	}
	if os.Getenv("RELIABILITY_DEBUG") != "" {
		for _, l := range strings.Split(logs.String(), "\n") {
			if strings.Contains(strings.ToLower(l), "leader") || strings.Contains(l, "lease") || strings.Contains(l, "Starting") {
				fmt.Fprintln(os.Stderr, l)
			}
		}
	}
	if code == 0 {
		if leaks := devenv.FindTokens(ctx, k8s, logs.String()); len(leaks) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: token values where none may be:\n%s\n", strings.Join(leaks, "\n"))
			return 1
		}
	}
	return code
}

// auditPolicy records, for the operator's own user only, who did what to which resource.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
  users: ["` + operatorUser + `"]
- level: None
`

// operatorIdentity creates the operator's user with the RBAC of config/rbac: the generated
// manager ClusterRole and the leader election Role, nothing more.
func operatorIdentity(ctx context.Context) (*rest.Config, error) {
	role := &rbacv1.ClusterRole{}
	if err := readYAML(filepath.Join(env.RepoRoot, "config", "rbac", "role.yaml"), role); err != nil {
		return nil, err
	}
	role.Name = "token-operator-manager-role"
	le := &rbacv1.Role{}
	if err := readYAML(filepath.Join(env.RepoRoot, "config", "rbac", "leader_election_role.yaml"), le); err != nil {
		return nil, err
	}
	le.Name, le.Namespace = "token-operator-leader-election-role", devenv.OperatorNamespace
	subject := []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: operatorUser}}
	objs := []client.Object{
		role,
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "token-operator-manager-rolebinding"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
			Subjects:   subject,
		},
		le,
		&rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "token-operator-leader-election-rolebinding", Namespace: devenv.OperatorNamespace},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: le.Name},
			Subjects:   subject,
		},
	}
	for _, o := range objs {
		if err := k8s.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("create %T %s: %w", o, o.GetName(), err)
		}
	}
	u, err := env.Env.AddUser(envtest.User{Name: operatorUser}, nil)
	if err != nil {
		return nil, err
	}
	return u.Config(), nil
}

func readYAML(path string, into any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return yaml.Unmarshal(b, into)
}

// testLogger writes everything, at the highest verbosity, to the buffer scanned for tokens
// (through the same token-safe wrapper as the operator's own logger).
func testLogger() logr.Logger {
	return logging.Safe(zap.New(zap.WriteTo(logs), zap.UseDevMode(true), zap.Level(zapcore.Level(-10))))
}

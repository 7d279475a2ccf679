package upgrade

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/cogtokens/token-operator/internal/testing/devenv"
)

// previousRelease is the commit of the release this one upgrades: the repository's main
// before CredentialPolicies, intent annotations and cluster-qualified upstream names.
const previousRelease = "695e488141c5250f805d1ec53494f8a2233b2e83"

// previousTree extracts the previous release's source from the repository's history into
// bin/previous-release/<commit> (once) and builds its manager there. It fails, saying what
// to do, when the clone lacks that history (a shallow clone).
func previousTree(t *testing.T, root string) (dir, manager string) {
	t.Helper()
	dir = filepath.Join(root, "bin", "previous-release", previousRelease[:12])
	manager = filepath.Join(dir, "manager")
	if _, err := os.Stat(manager); err == nil {
		return dir, manager
	}
	if out, err := exec.Command("git", "-C", root, "cat-file", "-e", previousRelease+"^{commit}").CombinedOutput(); err != nil {
		t.Fatalf("the upgrade test builds the previous release from the repository's history, and commit %s is not in it (a shallow clone? run git fetch --unshallow): %v %s",
			previousRelease, err, out)
	}
	tmp := dir + ".tmp"
	_ = os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	archive := exec.Command("bash", "-c", fmt.Sprintf("git -C %q archive --format=tar %s | tar -x -C %q", root, previousRelease, tmp))
	if out, err := archive.CombinedOutput(); err != nil {
		t.Fatalf("extract the previous release: %v\n%s", err, out)
	}
	build := exec.Command("go", "build", "-o", "manager", ".")
	build.Dir = tmp
	build.Env = append(os.Environ(), "GOTOOLCHAIN=local", "GOFLAGS=-mod=mod", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the previous release: %v\n%s", err, out)
	}
	_ = os.RemoveAll(dir)
	if err := os.Rename(tmp, dir); err != nil {
		t.Fatal(err)
	}
	return dir, manager
}

// previousOperator runs the previous release's manager against env, with the flags its own
// deployment had, as cluster admin.
type previousOperator struct {
	cmd *exec.Cmd
	out devenv.LogBuffer // written by exec's copying goroutines while the test reads it
}

func startPrevious(t *testing.T, env *devenv.Env, manager string) *previousOperator {
	t.Helper()
	admin, err := env.Env.AddUser(adminUser, nil)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := admin.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, kubeconfig, 0o600); err != nil {
		t.Fatal(err)
	}
	wo := env.Env.WebhookInstallOptions
	p := &previousOperator{}
	p.cmd = exec.Command(manager,
		"--leader-elect=false", "--metrics-bind-address=0", "--health-probe-bind-address=0",
		"--enable-webhooks=true", "--webhook-host="+wo.LocalServingHost, fmt.Sprintf("--webhook-port=%d", wo.LocalServingPort),
		"--webhook-cert-dir="+wo.LocalServingCertDir,
		"--devin-api-url="+env.Devin.URL, "--devin-api-qps=0", "--default-organization="+orgDefault,
		"--credentials-secret-namespace="+devenv.OperatorNamespace, "--pat-admin-groups=system:masters")
	p.cmd.Env = append(os.Environ(), "KUBECONFIG="+path)
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.stop)
	return p
}

// stop ends the previous release as a rollout ends a pod: SIGTERM, then its exit.
func (p *previousOperator) stop() {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}

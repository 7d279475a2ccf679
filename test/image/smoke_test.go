package image_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/testing/devenv"
)

// TestExtractedBinaryRuns runs the manager binary taken out of the image's layer, as the
// kubelet would run the image (its entrypoint, the Deployment's flags, as user 65532's
// process would: no kubeconfig but the one given), against envtest and the in-memory Devin
// API. It becomes ready, its webhook answers admission requests, it reconciles a ServiceUser
// into a Secret with a live token, it logs its version and commit and no token, and it stops
// cleanly on SIGTERM.
func TestExtractedBinaryRuns(t *testing.T) {
	g := NewWithT(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	env, err := devenv.Start(ctx, devenv.Options{Webhooks: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = env.Stop() }()
	if err := env.InstallPermissivePolicy(ctx, "system:masters"); err != nil {
		t.Fatal(err)
	}
	kubeconfig := adminKubeconfig(t, env)
	probePort := freePort(t)
	wo := env.Env.WebhookInstallOptions
	logs := &devenv.LogBuffer{}
	cmd := exec.CommandContext(ctx, built.binary,
		"--kubeconfig="+kubeconfig,
		"--leader-elect=false",
		"--metrics-bind-address=0",
		"--health-probe-bind-address=127.0.0.1:"+strconv.Itoa(probePort),
		"--enable-webhooks=true",
		"--webhook-host="+wo.LocalServingHost,
		"--webhook-port="+strconv.Itoa(wo.LocalServingPort),
		"--webhook-cert-dir="+wo.LocalServingCertDir,
		"--devin-api-url="+env.Devin.URL,
		"--default-organization=org-default",
	)
	// What the Deployment gives: the pod's namespace, and nothing of this machine's.
	cmd.Env = []string{"POD_NAMESPACE=" + devenv.OperatorNamespace, "HOME=" + t.TempDir()}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the image's binary: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	defer func() {
		if !stopped {
			_ = cmd.Process.Kill()
			t.Logf("killed the manager: %v", <-exited)
		}
		if t.Failed() {
			t.Logf("the manager's output:\n%s", logs.String())
		}
	}()

	readyz := fmt.Sprintf("http://127.0.0.1:%d/readyz", probePort)
	g.Eventually(func() (int, error) { return status(ctx, readyz) }, 2*time.Minute, 250*time.Millisecond).
		Should(Equal(http.StatusOK), "the manager did not become ready")

	// The webhook is the manager's: an SSO-linked account is refused a personal access token
	// with the hint to use a ServiceUser, which only the webhook (asking the Devin API) says.
	bob := &iamv1alpha1.PersonalAccessToken{
		ObjectMeta: metav1.ObjectMeta{Name: "bob", Namespace: "default"},
		Spec:       iamv1alpha1.PersonalAccessTokenSpec{User: iamv1alpha1.UserReference{Email: "bob@example.com"}},
	}
	err = env.Client.Create(ctx, bob)
	g.Expect(err).To(HaveOccurred(), "a PAT for an SSO-linked account was admitted")
	g.Expect(err.Error()).To(And(ContainSubstring("denied the request"), ContainSubstring("ServiceUser")))

	su := &iamv1alpha1.ServiceUser{
		ObjectMeta: metav1.ObjectMeta{Name: "smoke-bot", Namespace: "default"},
		Spec:       iamv1alpha1.ServiceUserSpec{Role: "Member"},
	}
	g.Expect(env.Client.Create(ctx, su)).To(Succeed())
	g.Eventually(func(g Gomega) {
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(su), su)).To(Succeed())
		g.Expect(meta.IsStatusConditionTrue(su.Status.Conditions, iamv1alpha1.ConditionReady)).To(BeTrue(), "conditions %+v", su.Status.Conditions)
	}, 2*time.Minute, 250*time.Millisecond).Should(Succeed())
	g.Expect(su.Status.Token).NotTo(BeNil())
	sec := &corev1.Secret{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: "default", Name: su.Status.SecretName}, sec)).To(Succeed())
	token := string(sec.Data[iamv1alpha1.DefaultSecretKey])
	id, live := env.Devin.KeyIDOf(token)
	g.Expect(live).To(BeTrue(), "the Secret's token is not one the Devin API issued")
	g.Expect(id).To(Equal(su.Status.Token.ID))

	logRSS(t, cmd.Process.Pid)
	g.Expect(cmd.Process.Signal(syscall.SIGTERM)).To(Succeed())
	select {
	case err := <-exited:
		stopped = true
		g.Expect(err).NotTo(HaveOccurred(), "the manager did not exit cleanly on SIGTERM")
	case <-time.After(time.Minute):
		t.Fatal("the manager did not stop within a minute of SIGTERM")
	}
	out := logs.String()
	stamp := fmt.Sprintf(`"version":%q,"commit":%q`, built.version, built.commit)
	g.Expect(strings.Contains(out, stamp)).To(BeTrue(), "the manager does not log the version and commit it was built from (%s)", stamp)
	for name, value := range map[string]string{"the admin credential": env.Devin.AdminToken().Reveal(), "the minted token": token} {
		g.Expect(value).NotTo(BeEmpty())
		g.Expect(strings.Contains(out, value)).To(BeFalse(), "%s appears in the manager's logs", name)
	}
	g.Expect(env.ContractViolations()).To(BeEmpty())
}

// adminKubeconfig writes a kubeconfig of a cluster admin of envtest.
func adminKubeconfig(t *testing.T, env *devenv.Env) string {
	t.Helper()
	u, err := env.Env.AddUser(envtest.User{Name: "image-smoke", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := u.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func status(ctx context.Context, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// logRSS logs the manager's resident memory once it has reconciled (docs/release.md).
func logRSS(t *testing.T, pid int) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			t.Logf("the manager's %s", strings.Join(strings.Fields(line), " "))
		}
	}
}

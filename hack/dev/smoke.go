package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/devinapi"
)

// smoke walks through what the README shows, with the machine's kubectl: Alice applies the
// PAT sample, the admin the ServiceUser sample; both become Ready with live tokens in their
// Secrets; Bob (SSO) is refused; deleting both revokes their tokens upstream.
func smoke(ctx context.Context, d *devEnv, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	samples := filepath.Join(d.env.RepoRoot, "config", "samples")
	alice := d.path(userKubeconfig("alice@example.com"))
	bob := d.path(userKubeconfig("bob@example.com"))
	admin := d.path(adminKubeconfig)

	step(out, "Alice applies the PersonalAccessToken sample")
	if _, err := kubectl(ctx, alice, nil, "apply", "-n", devNamespace, "-f", filepath.Join(samples, "iam_v1alpha1_personalaccesstoken.yaml")); err != nil {
		return err
	}
	step(out, "the admin applies the ServiceUser sample")
	if _, err := kubectl(ctx, admin, nil, "apply", "-n", devNamespace, "-f", filepath.Join(samples, "iam_v1alpha1_serviceuser.yaml")); err != nil {
		return err
	}
	step(out, "both become Ready")
	if _, err := kubectl(ctx, admin, nil, "wait", "-n", devNamespace, "--for=condition=Ready", "--timeout=90s",
		"personalaccesstoken/alice-devin-token", "serviceuser/ci-bot"); err != nil {
		return err
	}
	pat := &iamv1alpha1.PersonalAccessToken{}
	su := &iamv1alpha1.ServiceUser{}
	if err := d.env.Client.Get(ctx, client.ObjectKey{Namespace: devNamespace, Name: "alice-devin-token"}, pat); err != nil {
		return err
	}
	if err := d.env.Client.Get(ctx, client.ObjectKey{Namespace: devNamespace, Name: "ci-bot"}, su); err != nil {
		return err
	}
	step(out, "their Secrets hold live tokens")
	if err := checkLive(ctx, d, pat.Status.SecretName, pat.Status.Token.ID); err != nil {
		return fmt.Errorf("PersonalAccessToken: %w", err)
	}
	if err := checkLive(ctx, d, su.Status.SecretName, su.Status.Token.ID); err != nil {
		return fmt.Errorf("ServiceUser: %w", err)
	}

	step(out, "Bob (SSO-linked) is refused a PersonalAccessToken")
	bobPAT := `{"apiVersion":"iam.devin.ai/v1alpha1","kind":"PersonalAccessToken","metadata":{"name":"bob"},"spec":{"user":{"email":"bob@example.com"}}}`
	msg, err := kubectl(ctx, bob, strings.NewReader(bobPAT), "create", "-n", devNamespace, "-f", "-")
	if err == nil || !strings.Contains(msg, "ServiceUser") {
		return fmt.Errorf("a PAT for an SSO-linked account was not refused with a hint to use a ServiceUser: %w %s", err, msg)
	}

	step(out, "the red team's ServiceUser acts through the red team's own account")
	if err := smokeTeams(ctx, d, admin, samples); err != nil {
		return err
	}

	step(out, "deleting them revokes their tokens upstream")
	if _, err := kubectl(ctx, admin, nil, "delete", "-n", devNamespace, "--wait=true", "--timeout=90s",
		"personalaccesstoken/alice-devin-token", "serviceuser/ci-bot"); err != nil {
		return err
	}
	for _, id := range []string{pat.Status.Token.ID, su.Status.Token.ID} {
		for _, r := range d.env.Devin.LiveTokens() {
			if r.ID == id {
				return fmt.Errorf("token %s is still live upstream after deletion", id)
			}
		}
	}
	fmt.Fprintln(out, "▶ smoke test passed")
	return nil
}

func step(out io.Writer, s string) { fmt.Fprintln(out, "  •", s) }

// smokeTeams applies the team sample: both teams' accounts are Ready, and the red team's
// ServiceUser is Ready through its own account.
func smokeTeams(ctx context.Context, d *devEnv, admin, samples string) error {
	for _, ns := range teamNamespaces {
		if _, err := kubectl(ctx, admin, nil, "wait", "-n", ns, "--for=condition=Ready", "--timeout=90s", "devinaccount/team"); err != nil {
			return err
		}
	}
	if _, err := kubectl(ctx, admin, nil, "apply", "-f", filepath.Join(samples, "iam_v1alpha1_serviceuser_team.yaml")); err != nil {
		return err
	}
	if _, err := kubectl(ctx, admin, nil, "wait", "-n", "team-red", "--for=condition=Ready", "--timeout=90s", "serviceuser/ci-bot"); err != nil {
		return err
	}
	su := &iamv1alpha1.ServiceUser{}
	if err := d.env.Client.Get(ctx, client.ObjectKey{Namespace: "team-red", Name: "ci-bot"}, su); err != nil {
		return err
	}
	if su.Status.Account != "DevinAccount/team" {
		return fmt.Errorf("the red team's ServiceUser acts through %q, not its own account", su.Status.Account)
	}
	_, err := kubectl(ctx, admin, nil, "delete", "-n", "team-red", "--wait=true", "--timeout=90s", "serviceuser/ci-bot")
	return err
}

// checkLive reads the Secret and asks the Devin API, as its token, who it is.
func checkLive(ctx context.Context, d *devEnv, secretName, wantID string) error {
	sec := &corev1.Secret{}
	if err := d.env.Client.Get(ctx, client.ObjectKey{Namespace: devNamespace, Name: secretName}, sec); err != nil {
		return err
	}
	value := string(sec.Data[iamv1alpha1.DefaultSecretKey])
	if _, err := d.env.Devin.Client().SelfWithToken(ctx, devinapi.NewToken(value)); err != nil {
		return fmt.Errorf("the token in Secret %s does not authenticate: %w", secretName, err)
	}
	// A service user's /v3/self answer names no key: the in-memory API says which it is.
	if id, _ := d.env.Devin.KeyIDOf(value); id != wantID {
		return fmt.Errorf("secret %s holds token %s, status says %s", secretName, id, wantID)
	}
	return nil
}

// kubectl runs the machine's kubectl with a kubeconfig and returns its combined output.
func kubectl(ctx context.Context, kubeconfig string, stdin io.Reader, args ...string) (string, error) {
	bin, err := exec.LookPath("kubectl")
	if err != nil {
		return "", errors.New("kubectl is not on PATH (the machine image has one at /usr/bin/kubectl)")
	}
	cmd := exec.CommandContext(ctx, bin, append([]string{"--kubeconfig", kubeconfig}, args...)...)
	cmd.Stdin = stdin
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		return buf.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, buf.String())
	}
	return buf.String(), nil
}

package kubectldevin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// importOptions are import's flags.
type importOptions struct {
	email        string
	sourceSecret string
	secretName   string
	timeout      time.Duration
}

// createdByLabel marks the source Secrets import writes (they hold a token the operator
// copies; the operator's own Secrets carry app.kubernetes.io/managed-by instead).
const createdByLabel = "app.kubernetes.io/created-by"

func newImportCommand(g *globalFlags, s streams) *cobra.Command {
	o := &importOptions{}
	c := &cobra.Command{
		Use:   "import pat/NAME --user EMAIL",
		Short: "Hand a personal access token its owner generated to the operator, from a hidden prompt or stdin",
		Long: "import reads a personal access token its owner generated in the Devin web app, from a prompt that does not " +
			"echo (in a terminal) or from stdin, never from an argument. It writes it into a source Secret (NAME-import) " +
			"and creates the PersonalAccessToken with spec.importFrom naming it (the Secret is owned by the resource and " +
			"deleted with it), then waits until the operator has checked and imported it. Exit code 1 when the " +
			"operator refuses it. Needs create on personalaccesstokens and secrets, and patch on secrets.",
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			r, err := parseRef(args[0], kindPAT)
			if err != nil {
				return err
			}
			if !strings.Contains(o.email, "@") {
				return fmt.Errorf("--user EMAIL is required: the email of the token's owner")
			}
			if o.sourceSecret == "" {
				o.sourceSecret = r.name + "-import"
			}
			ses, err := g.connect(c.Context(), s.err)
			if err != nil {
				return err
			}
			return ses.importToken(c.Context(), s, r, *o)
		},
	}
	c.Flags().StringVar(&o.email, "user", "", "the email of the token's owner (spec.user.email)")
	c.Flags().StringVar(&o.sourceSecret, "source-secret", "", "the Secret the token is written into (default NAME-import)")
	c.Flags().StringVar(&o.secretName, "secret-name", "", "the Secret the operator writes for workloads (default NAME)")
	c.Flags().DurationVar(&o.timeout, "timeout", 2*time.Minute, "how long to wait for the operator to import the token")
	return c
}

func (s *session) importToken(ctx context.Context, ios streams, r ref, o importOptions) error {
	pat := &iamv1alpha1.PersonalAccessToken{
		ObjectMeta: metav1.ObjectMeta{Namespace: s.namespace, Name: r.name},
		Spec: iamv1alpha1.PersonalAccessTokenSpec{
			User:       iamv1alpha1.UserReference{Email: o.email},
			ImportFrom: &iamv1alpha1.ImportSource{SecretName: o.sourceSecret, Key: iamv1alpha1.DefaultSecretKey},
		},
	}
	pat.Spec.SecretName = o.secretName
	// Ask admission first, before a token is read or written anywhere.
	if err := s.admits(ctx, pat); err != nil {
		return err
	}
	value, err := readToken(ios.in, ios.err, o.email)
	if err != nil {
		return err
	}
	if err := s.createSource(ctx, o.sourceSecret, value); err != nil {
		return err
	}
	if err := s.client.Create(ctx, pat); err != nil {
		s.deleteSource(ctx, o.sourceSecret)
		return fmt.Errorf("create %s (the source Secret was deleted again): %w", r, err)
	}
	if err := s.ownSource(ctx, pat, o.sourceSecret); err != nil {
		fmt.Fprintf(ios.err, "warning: %v; delete Secret %s yourself when you delete %s\n", err, o.sourceSecret, r)
	}
	fmt.Fprintf(ios.err, "created Secret %s and %s; waiting for the operator to check the token (at most %s)\n", o.sourceSecret, r, o.timeout)
	return s.waitImported(ctx, ios, r, o)
}

// admits asks the API server, with a dry run, whether it would admit the resource.
func (s *session) admits(ctx context.Context, pat *iamv1alpha1.PersonalAccessToken) error {
	err := s.client.Create(ctx, pat.DeepCopy(), client.DryRunAll)
	if err == nil {
		return nil
	}
	if apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("pat/%s exists in namespace %s: choose another name, or rotate it to re-import (nothing was created)", pat.Name, pat.Namespace)
	}
	d := decision{Kind: kindPAT, Name: pat.Name, Namespace: pat.Namespace}
	if rerr := s.refusal(&d, err); rerr != nil {
		return rerr
	}
	return answerNo("pat/%s would be refused, by %s: %s. Nothing was read or created", pat.Name, d.RefusedBy, d.Reason)
}

// createSource writes the token into the source Secret. Its errors never quote the Secret.
func (s *session) createSource(ctx context.Context, name, value string) error {
	sec := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: s.namespace, Name: name, Labels: map[string]string{createdByLabel: "kubectl-devin"}},
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{iamv1alpha1.DefaultSecretKey: []byte(value)},
	}
	err := s.client.Create(ctx, sec)
	switch {
	case apierrors.IsAlreadyExists(err):
		return fmt.Errorf("a Secret named %s exists in namespace %s: pass --source-secret with another name, or delete it; nothing was created", name, s.namespace)
	case apierrors.IsForbidden(err):
		return fmt.Errorf("you may not create Secrets in namespace %s: import needs create on secrets there; nothing was created", s.namespace)
	case err != nil:
		return fmt.Errorf("create Secret %s: %s; nothing was created", name, reasonOf(err))
	}
	return nil
}

func (s *session) deleteSource(ctx context.Context, name string) {
	_ = s.client.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: s.namespace, Name: name}})
}

// ownSource makes the resource the owner of its source Secret, so that deleting the
// resource deletes the token's copy too.
func (s *session) ownSource(ctx context.Context, pat *iamv1alpha1.PersonalAccessToken, name string) error {
	ref := metav1.OwnerReference{APIVersion: iamv1alpha1.GroupVersion.String(), Kind: kindPAT, Name: pat.Name, UID: pat.UID}
	patch := client.RawPatch("application/merge-patch+json",
		fmt.Appendf(nil, `{"metadata":{"ownerReferences":[{"apiVersion":%q,"kind":%q,"name":%q,"uid":%q}]}}`,
			ref.APIVersion, ref.Kind, ref.Name, ref.UID))
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: s.namespace, Name: name}}
	if err := s.client.Patch(ctx, sec, patch); err != nil {
		return fmt.Errorf("could not make %s the owner of Secret %s: %s", "pat/"+pat.Name, name, reasonOf(err))
	}
	return nil
}

// reasonOf is the API server's reason for a failed request, without the object it quotes.
func reasonOf(err error) string {
	var st apierrors.APIStatus
	if errors.As(err, &st) {
		return string(st.Status().Reason) + " " + fmt.Sprint(st.Status().Code)
	}
	return err.Error()
}

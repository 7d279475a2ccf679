package kubectldevin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/policy"
)

// decision is the server's answer about one object of the manifest.
type decision struct {
	Allowed   bool   `json:"allowed"`
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	As        string `json:"as"`
	// Policy is the CredentialPolicy the admission webhook recorded (allowed only).
	Policy string `json:"policy,omitempty"`
	// RefusedBy is who refused: admission (the webhooks: CredentialPolicies, owner and SSO
	// checks), rbac (no create on the kind), or validation (the CRD's schema and rules).
	RefusedBy string   `json:"refusedBy,omitempty"`
	Reason    string   `json:"reason,omitempty"`
	Warnings  []string `json:"warnings,omitempty"`
}

func newCanICommand(g *globalFlags, s streams) *cobra.Command {
	out := &outputFlag{}
	var file string
	c := &cobra.Command{
		Use:   "can-i create -f FILE [--as USER]",
		Short: "Ask the API server whether a PersonalAccessToken or ServiceUser manifest would be admitted, and why not",
		Long: "can-i sends the manifest to the API server as a server-side dry run (nothing is stored, nothing minted), " +
			"with generateName instead of its name so that an existing object does not get in the way, and prints the " +
			"admission webhooks' decision with their reason and warnings. --as USER asks for USER (impersonation: " +
			"needs your impersonate right). Exit code 1 when refused. Needs create on the kind.",
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if args[0] != "create" {
				return fmt.Errorf("can-i %s: only create is judged (kubectl devin can-i create -f FILE)", args[0])
			}
			if err := out.validate(); err != nil {
				return err
			}
			if file == "" {
				return errors.New("name the manifest with -f FILE (- for stdin)")
			}
			return canI(c.Context(), g, s, out, file)
		},
	}
	c.Flags().StringVarP(&file, "filename", "f", "", "the manifest: a YAML or JSON file, - for stdin")
	out.bind(c)
	return c
}

func canI(ctx context.Context, g *globalFlags, s streams, out *outputFlag, file string) error {
	objs, err := readManifests(file, s.in)
	if err != nil {
		return err
	}
	ses, err := g.connect(ctx, s.err)
	if err != nil {
		return err
	}
	ses.warnings.collect = true // shown with each answer
	as := ses.who
	if as == "" {
		if as, err = ses.whoAmI(ctx); err != nil {
			return err
		}
	}
	var decisions []decision
	refused := 0
	for _, obj := range objs {
		d, err := ses.dryRun(ctx, obj)
		if err != nil {
			return err
		}
		d.As = as
		if !d.Allowed {
			refused++
		}
		decisions = append(decisions, d)
	}
	if err := out.print(s.out, decisions, func(w io.Writer) { renderDecisions(w, decisions) }); err != nil {
		return err
	}
	if refused > 0 {
		return answerNo("%d of %d refused", refused, len(decisions))
	}
	return nil
}

// dryRun creates obj as a server-side dry run, under a generated name, and reads the answer.
func (s *session) dryRun(ctx context.Context, obj *unstructured.Unstructured) (decision, error) {
	d := decision{Kind: obj.GetKind(), Name: obj.GetName(), Namespace: obj.GetNamespace()}
	switch {
	case d.Namespace == "":
		d.Namespace = s.namespace
	case s.explicitNamespace && d.Namespace != s.namespace:
		return d, fmt.Errorf("%s %s names namespace %s, -n says %s: drop one", d.Kind, d.Name, d.Namespace, s.namespace)
	}
	try := obj.DeepCopy()
	try.SetNamespace(d.Namespace)
	try.SetName("")
	try.SetGenerateName(generateName(d.Name))
	// What the API server sets (a manifest exported with kubectl get -o yaml carries it) is
	// not part of the request.
	for _, field := range []string{"uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "deletionTimestamp"} {
		unstructured.RemoveNestedField(try.Object, "metadata", field)
	}
	unstructured.RemoveNestedField(try.Object, "status")
	s.warnings.take()
	err := s.client.Create(ctx, try, client.DryRunAll)
	d.Warnings = s.warnings.take()
	if err == nil {
		d.Allowed = true
		if rec, rerr := policy.Unverified(try.GetAnnotations()[iamv1alpha1.AdmissionAnnotation]); rerr == nil {
			d.Policy = rec.Policy
		}
		return d, nil
	}
	return d, s.refusal(&d, err)
}

// generateName is the prefix the dry run uses: the manifest's name, shortened to leave room
// for the API server's suffix.
func generateName(name string) string {
	if name == "" {
		return "can-i-"
	}
	if len(name) > 57 {
		name = name[:57]
	}
	return strings.TrimRight(name, "-.") + "-"
}

package kubectldevin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// rotateOptions are rotate's flags.
type rotateOptions struct {
	compromised bool
	timeout     time.Duration
}

func newRotateCommand(g *globalFlags, s streams) *cobra.Command {
	o := &rotateOptions{}
	c := &cobra.Command{
		Use:   "rotate pat/NAME | su/NAME [--compromised]",
		Short: "Ask for a new token now and wait until the Secret holds it",
		Long: "rotate sets the iam.devin.ai/rotate annotation to a new value and waits until the operator has put a new " +
			"token in the Secret (status.rotateRequest equals the value, and Ready), then says what happens to the previous " +
			"token. --compromised revokes the previous token at once, whoever still uses it. Exit code 1 when the rotation " +
			"is refused (the mint budget, a policy) or not done within --timeout. Needs get and patch on the kind.",
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			r, err := parseRef(args[0])
			if err != nil {
				return err
			}
			ses, err := g.connect(c.Context(), s.err)
			if err != nil {
				return err
			}
			return ses.rotate(c.Context(), s, r, *o)
		},
	}
	c.Flags().BoolVar(&o.compromised, "compromised", false, "the token may have leaked: revoke the previous one at once")
	c.Flags().DurationVar(&o.timeout, "timeout", 2*time.Minute, "how long to wait for the new token")
	return c
}

// rotation is one requested rotation: what was asked, and the state before it.
type rotation struct {
	ref      ref
	value    string
	previous *iamv1alpha1.IssuedToken
	// stalledBefore is the Stalled condition before the request: one that appears or
	// changes afterwards answers it.
	stalledBefore *metav1.Condition
	compromised   bool
}

func (s *session) rotate(ctx context.Context, ios streams, r ref, o rotateOptions) error {
	obj, err := s.get(ctx, r)
	if err != nil {
		return err
	}
	if err := rotatable(r, obj); err != nil {
		return err
	}
	st := obj.CredentialStatus()
	rot := &rotation{ref: r, previous: st.Token.DeepCopy(), compromised: o.compromised,
		stalledBefore: meta.FindStatusCondition(st.Conditions, iamv1alpha1.ConditionStalled).DeepCopy()}
	rot.value = rotateValue(ios.clock.Now(), o.compromised, obj.GetAnnotations()[iamv1alpha1.RotateAnnotation], st.RotateRequest)
	if err := s.annotate(ctx, obj, rot.value); err != nil {
		return err
	}
	fmt.Fprintf(ios.err, "set %s=%s on %s; waiting for the operator (at most %s)\n", iamv1alpha1.RotateAnnotation, rot.value, r, o.timeout)
	p := &progress{w: ios.err}
	var done credentialObject
	err = poll(ctx, ios.clock, o.timeout, func(ctx context.Context) (bool, error) {
		cur, err := s.get(ctx, r)
		if err != nil {
			return false, err
		}
		finished, err := rot.check(cur, p)
		if finished {
			done = cur
		}
		return finished, err
	})
	if errors.Is(err, errTimedOut) {
		return answerNo("%s was not rotated within %s (last seen: %s). The annotation stays set and the operator goes on: "+
			"follow it with kubectl devin status %s", r, o.timeout, p.last, r)
	}
	if err != nil {
		return err
	}
	rot.report(ios, done)
	return nil
}

// rotatable refuses, before anything is written, a rotation the operator would not do.
func rotatable(r ref, obj credentialObject) error {
	st := obj.CredentialStatus()
	switch {
	case !obj.GetDeletionTimestamp().IsZero():
		return answerNo("%s is being deleted: nothing is rotated", r)
	case obj.Suspended():
		return answerNo("%s is suspended (spec.suspend: true): the operator does not rotate it; set spec.suspend to false first", r)
	}
	if c := meta.FindStatusCondition(st.Conditions, iamv1alpha1.ConditionStalled); c != nil && c.Status == metav1.ConditionTrue &&
		c.Reason == iamv1alpha1.ReasonMintBudgetExhausted {
		return answerNo("%s may not mint now, refused by the operator's mint budget (%s): %s. Nothing was changed; run rotate again after that time",
			r, iamv1alpha1.ReasonMintBudgetExhausted, c.Message)
	}
	return nil
}

// rotateValue is a new value of the rotate annotation: the time in UTC, as the Argo CD
// action writes it, "compromised-" before it for a leaked token, and "-2", "-3", ... after
// it when that value was already used (two requests within a second).
func rotateValue(now time.Time, compromised bool, used ...string) string {
	base := now.UTC().Format(time.RFC3339)
	if compromised {
		base = iamv1alpha1.RotateCompromised + "-" + base
	}
	value := base
	for n := 2; slices.Contains(used, value); n++ {
		value = fmt.Sprintf("%s-%d", base, n)
	}
	return value
}

// annotate sets the rotate annotation with a merge patch of that one key.
func (s *session) annotate(ctx context.Context, obj credentialObject, value string) error {
	patch := client.RawPatch("application/merge-patch+json",
		fmt.Appendf(nil, `{"metadata":{"annotations":{%q:%q}}}`, iamv1alpha1.RotateAnnotation, value))
	err := s.client.Patch(ctx, obj, patch)
	if apierrors.IsForbidden(err) {
		return fmt.Errorf("you may not change %s/%s: rotate needs patch on %s.iam.devin.ai in namespace %s (%w)",
			short(kindOf(obj)), obj.GetName(), plural(kindOf(obj)), obj.GetNamespace(), err)
	}
	if err != nil {
		return fmt.Errorf("set the annotation %s: %w", iamv1alpha1.RotateAnnotation, err)
	}
	return nil
}

func kindOf(obj credentialObject) string {
	if _, ok := obj.(*iamv1alpha1.ServiceUser); ok {
		return kindSU
	}
	return kindPAT
}

package kubectldevin

import (
	"context"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/conditions"
)

// waitImported waits until the operator has imported the token (Ready) or refused it
// (Stalled), and says which.
func (s *session) waitImported(ctx context.Context, ios streams, r ref, o importOptions) error {
	p := &progress{w: ios.err}
	var done credentialObject
	err := poll(ctx, ios.clock, o.timeout, func(ctx context.Context) (bool, error) {
		cur, err := s.get(ctx, r)
		if err != nil {
			return false, err
		}
		st := cur.CredentialStatus()
		if c := meta.FindStatusCondition(st.Conditions, iamv1alpha1.ConditionStalled); c != nil && c.Status == metav1.ConditionTrue {
			return false, answerNo("the operator did not import the token (%s): %s. %s and Secret %s stay: put the owner's token "+
				"into the Secret and run kubectl devin rotate %s, or kubectl delete %s (the Secret goes with it)",
				c.Reason, c.Message, r, o.sourceSecret, r, r)
		}
		if st.Token != nil && conditions.IsReady(st.Conditions, cur.GetGeneration()) {
			done = cur
			return true, nil
		}
		p.say("waiting for the operator to check the token" + underWay(st.Conditions))
		return false, nil
	})
	if errors.Is(err, errTimedOut) {
		return answerNo("%s was not imported within %s (last seen: %s): follow it with kubectl devin status %s", r, o.timeout, p.last, r)
	}
	if err != nil {
		return err
	}
	st := done.CredentialStatus()
	fmt.Fprintf(ios.out, "%s imported: Secret %s holds token %s of %s.\n", r, st.SecretName, st.Token.ID, o.email)
	fmt.Fprintf(ios.out, "The operator checks it periodically but cannot renew or revoke it: its owner does, in account settings. "+
		"Deleting %s deletes Secrets %s and %s and leaves the token valid upstream.\n", r, st.SecretName, o.sourceSecret)
	return nil
}

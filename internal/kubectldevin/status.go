package kubectldevin

import (
	"context"
	"io"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/conditions"
)

// statusReport is what status says about one resource; -o json and -o yaml print it as is.
type statusReport struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Ready is Ready=True for the current generation: the exit code says the same.
	Ready              bool               `json:"ready"`
	Conditions         []conditionReport  `json:"conditions"`
	Owner              string             `json:"owner,omitempty"`
	ServiceUser        *serviceUserReport `json:"serviceUser,omitempty"`
	Token              *tokenReport       `json:"token,omitempty"`
	PendingRevocations []revocationReport `json:"pendingRevocations"`
	Restarts           *restartReport     `json:"restarts,omitempty"`
	Admission          admissionReport    `json:"admission"`
	Events             []eventReport      `json:"events"`
	EventsNote         string             `json:"eventsNote,omitempty"`
	Suspended          bool               `json:"suspended,omitempty"`
	// Restored is true when the resource adopted its credentials after a restore from a
	// backup (status.restoredFrom, which the operator verifies).
	Restored bool `json:"restored,omitempty"`
	// Deleting is when the resource was deleted; the operator revokes before it goes.
	Deleting *metav1.Time `json:"deleting,omitempty"`
}

// conditionReport is one condition, with what it means in plain words.
type conditionReport struct {
	Type    string       `json:"type"`
	Status  string       `json:"status"`
	Reason  string       `json:"reason"`
	Message string       `json:"message"`
	Meaning string       `json:"meaning"`
	Since   *metav1.Time `json:"since,omitempty"`
	// Stale is true when the condition describes an older spec than the current one.
	Stale bool `json:"stale,omitempty"`
}

// serviceUserReport is a ServiceUser's own upstream identity.
type serviceUserReport struct {
	ID        string       `json:"id,omitempty"`
	Name      string       `json:"name,omitempty"`
	Role      string       `json:"role"`
	ExpiresAt *metav1.Time `json:"expiresAt,omitempty"`
}

// tokenReport is the token the Secret holds (never its value).
type tokenReport struct {
	ID                 string       `json:"id"`
	Name               string       `json:"name"`
	Secret             string       `json:"secret"`
	IssuedAt           *metav1.Time `json:"issuedAt,omitempty"`
	ExpiresAt          *metav1.Time `json:"expiresAt,omitempty"`
	RenewAt            *metav1.Time `json:"renewAt,omitempty"`
	Renewal            string       `json:"renewal"`
	Imported           bool         `json:"imported,omitempty"`
	LastRotation       *metav1.Time `json:"lastRotation,omitempty"`
	LastRotationReason string       `json:"lastRotationReason,omitempty"`
}

// revocationReport is a replaced token waiting to be revoked, and what it waits for.
type revocationReport struct {
	ID       string       `json:"id"`
	Name     string       `json:"name,omitempty"`
	Since    *metav1.Time `json:"since,omitempty"`
	RevokeAt *metav1.Time `json:"revokeAt"`
	WaitsFor string       `json:"waitsFor"`
}

// restartReport is the workloads restarted when the Secret gets a new token.
type restartReport struct {
	Targets   []string     `json:"targets"`
	LastAt    *metav1.Time `json:"lastAt,omitempty"`
	LastToken string       `json:"lastToken,omitempty"`
	Restarted []string     `json:"restarted,omitempty"`
}

func newStatusCommand(g *globalFlags, s streams) *cobra.Command {
	out := &outputFlag{}
	c := &cobra.Command{
		Use:   "status pat/NAME | su/NAME",
		Short: "Say in plain words how a token is: conditions, expiry, renewal, pending revocations, admission, events",
		Long: "status reads a PersonalAccessToken or ServiceUser, its events and its admission record. " +
			"Exit code 0 when it is Ready for its current spec, 1 when not. Needs get on the kind and list on events.",
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if err := out.validate(); err != nil {
				return err
			}
			r, err := parseRef(args[0])
			if err != nil {
				return err
			}
			ses, err := g.connect(c.Context(), s.err)
			if err != nil {
				return err
			}
			rep, err := ses.status(c.Context(), r, s.clock.Now())
			if err != nil {
				return err
			}
			if err := out.print(s.out, rep, func(w io.Writer) { rep.render(w, s.clock.Now()) }); err != nil {
				return err
			}
			if !rep.Ready {
				return answerNo("%s is not Ready%s", r, rep.why())
			}
			return nil
		},
	}
	out.bind(c)
	return c
}

// status gathers the report of one resource.
func (s *session) status(ctx context.Context, r ref, now time.Time) (*statusReport, error) {
	obj, err := s.get(ctx, r)
	if err != nil {
		return nil, err
	}
	st := obj.CredentialStatus()
	rep := &statusReport{
		Kind: r.kind, Namespace: obj.GetNamespace(), Name: obj.GetName(),
		Ready:              conditions.IsReady(st.Conditions, obj.GetGeneration()),
		Conditions:         conditionReports(st.Conditions, obj.GetGeneration()),
		Token:              tokenOf(obj),
		PendingRevocations: revocations(st.PendingRevocations, now),
		Restarts:           restartsOf(obj),
		Admission:          admissionOf(obj),
		Suspended:          obj.Suspended(),
		Restored:           obj.CredentialStatus().RestoredFrom != "",
		Deleting:           obj.GetDeletionTimestamp(),
	}
	switch o := obj.(type) {
	case *iamv1alpha1.PersonalAccessToken:
		rep.Owner = describeOwner(o)
	case *iamv1alpha1.ServiceUser:
		rep.ServiceUser = &serviceUserReport{ID: o.Status.ServiceUserID, Name: o.Status.ServiceUserName,
			Role: o.Spec.Role, ExpiresAt: o.Status.ServiceUserExpiresAt}
	}
	if rep.Events, rep.EventsNote, err = s.events(ctx, obj); err != nil {
		return nil, err
	}
	if rep.Events == nil {
		rep.Events = []eventReport{}
	}
	return rep, nil
}

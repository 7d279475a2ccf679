package kubectldevin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cogtokens/token-operator/internal/devinapi"
)

// inventoryFlags are how inventory reaches the Devin API and knows this cluster's objects.
type inventoryFlags struct {
	secret    string
	key       string
	apiURL    string
	clusterID string
}

func (f *inventoryFlags) bind(c *cobra.Command) {
	fs := c.Flags()
	fs.StringVar(&f.secret, "credentials-secret", "token-operator-system/token-operator-credentials",
		"the operator's credentials Secret, NAMESPACE/NAME (its --credentials-secret-namespace and --credentials-secret-name)")
	fs.StringVar(&f.key, "credentials-key", "token", "the data key of the credential in that Secret (the operator's --credentials-secret-key)")
	fs.StringVar(&f.apiURL, "devin-api-url", "https://api.devin.ai", "the Devin API's URL (the operator's --devin-api-url); http only to a loopback address")
	fs.StringVar(&f.clusterID, "cluster-id", "", "this cluster's identity in upstream names (default: derived from the kube-system "+
		"namespace's UID, as the operator does; pass the operator's --cluster-id when it runs with one)")
}

func newInventoryCommand(g *globalFlags, s streams) *cobra.Command {
	out := &outputFlag{}
	f := &inventoryFlags{}
	c := &cobra.Command{
		Use:   "inventory",
		Short: "List every upstream service user and token this cluster owns beside its resource: owned, orphan or missing",
		Long: "inventory lists the service users, their API keys and the personal access tokens of the Devin API that belong to " +
			"this cluster (their name ends with its marker, \" [k8s:<cluster>:<uid>...]\", or a resource's status names them), " +
			"each beside the resource that owns it. STATE is owned (a resource answers for it), orphan (this cluster's marker, " +
			"but no resource has that UID: it stays valid upstream until someone revokes it) or missing (a Ready resource names " +
			"an object the Devin API does not hold). Other clusters' objects are left out. Personal access tokens are listed per " +
			"user, and only for the users the cluster's PersonalAccessTokens name: an orphan token of a user no resource names " +
			"any more is not found. It calls the Devin API, read-only, with the operator's own credential, read from its Secret " +
			"with your RBAC: 1 call (more with over 200 service users), 1 per service user of this cluster, 1 per user with " +
			"PersonalAccessTokens; the count goes to stderr. Always the whole cluster (-n is refused). Exit code 0 when nothing " +
			"is orphan or missing, 1 otherwise. Needs get on the credentials Secret (normally a cluster admin only), list on " +
			"personalaccesstokens and serviceusers in all namespaces, and get on the kube-system namespace (or --cluster-id).",
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runInventory(c.Context(), g, f, out, s)
		},
	}
	out.bind(c)
	f.bind(c)
	return c
}

func runInventory(ctx context.Context, g *globalFlags, f *inventoryFlags, out *outputFlag, s streams) error {
	if err := out.validate(); err != nil {
		return err
	}
	if err := devinapi.CheckBaseURL(f.apiURL); err != nil {
		return fmt.Errorf("--devin-api-url %w", err)
	}
	ref, err := parseSecretRef(f.secret)
	if err != nil {
		return err
	}
	ses, err := g.connect(ctx, s.err)
	if err != nil {
		return err
	}
	if ses.explicitNamespace {
		return errors.New("inventory covers the whole cluster (an orphan belongs to no namespace): drop -n")
	}
	tok, err := ses.readCredential(ctx, ref, f.key)
	if err != nil {
		return err
	}
	cluster, err := ses.clusterID(ctx, f.clusterID)
	if err != nil {
		return err
	}
	objs, err := ses.credentials(ctx)
	if err != nil {
		return err
	}
	api, calls, err := newDevinClient(f.apiURL, tok)
	if err != nil {
		return err
	}
	up, err := readUpstream(ctx, api, cluster, objs, s.err)
	fmt.Fprintf(s.err, "%d read-only calls to the Devin API (cluster %s).\n", calls.n.Load(), cluster)
	if err != nil {
		return err
	}
	rows := classify(cluster, objs, up)
	if err := out.print(s.out, rows, func(w io.Writer) { renderInventory(w, rows) }); err != nil {
		return err
	}
	return inventoryAnswer(rows)
}

// inventoryAnswer is no when anything is orphan or missing, saying what to do about it.
func inventoryAnswer(rows []inventoryRow) error {
	orphans, missing := problems(rows)
	var say []string
	if orphans > 0 {
		say = append(say, fmt.Sprintf("%d orphan(s): upstream objects with this cluster's marker that no resource owns; they stay "+
			"valid until revoked: revoke the tokens and delete the service users in the Devin web app (a personal access token "+
			"in its owner's account settings)", orphans))
	}
	if missing > 0 {
		say = append(say, fmt.Sprintf("%d missing: Ready resources whose upstream object is gone: `kubectl devin rotate` them for "+
			"a new one (an imported token: its owner generates another), or wait for the operator's periodic check to repair them", missing))
	}
	if len(say) == 0 {
		return nil
	}
	return answerNo("%s.", strings.Join(say, "; "))
}

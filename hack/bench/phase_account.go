// Phase account measures what a second Devin account costs: a ClusterDevinAccount on another
// enterprise of the in-memory API (its own client and watch of its Secret), then ServiceUsers
// that act through it.

package main

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/credential"
	"github.com/cogtokens/token-operator/internal/testing/devenv"
	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

const (
	secondAccount          = "second"
	secondAccountNamespace = "bench-second-account"
)

// accountResult is the cost of a second account: memory with the account alone, then with
// its ServiceUsers; the calls and writes those cost, per ServiceUser.
type accountResult struct {
	serviceUsers int
	// rssBefore, rssAccount and rssUsers are the manager's RSS before the account, with it
	// Ready and idle, and with its ServiceUsers Ready; heap the same for the Go heap in use.
	rssBefore, rssAccount, rssUsers    uint64
	heapBefore, heapAccount, heapUsers float64
	// ready is from the first create to the last ServiceUser Ready.
	ready time.Duration
	// d is the cost of the ServiceUsers, from the first create until the operator was idle.
	d delta
}

// runSecondAccount creates the account (its Secret in the operator's namespace), a policy
// that lets one namespace use it, and o.accountServiceUsers ServiceUsers through it.
func runSecondAccount(ctx context.Context, c *cluster, o options) (accountResult, error) {
	res := accountResult{serviceUsers: o.accountServiceUsers}
	// The periodic check phase left the manager checking every resource each minute: start
	// it again as the throughput phases ran it, and let it settle, so that idle means idle.
	if _, err := c.op.stop(time.Minute); err != nil {
		return res, fmt.Errorf("stop the operator: %w", err)
	}
	if _, err := c.startOperator(ctx, o, time.Hour); err != nil {
		return res, err
	}
	if _, err := c.waitIdle(ctx, o.quiet, o.phaseTimeout, idlePoll); err != nil {
		return res, err
	}
	before, err := c.snapshot(ctx)
	if err != nil {
		return res, err
	}
	res.heapBefore = before.op.HeapInuse
	if res.rssBefore, _, err = c.op.memory(); err != nil {
		return res, err
	}
	if err := createSecondAccount(ctx, c); err != nil {
		return res, err
	}
	if _, err := c.waitIdle(ctx, o.quiet, o.phaseTimeout, idlePoll); err != nil {
		return res, err
	}
	withAccount, err := c.snapshot(ctx)
	if err != nil {
		return res, err
	}
	res.heapAccount = withAccount.op.HeapInuse
	if res.rssAccount, _, err = c.op.memory(); err != nil {
		return res, err
	}
	start := time.Now()
	if err := createAccountServiceUsers(ctx, c, o); err != nil {
		return res, err
	}
	res.ready = time.Since(start)
	if _, err := c.waitIdle(ctx, o.quiet, o.phaseTimeout, idlePoll); err != nil {
		return res, err
	}
	after, err := c.snapshot(ctx)
	if err != nil {
		return res, err
	}
	res.d, res.heapUsers = withAccount.to(after), after.op.HeapInuse
	res.rssUsers, _, err = c.op.memory()
	return res, err
}

// createSecondAccount adds an enterprise upstream and the ClusterDevinAccount acting as its
// admin service user, and waits until the account is Ready.
func createSecondAccount(ctx context.Context, c *cluster) error {
	ent := c.srv.AddEnterprise(devinapitest.DefaultSeed(), devinapitest.EnterpriseName(secondAccount))
	objs := []client.Object{
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: devenv.OperatorNamespace, Name: "bench-" + secondAccount},
			StringData: map[string]string{"token": ent.AdminToken().Reveal()}},
		&iamv1alpha1.ClusterDevinAccount{ObjectMeta: metav1.ObjectMeta{Name: secondAccount},
			Spec: iamv1alpha1.DevinAccountSpec{APIURL: c.srv.URL, CredentialSecretRef: iamv1alpha1.AccountSecretRef{Name: "bench-" + secondAccount},
				DefaultOrganization: ent.Organizations()[0]}},
		&iamv1alpha1.CredentialPolicy{ObjectMeta: metav1.ObjectMeta{Name: "bench-" + secondAccount},
			Spec: iamv1alpha1.CredentialPolicySpec{
				NamespaceSelector: iamv1alpha1.NamespaceSelector{MatchLabels: map[string]iamv1alpha1.LabelValue{"kubernetes.io/metadata.name": secondAccountNamespace}},
				ServiceUsers:      &iamv1alpha1.ServiceUserPolicy{Roles: []string{"*"}},
				Accounts:          &iamv1alpha1.AccountPolicy{ClusterAccounts: []string{secondAccount}},
			}},
	}
	if err := c.env.EnsureNamespace(ctx, secondAccountNamespace); err != nil {
		return err
	}
	for _, obj := range objs {
		if err := c.admin.Create(ctx, obj); err != nil {
			return fmt.Errorf("create %T %s: %w", obj, obj.GetName(), err)
		}
	}
	deadline := time.Now().Add(time.Minute)
	for {
		acct := &iamv1alpha1.ClusterDevinAccount{}
		if err := c.admin.Get(ctx, client.ObjectKey{Name: secondAccount}, acct); err != nil {
			return err
		}
		if meta.IsStatusConditionTrue(acct.Status.Conditions, iamv1alpha1.ConditionReady) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("ClusterDevinAccount %s not Ready after a minute: %v", secondAccount, acct.Status.Conditions)
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return fmt.Errorf("ClusterDevinAccount %s not Ready: %w", secondAccount, err)
		}
	}
}

// createAccountServiceUsers creates the ServiceUsers through the second account and waits
// until all are Ready.
func createAccountServiceUsers(ctx context.Context, c *cluster, o options) error {
	err := parallel(ctx, o.accountServiceUsers, o.applyConcurrency, func(ctx context.Context, i int) error {
		su := newServiceUser(o, secondAccountNamespace, fmt.Sprintf("second-%05d", i))
		su.Spec.AccountRef = &iamv1alpha1.AccountRef{Kind: iamv1alpha1.KindClusterDevinAccount, Name: secondAccount}
		return c.admin.Create(ctx, su)
	})
	if err != nil {
		return err
	}
	deadline := time.Now().Add(o.phaseTimeout)
	for {
		l := &iamv1alpha1.ServiceUserList{}
		if err := c.admin.List(ctx, l, client.InNamespace(secondAccountNamespace)); err != nil {
			return err
		}
		ready := 0
		for i := range l.Items {
			if isReady(credential.Object(&l.Items[i])) {
				ready++
			}
		}
		if ready == o.accountServiceUsers {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d ServiceUsers of the second account Ready after %s", ready, o.accountServiceUsers, o.phaseTimeout)
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
}

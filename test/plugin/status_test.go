package plugin

import (
	"context"
	"encoding/json"
	"regexp"
	"testing"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// statusJSON is the part of status -o json the tests read.
type statusJSON struct {
	Kind       string `json:"kind"`
	Ready      bool   `json:"ready"`
	Conditions []struct {
		Type, Status, Reason, Meaning string
	} `json:"conditions"`
	Token *struct {
		ID        string  `json:"id"`
		Secret    string  `json:"secret"`
		ExpiresAt *string `json:"expiresAt"`
		RenewAt   *string `json:"renewAt"`
	} `json:"token"`
	ServiceUser *struct {
		ID string `json:"id"`
	} `json:"serviceUser"`
	Restarts *struct {
		Targets []string `json:"targets"`
	} `json:"restarts"`
	Admission struct {
		Policy      string `json:"policy"`
		RequestedBy string `json:"requestedBy"`
		Record      *struct {
			User   string `json:"user"`
			Policy string `json:"policy"`
		} `json:"record"`
	} `json:"admission"`
	Events []struct {
		Reason string `json:"reason"`
	} `json:"events"`
}

// TestStatusOfAReadyToken: status of a Ready PersonalAccessToken exits 0 and says, in the
// table and in JSON and YAML, its token, expiry and next renewal, who asked for it under
// which policy, and its events.
func TestStatusOfAReadyToken(t *testing.T) {
	g := NewWithT(t)
	tn := newTenant(t)
	pat := readyPAT(t, tn.ns, "ready")
	id := pat.Status.Token.ID
	waitEvent(t, pat, iamv1alpha1.EventTokenIssued)

	r := plugin(t, "admin", "", "status", "pat/ready", "-n", tn.ns)
	g.Expect(r.code).To(Equal(0), r.String())
	for _, want := range []string{"pat/ready in namespace " + tn.ns + ": Ready", "Ready=True (TokenIssued)", id,
		"Expires:", "Next renewal:", pat.Status.RenewAt.UTC().Format("2006-01-02T15:04:05Z") + " (in ",
		"Requested by:", "admin", "Admitted by policy:", tn.policy, "Pending revocations", "none",
		iamv1alpha1.EventTokenIssued} {
		g.Expect(r.stdout).To(ContainSubstring(want), r.String())
	}

	r = plugin(t, "admin", "", "status", "pat/ready", "-n", tn.ns, "-o", "json")
	g.Expect(r.code).To(Equal(0), r.String())
	var got statusJSON
	g.Expect(json.Unmarshal([]byte(r.stdout), &got)).To(Succeed(), r.stdout)
	g.Expect(got.Ready).To(BeTrue())
	g.Expect(got.Token).NotTo(BeNil())
	g.Expect(got.Token.ID).To(Equal(id))
	g.Expect(got.Token.ExpiresAt).NotTo(BeNil())
	g.Expect(got.Token.RenewAt).NotTo(BeNil())
	g.Expect(got.Admission.Policy).To(Equal(tn.policy))
	g.Expect(got.Admission.RequestedBy).To(Equal("admin"))
	g.Expect(got.Admission.Record).NotTo(BeNil())
	g.Expect(got.Admission.Record.User).To(Equal("admin"))
	g.Expect(got.Admission.Record.Policy).To(Equal(tn.policy))
	g.Expect(got.Events).To(ContainElement(HaveField("Reason", iamv1alpha1.EventTokenIssued)))
	g.Expect(got.Conditions[0].Type).To(Equal(iamv1alpha1.ConditionReady))

	r = plugin(t, "admin", "", "status", "personalaccesstoken/ready", "-n", tn.ns, "-o", "yaml")
	g.Expect(r.code).To(Equal(0), r.String())
	var fromYAML statusJSON
	g.Expect(yaml.Unmarshal([]byte(r.stdout), &fromYAML)).To(Succeed(), r.stdout)
	g.Expect(fromYAML.Token.ID).To(Equal(id))
}

// TestStatusOfAServiceUser: a Ready ServiceUser's status names its upstream service user,
// its role and its restart targets, and exits 0; run by a tenant with the tenant's own RBAC.
func TestStatusOfAServiceUser(t *testing.T) {
	g := NewWithT(t)
	tn := newTenant(t)
	su := &iamv1alpha1.ServiceUser{}
	su.Namespace, su.Name, su.Spec.Role = tn.ns, "bot", "Member"
	su.Spec.APIKey.RolloutRestartTargets = []iamv1alpha1.RolloutRestartTarget{{Kind: "Deployment", Name: "web"},
		{Kind: "StatefulSet", Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "worker"}}}}
	g.Expect(k8s.Create(context.Background(), su)).To(Succeed())
	su = waitFor(t, su, isReady[*iamv1alpha1.ServiceUser], "Ready with a key")

	r := plugin(t, alice, "", "status", "su/bot", "-n", tn.ns, "-o", "json")
	g.Expect(r.code).To(Equal(0), r.String())
	var got statusJSON
	g.Expect(json.Unmarshal([]byte(r.stdout), &got)).To(Succeed(), r.stdout)
	g.Expect(got.Kind).To(Equal("ServiceUser"))
	g.Expect(got.ServiceUser).NotTo(BeNil())
	g.Expect(got.ServiceUser.ID).To(Equal(su.Status.ServiceUserID))
	g.Expect(got.Token.ID).To(Equal(su.Status.Token.ID))
	g.Expect(got.Restarts).NotTo(BeNil())
	g.Expect(got.Restarts.Targets).To(Equal([]string{"Deployment/web", "StatefulSet selected by app=worker"}))

	r = plugin(t, alice, "", "status", "su/bot", "-n", tn.ns)
	g.Expect(r.stdout).To(ContainSubstring("Service user: " + su.Status.ServiceUserID))
	g.Expect(r.stdout).To(ContainSubstring("role Member"))
	g.Expect(r.stdout).To(ContainSubstring("Restart targets: Deployment/web, StatefulSet selected by app=worker"))
}

// TestStatusOfATokenNotReady: a resource that is not Ready (an import whose source Secret
// does not exist) exits 1 and says why in plain words; a resource that does not exist
// exits 2 and says how to find one.
func TestStatusOfATokenNotReady(t *testing.T) {
	g := NewWithT(t)
	tn := newTenant(t)
	pat := newPAT(tn.ns, "no-source", alice)
	pat.Spec.ImportFrom = &iamv1alpha1.ImportSource{SecretName: "missing"}
	g.Expect(k8s.Create(context.Background(), pat)).To(Succeed())
	waitFor(t, pat, func(p *iamv1alpha1.PersonalAccessToken) bool {
		return stalledFor(p.Status.Conditions, p.Generation) == iamv1alpha1.ReasonImportSourceMissing
	}, "Stalled, ImportSourceMissing")

	r := plugin(t, "admin", "", "status", "pat/no-source", "-n", tn.ns)
	g.Expect(r.code).To(Equal(1), r.String())
	g.Expect(r.stdout).To(ContainSubstring("NOT Ready"))
	g.Expect(r.stdout).To(ContainSubstring("stuck: only a change of the spec"))
	g.Expect(r.stderr).To(ContainSubstring("pat/no-source is not Ready: Stalled=True, " + iamv1alpha1.ReasonImportSourceMissing))

	r = plugin(t, "admin", "", "status", "pat/nothing-here", "-n", tn.ns)
	g.Expect(r.code).To(Equal(2), r.String())
	g.Expect(r.stderr).To(ContainSubstring("pat/nothing-here not found in namespace " + tn.ns + ": list them with kubectl get pat"))

	r = plugin(t, "admin", "", "status", "deployment/web", "-n", tn.ns)
	g.Expect(r.code).To(Equal(2), r.String())
	g.Expect(r.stderr).To(ContainSubstring("name one as pat/NAME or su/NAME"))
}

// TestStatusShowsRestartsAndWhatARevocationWaitsFor: after a rotation of a token with a
// restart target, status shows the restart done for the new token and that the previous
// token waits for the workload to roll out (no controller rolls it out here).
func TestStatusShowsRestartsAndWhatARevocationWaitsFor(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	tn := newTenant(t)
	labels := map[string]string{"app": "web"}
	g.Expect(k8s.Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: tn.ns, Name: "web"},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "registry.example/web:1"}}},
		}},
	})).To(Succeed())
	pat := newPAT(tn.ns, "restarted", alice)
	pat.Spec.RolloutRestartTargets = []iamv1alpha1.RolloutRestartTarget{{Kind: "Deployment", Name: "web"}}
	g.Expect(k8s.Create(ctx, pat)).To(Succeed())
	old := waitFor(t, pat, isReady[*iamv1alpha1.PersonalAccessToken], "Ready").Status.Token.ID

	r := plugin(t, "admin", "", "rotate", "pat/restarted", "-n", tn.ns)
	g.Expect(r.code).To(Equal(0), r.String())
	pat = waitFor(t, pat, func(p *iamv1alpha1.PersonalAccessToken) bool {
		st := p.Status
		return st.Restart != nil && st.Token != nil && st.Restart.TokenID == st.Token.ID &&
			len(st.PendingRevocations) == 1 && st.PendingRevocations[0].WaitingFor != ""
	}, "restarted for the new token, the previous one waiting for the rollout")

	r = plugin(t, "admin", "", "status", "pat/restarted", "-n", tn.ns)
	g.Expect(r.code).To(Equal(0), r.String())
	g.Expect(r.stdout).To(ContainSubstring("Restart targets: Deployment/web"))
	g.Expect(r.stdout).To(ContainSubstring("for token " + pat.Status.Token.ID + ": "))
	g.Expect(r.stdout).To(MatchRegexp(old + `\s+.*\s+` + regexp.QuoteMeta(pat.Status.PendingRevocations[0].WaitingFor) + "; at the latest "))
	g.Expect(r.stdout).To(ContainSubstring("ConsumersRestarted=True"))
}

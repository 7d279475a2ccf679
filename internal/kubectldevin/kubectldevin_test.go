package kubectldevin

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/devinapi"
)

func TestParseRef(t *testing.T) {
	for arg, want := range map[string]ref{
		"pat/alice": {kind: kindPAT, name: "alice"},
		"PAT/alice": {kind: kindPAT, name: "alice"},
		"personalaccesstokens.iam.devin.ai/alice": {kind: kindPAT, name: "alice"},
		"su/bot":                                 {kind: kindSU, name: "bot"},
		"serviceuser/bot":                        {kind: kindSU, name: "bot"},
		"pat":                                    {},
		"pat/":                                   {},
		"pat/a/b":                                {},
		"deployment/web":                         {},
		"alice":                                  {},
		"credentialpolicies.iam.devin.ai/team-a": {},
	} {
		got, err := parseRef(arg)
		if (err != nil) != (want == ref{}) || got != want {
			t.Errorf("parseRef(%q) = %+v, %v; want %+v", arg, got, err, want)
		}
	}
	if _, err := parseRef("su/bot", kindPAT); err == nil || !strings.Contains(err.Error(), "takes pat/NAME only") {
		t.Errorf("import of a ServiceUser: %v", err)
	}
}

// rotateValue writes the time, as the Argo CD action does, and never a value already used
// (which would not rotate).
func TestRotateValue(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 500, time.FixedZone("CEST", 2*3600))
	for _, tc := range []struct {
		compromised bool
		used        []string
		want        string
	}{
		{false, nil, "2026-06-01T10:00:00Z"},
		{true, nil, "compromised-2026-06-01T10:00:00Z"},
		{false, []string{"2026-06-01T10:00:00Z", ""}, "2026-06-01T10:00:00Z-2"},
		{false, []string{"2026-06-01T10:00:00Z", "2026-06-01T10:00:00Z-2"}, "2026-06-01T10:00:00Z-3"},
		{true, []string{"compromised-2026-06-01T10:00:00Z"}, "compromised-2026-06-01T10:00:00Z-2"},
	} {
		if got := rotateValue(now, tc.compromised, tc.used...); got != tc.want {
			t.Errorf("rotateValue(compromised=%v, used=%v) = %q, want %q", tc.compromised, tc.used, got, tc.want)
		}
		if tc.compromised && !strings.HasPrefix(rotateValue(now, true), iamv1alpha1.RotateCompromised) {
			t.Error("a compromised rotation does not start with the prefix the operator reads")
		}
	}
}

// policyGrants finds use and delegate however they are granted, and flags wildcards.
func TestPolicyGrants(t *testing.T) {
	iam := []string{iamv1alpha1.GroupVersion.Group}
	policies := []string{"credentialpolicies"}
	for name, tc := range map[string]struct {
		rule     rbacv1.PolicyRule
		verbs    []string
		wildcard bool
	}{
		"use by name":       {rbacv1.PolicyRule{APIGroups: iam, Resources: policies, ResourceNames: []string{"a"}, Verbs: []string{"use"}}, []string{"use"}, false},
		"both":              {rbacv1.PolicyRule{APIGroups: iam, Resources: policies, Verbs: []string{"delegate", "use"}}, []string{"use", "delegate"}, false},
		"any verb":          {rbacv1.PolicyRule{APIGroups: iam, Resources: policies, Verbs: []string{"*"}}, []string{"use", "delegate"}, true},
		"any resource":      {rbacv1.PolicyRule{APIGroups: iam, Resources: []string{"*"}, Verbs: []string{"use"}}, []string{"use"}, true},
		"any group":         {rbacv1.PolicyRule{APIGroups: []string{"*"}, Resources: policies, Verbs: []string{"delegate"}}, []string{"delegate"}, true},
		"cluster-admin":     {rbacv1.PolicyRule{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"*"}}, []string{"use", "delegate"}, true},
		"read only":         {rbacv1.PolicyRule{APIGroups: iam, Resources: policies, Verbs: []string{"get", "list", "watch"}}, nil, false},
		"other resource":    {rbacv1.PolicyRule{APIGroups: iam, Resources: []string{"personalaccesstokens"}, Verbs: []string{"*"}}, nil, false},
		"other group":       {rbacv1.PolicyRule{APIGroups: []string{"apps"}, Resources: []string{"*"}, Verbs: []string{"*"}}, nil, false},
		"non-resource URLs": {rbacv1.PolicyRule{NonResourceURLs: []string{"*"}, Verbs: []string{"*"}}, nil, false},
	} {
		got := policyGrants([]rbacv1.PolicyRule{tc.rule})
		switch {
		case tc.verbs == nil && len(got) != 0:
			t.Errorf("%s: granted %+v, want nothing", name, got)
		case tc.verbs != nil && (len(got) != 1 || !slices.Equal(got[0].verbs, tc.verbs) || got[0].wildcard != tc.wildcard):
			t.Errorf("%s: granted %+v, want %v (wildcard %v)", name, got, tc.verbs, tc.wildcard)
		}
	}
}

// readToken takes the first line of a pipe, checks that it is a token, and never quotes
// what it read in an error.
func TestReadToken(t *testing.T) {
	for in, want := range map[string]string{
		"cog_abc123\n":                  "cog_abc123",
		"  cog_abc-_9  \r\nsecond line": "cog_abc-_9",
		"cog_abc123":                    "cog_abc123",
	} {
		got, err := readToken(strings.NewReader(in), &bytes.Buffer{}, "alice")
		if err != nil || got != want {
			t.Errorf("readToken(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "\n", "hunter2secret", "cog_abc def", "Bearer cog_abc", "cog_", "cog_abc;rm"} {
		_, err := readToken(strings.NewReader(in), &bytes.Buffer{}, "alice")
		if err == nil {
			t.Errorf("readToken(%q) accepted it", in)
			continue
		}
		// (The bare prefix is in every such error: it says what a token looks like.)
		if in = strings.TrimSpace(in); in != "" && in != "cog_" && strings.Contains(err.Error(), in) {
			t.Errorf("readToken(%q): the error quotes the input: %v", in, err)
		}
	}
}

// A command line that holds a token value is refused before anything runs, without
// repeating it.
func TestRunRefusesATokenInArguments(t *testing.T) {
	for _, args := range [][]string{
		{"import", "pat/a", "cog_secret123", "--user", "a@example.com"},
		{"import", "pat/a", "--user=cog_secret123"},
		{"status", "pat/cog_secret123"},
	} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), args, streams{in: strings.NewReader(""), out: &out, err: &errOut, clock: clocktesting.NewFakeClock(time.Now())})
		if code != ExitFailed || !strings.Contains(errOut.String(), "an argument looks like a token value") {
			t.Errorf("%v: exit %d, %q", args, code, errOut.String())
		}
		if strings.Contains(out.String()+errOut.String(), "secret123") {
			t.Errorf("%v: the value was printed", args)
		}
	}
}

func TestRevocationsSayWhatTheyWaitFor(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(d)) }
	got := revocations([]iamv1alpha1.PendingRevocation{
		{ID: "grace", RevokeAt: at(time.Hour)},
		{ID: "consumers", RevokeAt: at(time.Hour), WaitForConsumers: true},
		{ID: "rollout", RevokeAt: at(time.Hour), WaitForConsumers: true, WaitingFor: "Deployment/web to roll out"},
		{ID: "due", RevokeAt: at(-time.Second), WaitForConsumers: true},
	}, now)
	for i, want := range []string{
		"the end of its grace period, 2026-06-01T13:00:00Z",
		"its consumers to switch to the new token; at the latest 2026-06-01T13:00:00Z",
		"Deployment/web to roll out; at the latest 2026-06-01T13:00:00Z",
		"nothing: due now",
	} {
		if !strings.HasPrefix(got[i].WaitsFor, want) {
			t.Errorf("%s waits for %q, want %q", got[i].ID, got[i].WaitsFor, want)
		}
	}
}

var docCommand = regexp.MustCompile("(?s)```sh\n(.*?)```")

// Every command line of docs/kubectl-plugin.md is a command of the plugin with flags it
// takes and the arguments it expects, and every command is shown (what each does is run end
// to end by test/plugin).
func TestDocExamplesAreCommands(t *testing.T) {
	b, err := os.ReadFile("../../docs/kubectl-plugin.md")
	if err != nil {
		t.Fatal(err)
	}
	shown := map[string]bool{}
	for _, block := range docCommand.FindAllStringSubmatch(string(b), -1) {
		for _, line := range strings.Split(block[1], "\n") {
			line, _, _ = strings.Cut(line, "#")
			if i := strings.LastIndex(line, "|"); i >= 0 {
				line = line[i+1:]
			}
			fields := strings.Fields(line)
			if len(fields) < 2 || fields[0] != "kubectl" || fields[1] != "devin" {
				continue
			}
			root := newRoot(streams{})
			c, rest, err := root.Find(fields[2:])
			if err != nil {
				t.Errorf("%q: %v", line, err)
				continue
			}
			err = c.ParseFlags(rest)
			switch {
			case errors.Is(err, pflag.ErrHelp):
			case err != nil:
				t.Errorf("%q: %v", line, err)
				continue
			default:
				if err := c.ValidateArgs(c.Flags().Args()); err != nil {
					t.Errorf("%q: %v", line, err)
				}
			}
			shown[c.Name()] = true
		}
	}
	for _, c := range newRoot(streams{}).Commands() {
		if !shown[c.Name()] {
			t.Errorf("docs/kubectl-plugin.md shows no example of %s", c.Name())
		}
	}
}

// inventoryFixture is a cluster (ID "cX") with a Ready ServiceUser and PersonalAccessToken
// whose upstream objects exist, Ready ones whose upstream objects are gone, one not Ready,
// and what the Devin API holds: theirs, orphans of this cluster, other clusters' and
// people's own.
func inventoryFixture() ([]credentialObject, *upstream) {
	ready := []metav1.Condition{{Type: iamv1alpha1.ConditionReady, Status: metav1.ConditionTrue}}
	su := func(ns, name, uid, suID, token string, conds []metav1.Condition) *iamv1alpha1.ServiceUser {
		o := &iamv1alpha1.ServiceUser{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID(uid)}}
		o.Status.ServiceUserID, o.Status.ServiceUserName, o.Status.Conditions = suID, name+" [k8s:cX:"+uid+"]", conds
		o.Status.Token = &iamv1alpha1.IssuedToken{ID: token, Name: name + " [k8s:cX:" + uid + ":2]"}
		return o
	}
	pat := func(ns, name, uid, token string) *iamv1alpha1.PersonalAccessToken {
		o := &iamv1alpha1.PersonalAccessToken{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID(uid)}}
		o.Status.UserID, o.Status.Conditions = "user-alice", ready
		o.Status.Token = &iamv1alpha1.IssuedToken{ID: token, Name: ns + "/" + name + " [k8s:cX:" + uid + ":1]"}
		return o
	}
	bot := su("team-a", "bot", "uid-su", "su-1", "key-2", ready)
	bot.Status.PendingRevocations = []iamv1alpha1.PendingRevocation{{ID: "key-1"}}
	objs := []credentialObject{bot, pat("team-a", "ci", "uid-pat", "pat-1"), pat("team-b", "gone", "uid-gone", "pat-9"),
		su("team-b", "lost", "uid-lost", "su-lost", "key-9", ready), su("team-b", "broken", "uid-broken", "su-broken", "key-8", nil)}
	key := func(id, name string) devinapi.APIKey { return devinapi.APIKey{ID: id, Name: name} }
	return objs, &upstream{
		serviceUsers: []devinapi.ServiceUser{{ID: "su-1", Name: "bot [k8s:cX:uid-su]"}, {ID: "su-2", Name: "old [k8s:cX:uid-deleted]"},
			{ID: "su-3", Name: "theirs [k8s:cOther:uid-x]"}, {ID: "su-4", Name: "hand-made"}},
		keys: map[string][]devinapi.APIKey{
			"su-1": {key("key-1", "initial"), key("key-2", "bot [k8s:cX:uid-su:2]"), key("key-3", "bot [k8s:cX:uid-su:3]")},
			"su-2": {key("key-4", "initial")}},
		pats: map[string][]devinapi.APIKey{"user-alice": {key("pat-1", "team-a/ci [k8s:cX:uid-pat:1]"),
			key("pat-2", "x [k8s:cX:uid-deleted-2:1]"), key("pat-3", "from account settings"), key("pat-4", "y [k8s:cOther:uid-pat:1]"),
			key("pat-5", "legacy [k8s:uid-pat:4]"), key("pat-6", "legacy [k8s:uid-unknown:1]")}},
	}
}

// classify lists this cluster's upstream objects as owned or orphan, and Ready resources
// whose upstream object is gone as missing; other clusters' objects, people's own and the
// upstream objects of resources that are not Ready are left out.
func TestInventoryClassification(t *testing.T) {
	objs, up := inventoryFixture()
	got := map[string]string{}
	for _, r := range classify("cX", objs, up) {
		got[r.Kind+" "+r.UpstreamID] = r.State + " " + r.Resource + " " + r.UpstreamName
	}
	want := map[string]string{
		"ServiceUser su-1":    "owned team-a/bot bot",
		"APIKey key-1":        "owned team-a/bot initial",
		"APIKey key-2":        "owned team-a/bot bot",
		"APIKey key-3":        "owned team-a/bot bot",
		"PAT pat-1":           "owned team-a/ci team-a/ci",
		"PAT pat-5":           "owned team-a/ci legacy",
		"ServiceUser su-2":    "orphan  old",
		"APIKey key-4":        "orphan  initial",
		"PAT pat-2":           "orphan  x",
		"PAT pat-9":           "missing team-b/gone team-b/gone",
		"ServiceUser su-lost": "missing team-b/lost lost",
	}
	if !maps.Equal(got, want) {
		t.Errorf("classify:\n got %v\nwant %v", got, want)
	}
	if err := inventoryAnswer(classify("cX", objs[:2], &upstream{serviceUsers: up.serviceUsers[:1], keys: up.keys,
		pats: map[string][]devinapi.APIKey{"user-alice": up.pats["user-alice"][:1]}})); err != nil {
		t.Errorf("nothing orphan or missing: %v", err)
	}
	var no *noAnswer
	if err := inventoryAnswer(classify("cX", objs, up)); !errors.As(err, &no) || !strings.Contains(no.msg, "3 orphan(s)") ||
		!strings.Contains(no.msg, "2 missing") {
		t.Errorf("orphans and missing objects: %v", err)
	}
}

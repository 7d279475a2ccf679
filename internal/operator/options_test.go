package operator

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
)

func TestTheDefaultsAreValid(t *testing.T) {
	if err := DefaultOptions().Validate(); err != nil {
		t.Fatalf("the defaults: %v", err)
	}
	for _, url := range []string{"https://devin.example.com/api", "http://127.0.0.1:8765", "http://[::1]:80", "http://localhost:1"} {
		o := DefaultOptions()
		o.DevinAPIURL = url
		if err := o.Validate(); err != nil {
			t.Errorf("--devin-api-url=%s: %v", url, err)
		}
	}
}

// Each bad value is refused with the name of its flag, whether it came from the command line
// or from code (tests, make run), and before the manager contacts anything.
func TestValidateNamesTheFlag(t *testing.T) {
	for flagName, edit := range map[string]func(*Options){
		"policy-mode":                  func(o *Options) { o.PolicyMode = "enforcing" },
		"sso-mode":                     func(o *Options) { o.SSOMode = "" },
		"on-upstream-revocation":       func(o *Options) { o.OnUpstreamRevocation = "Reissue" },
		"mint-budget":                  func(o *Options) { o.MintBudget = 0 },
		"devin-api-url":                func(o *Options) { o.DevinAPIURL = "http://api.devin.ai" },
		"credentials-secret-key":       func(o *Options) { o.CredentialsSecretKey = "" },
		"devin-api-timeout":            func(o *Options) { o.APITimeout = 0 },
		"webhook-backend-timeout":      func(o *Options) { o.WebhookBackendTimeout = -time.Second },
		"verify-interval":              func(o *Options) { o.VerifyInterval = -time.Minute },
		"devin-api-qps":                func(o *Options) { o.APIQPS = -1 },
		"max-concurrent-reconciles":    func(o *Options) { o.MaxConcurrentReconciles = 0 },
		"webhook-service-name":         func(o *Options) { o.WebhookCertSecretName = "certs" },
		"requester-email-rule":         func(o *Options) { o.RequesterEmailRules = []string{"(unclosed=>${1}@example.com"} },
		"admission-key-secret-name":    func(o *Options) { o.AdmissionKeySecretName = "" },
		"credentials-secret-namespace": func(o *Options) { o.CredentialsSecretNamespace = "" },
		"watch-label-selector":         func(o *Options) { o.WatchLabelSelector = "sharding.fluxcd.io/key in (a" },
	} {
		o := DefaultOptions()
		edit(&o)
		err := o.Validate()
		if err == nil || !strings.Contains(err.Error(), "--"+flagName+":") {
			t.Errorf("%s: Validate = %v, want an error naming --%s", flagName, err, flagName)
			continue
		}
		if _, err := NewManager(&rest.Config{Host: "https://127.0.0.1:1"}, o); err == nil || !strings.Contains(err.Error(), "--"+flagName) {
			t.Errorf("%s: NewManager = %v, want the options refused", flagName, err)
		}
	}
}

// A URL refused names no secret it carries, and several problems read in one order.
func TestValidateShowsNoSecretOfTheURLAndAStableOrder(t *testing.T) {
	o := DefaultOptions()
	o.DevinAPIURL = "http://ops:hunter2@api.example.com"
	o.MintBudget, o.APIQPS, o.KubeAPIQPS, o.APIBurst = 0, -1, -1, -1
	first := o.Validate()
	if first == nil || strings.Contains(first.Error(), "hunter2") {
		t.Fatalf("Validate = %v, want refused without the password", first)
	}
	for range 20 {
		if again := o.Validate(); again.Error() != first.Error() {
			t.Fatalf("the problems changed order:\n%v\n%v", first, again)
		}
	}
	o = DefaultOptions()
	o.DevinAPIURL = "https://ops:hunter2@api.example.com/%zz"
	if err := o.Validate(); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("an unparsable URL: %v, want refused without showing it", err)
	}
}

func TestEnumFlagsRefuseOtherValuesAtParse(t *testing.T) {
	for _, arg := range []string{"--policy-mode=Enforce", "--sso-mode=auto", "--on-upstream-revocation=ignore"} {
		o := DefaultOptions()
		fs := flag.NewFlagSet("manager", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		o.BindFlags(fs)
		if err := fs.Parse([]string{arg}); err == nil || !strings.Contains(err.Error(), "want ") {
			t.Errorf("%s: %v, want refused with the values it takes", arg, err)
		}
	}
	o := DefaultOptions()
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	o.BindFlags(fs)
	if err := fs.Parse([]string{"--policy-mode=warn", "--sso-mode=enforced", "--on-upstream-revocation=reissue", "--mint-budget=12"}); err != nil {
		t.Fatal(err)
	}
	if o.PolicyMode != "warn" || o.SSOMode != SSOModeEnforced || o.OnUpstreamRevocation != UpstreamRevocationReissue || o.MintBudget != 12 {
		t.Errorf("parsed %+v", o)
	}
}

// TestLeaderElectionPerShard: each shard elects its own leader (one lease per selector, the
// same for two spellings of it); the unsharded operator keeps the lease it always had.
func TestLeaderElectionPerShard(t *testing.T) {
	const unsharded = "token-operator.iam.devin.ai"
	if got := leaderElectionID(""); got != unsharded {
		t.Errorf("unsharded: %q, want %q", got, unsharded)
	}
	a, b := leaderElectionID("sharding.fluxcd.io/key=a"), leaderElectionID("sharding.fluxcd.io/key=b")
	if a == b || a == unsharded || b == unsharded {
		t.Errorf("shards share a lease: a %q, b %q", a, b)
	}
	if again := leaderElectionID(" sharding.fluxcd.io/key = a "); again != a {
		t.Errorf("the same selector written another way: %q, want %q", again, a)
	}
	if len(a) > 63 {
		t.Errorf("lease name %q is longer than a label value may be", a)
	}
}

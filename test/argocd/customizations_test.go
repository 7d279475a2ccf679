package argocd

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"
)

// root is the repository root; tests run in their package directory.
const root = "../.."

// group is the API group of every kind; config/argocd/<group>/<Kind>/ mirrors Argo CD's
// resource_customizations/<group>/<Kind>/.
const group = "iam.devin.ai"

// kinds are the credential kinds: a health check and the rotate action each.
var kinds = []string{"PersonalAccessToken", "ServiceUser"}

// accountKinds are the account kinds: a health check each, no action.
var accountKinds = []string{"DevinAccount", "ClusterDevinAccount"}

// healthKinds are the kinds with a health check: all of them.
func healthKinds() []string { return append(slices.Clone(kinds), accountKinds...) }

// hasActions reports whether a kind has Argo CD actions (actions/ beside its health check).
func hasActions(kind string) bool { return slices.Contains(kinds, kind) }

func kindDir(kind string) string { return filepath.Join(root, "config", "argocd", group, kind) }

// healthStatus is Argo CD's health.HealthStatus.
type healthStatus struct {
	Status  string `json:"status,omitempty"`
	Message string `json:"message,omitempty"`
}

// healthTests is Argo CD's health_test.yaml.
type healthTests struct {
	Tests []struct {
		HealthStatus healthStatus `json:"healthStatus"`
		InputPath    string       `json:"inputPath"`
	} `json:"tests"`
}

// resourceAction is Argo CD's ResourceAction, as discovery returns it.
type resourceAction struct {
	Name        string `json:"name"`
	DisplayName string `json:"displayName,omitempty"`
	IconClass   string `json:"iconClass,omitempty"`
	Disabled    bool   `json:"disabled,omitempty"`
}

// actionTests is Argo CD's action_test.yaml, plus "now": the clock of the sandbox.
type actionTests struct {
	DiscoveryTests []struct {
		InputPath string           `json:"inputPath"`
		Result    []resourceAction `json:"result"`
	} `json:"discoveryTests"`
	ActionTests []struct {
		Action             string    `json:"action"`
		InputPath          string    `json:"inputPath"`
		Now                time.Time `json:"now"`
		ExpectedOutputPath string    `json:"expectedOutputPath"`
	} `json:"actionTests"`
}

var validHealth = []string{"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readObject(t *testing.T, path string) map[string]any {
	t.Helper()
	obj := map[string]any{}
	if err := yaml.Unmarshal(readFile(t, path), &obj); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return obj
}

func readStrict(t *testing.T, path string, into any) {
	t.Helper()
	if err := yaml.UnmarshalStrict(readFile(t, path), into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// fixedClock is a clock for the sandbox's os module.
func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

var argoCDClock = fixedClock(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))

// health runs a health script and interprets its result as Argo CD does: a table decoded
// into a HealthStatus, nil as no health, an unknown status as Unknown.
func health(t *testing.T, sb sandbox, script string, obj map[string]any) healthStatus {
	t.Helper()
	ret, err := sb.run(script, obj)
	if err != nil {
		t.Fatalf("health script failed: %v", err)
	}
	hs := healthStatus{}
	switch ret := ret.(type) {
	case nil:
		return hs
	case map[string]any:
		for k, v := range ret {
			s, ok := v.(string)
			switch {
			case k == "status" && ok:
				hs.Status = s
			case k == "message" && ok:
				hs.Message = s
			default:
				t.Fatalf("health script returned %s = %#v; Argo CD expects status and message strings", k, v)
			}
		}
	case []any:
		if len(ret) > 0 {
			t.Fatalf("health script returned a list: %v", ret)
		}
		return hs
	default:
		t.Fatalf("health script returned %T, Argo CD expects a table", ret)
	}
	if !slices.Contains(validHealth, hs.Status) {
		return healthStatus{Status: "Unknown", Message: "Lua returned an invalid health status"}
	}
	return hs
}

// TestHealth runs each kind's health_test.yaml, in Argo CD's default sandbox and with
// useOpenLibs.
func TestHealth(t *testing.T) {
	for _, kind := range healthKinds() {
		dir := kindDir(kind)
		script := string(readFile(t, filepath.Join(dir, "health.lua")))
		var tests healthTests
		readStrict(t, filepath.Join(dir, "health_test.yaml"), &tests)
		if len(tests.Tests) == 0 {
			t.Fatalf("%s/health_test.yaml has no tests", kind)
		}
		for _, tc := range tests.Tests {
			obj := readObject(t, filepath.Join(dir, tc.InputPath))
			for _, sb := range []sandbox{{now: argoCDClock}, {openLibs: true, now: argoCDClock}} {
				name := kind + "/" + tc.InputPath
				if sb.openLibs {
					name += "/useOpenLibs"
				}
				t.Run(name, func(t *testing.T) {
					if got := health(t, sb, script, obj); got != tc.HealthStatus {
						t.Errorf("health:\n got %+v\nwant %+v", got, tc.HealthStatus)
					}
				})
			}
		}
	}
}

// TestHealthCoversEveryState checks that each kind's table covers the states the operator
// reports, so that a new state gets a test.
func TestHealthCoversEveryState(t *testing.T) {
	want := map[string][]string{
		"PersonalAccessToken": {"new", "issuing", "backend-error", "ready", "rotated", "rotation-failing",
			"stalled-sso-account", "old-generation", "suspended", "deleting"},
		"ServiceUser": {"new", "provisioning-error", "ready", "expiring-soon", "stalled-unknown-role",
			"stalled-while-ready", "old-generation", "suspended", "deleting"},
		"DevinAccount": {"new", "ready", "expiring-soon", "backend-error", "stalled-secret-missing",
			"stalled-refused", "stalled-not-a-service-user", "old-generation"},
		"ClusterDevinAccount": {"new", "ready", "expiring-soon", "backend-error", "stalled-secret-missing",
			"stalled-refused", "stalled-namespace-not-allowed", "old-generation"},
	}
	for _, kind := range healthKinds() {
		var tests healthTests
		readStrict(t, filepath.Join(kindDir(kind), "health_test.yaml"), &tests)
		var got []string
		statuses := map[string]bool{}
		for _, tc := range tests.Tests {
			got = append(got, tc.InputPath)
			statuses[tc.HealthStatus.Status] = true
		}
		for _, state := range want[kind] {
			if !slices.Contains(got, "testdata/"+state+".yaml") {
				t.Errorf("%s/health_test.yaml has no test for testdata/%s.yaml", kind, state)
			}
		}
		for _, s := range []string{"Healthy", "Progressing", "Degraded"} {
			if !statuses[s] {
				t.Errorf("%s/health_test.yaml expects %s nowhere", kind, s)
			}
		}
	}
}

// TestActions runs each kind's action_test.yaml: discovery lists rotate (disabled while
// suspended or being deleted) and rotate gives the expected object.
func TestActions(t *testing.T) {
	for _, kind := range kinds {
		dir := filepath.Join(kindDir(kind), "actions")
		discovery := string(readFile(t, filepath.Join(dir, "discovery.lua")))
		var tests actionTests
		readStrict(t, filepath.Join(dir, "action_test.yaml"), &tests)
		if len(tests.DiscoveryTests) == 0 || len(tests.ActionTests) == 0 {
			t.Fatalf("%s/actions/action_test.yaml needs discovery and action tests", kind)
		}
		for _, tc := range tests.DiscoveryTests {
			t.Run(kind+"/discovery/"+tc.InputPath, func(t *testing.T) {
				got := discover(t, discovery, readObject(t, filepath.Join(dir, tc.InputPath)))
				if diff := cmp.Diff(tc.Result, got); diff != "" {
					t.Errorf("discovery (-want +got):\n%s", diff)
				}
			})
		}
		for _, tc := range tests.ActionTests {
			t.Run(kind+"/"+tc.Action+"/"+tc.InputPath, func(t *testing.T) {
				if tc.Now.IsZero() {
					t.Fatal("an action test needs now")
				}
				script := string(readFile(t, filepath.Join(dir, tc.Action, "action.lua")))
				got := runAction(t, sandbox{now: fixedClock(tc.Now)}, script, readObject(t, filepath.Join(dir, tc.InputPath)))
				want := readObject(t, filepath.Join(dir, tc.ExpectedOutputPath))
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("%s (-want +got):\n%s", tc.Action, diff)
				}
			})
		}
	}
}

// discover runs a discovery script and returns the actions as Argo CD lists them, by name.
func discover(t *testing.T, script string, obj map[string]any) []resourceAction {
	t.Helper()
	ret, err := sandbox{now: argoCDClock}.run(script, obj)
	if err != nil {
		t.Fatalf("discovery failed: %v", err)
	}
	table, ok := ret.(map[string]any)
	if !ok {
		t.Fatalf("discovery returned %T, want a table of actions", ret)
	}
	var actions []resourceAction
	for name, v := range table {
		a := resourceAction{Name: name}
		if fields, ok := v.(map[string]any); ok {
			b, err := yaml.Marshal(fields)
			if err != nil {
				t.Fatal(err)
			}
			if err := yaml.UnmarshalStrict(b, &a); err != nil {
				t.Fatalf("action %s: %v", name, err)
			}
			a.Name = name
		}
		actions = append(actions, a)
	}
	slices.SortFunc(actions, func(a, b resourceAction) int { return cmpString(a.Name, b.Name) })
	return actions
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// runAction runs an action script that modifies its object (Argo CD's "patch" action) and
// returns the object, decoded again from JSON as Argo CD decodes it.
func runAction(t *testing.T, sb sandbox, script string, obj map[string]any) map[string]any {
	t.Helper()
	ret, err := sb.run(script, obj)
	if err != nil {
		t.Fatalf("action failed: %v", err)
	}
	out, ok := ret.(map[string]any)
	if !ok {
		t.Fatalf("action returned %T, want the object", ret)
	}
	b, err := yaml.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	decoded := map[string]any{}
	if err := yaml.Unmarshal(b, &decoded); err != nil {
		t.Fatal(err)
	}
	return decoded
}

const rotateAnnotation = "iam.devin.ai/rotate"

func annotations(obj map[string]any) map[string]any {
	meta, _ := obj["metadata"].(map[string]any)
	a, _ := meta["annotations"].(map[string]any)
	return a
}

// TestRotateTwice: two rotations give two different values, a second apart or within the
// same second, and the rest of the object, other annotations included, stays as it was.
func TestRotateTwice(t *testing.T) {
	for _, kind := range kinds {
		script := string(readFile(t, filepath.Join(kindDir(kind), "actions", "rotate", "action.lua")))
		for name, gap := range map[string]time.Duration{"a second apart": time.Second, "same second": 300 * time.Millisecond} {
			t.Run(kind+"/"+name, func(t *testing.T) {
				start := time.Date(2026, 6, 1, 12, 0, 0, 100_000_000, time.UTC)
				input := readObject(t, filepath.Join(kindDir(kind), "testdata", "ready.yaml"))
				first := runAction(t, sandbox{now: fixedClock(start)}, script, input)
				second := runAction(t, sandbox{now: fixedClock(start.Add(gap))}, script, first)
				v1, v2 := annotations(first)[rotateAnnotation], annotations(second)[rotateAnnotation]
				if v1 != "2026-06-01T12:00:00Z" {
					t.Errorf("first value %v, want the time of the request, 2026-06-01T12:00:00Z", v1)
				}
				if v2 == nil || v2 == "" || v2 == v1 {
					t.Errorf("second value %v after %v: must be new", v2, v1)
				}
				third := runAction(t, sandbox{now: fixedClock(start.Add(gap))}, script, second)
				if v3 := annotations(third)[rotateAnnotation]; v3 == v2 {
					t.Errorf("third value %v equals the second", v3)
				}
				for _, out := range []map[string]any{first, second} {
					kept := copyWithout(out, rotateAnnotation)
					if diff := cmp.Diff(input, kept); diff != "" {
						t.Errorf("rotate changed more than %s (-before +after):\n%s", rotateAnnotation, diff)
					}
				}
			})
		}
	}
}

// TestRotateOnEveryState: rotate works on every object of testdata, with its annotations
// and with none at all, and changes only its annotation.
func TestRotateOnEveryState(t *testing.T) {
	for _, kind := range kinds {
		script := string(readFile(t, filepath.Join(kindDir(kind), "actions", "rotate", "action.lua")))
		paths, _ := filepath.Glob(filepath.Join(kindDir(kind), "testdata", "*.yaml"))
		for _, path := range paths {
			for _, strip := range []bool{false, true} {
				name := kind + "/" + filepath.Base(path)
				if strip {
					name += "/no-annotations"
				}
				t.Run(name, func(t *testing.T) {
					input := readObject(t, path)
					if strip {
						delete(input["metadata"].(map[string]any), "annotations")
					}
					out := runAction(t, sandbox{now: argoCDClock}, script, input)
					if v := annotations(out)[rotateAnnotation]; v == nil || v == "" || v == annotations(input)[rotateAnnotation] {
						t.Errorf("%s is %v after rotate (before: %v)", rotateAnnotation, v, annotations(input)[rotateAnnotation])
					}
					if diff := cmp.Diff(copyWithout(input, rotateAnnotation), copyWithout(out, rotateAnnotation)); diff != "" {
						t.Errorf("rotate changed more than %s (-before +after):\n%s", rotateAnnotation, diff)
					}
				})
			}
		}
	}
}

// TestRotateWithTheWallClock runs rotate with the real clock: what Argo CD does.
func TestRotateWithTheWallClock(t *testing.T) {
	for _, kind := range kinds {
		script := string(readFile(t, filepath.Join(kindDir(kind), "actions", "rotate", "action.lua")))
		before := time.Now().UTC().Truncate(time.Second)
		out := runAction(t, sandbox{now: time.Now}, script, readObject(t, filepath.Join(kindDir(kind), "testdata", "new.yaml")))
		v, _ := annotations(out)[rotateAnnotation].(string)
		at, err := time.Parse(time.RFC3339, v)
		if err != nil {
			t.Fatalf("%s: %s is %q, not an RFC 3339 time: %v", kind, rotateAnnotation, v, err)
		}
		if at.Before(before) || at.After(time.Now().Add(time.Second)) {
			t.Errorf("%s: %s is %s, not now (%s)", kind, rotateAnnotation, v, before.Format(time.RFC3339))
		}
	}
}

// copyWithout returns obj without one annotation (and without the annotations map when it
// becomes empty), leaving obj alone.
func copyWithout(obj map[string]any, annotation string) map[string]any {
	b, _ := yaml.Marshal(obj)
	c := map[string]any{}
	_ = yaml.Unmarshal(b, &c)
	meta := c["metadata"].(map[string]any)
	if a, ok := meta["annotations"].(map[string]any); ok {
		delete(a, annotation)
		if len(a) == 0 {
			delete(meta, "annotations")
		}
	}
	return c
}

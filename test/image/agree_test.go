package image_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// dockerfileLabels are the LABELs of the Dockerfile's final stage.
func dockerfileLabels(t *testing.T) map[string]string {
	t.Helper()
	df := readRepoFile(t, "Dockerfile")
	i := strings.LastIndex(df, "\nLABEL ")
	if i < 0 {
		t.Fatal("the Dockerfile has no LABEL")
	}
	block := df[i+len("\nLABEL "):]
	var b strings.Builder
	for _, line := range strings.Split(block, "\n") {
		b.WriteString(strings.TrimSuffix(strings.TrimSpace(line), "\\"))
		b.WriteString(" ")
		if !strings.HasSuffix(line, "\\") {
			break
		}
	}
	labels := map[string]string{}
	for _, m := range regexp.MustCompile(`([a-z.]+)="([^"]*)"`).FindAllStringSubmatch(b.String(), -1) {
		labels[m[1]] = m[2]
	}
	if len(labels) == 0 {
		t.Fatalf("cannot read the Dockerfile's LABEL %q", b.String())
	}
	return labels
}

// TestOneBinaryPath: the image built with ko, the Dockerfile's image, the chart and the
// bundle all run the manager the same way: the image's entrypoint, with the arguments the
// Deployment gives (no command of its own that would name a path).
func TestOneBinaryPath(t *testing.T) {
	cfg, err := built.image.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	df := readRepoFile(t, "Dockerfile")
	m := regexp.MustCompile(`(?m)^ENTRYPOINT (\[.*\])\s*$`).FindStringSubmatch(df)
	if m == nil {
		t.Fatal("the Dockerfile has no ENTRYPOINT in exec form")
	}
	var dfEntry []string
	if err := json.Unmarshal([]byte(m[1]), &dfEntry); err != nil {
		t.Fatalf("the Dockerfile's ENTRYPOINT %s: %v", m[1], err)
	}
	if !slices.Equal(dfEntry, cfg.Config.Entrypoint) {
		t.Errorf("the Dockerfile's ENTRYPOINT %q, the image's %q", dfEntry, cfg.Config.Entrypoint)
	}
	copyTo := regexp.MustCompile(`(?m)^COPY --from=builder \S+ (\S+)\s*$`).FindStringSubmatch(df)
	if copyTo == nil || copyTo[1] != entrypoint {
		t.Errorf("the Dockerfile copies the binary to %q, want %s", copyTo, entrypoint)
	}
	if u := regexp.MustCompile(`(?m)^USER (\S+)\s*$`).FindStringSubmatch(df); u == nil || u[1] != cfg.Config.User {
		t.Errorf("the Dockerfile's USER %q, the image's %q", u, cfg.Config.User)
	}
	for name, manifests := range map[string][]byte{
		"chart (helm template dist/chart)":        render(t, "helm", "template", "token-operator", "dist/chart", "--namespace", "token-operator-system"),
		"bundle (kustomize build config/default)": render(t, "kustomize", "build", "config/default"),
	} {
		c := managerContainer(t, name, manifests)
		if len(c.Command) != 0 {
			t.Errorf("%s: the manager container has command %q: drop it, the image's entrypoint runs the manager", name, c.Command)
		}
		if len(c.Args) == 0 || !strings.HasPrefix(c.Args[0], "--") {
			t.Errorf("%s: the manager's args %q should be flags only", name, c.Args)
		}
	}
}

// TestSameLdflags: ko (.ko.yaml) and the Dockerfile link with the same flags.
func TestSameLdflags(t *testing.T) {
	var ko struct {
		Builds []struct {
			ID      string   `json:"id"`
			Ldflags []string `json:"ldflags"`
			Flags   []string `json:"flags"`
		} `json:"builds"`
	}
	if err := yaml.Unmarshal([]byte(readRepoFile(t, ".ko.yaml")), &ko); err != nil {
		t.Fatal(err)
	}
	if len(ko.Builds) != 1 {
		t.Fatalf(".ko.yaml has %d builds, want 1", len(ko.Builds))
	}
	koFlags := strings.Join(ko.Builds[0].Ldflags, " ")
	koFlags = strings.NewReplacer("{{.Env.VERSION}}", "${VERSION}", "{{.Env.COMMIT}}", "${COMMIT}").Replace(koFlags)
	m := regexp.MustCompile(`-ldflags "([^"]*)"`).FindStringSubmatch(readRepoFile(t, "Dockerfile"))
	if m == nil {
		t.Fatal("the Dockerfile's go build has no -ldflags")
	}
	if strings.Join(strings.Fields(m[1]), " ") != strings.Join(strings.Fields(koFlags), " ") {
		t.Errorf("ldflags differ:\n Dockerfile %s\n .ko.yaml   %s", m[1], koFlags)
	}
	for _, flag := range []string{"-trimpath", "-buildvcs=false"} {
		if !slices.Contains(ko.Builds[0].Flags, flag) || !regexp.MustCompile(`go build[^\n]* `+flag+`\b`).MatchString(readRepoFile(t, "Dockerfile")) {
			t.Errorf("both builds must use %s (reproducible from any checkout)", flag)
		}
	}
}

type container struct {
	Name    string   `json:"name"`
	Command []string `json:"command"`
	Args    []string `json:"args"`
	Image   string   `json:"image"`
}

// managerContainer finds the container "manager" of the Deployment in a rendered stream.
func managerContainer(t *testing.T, what string, stream []byte) container {
	t.Helper()
	for _, doc := range bytes.Split(stream, []byte("\n---")) {
		var obj struct {
			Kind string `json:"kind"`
			Spec struct {
				Template struct {
					Spec struct {
						Containers []container `json:"containers"`
					} `json:"spec"`
				} `json:"template"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal(doc, &obj); err != nil || obj.Kind != "Deployment" {
			continue
		}
		for _, c := range obj.Spec.Template.Spec.Containers {
			if c.Name == "manager" {
				return c
			}
		}
	}
	t.Fatalf("%s: no Deployment with a container named manager", what)
	return container{}
}

// render runs a tool of ./bin (installed by make test) in the repository root.
func render(t *testing.T, tool string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(repoRoot(), "bin", tool), args...)
	cmd.Dir = repoRoot()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", tool, strings.Join(args, " "), err, stderr.String())
	}
	return out
}

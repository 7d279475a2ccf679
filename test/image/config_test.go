package image_test

import (
	"archive/tar"
	"debug/buildinfo"
	"debug/elf"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/validate"
)

func TestImageIsValid(t *testing.T) {
	// Every blob is read and checked against its digest and size, the config's diff IDs
	// against the layers, the manifest against the config.
	if err := validate.Image(built.image); err != nil {
		t.Fatalf("validate.Image: %v", err)
	}
}

func TestConfig(t *testing.T) {
	cfg, err := built.image.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.OS != "linux" || cfg.Architecture != runtime.GOARCH {
		t.Errorf("platform %s/%s, want linux/%s", cfg.OS, cfg.Architecture, runtime.GOARCH)
	}
	if cfg.Config.User != user {
		t.Errorf("user %q, want %q", cfg.Config.User, user)
	}
	if !slices.Equal(cfg.Config.Entrypoint, []string{entrypoint}) {
		t.Errorf("entrypoint %q, want [%s]", cfg.Config.Entrypoint, entrypoint)
	}
	if len(cfg.Config.Cmd) != 0 {
		t.Errorf("cmd %q: the chart and the bundle give every argument themselves", cfg.Config.Cmd)
	}
	// The image's time stamps are the commit's, never the build's.
	if created := cfg.Created.UTC(); created.IsZero() || cfg.Config.Labels["org.opencontainers.image.created"] != created.Format("2006-01-02T15:04:05Z") {
		t.Errorf("created %s, label %q: want both the commit's time", created, cfg.Config.Labels["org.opencontainers.image.created"])
	}
	want := map[string]string{
		"org.opencontainers.image.version":  built.version,
		"org.opencontainers.image.revision": built.commit,
	}
	for k, v := range dockerfileLabels(t) {
		if !strings.Contains(v, "${") {
			want[k] = v
		}
	}
	for k, v := range want {
		if got := cfg.Config.Labels[k]; got != v {
			t.Errorf("label %s = %q, want %q", k, got, v)
		}
	}
}

// TestFileSystem: the binary, the nonroot user's passwd and group entries, and nothing
// else: no shell, no package manager, no CA bundle (the roots are in the binary).
func TestFileSystem(t *testing.T) {
	var regular []string
	for p, h := range built.files {
		base := p[strings.LastIndex(p, "/")+1:]
		if slices.Contains([]string{"sh", "bash", "ash", "dash", "busybox"}, base) {
			t.Errorf("the image holds a shell: /%s", p)
		}
		switch h.Typeflag {
		case tar.TypeReg:
			regular = append(regular, p)
		case tar.TypeDir:
		default:
			t.Errorf("/%s is of tar type %q: want only files and directories", p, h.Typeflag)
		}
	}
	sort.Strings(regular)
	if want := []string{"etc/group", "etc/passwd", "ko-app/token-operator"}; !slices.Equal(regular, want) {
		t.Errorf("files %q, want %q", regular, want)
	}
	if h := built.files["ko-app/token-operator"]; h != nil && (h.Mode&0o111 == 0 || h.Mode&0o022 != 0) {
		t.Errorf("the binary's mode is %o: want executable, writable by no one but its owner", h.Mode)
	}
}

// TestPasswd: user 65532 exists (so that tools resolving the user find a name), with no
// login shell.
func TestPasswd(t *testing.T) {
	passwd := readRepoFile(t, "hack/image/rootfs/etc/passwd")
	if !strings.Contains(passwd, "nonroot:x:65532:65532:") || strings.Contains(passwd, "/bin/sh") {
		t.Errorf("hack/image/rootfs/etc/passwd has no login-less nonroot 65532 entry:\n%s", passwd)
	}
	if h := built.files["etc/passwd"]; h == nil || h.Size != int64(len(passwd)) {
		t.Errorf("the image's /etc/passwd is not hack/image/rootfs/etc/passwd")
	}
}

// TestBuildInfo reads what the Go linker recorded in the binary: the CA fallback linked,
// a trimmed, static, stripped build for linux.
func TestBuildInfo(t *testing.T) {
	info, err := buildinfo.ReadFile(built.binary)
	if err != nil {
		t.Fatal(err)
	}
	if info.Path != module {
		t.Errorf("main package %q, want %q", info.Path, module)
	}
	if !slices.ContainsFunc(info.Deps, func(d *debug.Module) bool { return d.Path == "golang.org/x/crypto/x509roots/fallback" }) {
		t.Error("golang.org/x/crypto/x509roots/fallback is not linked: TLS to the Devin API would find no roots on a scratch base")
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	for k, v := range map[string]string{"-trimpath": "true", "CGO_ENABLED": "0", "GOOS": "linux", "GOARCH": runtime.GOARCH} {
		if settings[k] != v {
			t.Errorf("build setting %s=%q, want %q", k, settings[k], v)
		}
	}
	// -buildvcs=false: no VCS stamp, which a clone would have and a worktree not.
	for k := range settings {
		if strings.HasPrefix(k, "vcs") {
			t.Errorf("build setting %s: the binary is stamped with VCS information (-buildvcs=false)", k)
		}
	}
	// -trimpath keeps -ldflags out of the build info (they may hold paths): the version and
	// commit they set are checked in the manager's own log (TestExtractedBinaryRuns), -s -w
	// below by the sections they drop.
	f, err := elf.Open(built.binary)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary is dynamically linked (PT_INTERP): the image has no libc")
		}
	}
	if s := f.Section(".symtab"); s != nil {
		t.Error("the binary has a symbol table: -s did not apply")
	}
	for _, s := range f.Sections {
		if strings.HasPrefix(s.Name, ".debug_") || strings.HasPrefix(s.Name, ".zdebug_") {
			t.Errorf("the binary has DWARF (%s): -w did not apply", s.Name)
		}
	}
}

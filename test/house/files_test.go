package house

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cogtokens/token-operator/internal/testing/devenv"
)

// maxTrackedFileSize is the largest file the repository may hold: build outputs, images and
// data dumps belong in dist/ (ignored), a release, or a registry, not in git history.
const maxTrackedFileSize = 1 << 20

// binaryAllowList names the tracked files that may be compiled binaries or exceed the size
// limit, each with the reason: data a test needs and cannot make itself. Keep it short.
var binaryAllowList = map[string]string{}

// binaryMagic are the first bytes of compiled executables and libraries, whatever their
// name or mode: scripts are executable too, so the exec bit proves nothing.
var binaryMagic = []struct {
	kind  string
	magic []byte
}{
	{"ELF", []byte{0x7f, 'E', 'L', 'F'}},
	{"PE (Windows)", []byte("MZ")},
	{"Mach-O 32-bit", []byte{0xfe, 0xed, 0xfa, 0xce}},
	{"Mach-O 64-bit", []byte{0xfe, 0xed, 0xfa, 0xcf}},
	{"Mach-O 32-bit (little-endian)", []byte{0xce, 0xfa, 0xed, 0xfe}},
	{"Mach-O 64-bit (little-endian)", []byte{0xcf, 0xfa, 0xed, 0xfe}},
	{"Mach-O universal (or Java class)", []byte{0xca, 0xfe, 0xba, 0xbe}},
	{"WebAssembly", []byte{0x00, 'a', 's', 'm'}},
	{"ar archive (static library)", []byte("!<arch>\n")},
}

// binaryKind names the kind of compiled binary a file's first bytes show, or "".
func binaryKind(head []byte) string {
	for _, m := range binaryMagic {
		if bytes.HasPrefix(head, m.magic) {
			return m.kind
		}
	}
	return ""
}

// trackedFiles lists the files git tracks (staged ones included), relative to the root.
func trackedFiles(t *testing.T, root string) []string {
	t.Helper()
	cmd := exec.Command("git", "ls-files", "-z")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	var files []string
	for _, f := range strings.Split(string(out), "\x00") {
		if f != "" {
			files = append(files, f)
		}
	}
	return files
}

// checkTracked returns what is wrong with one tracked file: too large, or a compiled binary.
func checkTracked(path string) (string, error) {
	info, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil // deleted in the work tree, about to be committed as deleted
	}
	if err != nil || !info.Mode().IsRegular() {
		return "", err
	}
	var problems []string
	if info.Size() > maxTrackedFileSize {
		problems = append(problems, "is "+byteSize(info.Size())+" (at most 1 MiB)")
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	head := make([]byte, 8)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return "", err
	}
	if kind := binaryKind(head[:n]); kind != "" {
		problems = append(problems, "is a compiled binary ("+kind+")")
	}
	return strings.Join(problems, " and "), nil
}

func byteSize(n int64) string { return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB" }

// TestNoLargeOrBinaryFiles: no tracked file is over 1 MiB or a compiled binary (ELF, PE,
// Mach-O, ...), detected by its content, unless the allow-list says why.
func TestNoLargeOrBinaryFiles(t *testing.T) {
	root, err := devenv.FindRepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	files := trackedFiles(t, root)
	if len(files) < 50 {
		t.Fatalf("git ls-files lists only %d files under %s", len(files), root)
	}
	tracked := map[string]bool{}
	for _, f := range files {
		tracked[f] = true
		problem, err := checkTracked(filepath.Join(root, f))
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if _, allowed := binaryAllowList[f]; problem != "" && !allowed {
			t.Errorf("%s %s: build outputs go to ignored directories (bin/, dist/image/, dist/release/), `git rm --cached` it", f, problem)
		}
	}
	for f := range binaryAllowList {
		if !tracked[f] {
			t.Errorf("the allow-list names %s, which git does not track: remove it from the list", f)
		}
	}
}

// TestBinaryDetection: the detector knows the formats by their bytes, and does not take a
// script (executable, starting with #!) or text for a binary.
func TestBinaryDetection(t *testing.T) {
	self, err := os.Executable() // this test binary: ELF on Linux, Mach-O on macOS, PE on Windows
	if err != nil {
		t.Fatal(err)
	}
	problem, err := checkTracked(self)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(problem, "compiled binary") {
		t.Errorf("the test binary %s was not detected: %q", self, problem)
	}
	for head, want := range map[string]string{
		"\x7fELF\x02\x01\x01":       "ELF",
		"MZ\x90\x00":                "PE (Windows)",
		"\xcf\xfa\xed\xfe\x07":      "Mach-O 64-bit (little-endian)",
		"#!/usr/bin/env bash\nset":  "",
		"# token-operator Makefile": "",
		"":                          "",
	} {
		if got := binaryKind([]byte(head)); got != want {
			t.Errorf("binaryKind(%q) = %q, want %q", head, got, want)
		}
	}
	script := filepath.Join(t.TempDir(), "run")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if problem, err := checkTracked(script); err != nil || problem != "" {
		t.Errorf("an executable script was flagged: %q %v", problem, err)
	}
	big := filepath.Join(t.TempDir(), "big.txt")
	if err := os.WriteFile(big, bytes.Repeat([]byte("a\n"), maxTrackedFileSize/2+1), 0o644); err != nil {
		t.Fatal(err)
	}
	if problem, _ := checkTracked(big); !strings.Contains(problem, "at most 1 MiB") {
		t.Errorf("a text file over 1 MiB was not flagged: %q", problem)
	}
}

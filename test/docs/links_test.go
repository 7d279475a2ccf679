package docs

import (
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// TestLinks: every relative link of the documentation leads to a file or directory of the
// repository, and every #anchor to a heading (or an explicit anchor) of the page it names, by
// GitHub's rules. Links to other sites are not followed.
func TestLinks(t *testing.T) {
	root, docs := pages(t)
	anchors := map[string]map[string]bool{}
	anchorsOf := func(p string) map[string]bool {
		if a, ok := anchors[p]; ok {
			return a
		}
		text, ok := docs[p]
		if !ok {
			b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(p)))
			if err != nil {
				t.Fatal(err)
			}
			text = string(b)
		}
		anchors[p] = Anchors(text)
		return anchors[p]
	}
	checked := 0
	for _, from := range SortedPaths(docs) {
		for _, l := range Links(docs[from]) {
			if External(l.Target) {
				continue
			}
			checked++
			if problem := checkLink(root, from, l.Target, anchorsOf); problem != "" {
				t.Errorf("%s:%d: link %q: %s", from, l.Line, l.Target, problem)
			}
		}
	}
	if checked < 50 {
		t.Fatalf("checked only %d relative links", checked)
	}
}

// checkLink says what is wrong with target, a link of the page from; "" when nothing is.
func checkLink(root, from, target string, anchorsOf func(string) map[string]bool) string {
	file, anchor, _ := strings.Cut(target, "#")
	to := from
	if file != "" {
		if strings.HasPrefix(file, "/") {
			return "absolute path: GitHub resolves it against the site, not the repository; use a relative one"
		}
		to = path.Clean(path.Join(path.Dir(from), file))
		if to == ".." || strings.HasPrefix(to, "../") {
			return "leads out of the repository"
		}
		info, err := os.Stat(filepath.Join(root, filepath.FromSlash(to)))
		if err != nil {
			return "no such file or directory " + to
		}
		if info.IsDir() || anchor == "" {
			return ""
		}
	}
	if anchor == "" {
		return "empty anchor"
	}
	if !strings.HasSuffix(to, ".md") {
		return "" // line anchors of source files (#L10) are GitHub's own
	}
	if !anchorsOf(to)[anchor] {
		return "no heading of " + to + " has the anchor #" + anchor
	}
	return ""
}

func TestAnchor(t *testing.T) {
	for title, want := range map[string]string{
		"Try it: `make run`":                                 "try-it-make-run",
		"1. The credentials Secret (before installing)":      "1-the-credentials-secret-before-installing",
		"Consumer restarts, and revoking the previous token": "consumer-restarts-and-revoking-the-previous-token",
		"Permissions of the operator's service user":         "permissions-of-the-operators-service-user",
		"GitOps: Argo CD and Flux":                           "gitops-argo-cd-and-flux",
		"The `spec.user_id` field":                           "the-specuser_id-field",
		"A [linked](other.md) heading":                       "a-linked-heading",
		"**Bold** words":                                     "bold-words",
		"TokenOperatorResourceNotReady":                      "tokenoperatorresourcenotready",
	} {
		if got := Anchor(title); got != want {
			t.Errorf("Anchor(%q) = %q, want %q", title, got, want)
		}
	}
	got := Anchors("# A\n## A\n```sh\n# not a heading\n```\n### A\n<a name=\"x\"></a>\n")
	for _, a := range []string{"a", "a-1", "a-2", "x"} {
		if !got[a] {
			t.Errorf("Anchors misses %q: %v", a, got)
		}
	}
	if got["not-a-heading"] {
		t.Error("a comment in a code block is taken for a heading")
	}
}

func TestLinksOfAPage(t *testing.T) {
	md := "See [a](a.md#x), ![img](i.png \"t\") and `[not](code.md)`.\n```md\n[in](fence.md)\n```\n[ref]: <r.md>\n"
	var got []string
	for _, l := range Links(md) {
		got = append(got, l.Target)
	}
	if strings.Join(got, " ") != "a.md#x i.png r.md" {
		t.Errorf("Links = %q", got)
	}
}

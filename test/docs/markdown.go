package docs

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Pages returns the documentation the tests read, by path relative to root: README.md,
// DEVELOPMENT.md and every Markdown file under docs/.
func Pages(root string) (map[string]string, error) {
	pages := map[string]string{}
	for _, p := range []string{"README.md", "DEVELOPMENT.md"} {
		b, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			return nil, err
		}
		pages[p] = string(b)
	}
	err := filepath.WalkDir(filepath.Join(root, "docs"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".md") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		pages[filepath.ToSlash(rel)] = string(b)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read docs/: %w", err)
	}
	return pages, nil
}

// SortedPaths returns the paths of pages in order, for stable test output.
func SortedPaths(pages map[string]string) []string {
	paths := make([]string, 0, len(pages))
	for p := range pages {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	return paths
}

var (
	fence       = regexp.MustCompile("^\\s*(```|~~~)")
	heading     = regexp.MustCompile(`^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$`)
	htmlAnchor  = regexp.MustCompile(`<a\s+(?:name|id)="([^"]+)"`)
	inlineCode  = regexp.MustCompile("`[^`]*`")
	inlineLink  = regexp.MustCompile(`!?\[((?:[^\[\]]|\[[^\]]*\])*)\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)`)
	refDef      = regexp.MustCompile(`^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$`)
	notInAnchor = regexp.MustCompile(`[^\p{L}\p{M}\p{N}_\- ]`)
	emphasis    = regexp.MustCompile(`(\*{1,3}|\b_{1,3})([^*_]+)(\*{1,3}|_{1,3}\b)`)
)

// proseLines calls fn with each line of md that is outside a fenced code block.
func proseLines(md string, fn func(n int, line string)) {
	inFence := ""
	for i, line := range strings.Split(md, "\n") {
		if m := fence.FindStringSubmatch(line); m != nil {
			switch {
			case inFence == "":
				inFence = m[1]
				continue
			case m[1] == inFence:
				inFence = ""
				continue
			}
		}
		if inFence == "" {
			fn(i+1, line)
		}
	}
}

// Anchor returns the anchor GitHub gives a heading's text: the text as rendered (links by
// their text, no code spans' backticks, no emphasis marks), lower case, every character but
// letters, digits, spaces, '-' and '_' dropped, spaces turned into hyphens.
func Anchor(title string) string {
	title = inlineLink.ReplaceAllString(title, "$1")
	title = strings.ReplaceAll(title, "`", "")
	title = emphasis.ReplaceAllString(title, "$2")
	title = notInAnchor.ReplaceAllString(strings.ToLower(title), "")
	return strings.ReplaceAll(title, " ", "-")
}

// Anchors returns every anchor of md: its headings' (a repeated heading gets "-1", "-2", ...
// as on GitHub) and explicit <a name> or id anchors.
func Anchors(md string) map[string]bool {
	anchors := map[string]bool{}
	seen := map[string]int{}
	proseLines(md, func(_ int, line string) {
		for _, m := range htmlAnchor.FindAllStringSubmatch(line, -1) {
			anchors[m[1]] = true
		}
		m := heading.FindStringSubmatch(line)
		if m == nil {
			return
		}
		a := Anchor(m[2])
		if n := seen[a]; n > 0 {
			anchors[fmt.Sprintf("%s-%d", a, n)] = true
		} else {
			anchors[a] = true
		}
		seen[a]++
	})
	return anchors
}

// Link is a link of a Markdown page: its target as written and the line it is on.
type Link struct {
	Target string
	Line   int
}

// Links returns the links of md outside code: inline links and images, and reference
// definitions.
func Links(md string) []Link {
	var links []Link
	proseLines(md, func(n int, line string) {
		if m := refDef.FindStringSubmatch(line); m != nil {
			links = append(links, Link{Target: m[1], Line: n})
			return
		}
		line = inlineCode.ReplaceAllString(line, "")
		for _, m := range inlineLink.FindAllStringSubmatch(line, -1) {
			links = append(links, Link{Target: m[2], Line: n})
		}
	})
	return links
}

// External reports whether target leaves the repository (a URL with a scheme).
func External(target string) bool {
	return regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`).MatchString(target)
}

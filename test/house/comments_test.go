package house

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// historyInComments are the forms of a comment that tells how the code came to be rather
// than why it is so: a release before this one, an issue or pull request, what the code "used
// to" do. The history is in git and the issue tracker; a comment states the reason that holds
// today (an object named without the cluster suffix, say, rather than one "of the previous
// release").
var historyInComments = []*regexp.Regexp{
	regexp.MustCompile(`(?i)\b(previous|last|earlier|older|prior) (release|version)s?\b`),
	regexp.MustCompile(`(?i)\b(issue|finding|PR|pull request|ticket)s? ?#?[0-9]+\b`),
	regexp.MustCompile(`(?:^|[\s(\[])#[0-9]+\b`),
	// "used to" as history; "is used to", "are used to", ... say what something is for.
	regexp.MustCompile(`(?i)(?:^|[^a-z])(?:(?:it|this|we|they|that|which|code|operator)\s+)?used to\b`),
}

// passiveUsedTo is "used to" after a form of "to be" or "get": a purpose, not a history.
var passiveUsedTo = regexp.MustCompile(`(?i)\b(is|are|was|were|be|been|being|gets?|got)\s+used to\b`)

// TestCommentsCarryNoHistory: product code's comments say why, not how the code came to be.
func TestCommentsCarryNoHistory(t *testing.T) {
	root, files := productFiles(t)
	fset := token.NewFileSet()
	for _, rel := range files {
		f, err := parser.ParseFile(fset, filepath.Join(root, rel), nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		for _, group := range f.Comments {
			for _, c := range group.List {
				if phrase := historyIn(c.Text); phrase != "" {
					t.Errorf("%s: the comment carries history (%q): say the reason that holds today\n\t%s",
						fset.Position(c.Pos()), phrase, strings.TrimSpace(c.Text))
				}
			}
		}
	}
}

// historyIn returns the phrase of comment that tells history, or "".
func historyIn(comment string) string {
	text := passiveUsedTo.ReplaceAllString(comment, "")
	for _, re := range historyInComments {
		if m := re.FindString(text); m != "" {
			return strings.TrimSpace(m)
		}
	}
	return ""
}

func TestHistoryIn(t *testing.T) {
	for comment, history := range map[string]bool{
		"// a service user of the previous release, named without the suffix": true,
		"// the owner check of earlier versions":                              true,
		"// see issue #22":                                                    true,
		"// (issue 18) intent in metadata":                                    true,
		"// fixed in #19":                                                     true,
		"// it used to write status first":                                    true,
		"// the client used to retry":                                         true,
		"// the key is used to seal admission records":                        false,
		"// names are used to prove ownership":                                false,
		"// a named function is what reviewers get used to":                   false,
		"// the next release drops the v1 marker":                             false,
		"// HTTP 429 means retry":                                             false,
		"// keys 'current' and 'previous'":                                    false,
	} {
		if got := historyIn(comment) != ""; got != history {
			t.Errorf("historyIn(%q) = %q, want history: %v", comment, historyIn(comment), history)
		}
	}
}

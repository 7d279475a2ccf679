package docs

import (
	"regexp"
	"strings"
	"testing"

	"github.com/cogtokens/token-operator/internal/policy"
)

// identityRow is a row of the tenancy page's identity mapping table:
// | authenticator | user | flags | email |, the email `none` when the name maps to none.
var identityRow = regexp.MustCompile("(?m)^\\| [^|]+ \\| `([^`]+)`(?: with `extra` `([a-z]+): ([^`]+)`)? \\| (none|`[^|]+`) \\| (none|`[^`]+`) \\|$")

// TestIdentityMappingExamples: each example of the identity table maps, with the operator's
// own mapping and the flags as written, to the email it shows; and no rule it shows lets the
// caller choose the email (policy.Rule.CallerChosen).
func TestIdentityMappingExamples(t *testing.T) {
	text := page(t, "docs/tenancy.md")
	rows := identityRow.FindAllStringSubmatch(text, -1)
	if len(rows) < 5 {
		t.Fatalf("found %d rows of the identity table, want at least 5", len(rows))
	}
	for _, r := range rows {
		user, extraKey, extraValue, flags, want := r[1], r[2], r[3], r[4], strings.Trim(r[5], "`")
		if want == "none" {
			want = ""
		}
		m := mappingOf(t, flags)
		var extra map[string][]string
		if extraKey != "" {
			extra = map[string][]string{extraKey: {extraValue}}
		}
		if got := m.Email(user, extra); got != want {
			t.Errorf("%s with %s maps to %q, the docs say %q", user, flags, got, want)
		}
		for _, rule := range m.Rules {
			if why := rule.CallerChosen(); why != "" {
				t.Errorf("the docs' rule %s lets the caller choose the email: %s", flags, why)
			}
		}
	}
}

// emailRule is an example of --requester-email-rule anywhere in the docs: a code span
// "pattern=>template".
var emailRule = regexp.MustCompile("`(?:--requester-email-rule=)?'?([^`'\\s]+=>[^`'\\s]+)'?`")

// TestDocumentedEmailRulesAreSafe: every requester-email rule the documentation shows (the
// configuration table, the chart's values) compiles and cannot be steered by the caller.
func TestDocumentedEmailRulesAreSafe(t *testing.T) {
	_, docs := pages(t)
	n := 0
	for _, path := range SortedPaths(docs) {
		for _, m := range emailRule.FindAllStringSubmatch(docs[path], -1) {
			n++
			rule, err := policy.ParseRule(m[1])
			if err != nil {
				t.Errorf("%s: rule %s: %v", path, m[1], err)
				continue
			}
			if why := rule.CallerChosen(); why != "" {
				t.Errorf("%s: rule %s lets the caller choose the email: %s", path, m[1], why)
			}
		}
	}
	if n < 3 {
		t.Fatalf("found %d requester-email rules in the docs", n)
	}
}

// mappingOf parses the flags of a row ("none", or `--flag=value`) as the operator does.
func mappingOf(t *testing.T, flags string) policy.Mapping {
	t.Helper()
	m := policy.Mapping{}
	if flags == "none" {
		return m
	}
	flag := strings.Trim(flags, "`")
	name, value, ok := strings.Cut(flag, "=")
	if !ok {
		t.Fatalf("cannot read the flag %s", flags)
	}
	value = strings.Trim(value, "'")
	switch name {
	case "--requester-strip-prefixes":
		m.StripPrefixes = strings.Split(value, ",")
	case "--requester-email-claim":
		m.ExtraKey = value
	case "--requester-email-rule":
		rule, err := policy.ParseRule(value)
		if err != nil {
			t.Fatalf("%s: %v", flags, err)
		}
		m.Rules = append(m.Rules, rule)
	default:
		t.Fatalf("unknown flag in the identity table: %s", name)
	}
	return m
}

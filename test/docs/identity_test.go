package docs

import (
	"regexp"
	"strings"
	"testing"

	"github.com/cogtokens/token-operator/internal/policy"
)

// identityRow is a row of the README's identity mapping table: | authenticator | user | flags | email |.
var identityRow = regexp.MustCompile("(?m)^\\| [^|]+ \\| `([^`]+)`(?: with `extra` `([a-z]+): ([^`]+)`)? \\| (none|`[^|]+`) \\| `([^`]+)` \\|$")

// TestReadmeIdentityMappings: each example of the README's identity table maps, with the
// operator's own mapping and the flags as written, to the email it shows.
func TestReadmeIdentityMappings(t *testing.T) {
	_, text := readme(t)
	rows := identityRow.FindAllStringSubmatch(text, -1)
	if len(rows) < 4 {
		t.Fatalf("found %d rows of the identity table, want at least 4", len(rows))
	}
	for _, r := range rows {
		user, extraKey, extraValue, flags, want := r[1], r[2], r[3], r[4], r[5]
		m := mappingOf(t, flags)
		var extra map[string][]string
		if extraKey != "" {
			extra = map[string][]string{extraKey: {extraValue}}
		}
		if got := m.Email(user, extra); got != want {
			t.Errorf("%s with %s maps to %q, the README says %q", user, flags, got, want)
		}
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

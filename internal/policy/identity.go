package policy

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/cogtokens/token-operator/internal/devinapi"
)

// Mapping maps a Kubernetes identity to the Devin email of the person behind it. Kubernetes
// user names are not emails: EKS names IAM ARNs, OIDC authenticators add prefixes ("oidc:")
// or use other claims. Email tries, in order:
//
//  1. ExtraKey: the first value of the user's extra[ExtraKey] (a claim the authenticator
//     maps there, e.g. "example.com/email" with structured authentication configuration).
//     When that value is present, it decides: an invalid one maps to no email.
//  2. The user name, without the first of StripPrefixes it starts with ("oidc:"), through
//     the first of Rules whose pattern matches the whole name.
//  3. That name itself, when it is an email.
//
// A result must be a plain email: printable ASCII without spaces, one '@' with text on both
// sides (Unicode case folding would let a crafted name match someone else, see
// devinapi.SameEmail). Anything else maps to no email (""), and then only a delegation can
// allow a personal access token. The zero Mapping takes user names that are emails as they
// are. Whoever can set a user's extra or name (impersonation, the identity provider) can
// choose the email: map only claims the identity provider verifies.
type Mapping struct {
	// ExtraKey is the key of user.extra that holds the email; "" for none.
	ExtraKey string
	// StripPrefixes are removed from the user name: the first that matches.
	StripPrefixes []string
	// Rules turn a (stripped) user name into an email: the first whose pattern matches.
	Rules []Rule
}

// Rule is a pattern on the whole user name and the email template it yields, with
// regexp.Expand syntax: $1, ${name}.
type Rule struct {
	Pattern  *regexp.Regexp
	Template string
}

// NewRule compiles a rule. The pattern is anchored: it must match the whole user name.
func NewRule(pattern, template string) (Rule, error) {
	re, err := regexp.Compile(`^(?:` + pattern + `)$`)
	if err != nil {
		return Rule{}, fmt.Errorf("identity rule %q: %w", pattern, err)
	}
	if template == "" {
		return Rule{}, fmt.Errorf("identity rule %q: empty template", pattern)
	}
	return Rule{Pattern: re, Template: template}, nil
}

// ParseRule parses "pattern=>template", the form of a command-line flag, splitting at the
// last "=>".
func ParseRule(s string) (Rule, error) {
	i := strings.LastIndex(s, "=>")
	if i < 0 {
		return Rule{}, fmt.Errorf("identity rule %q: want pattern=>template", s)
	}
	return NewRule(s[:i], s[i+2:])
}

// Email returns the Devin email of user (with its extra), lower-cased, or "" for none.
func (m Mapping) Email(user string, extra map[string][]string) string {
	if m.ExtraKey != "" {
		if values := extra[m.ExtraKey]; len(values) > 0 && values[0] != "" {
			return normalEmail(values[0])
		}
	}
	name := user
	for _, p := range m.StripPrefixes {
		if p != "" && strings.HasPrefix(name, p) {
			name = name[len(p):]
			break
		}
	}
	for _, r := range m.Rules {
		if match := r.Pattern.FindStringSubmatchIndex(name); match != nil {
			return normalEmail(string(r.Pattern.ExpandString(nil, r.Template, name, match)))
		}
	}
	return normalEmail(name)
}

// Requester returns the Requester of an authenticated user, with its mapped email.
func (m Mapping) Requester(user, uid string, groups []string, extra map[string][]string) Requester {
	return Requester{User: user, UID: uid, Groups: groups, Extra: extra, Email: m.Email(user, extra)}
}

// normalEmail returns s lower-cased when it is a plain email (devinapi.EmailKey, exactly one
// '@', text on both sides), "" otherwise.
func normalEmail(s string) string {
	key := devinapi.EmailKey(s)
	at := strings.IndexByte(key, '@')
	if at <= 0 || at == len(key)-1 || strings.Count(key, "@") != 1 {
		return ""
	}
	return key
}

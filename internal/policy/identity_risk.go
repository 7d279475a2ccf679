package policy

import (
	"fmt"
	"regexp/syntax"
	"strings"
)

// SSORolePrefix begins the name of every IAM role that IAM Identity Center creates for a
// permission set. Such a role trusts only Identity Center's SAML provider (no sts:AssumeRole),
// and Identity Center sets the role session name to the signed-in user's name, so nobody who
// assumes it chooses its session name. Any other role's session name is chosen by whoever
// assumes the role (aws sts assume-role --role-session-name, aws eks get-token
// --role-arn ... with AWS_ROLE_SESSION_NAME).
const SSORolePrefix = "AWSReservedSSO_"

// assumedRole is the part of an EKS user name (an STS assumed-role ARN,
// arn:aws:sts::<account>:assumed-role/<role>/<session>) that precedes the role name.
const assumedRole = "assumed-role/"

// probeRoles are roles whose session name their caller chooses; probeSessions are pairs of
// session names such a caller could pick.
var (
	probeRoles    = []string{"ci-deploy", "Developers", "OrganizationAccountAccessRole"}
	probeSessions = [][2]string{{"mallory", "trudy"}, {"mallory@example.com", "trudy@example.com"}}
)

// CallerChosen says why the email that r yields can be chosen by the person it maps, or ""
// when it cannot. That is the case of a rule that reads the session name of an assumed role
// without pinning the role to Identity Center's (SSORolePrefix): whoever may assume any such
// role names the session "alice" and is mapped to Alice, and may then mint her personal
// access token. Two checks, either suffices:
//
//   - the pattern's text after "assumed-role/" does not begin with "AWSReservedSSO_" on every
//     path (a role name pinned to another role still lets its callers choose the session);
//   - mapping the assumed-role ARN of a role outside Identity Center, with two session names,
//     gives two emails that differ and do not name the role: the session name alone decides
//     (this catches patterns such as ".*/([^/]+)" that never spell "assumed-role/").
func (r Rule) CallerChosen() string {
	re, err := syntax.Parse(r.Pattern.String(), syntax.Perl)
	if err != nil {
		return "" // NewRule compiled it; the same text parses
	}
	if unpinnedAssumedRole(re.Simplify()) {
		return "it reads an assumed role's session name without pinning the role to " + SSORolePrefix +
			" (IAM Identity Center's roles): whoever may assume the role chooses the session name, and so the email"
	}
	for _, role := range probeRoles {
		for _, s := range probeSessions {
			a, b := r.probe(role, s[0]), r.probe(role, s[1])
			// normalEmail lower-cases: an email that carries the role is the whole name, not
			// the session name alone.
			if a != "" && b != "" && a != b && !strings.Contains(a, strings.ToLower(role)) {
				return fmt.Sprintf("the session name alone decides the email: arn:aws:sts::123456789012:assumed-role/%s/%s maps to %s", role, s[0], a)
			}
		}
	}
	return ""
}

// probe maps the assumed-role ARN of role and session with r alone; "" when r does not
// match or yields no email.
func (r Rule) probe(role, session string) string {
	name := "arn:aws:sts::123456789012:" + assumedRole + role + "/" + session
	m := r.Pattern.FindStringSubmatchIndex(name)
	if m == nil {
		return ""
	}
	return normalEmail(string(r.Pattern.ExpandString(nil, r.Template, name, m)))
}

// unpinnedAssumedRole reports whether some concatenation in re spells "assumed-role/" and may
// go on with anything but SSORolePrefix.
func unpinnedAssumedRole(re *syntax.Regexp) bool {
	seq := flatten(re)
	for i, n := range seq {
		if n.Op != syntax.OpLiteral {
			continue
		}
		lit := string(n.Rune)
		for off := 0; ; {
			at := strings.Index(lit[off:], assumedRole)
			if at < 0 {
				break
			}
			off += at + len(assumedRole)
			if !startsWith(lit[off:], seq[i+1:], SSORolePrefix) {
				return true
			}
		}
	}
	for _, n := range seq {
		for _, sub := range n.Sub {
			if unpinnedAssumedRole(sub) {
				return true
			}
		}
	}
	return false
}

// startsWith reports whether every text matched by lit followed by seq begins with need.
func startsWith(lit string, seq []*syntax.Regexp, need string) bool {
	if len(lit) >= len(need) {
		return strings.HasPrefix(lit, need)
	}
	if !strings.HasPrefix(need, lit) {
		return false
	}
	need = need[len(lit):]
	if len(seq) == 0 {
		return false
	}
	n, rest := seq[0], seq[1:]
	switch n.Op {
	case syntax.OpLiteral:
		return startsWith(string(n.Rune), rest, need)
	case syntax.OpAlternate:
		for _, alt := range n.Sub {
			if !startsWith("", append(flatten(alt), rest...), need) {
				return false
			}
		}
		return true
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText,
		syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return startsWith("", rest, need)
	}
	return false
}

// flatten returns the items of re read as a sequence: concatenations and capture groups
// opened (a group does not change the text it matches), anything else as it is.
func flatten(re *syntax.Regexp) []*syntax.Regexp {
	switch re.Op {
	case syntax.OpConcat:
		var out []*syntax.Regexp
		for _, sub := range re.Sub {
			out = append(out, flatten(sub)...)
		}
		return out
	case syntax.OpCapture:
		return flatten(re.Sub[0])
	}
	return []*syntax.Regexp{re}
}

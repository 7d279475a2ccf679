package operator

import (
	"strings"
	"testing"

	"github.com/go-logr/logr/funcr"
)

// TestRequesterMappingWarnsOfCallerChosenEmails: a rule that maps any assumed role's session
// name is logged as a warning at start; the rule pinned to IAM Identity Center's roles is not.
func TestRequesterMappingWarnsOfCallerChosenEmails(t *testing.T) {
	const (
		safe  = `^arn:aws:sts::[0-9]+:assumed-role/AWSReservedSSO_[^/]+/([^/@]+)$=>${1}@example.com`
		risky = `^arn:aws:sts::[0-9]+:assumed-role/[^/]+/([^/@]+)$=>${1}@example.com`
	)
	for name, tc := range map[string]struct {
		rules []string
		warn  bool
	}{
		"Identity Center roles only": {rules: []string{safe}},
		"any role":                   {rules: []string{safe, risky}, warn: true},
		"no rule":                    {},
	} {
		t.Run(name, func(t *testing.T) {
			var lines []string
			log := funcr.New(func(prefix, args string) { lines = append(lines, args) }, funcr.Options{})
			m, err := requesterMapping(Options{RequesterEmailRules: tc.rules, Logger: log})
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Rules) != len(tc.rules) {
				t.Errorf("mapping has %d rules, want %d", len(m.Rules), len(tc.rules))
			}
			warned := strings.Join(lines, "\n")
			switch {
			case tc.warn && (len(lines) != 1 || !strings.Contains(warned, "WARNING") || !strings.Contains(warned, "assumed-role/[^/]+")):
				t.Errorf("want one warning naming the rule, got %q", lines)
			case !tc.warn && len(lines) != 0:
				t.Errorf("want no warning, got %q", lines)
			}
			if got := m.Email("arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Dev_0a1b/alice", nil); got != "alice@example.com" && len(tc.rules) > 0 {
				t.Errorf("an Identity Center session maps to %q", got)
			}
		})
	}
	if _, err := requesterMapping(Options{RequesterEmailRules: []string{"(=>x"}, Logger: funcr.New(func(string, string) {}, funcr.Options{})}); err == nil {
		t.Error("a rule that does not compile is accepted")
	}
}

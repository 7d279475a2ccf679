package devenv

import (
	"strings"
	"testing"

	"github.com/cogtokens/token-operator/internal/logging"
)

// TestMaskedHidesTokenValues: a leak report says where a token was, never what it was.
func TestMaskedHidesTokenValues(t *testing.T) {
	tok := "cog_" + strings.Repeat("aB3-_", 8)
	got := masked("event: issued token " + tok + ", expiring never")
	if strings.Contains(got, tok) || strings.Contains(got, "aB3") {
		t.Errorf("masked(...) = %q still holds the token", got)
	}
	if want := "event: issued token " + logging.Redacted + ", expiring never"; got != want {
		t.Errorf("masked(...) = %q, want %q", got, want)
	}
	if !tokenPattern.MatchString(tok) {
		t.Errorf("the scan pattern does not match %q", tok)
	}
	if tokenPattern.MatchString(got) {
		t.Errorf("the scan pattern matches the masked report %q", got)
	}
}

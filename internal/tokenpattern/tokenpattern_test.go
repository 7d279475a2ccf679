package tokenpattern_test

import (
	"testing"

	"github.com/cogtokens/token-operator/internal/tokenpattern"
)

func TestWhatLooksLikeAToken(t *testing.T) {
	for s, want := range map[string]bool{
		"cog_abc123":                 true,
		"Bearer COG_Abc-_9 and more": true,
		"error: key cog_x leaked":    true,
		"cog_[REDACTED]":             false,
		"cog_":                       false,
		"a cog wheel":                false,
		"":                           false,
	} {
		if got := tokenpattern.Contains(s); got != want {
			t.Errorf("Contains(%q) = %v, want %v", s, got, want)
		}
	}
	if got := tokenpattern.Replace("a cog_secret1 and COG_secret2.", "X"); got != "a X and X." {
		t.Errorf("Replace = %q", got)
	}
}

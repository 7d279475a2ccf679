package devinapi

import "testing"

func TestSameEmail(t *testing.T) {
	cases := map[string]struct {
		a, b string
		want bool
	}{
		"same":                              {"alice@example.com", "alice@example.com", true},
		"ASCII case ignored":                {"Alice@Example.COM", "alice@example.com", true},
		"different":                         {"alice@example.com", "alice@example.org", false},
		"Kelvin sign is not k":              {"\u212Aate@example.com", "kate@example.com", false},
		"long s is not s":                   {"\u017Fam@example.com", "sam@example.com", false},
		"non-ASCII matches not even itself": {"ké@example.com", "ké@example.com", false},
		"empty":                             {"", "", false},
		"space":                             {"a b@example.com", "a b@example.com", false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := SameEmail(tc.a, tc.b); got != tc.want {
				t.Fatalf("SameEmail(%q, %q) = %v", tc.a, tc.b, got)
			}
		})
	}
	if EmailKey("Alice@Example.com") != "alice@example.com" || EmailKey("\u212Aate@example.com") != "" {
		t.Fatal("EmailKey")
	}
}

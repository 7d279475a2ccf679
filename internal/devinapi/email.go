package devinapi

// SameEmail reports whether two email addresses are the same, ignoring the case of ASCII
// letters only. An address with anything but printable ASCII matches nothing: Unicode case
// folding would make the Kelvin sign (U+212A) equal to "k", and so let a crafted name match
// another person's email.
func SameEmail(a, b string) bool {
	return isASCIIEmail(a) && isASCIIEmail(b) && EqualFoldASCII(a, b)
}

// EqualFoldASCII reports whether a and b are equal ignoring the case of ASCII letters only
// (never Unicode case folding, which makes look-alikes equal): for emails, domains and role
// names.
func EqualFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		if lowerASCII(a[i]) != lowerASCII(b[i]) {
			return false
		}
	}
	return true
}

// EmailKey is the form of an email address used as a cache key: lower-case ASCII, or ""
// for an address SameEmail would match with nothing.
func EmailKey(s string) string {
	if !isASCIIEmail(s) {
		return ""
	}
	b := []byte(s)
	for i := range b {
		b[i] = lowerASCII(b[i])
	}
	return string(b)
}

func isASCIIEmail(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

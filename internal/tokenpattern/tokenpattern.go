// Package tokenpattern is the one definition of what a Devin token value looks like, for
// every package that must keep one out of text it writes (the API client's errors, the
// logger, metric labels) or look for one where none may be (leak scans). It is a leaf: it
// imports nothing of the project, so that the logger does not depend on the API client.
package tokenpattern

import "regexp"

// Prefix starts every token value.
const Prefix = "cog_"

// Regexp matches a token value: the prefix and the characters that follow it.
// Placeholders such as cog_[REDACTED] and a bare prefix do not match.
var Regexp = regexp.MustCompile(`(?i)cog_[A-Za-z0-9_-]+`)

// Contains reports whether s holds something that looks like a token value.
func Contains(s string) bool { return Regexp.MatchString(s) }

// Replace returns s with every token value in it replaced by placeholder.
func Replace(s, placeholder string) string { return Regexp.ReplaceAllLiteralString(s, placeholder) }

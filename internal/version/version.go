// Package version holds the build's version, set with -ldflags at build time.
package version

// Version is the release of token-operator, e.g. v0.1.0; "dev" for local builds.
var Version = "dev"

// Package version holds the build's version and commit, set with -ldflags at build time
// (.ko.yaml, the Dockerfile, the Makefile).
package version

// Version is the release of token-operator, e.g. v0.1.0; "dev" for local builds.
var Version = "dev"

// Commit is the full git commit the binary was built from; "unknown" when the build did not
// say (go run, go build without the Makefile).
var Commit = "unknown"

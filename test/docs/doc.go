// Package docs tests the documentation: every Kubernetes object shown in README.md is
// accepted by a real API server with the project's CRDs, and every flag of the manager is
// documented.
package docs

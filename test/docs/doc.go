// Package docs tests the documentation (README.md, DEVELOPMENT.md and docs/): every Kubernetes
// object it shows is accepted by a real API server with the project's CRDs; every flag,
// condition reason, event, CRD field and named test it should list is there; its identity
// mapping examples map as written, and safely; and no relative link or anchor is broken.
// Markdown reading (pages, GitHub's heading anchors, links) is exported for the other suites
// that check a page.
package docs

// Package packaging checks the production packaging of token-operator: the install bundle
// (kustomize build config/default), the Helm chart in dist/chart and the PROJECT file. The
// rendered manifests are checked statically (security context, replicas, probes, no
// credential, the chart in step with the generated CRDs, RBAC and webhooks) and applied with a
// server-side dry run to a real API server (envtest).
package packaging

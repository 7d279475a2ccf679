// Package plugin drives the kubectl plugin (cmd/kubectl-devin) end to end, in-process,
// against a real API server with the operator running behind its webhooks and the in-memory
// Devin API: each subcommand with the kubeconfig of an admin or a tenant, its output, its
// exit code, and no token value in anything it prints.
package plugin

// Package argocd tests the Argo CD customizations of config/argocd (health checks and the
// rotate action of ServiceUser and PersonalAccessToken) with the Lua interpreter Argo CD
// embeds, in a sandbox that opens what Argo CD opens, against real objects in each state.
package argocd

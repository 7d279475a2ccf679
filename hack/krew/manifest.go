package main

import (
	"fmt"
	"regexp"
	"strings"

	"sigs.k8s.io/yaml"
)

// krewPlugin is krew's Plugin manifest (krew.googlecontainertools.github.com/v1alpha2).
type krewPlugin struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Version          string         `json:"version"`
		Homepage         string         `json:"homepage"`
		ShortDescription string         `json:"shortDescription"`
		Description      string         `json:"description"`
		Platforms        []krewPlatform `json:"platforms"`
	} `json:"spec"`
}

type krewPlatform struct {
	Selector struct {
		MatchLabels map[string]string `json:"matchLabels"`
	} `json:"selector"`
	URI    string     `json:"uri"`
	SHA256 string     `json:"sha256"`
	Bin    string     `json:"bin"`
	Files  []krewFile `json:"files"`
}

type krewFile struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// semver is the version form krew accepts: v, three numbers, an optional pre-release.
var semver = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$`)

// krewVersion is version when it is a release tag, else v0.0.0-<version> (a build between
// tags, as the chart's version is 0.0.0-<git describe>).
func krewVersion(version string) string {
	if semver.MatchString(version) {
		return version
	}
	return "v0.0.0-" + regexp.MustCompile(`[^0-9A-Za-z.-]`).ReplaceAllString(version, "-")
}

// manifest renders the krew manifest naming each archive by its URL under base/version and
// its SHA-256.
func manifest(version, base string, archives []archive) ([]byte, error) {
	if len(archives) == 0 {
		return nil, fmt.Errorf("no archive to name")
	}
	p := krewPlugin{APIVersion: "krew.googlecontainertools.github.com/v1alpha2", Kind: "Plugin"}
	p.Metadata.Name = "devin"
	p.Spec.Version = krewVersion(version)
	p.Spec.Homepage = "https://github.com/cogtokens/token-operator/blob/main/docs/kubectl-plugin.md"
	p.Spec.ShortDescription = "Inspect and operate token-operator's Devin API credentials"
	p.Spec.Description = strings.Join([]string{
		"Day-2 work on the PersonalAccessTokens and ServiceUsers token-operator manages, with your own",
		"kubeconfig and RBAC: status in plain words, rotate and wait for the new token, can-i (the",
		"server's own admission answer for a manifest), import a token its owner generated (from a",
		"hidden prompt or stdin), and audit who may use or delegate each CredentialPolicy.",
	}, "\n") + "\n"
	for _, a := range archives {
		kp := krewPlatform{URI: base + "/" + version + "/" + a.name, SHA256: a.sha256, Bin: a.bin(),
			Files: []krewFile{{From: a.bin(), To: "."}}}
		kp.Selector.MatchLabels = map[string]string{"os": a.os, "arch": a.arch}
		p.Spec.Platforms = append(p.Spec.Platforms, kp)
	}
	return yaml.Marshal(p)
}

# token-operator Makefile (kubebuilder layout). `make help` lists the targets.

IMG ?= token-operator:latest
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

# The envtest control plane, built from source by hack/setup-envtest.sh.
ENVTEST_K8S_VERSION ?= 1.37.2
ENVTEST_ETCD_VERSION ?= 3.6.16

GOBIN := $(shell go env GOBIN)
ifeq ($(GOBIN),)
GOBIN := $(shell go env GOPATH)/bin
endif
export GOTOOLCHAIN = local
export GOFLAGS = -mod=mod

SHELL = /usr/bin/env bash -o pipefail
.SHELLFLAGS = -ec

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate CRDs, RBAC and webhook configuration from the markers (and their copies in the Helm chart).
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd webhook paths="./..." output:crd:artifacts:config=config/crd/bases
	@$(MAKE) --no-print-directory helm-sync

.PHONY: generate
generate: controller-gen ## Generate DeepCopy methods.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./..."

.PHONY: fmt
fmt: ## Run go fmt.
	go fmt ./...

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

# -mod=readonly: with a cold cache, golangci-lint's package loading would otherwise add the
# go.mod hashes of the whole module graph to go.sum (which go mod tidy removes again).
.PHONY: lint
lint: golangci-lint ## Run golangci-lint.
	GOFLAGS=-mod=readonly $(GOLANGCI_LINT) run ./...

.PHONY: envtest
envtest: ## Build (once) the envtest kube-apiserver and etcd from source.
	ENVTEST_K8S_VERSION=$(ENVTEST_K8S_VERSION) ENVTEST_ETCD_VERSION=$(ENVTEST_ETCD_VERSION) hack/setup-envtest.sh

TEST_FLAGS ?= -race
TEST_TIMEOUT ?= 30m
.PHONY: test
test: manifests generate fmt vet envtest kustomize helm ## Run every test (unit, envtest, webhook, dev-environment smoke).
	KUBEBUILDER_ASSETS="$$(ENVTEST_K8S_VERSION=$(ENVTEST_K8S_VERSION) ENVTEST_ETCD_VERSION=$(ENVTEST_ETCD_VERSION) hack/setup-envtest.sh --print-path)" \
		go test $(TEST_FLAGS) -timeout $(TEST_TIMEOUT) ./... -coverprofile cover.out

FUZZ_CHECKS ?= 20000
.PHONY: fuzz
fuzz: ## Run the lifecycle's property test longer than make test does (FUZZ_CHECKS=20000 random histories).
	go test ./internal/credential/ -run TestLifecycleProperties -count=1 -timeout 60m -rapid.checks=$(FUZZ_CHECKS) -v 2>&1 | tail -n 20

.PHONY: bench
bench: envtest ## Run the benchmark and write bench/results.md (BENCH_ARGS=--tokens=1000).
	KUBEBUILDER_ASSETS="$$(hack/setup-envtest.sh --print-path)" go run ./hack/bench $(BENCH_ARGS)

##@ Build

LDFLAGS ?= -X github.com/cogtokens/token-operator/internal/version.Version=$(VERSION)

.PHONY: build
build: manifests generate fmt vet ## Build the manager binary into bin/token-operator and the kubectl plugin into bin/kubectl-devin.
	go build -trimpath -ldflags "$(LDFLAGS)" -o bin/token-operator .
	go build -trimpath -ldflags "$(LDFLAGS)" -o bin/kubectl-devin ./cmd/kubectl-devin

.PHONY: run
run: envtest ## Run the operator on a local control plane with the in-memory Devin API (ARGS=--smoke).
	KUBEBUILDER_ASSETS="$$(hack/setup-envtest.sh --print-path)" go run ./hack/dev $(ARGS)

.PHONY: run-cluster
run-cluster: manifests generate ## Run the operator against the cluster of the current kubeconfig (ARGS=...).
	go run -ldflags "$(LDFLAGS)" . $(ARGS)

.PHONY: docker-build
docker-build: ## Build the container image (needs a Docker engine).
	docker build --build-arg VERSION=$(VERSION) -t $(IMG) .

.PHONY: docker-push
docker-push: ## Push the container image.
	docker push $(IMG)

# IMG may name a digest (repository:tag@sha256:...), as a release's bundle does. The image is
# set in a copy of config/, so the tracked kustomization never changes.
INSTALLER ?= dist/install.yaml
.PHONY: build-installer
build-installer: manifests generate kustomize ## Write the install bundle to dist/install.yaml (IMG=repository:tag[@digest]).
	@mkdir -p $(dir $(INSTALLER))
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && cp -r config "$$tmp/config" && \
		(cd "$$tmp/config/manager" && $(KUSTOMIZE) edit set image controller=$(IMG)) && \
		$(KUSTOMIZE) build "$$tmp/config/default" > $(INSTALLER)
	@echo "build-installer: $(INSTALLER) runs $(IMG)"

CHART_DIR ?= dist/chart

# The CRDs go to files/crds/, which templates/crds.yaml renders (so that `helm upgrade`
# upgrades them), not to crds/, which Helm installs once and never upgrades.
.PHONY: helm-sync
helm-sync: ## Copy the generated CRDs, RBAC rules and webhook configuration into the Helm chart.
	@rm -rf $(CHART_DIR)/crds
	@rm -f $(CHART_DIR)/files/crds/*.yaml
	@mkdir -p $(CHART_DIR)/files/crds
	@cp config/crd/bases/*.yaml $(CHART_DIR)/files/crds/
	@cp config/rbac/role.yaml $(CHART_DIR)/files/role.yaml
	@cp config/webhook/manifests.yaml $(CHART_DIR)/files/webhook-manifests.yaml

.PHONY: helm-lint
helm-lint: helm ## Lint the Helm chart (strict): defaults (the operator's own certificates), and cert-manager with the optional parts.
	$(HELM) lint --strict $(CHART_DIR)
	$(HELM) lint --strict $(CHART_DIR) --set webhook.certManager.enabled=true --set metrics.serviceMonitor.enabled=true \
		--set networkPolicy.enabled=true --set 'networkPolicy.apiServer.cidrs={10.0.0.10/32}'

##@ Image and release

# The manager image, built with ko and no registry: `go run ./hack/image seed` makes the base
# (the nonroot user's passwd and group entries, nothing else; pinned by digest in .ko.yaml)
# and puts it into ko's cache ($(KOCACHE)/img), where ko finds a base named by digest. The
# build is reproducible: every time stamp is the commit's (SOURCE_DATE_EPOCH), so two builds
# of one commit have one digest. See docs/release.md.
KO_DOCKER_REPO ?= ghcr.io/cogtokens/token-operator
PLATFORMS ?= linux/amd64,linux/arm64
IMAGE_DIR ?= dist/image
KOCACHE ?= $(shell pwd)/dist/cache/ko
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
IMAGE_CREATED = $(shell date -u -d @$(SOURCE_DATE_EPOCH) +%Y-%m-%dT%H:%M:%SZ)
# The same labels as the Dockerfile's (test/image checks), and the build's version and commit.
IMAGE_LABELS = \
	--image-label=org.opencontainers.image.title=token-operator \
	--image-label='org.opencontainers.image.description=Kubernetes operator for Devin API service users and personal access tokens' \
	--image-label=org.opencontainers.image.source=https://github.com/cogtokens/token-operator \
	--image-label=org.opencontainers.image.version=$(VERSION) \
	--image-label=org.opencontainers.image.revision=$(COMMIT) \
	--image-label=org.opencontainers.image.created=$(IMAGE_CREATED)
KO_ENV = KOCACHE=$(KOCACHE) KO_DOCKER_REPO=$(KO_DOCKER_REPO) SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) \
	VERSION=$(VERSION) COMMIT=$(COMMIT) GOFLAGS=-mod=readonly

# image writes $(IMAGE_DIR)/oci (an OCI layout: one index, one image per platform),
# $(IMAGE_DIR)/sbom (SPDX, per platform and for the index), a docker-format tarball per
# platform ($(IMAGE_DIR)/token-operator-<os>-<arch>.tar, for `kind load image-archive`,
# `ctr import`, `docker load`) and $(IMAGE_DIR)/digest.
.PHONY: image
image: ko ## Build the manager image (PLATFORMS=linux/amd64,linux/arm64) into dist/image with ko, offline, and print its digest.
	rm -rf $(IMAGE_DIR)
	mkdir -p $(IMAGE_DIR)
	go run ./hack/image seed -kocache $(KOCACHE) -ko-config .ko.yaml
	$(KO_ENV) $(KO) build . --bare --push=false --platform=$(PLATFORMS) \
		--oci-layout-path=$(IMAGE_DIR)/oci --sbom=spdx --sbom-dir=$(IMAGE_DIR)/sbom $(IMAGE_LABELS) \
		> $(IMAGE_DIR)/ko.out
	go run ./hack/image tarballs -ref $(KO_DOCKER_REPO):$(VERSION) -out $(IMAGE_DIR) $(IMAGE_DIR)/oci
	go run ./hack/image digest $(IMAGE_DIR)/oci > $(IMAGE_DIR)/digest
	@echo "image: $(KO_DOCKER_REPO)@$$(cat $(IMAGE_DIR)/digest) ($(PLATFORMS))"

# release-dry-run does all that a tag does (.github/workflows/release.yml) except pushing:
# the image for both platforms, built twice to check that the digest is the same; the chart,
# its image named by that digest, packaged; the bundle (install.yaml) by digest; checksums.
RELEASE_DIR ?= dist/release
# The chart's SemVer: the tag without its v; a build between tags is 0.0.0-<git describe>.
CHART_VERSION ?= $(if $(filter v%,$(VERSION)),$(patsubst v%,%,$(VERSION)),0.0.0-$(VERSION))
RELEASE_PLATFORMS = linux/amd64,linux/arm64
# What every step of one release must agree on, fixed once (a file edited meanwhile must not
# change the version a later step stamps).
RELEASE_VARS = VERSION=$(VERSION) COMMIT=$(COMMIT) SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) \
	KO_DOCKER_REPO=$(KO_DOCKER_REPO) RELEASE_DIR=$(RELEASE_DIR) CHART_VERSION=$(CHART_VERSION)
.PHONY: release-dry-run
release-dry-run: ko kustomize helm ## Build a release into dist/release (image, SBOM, chart, install.yaml, kubectl plugin, checksums); push nothing.
	rm -rf $(RELEASE_DIR)
	$(MAKE) --no-print-directory image $(RELEASE_VARS) IMAGE_DIR=$(RELEASE_DIR)/image PLATFORMS=$(RELEASE_PLATFORMS)
	go run ./hack/image platforms -want $(RELEASE_PLATFORMS) $(RELEASE_DIR)/image/oci
	@# The index's SBOM, which release.yml attests; ko names it.
	test -s $(RELEASE_DIR)/image/sbom/token-operator-index.spdx.json
	$(MAKE) --no-print-directory image $(RELEASE_VARS) IMAGE_DIR=$(RELEASE_DIR)/rebuild PLATFORMS=$(RELEASE_PLATFORMS) KOCACHE=$(KOCACHE)-rebuild
	@if ! cmp -s $(RELEASE_DIR)/image/digest $(RELEASE_DIR)/rebuild/digest; then \
		echo "release-dry-run: not reproducible: $$(cat $(RELEASE_DIR)/image/digest) then $$(cat $(RELEASE_DIR)/rebuild/digest)" >&2; exit 1; fi
	@echo "release-dry-run: reproducible: two builds gave $$(cat $(RELEASE_DIR)/image/digest)"
	rm -rf $(RELEASE_DIR)/rebuild $(KOCACHE)-rebuild
	$(MAKE) --no-print-directory release-chart release-bundle release-plugin $(RELEASE_VARS)
	cd $(RELEASE_DIR) && sha256sum install.yaml token-operator-$(CHART_VERSION).tgz image/*.tar image/sbom/*.spdx.json \
		plugin/*.tar.gz plugin/devin.yaml > checksums.txt
	@echo "release-dry-run: $(RELEASE_DIR) holds $(VERSION): $(KO_DOCKER_REPO)@$$(cat $(RELEASE_DIR)/image/digest)"

# release-chart packages the chart with the image by digest ($(RELEASE_DIR)/image/digest).
.PHONY: release-chart
release-chart: helm
	rm -rf $(RELEASE_DIR)/chart
	cp -r $(CHART_DIR) $(RELEASE_DIR)/chart
	go run ./hack/image chart -repository $(KO_DOCKER_REPO) -tag $(VERSION) -digest "$$(cat $(RELEASE_DIR)/image/digest)" \
		-version $(CHART_VERSION) $(RELEASE_DIR)/chart
	$(HELM) lint --strict $(RELEASE_DIR)/chart
	$(HELM) package $(RELEASE_DIR)/chart --destination $(RELEASE_DIR)
	rm -rf $(RELEASE_DIR)/chart

# release-bundle writes the bundle with the image by digest.
.PHONY: release-bundle
release-bundle: kustomize
	$(MAKE) --no-print-directory build-installer $(RELEASE_VARS) INSTALLER=$(RELEASE_DIR)/install.yaml \
		IMG=$(KO_DOCKER_REPO):$(VERSION)@$$(cat $(RELEASE_DIR)/image/digest)

# release-plugin builds the kubectl plugin into $(RELEASE_DIR)/plugin: a reproducible archive
# per platform (every time stamp SOURCE_DATE_EPOCH) and the krew manifest, devin.yaml, naming
# each by its URL on the GitHub release of $(VERSION) and its SHA-256.
PLUGIN_PLATFORMS = linux/amd64,linux/arm64,darwin/amd64,darwin/arm64,windows/amd64
.PHONY: release-plugin
release-plugin: ## Build the kubectl plugin's archives and krew manifest (devin.yaml) into dist/release/plugin.
	go run ./hack/krew -version $(VERSION) -source-date-epoch $(SOURCE_DATE_EPOCH) -platforms $(PLUGIN_PLATFORMS) \
		-out $(RELEASE_DIR)/plugin

# release-publish pushes the image that release-dry-run built: ko builds it again, pushing
# to $(KO_DOCKER_REPO) with its SBOM, and the pushed digest must be the dry run's (the build
# is reproducible), so the chart and install.yaml name what was pushed. Needs a registry
# login; release.yml then signs it with cosign.
.PHONY: release-publish
release-publish: ko ## Push the image release-dry-run built (ko; same digest or it fails); needs a registry login (release.yml).
	go run ./hack/image seed -kocache $(KOCACHE) -ko-config .ko.yaml
	$(KO_ENV) $(KO) build . --bare --platform=$(RELEASE_PLATFORMS) --tags=$(VERSION) --sbom=spdx $(IMAGE_LABELS) \
		--image-refs=$(RELEASE_DIR)/image/pushed
	@pushed=$$(sed 's/.*@//' $(RELEASE_DIR)/image/pushed); built=$$(cat $(RELEASE_DIR)/image/digest); \
	if [ "$$pushed" != "$$built" ]; then echo "release-publish: pushed $$pushed, but the dry run built $$built" >&2; exit 1; fi; \
	echo "release-publish: pushed $(KO_DOCKER_REPO)@$$pushed"

##@ Deployment

ifndef ignore-not-found
  ignore-not-found = false
endif

KUBECTL ?= kubectl

.PHONY: install
install: manifests kustomize ## Install the CRDs into the cluster of the current kubeconfig.
	$(KUSTOMIZE) build config/crd | $(KUBECTL) apply --server-side -f -

.PHONY: uninstall
uninstall: manifests kustomize ## Remove the CRDs (ignore-not-found=true to ignore missing ones).
	$(KUSTOMIZE) build config/crd | $(KUBECTL) delete --ignore-not-found=$(ignore-not-found) -f -

.PHONY: deploy
deploy: manifests kustomize ## Deploy the operator to the cluster of the current kubeconfig.
	cd config/manager && $(KUSTOMIZE) edit set image controller=$(IMG)
	$(KUSTOMIZE) build config/default | $(KUBECTL) apply --server-side -f -
	cd config/manager && $(KUSTOMIZE) edit set image controller=token-operator:latest

.PHONY: undeploy
undeploy: kustomize ## Remove the operator from the cluster (ignore-not-found=true to ignore missing ones).
	$(KUSTOMIZE) build config/default | $(KUBECTL) delete --ignore-not-found=$(ignore-not-found) -f -

##@ Tools

LOCALBIN ?= $(shell pwd)/bin
$(LOCALBIN):
	mkdir -p $(LOCALBIN)

CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen
KUSTOMIZE ?= $(LOCALBIN)/kustomize
GOLANGCI_LINT ?= $(LOCALBIN)/golangci-lint
HELM ?= $(LOCALBIN)/helm
KO ?= $(LOCALBIN)/ko

CONTROLLER_TOOLS_VERSION ?= v0.23.0
KUSTOMIZE_VERSION ?= v5.8.2
GOLANGCI_LINT_VERSION ?= v2.15.0
HELM_VERSION ?= v3.22.0
KO_VERSION ?= v0.19.1

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN)-$(CONTROLLER_TOOLS_VERSION) ## Install controller-gen into ./bin.
	@ln -sf $(notdir $(CONTROLLER_GEN))-$(CONTROLLER_TOOLS_VERSION) $(CONTROLLER_GEN)
$(CONTROLLER_GEN)-$(CONTROLLER_TOOLS_VERSION): | $(LOCALBIN)
	$(call go-install-tool,$(CONTROLLER_GEN),sigs.k8s.io/controller-tools/cmd/controller-gen,$(CONTROLLER_TOOLS_VERSION))

.PHONY: kustomize
kustomize: $(KUSTOMIZE)-$(KUSTOMIZE_VERSION) ## Install kustomize into ./bin.
	@ln -sf $(notdir $(KUSTOMIZE))-$(KUSTOMIZE_VERSION) $(KUSTOMIZE)
$(KUSTOMIZE)-$(KUSTOMIZE_VERSION): | $(LOCALBIN)
	$(call go-install-tool,$(KUSTOMIZE),sigs.k8s.io/kustomize/kustomize/v5,$(KUSTOMIZE_VERSION))

.PHONY: golangci-lint
golangci-lint: $(GOLANGCI_LINT)-$(GOLANGCI_LINT_VERSION) ## Install golangci-lint into ./bin.
	@ln -sf $(notdir $(GOLANGCI_LINT))-$(GOLANGCI_LINT_VERSION) $(GOLANGCI_LINT)
$(GOLANGCI_LINT)-$(GOLANGCI_LINT_VERSION): | $(LOCALBIN)
	$(call go-install-tool,$(GOLANGCI_LINT),github.com/golangci/golangci-lint/v2/cmd/golangci-lint,$(GOLANGCI_LINT_VERSION))

.PHONY: helm
helm: $(HELM)-$(HELM_VERSION) ## Install helm into ./bin.
	@ln -sf $(notdir $(HELM))-$(HELM_VERSION) $(HELM)
$(HELM)-$(HELM_VERSION): | $(LOCALBIN)
	$(call go-install-tool,$(HELM),helm.sh/helm/v3/cmd/helm,$(HELM_VERSION))

.PHONY: ko
ko: $(KO)-$(KO_VERSION) ## Install ko into ./bin.
	@ln -sf $(notdir $(KO))-$(KO_VERSION) $(KO)
$(KO)-$(KO_VERSION): | $(LOCALBIN)
	$(call go-install-tool,$(KO),github.com/google/ko,$(KO_VERSION))

# go-install-tool installs a pinned Go tool as <name>-<version> in ./bin.
define go-install-tool
@[ -f "$(1)-$(3)" ] || { \
set -e; \
echo "Installing $(2)@$(3)"; \
rm -f $(1) || true; \
GOBIN=$(LOCALBIN) GOFLAGS= go install $(2)@$(3); \
mv $(1) $(1)-$(3); \
}
endef

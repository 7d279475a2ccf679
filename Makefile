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
build: manifests generate fmt vet ## Build the manager binary into bin/token-operator.
	go build -trimpath -ldflags "$(LDFLAGS)" -o bin/token-operator .

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

.PHONY: build-installer
build-installer: manifests generate kustomize ## Write the install bundle to dist/install.yaml.
	mkdir -p dist
	cd config/manager && $(KUSTOMIZE) edit set image controller=$(IMG)
	$(KUSTOMIZE) build config/default > dist/install.yaml
	cd config/manager && $(KUSTOMIZE) edit set image controller=token-operator:latest

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

CONTROLLER_TOOLS_VERSION ?= v0.23.0
KUSTOMIZE_VERSION ?= v5.8.2
GOLANGCI_LINT_VERSION ?= v2.15.0
HELM_VERSION ?= v3.22.0

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN)-$(CONTROLLER_TOOLS_VERSION) ## Install controller-gen into ./bin.
	@ln -sf $(CONTROLLER_GEN)-$(CONTROLLER_TOOLS_VERSION) $(CONTROLLER_GEN)
$(CONTROLLER_GEN)-$(CONTROLLER_TOOLS_VERSION): | $(LOCALBIN)
	$(call go-install-tool,$(CONTROLLER_GEN),sigs.k8s.io/controller-tools/cmd/controller-gen,$(CONTROLLER_TOOLS_VERSION))

.PHONY: kustomize
kustomize: $(KUSTOMIZE)-$(KUSTOMIZE_VERSION) ## Install kustomize into ./bin.
	@ln -sf $(KUSTOMIZE)-$(KUSTOMIZE_VERSION) $(KUSTOMIZE)
$(KUSTOMIZE)-$(KUSTOMIZE_VERSION): | $(LOCALBIN)
	$(call go-install-tool,$(KUSTOMIZE),sigs.k8s.io/kustomize/kustomize/v5,$(KUSTOMIZE_VERSION))

.PHONY: golangci-lint
golangci-lint: $(GOLANGCI_LINT)-$(GOLANGCI_LINT_VERSION) ## Install golangci-lint into ./bin.
	@ln -sf $(GOLANGCI_LINT)-$(GOLANGCI_LINT_VERSION) $(GOLANGCI_LINT)
$(GOLANGCI_LINT)-$(GOLANGCI_LINT_VERSION): | $(LOCALBIN)
	$(call go-install-tool,$(GOLANGCI_LINT),github.com/golangci/golangci-lint/v2/cmd/golangci-lint,$(GOLANGCI_LINT_VERSION))

.PHONY: helm
helm: $(HELM)-$(HELM_VERSION) ## Install helm into ./bin.
	@ln -sf $(HELM)-$(HELM_VERSION) $(HELM)
$(HELM)-$(HELM_VERSION): | $(LOCALBIN)
	$(call go-install-tool,$(HELM),helm.sh/helm/v3/cmd/helm,$(HELM_VERSION))

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

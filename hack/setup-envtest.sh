#!/usr/bin/env bash
# Builds the envtest control plane (kube-apiserver and etcd) from the Go module proxy and
# installs it where setup-envtest keeps its binaries, so that controller-runtime's envtest
# finds it. No prebuilt Kubernetes download is needed: only the Go module proxy.
#
# Usage: hack/setup-envtest.sh [--print-path]
#   --print-path  print only the directory that holds the binaries (for KUBEBUILDER_ASSETS)
#
# Does nothing when the binaries for the pinned versions are already installed.
# Versions can be overridden with ENVTEST_K8S_VERSION and ENVTEST_ETCD_VERSION.
set -euo pipefail

K8S_VERSION="${ENVTEST_K8S_VERSION:-1.37.2}"
ETCD_VERSION="${ENVTEST_ETCD_VERSION:-3.6.16}"
STORE="${XDG_DATA_HOME:-$HOME/.local/share}/kubebuilder-envtest/k8s"
DEST="$STORE/${K8S_VERSION}-$(go env GOOS)-$(go env GOARCH)"

print_path=false
[[ "${1:-}" == "--print-path" ]] && print_path=true

# with_progress runs a long command in the background and says every 30s that it is still
# going, so that a first `make run` does not look stuck.
with_progress() {
  local what=$1; shift
  "$@" &
  local pid=$! start=$SECONDS
  while kill -0 "$pid" 2>/dev/null; do
    sleep 5
    if (( (SECONDS - start) % 30 < 5 )) && kill -0 "$pid" 2>/dev/null; then
      log "still building $what ($((SECONDS - start))s)"
    fi
  done
  wait "$pid"
}

log() { if ! $print_path; then echo "setup-envtest: $*"; else echo "setup-envtest: $*" >&2; fi; }

# The version checks read the whole output first: with pipefail, `etcd --version | grep -q`
# fails when grep exits before etcd has written its last line (SIGPIPE).
apiserver_ok() {
  [[ -x "$DEST/kube-apiserver" ]] || return 1
  local v; v=$("$DEST/kube-apiserver" --version 2>/dev/null) || return 1
  [[ "$v" == *"v${K8S_VERSION}" ]]
}

etcd_ok() {
  [[ -x "$DEST/etcd" ]] || return 1
  local v; v=$("$DEST/etcd" --version 2>/dev/null) || return 1
  grep -qx "etcd Version: ${ETCD_VERSION}" <<<"$v"
}

installed() { apiserver_ok && etcd_ok; }

export GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0

build_etcd() {
  local dir; dir=$(mktemp -d)
  log "building etcd v${ETCD_VERSION} (about a minute)"
  cat >"$dir/main.go" <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  (
    cd "$dir"
    go mod init envtest/etcd >/dev/null 2>&1
    for m in server/v3 api/v3 client/pkg/v3 client/v3 pkg/v3; do
      go mod edit -require="go.etcd.io/etcd/$m@v${ETCD_VERSION}"
    done
    go mod tidy >/dev/null 2>&1 || go mod tidy
    with_progress etcd go build -trimpath -o "$dir/etcd" .
  )
  install -m 0755 "$dir/etcd" "$DEST/etcd"
  rm -rf "$dir"
}

build_kube_apiserver() {
  local dir; dir=$(mktemp -d)
  local staging="0.${K8S_VERSION#1.}"
  log "building kube-apiserver v${K8S_VERSION} (about 7 minutes on 2 cores)"
  cat >"$dir/main.go" <<'GO'
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() { os.Exit(cli.Run(app.NewAPIServerCommand())) }
GO
  (
    cd "$dir"
    go mod init envtest/kube-apiserver >/dev/null 2>&1
    go mod edit -require="k8s.io/kubernetes@v${K8S_VERSION}"
    # k8s.io/kubernetes replaces its staging modules with ./staging/...; every one of them
    # that it requires must be pinned to the matching published v0.x release.
    local modfile
    modfile=$(go mod download -json "k8s.io/kubernetes@v${K8S_VERSION}" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
    local required
    required=$(awk '/^require \(/{r=1;next} r&&/^\)/{r=0} r{print $1" "$2}' "$modfile" | awk '$2=="v0.0.0"{print $1}')
    for m in $(grep -E '=> \./staging/' "$modfile" | awk '{print $1}'); do
      if grep -qx "$m" <<<"$required"; then
        go mod edit -replace="$m=$m@v${staging}"
      fi
    done
    go mod tidy >/dev/null 2>&1 || go mod tidy
    local ld="-s -w"
    ld+=" -X k8s.io/component-base/version.gitVersion=v${K8S_VERSION}"
    ld+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(cut -d. -f2 <<<"$K8S_VERSION")"
    ld+=" -X k8s.io/client-go/pkg/version.gitVersion=v${K8S_VERSION}"
    ld+=" -X k8s.io/component-base/version.gitTreeState=clean"
    with_progress kube-apiserver go build -trimpath -ldflags "$ld" -o "$dir/kube-apiserver" .
  )
  install -m 0755 "$dir/kube-apiserver" "$DEST/kube-apiserver"
  rm -rf "$dir"
}

if ! installed; then
  mkdir -p "$DEST"
  etcd_ok || build_etcd
  apiserver_ok || build_kube_apiserver
  # envtest also looks for kubectl next to the control plane; use the machine's own.
  if [[ ! -e "$DEST/kubectl" ]] && command -v kubectl >/dev/null 2>&1; then
    ln -sf "$(command -v kubectl)" "$DEST/kubectl"
  fi
  installed || { log "the installed binaries do not report the expected versions"; exit 1; }
fi

if $print_path; then
  echo "$DEST"
else
  log "kube-apiserver: $("$DEST/kube-apiserver" --version)"
  log "etcd: $("$DEST/etcd" --version | head -n 1)"
  log "installed in $DEST"
fi

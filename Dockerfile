# Image of the token-operator manager, for those who build with Docker:
#   docker build --build-arg VERSION=v0.1.0 --build-arg COMMIT=$(git rev-parse HEAD) -t token-operator:v0.1.0 .
# Releases are built with ko instead (make image, docs/release.md); this file gives the same
# layout: a static binary at /ko-app/token-operator (the image's entrypoint; the chart and the
# bundle run it without a command), the nonroot user's passwd and group entries
# (hack/image/rootfs) and nothing else: no shell, no package manager. The CA roots are
# compiled into the binary (golang.org/x/crypto/x509roots/fallback). test/image checks that
# this file, .ko.yaml, the chart and the bundle agree.

# The builder runs on the build machine's platform and cross-compiles for the target one,
# so multi-arch builds (docker buildx --platform linux/amd64,linux/arm64) need no emulation.
FROM --platform=$BUILDPLATFORM golang:1.26 AS builder
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
ARG COMMIT=unknown

WORKDIR /workspace
# The module cache is its own layer: it is rebuilt only when go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download

# Only what the manager binary is built from (see .dockerignore).
COPY main.go ./
COPY api/ api/
COPY controllers/ controllers/
COPY internal/ internal/

RUN CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} \
    go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X github.com/cogtokens/token-operator/internal/version.Version=${VERSION} -X github.com/cogtokens/token-operator/internal/version.Commit=${COMMIT}" \
      -o manager .

FROM scratch
ARG VERSION=dev
ARG COMMIT=unknown
LABEL org.opencontainers.image.title="token-operator" \
      org.opencontainers.image.description="Kubernetes operator for Devin API service users and personal access tokens" \
      org.opencontainers.image.source="https://github.com/cogtokens/token-operator" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}"
COPY hack/image/rootfs/ /
COPY --from=builder /workspace/manager /ko-app/token-operator
ENV PATH=/ko-app
# Numeric, so that runAsNonRoot can be verified by the kubelet without reading /etc/passwd.
USER 65532:65532

ENTRYPOINT ["/ko-app/token-operator"]

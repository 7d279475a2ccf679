# Image of the token-operator manager: a static binary on distroless, run as non-root.
#   docker build --build-arg VERSION=v0.1.0 -t token-operator:v0.1.0 .   (make docker-build)

# The builder runs on the build machine's platform and cross-compiles for the target one,
# so multi-arch builds (docker buildx --platform linux/amd64,linux/arm64) need no emulation.
FROM --platform=$BUILDPLATFORM golang:1.26 AS builder
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev

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
    go build -trimpath \
      -ldflags "-s -w -X github.com/cogtokens/token-operator/internal/version.Version=${VERSION}" \
      -o manager .

# distroless/static: no shell, no package manager, CA certificates for the Devin API and
# /etc/passwd entries for the nonroot user.
FROM gcr.io/distroless/static:nonroot
LABEL org.opencontainers.image.title="token-operator" \
      org.opencontainers.image.description="Kubernetes operator for Devin API service users and personal access tokens" \
      org.opencontainers.image.source="https://github.com/cogtokens/token-operator"
WORKDIR /
COPY --from=builder /workspace/manager /manager
# Numeric, so that runAsNonRoot can be verified by the kubelet without reading /etc/passwd.
USER 65532:65532

ENTRYPOINT ["/manager"]

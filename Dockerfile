# kbackup container image (docs/operations.md, "Container and Kubernetes").
#
#   docker build -t kbackup .                 # daemon and restore: static, non-root
#   docker build --target mount -t kbackup-mount .   # adds fusermount3 for `kbackup mount`
#
# The binary is static (CGO_ENABLED=0: franz-go, go-cloud and go-fuse are
# pure Go), so the runtime image needs no libc: distroless static, run as
# its nonroot user (65532).

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath -ldflags='-s -w' -o /out/kbackup ./cmd/kbackup

# mount: `kbackup mount` needs /dev/fuse and, unless it runs as root,
# fusermount3 (setuid) to mount; see deploy/mount.yaml.
FROM debian:bookworm-slim AS mount
RUN apt-get update && apt-get install -y --no-install-recommends fuse3 ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/kbackup /usr/local/bin/kbackup
ENTRYPOINT ["/usr/local/bin/kbackup"]
CMD ["--help"]

# The default image: backup daemon and restore jobs.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/kbackup /usr/local/bin/kbackup
USER 65532:65532
# /metrics, /healthz and /readyz (--metrics-addr, default :9000).
EXPOSE 9000
ENTRYPOINT ["/usr/local/bin/kbackup"]
CMD ["--help"]

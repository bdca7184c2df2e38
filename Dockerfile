# The bridge's container image: a static Go binary on distroless/static,
# running as a non-root user, with no shell and no package manager.
#
#   docker build -t dfbridge .                                         # pure Go (default)
#   docker build --build-arg GOEXPERIMENT=boringcrypto -t dfbridge:boring .  # BoringCrypto
#
# Size: the 42.8 MiB static binary (scripts/check-static.sh prints it on
# every test run) plus distroless/static (about 2 MiB: CA certificates,
# tzdata, /etc/passwd with the nonroot user), about 45 MiB on disk.

ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION} AS build
WORKDIR /src
# Modules first, so a code change does not re-download them.
COPY go.mod go.sum ./
RUN go mod download
COPY . .

# ---- crypto build options -------------------------------------------------
# GOEXPERIMENT=boringcrypto builds Go's crypto on BoringSSL: about 1.4x the
# exchanges/s when signing with a key file, for about 15 MB more memory.
# Empty (the default): pure Go, the better fit for keyless signing, where
# IAM signs (docs/performance.md, "The signing backend"). Either way the
# binary is static (scripts/build-static.sh), and the test command tests both.
ARG GOEXPERIMENT=
# ---------------------------------------------------------------------------

RUN GOEXPERIMENT="$GOEXPERIMENT" scripts/build-static.sh /out/bridge

# distroless/static: CA certificates (for Descope and Google APIs), tzdata
# and a nonroot user (65532), nothing else; no shell to exec into.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/bridge /bridge
USER nonroot:nonroot
# Cloud Run sets PORT; 8080 is the default.
EXPOSE 8080
ENTRYPOINT ["/bridge"]

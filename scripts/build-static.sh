#!/bin/sh
# Builds the bridge as the container ships it: a static binary, no local
# paths, no symbol table. The Dockerfile runs this, and
# scripts/check-static.sh proves the result is static, so the two cannot
# drift. Usage: [GOEXPERIMENT=boringcrypto] scripts/build-static.sh OUT
#
# Default: pure Go (CGO_ENABLED=0), so there is no libc to match in the image.
# GOEXPERIMENT=boringcrypto: Go's crypto on BoringSSL's FIPS module (RSA
# signing about 1.5x faster, see docs/performance.md). It needs
# cgo, so the binary is linked statically against libc to still run on
# distroless/static; the linker's getaddrinfo warning is harmless (netgo:
# Go's own resolver is used).
set -eu
out=${1:?usage: scripts/build-static.sh OUT}
case "${GOEXPERIMENT:-}" in
  "")
    CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$out" ./cmd/bridge ;;
  boringcrypto)
    GOEXPERIMENT=boringcrypto CGO_ENABLED=1 go build -trimpath -tags netgo,osusergo \
      -ldflags='-s -w -linkmode=external -extldflags=-static' -o "$out" ./cmd/bridge ;;
  *)
    echo "build-static.sh: GOEXPERIMENT=$GOEXPERIMENT is not a supported build (use boringcrypto or nothing)" >&2
    exit 2 ;;
esac

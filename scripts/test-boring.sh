#!/usr/bin/env bash
# The BoringCrypto build stays tested: it is the faster build for key-file
# signing (docs/performance.md), offered as the image's GOEXPERIMENT build
# arg. Builds it as the image would (cgo, linked statically for
# distroless/static), proves it static, runs the process test that signs
# with a key file on that very binary, and the verification and signing
# packages' tests on BoringCrypto. Installs Debian's C compiler if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v gcc >/dev/null 2>&1; then
  scripts/apt-install.sh gcc libc6-dev # BoringCrypto needs cgo
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
GOEXPERIMENT=boringcrypto scripts/check-static.sh "$out/bridge-boring"
DFBRIDGE_TEST_BRIDGE_BIN=$out/bridge-boring go test -count=1 -run '^TestBuiltBinaryExchangesWithAKeyFile$' ./cmd/bridge
GOEXPERIMENT=boringcrypto CGO_ENABLED=1 go test -count=1 ./descope/ ./firebase/

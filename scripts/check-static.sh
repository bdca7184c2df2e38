#!/usr/bin/env bash
# Proves the bridge builds the way the container image needs it: statically
# linked (distroless/static has no libc), with the settings of the build
# GOEXPERIMENT selects (scripts/build-static.sh): CGO_ENABLED=0 by default,
# or BoringCrypto with cgo linked statically. Prints the binary's size, the
# main part of the image's size. Usage: [GOEXPERIMENT=boringcrypto]
# scripts/check-static.sh [OUT] (OUT keeps the binary).
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
bin=${1:-$out/bridge}
scripts/build-static.sh "$bin"

desc=$(file -b "$bin")
case $desc in
  *"statically linked"*) ;;
  *) echo "bridge binary is not statically linked: $desc" >&2; exit 1 ;;
esac
if ldd "$bin" >/dev/null 2>&1; then
  echo "ldd finds dynamic dependencies in the bridge binary:" >&2
  ldd "$bin" >&2
  exit 1
fi
info=$(go version -m "$bin")
case "${GOEXPERIMENT:-}" in
  "") want='CGO_ENABLED=0' ;;
  boringcrypto) want='GOEXPERIMENT=boringcrypto' ;;
esac
if ! grep -q "$want" <<<"$info"; then
  echo "bridge binary was not built with $want:" >&2
  echo "$info" >&2
  exit 1
fi
size=$(stat -c %s "$bin")
echo "static bridge binary (${GOEXPERIMENT:-pure Go}): $((size / 1024 / 1024)) MiB ($size bytes), no dynamic dependencies"

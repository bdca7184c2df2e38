#!/usr/bin/env bash
# Proves the bridge builds the way the container image needs it: statically
# linked (distroless/static has no libc), built with CGO_ENABLED=0. Prints
# the binary's size, the main part of the image's size.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
scripts/build-static.sh "$out/bridge"

desc=$(file -b "$out/bridge")
case $desc in
  *"statically linked"*) ;;
  *) echo "bridge binary is not statically linked: $desc" >&2; exit 1 ;;
esac
if ldd "$out/bridge" >/dev/null 2>&1; then
  echo "ldd finds dynamic dependencies in the bridge binary:" >&2
  ldd "$out/bridge" >&2
  exit 1
fi
if ! go version -m "$out/bridge" | grep -q 'CGO_ENABLED=0'; then
  echo "bridge binary was not built with CGO_ENABLED=0" >&2
  exit 1
fi
size=$(stat -c %s "$out/bridge")
echo "static bridge binary: $((size / 1024 / 1024)) MiB ($size bytes), no dynamic dependencies"

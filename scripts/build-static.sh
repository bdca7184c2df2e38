#!/bin/sh
# Builds the bridge as the container ships it: a static binary (no cgo, so
# no libc to match in the image), no local paths, no symbol table.
# The Dockerfile runs this, and scripts/check-static.sh proves the result is
# static, so the two cannot drift. Usage: scripts/build-static.sh OUT
set -eu
out=${1:?usage: scripts/build-static.sh OUT}
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$out" ./cmd/bridge

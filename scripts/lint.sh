#!/usr/bin/env bash
# The lint gate: golangci-lint v2, pinned, installed through the Go module
# proxy on first use (about 3 minutes cold), run with the checked-in
# .golangci.yml. Any finding fails the run.
# Usage: scripts/lint.sh [--install]   (--install: only install it)
set -euo pipefail
cd "$(dirname "$0")/.."
version=v2.15.0
bin="$(go env GOPATH)/bin/golangci-lint"
if ! "$bin" version 2>/dev/null | grep -q "version ${version#v} "; then
  echo "== installing golangci-lint $version (go install; the first run takes a few minutes)" >&2
  go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$version"
fi
[ "${1:-}" = --install ] && exit 0
"$bin" run ./...

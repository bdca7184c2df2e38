#!/usr/bin/env bash
# Checks the client package and examples with no running stack: installs
# each from its committed lockfile, then runs the package's unit tests, the
# React Native type-check and the web build. Any failure stops the script non-zero.
# Usage: scripts/test-clients.sh
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }
npm_ci() { npm ci --no-audit --no-fund --loglevel=error; }

step "lockfiles record no download addresses"
if grep -n '"resolved": "http' clients/js/package-lock.json examples/*/package-lock.json bench/peer/package-lock.json; then
  echo "a lockfile above has resolved URLs; remove them: sed -i '/\"resolved\": \"http/d' FILE" >&2
  exit 1
fi

step "@dfbridge/client (clients/js): install, build and unit tests"
(cd clients/js && npm_ci && npm test)

step "@dfbridge/client: the package as npm would publish it (publint, attw, the packed tarball installed and imported)"
(cd clients/js && npm run lint:package && npm run test:pack)

step "react-native: install and type-check"
(cd examples/react-native && npm_ci && npm run typecheck)

step "expo: install and type-check"
(cd examples/expo && npm_ci && npm run typecheck)

step "web: install and build"
(cd examples/web && npm_ci && npm run build)

step "client examples: all checks passed"

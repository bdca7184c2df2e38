# Sourced by dev.sh and test.sh: starts the local stack (Auth emulator,
# Descope stand-in, bridge) and stops it. Set before calling stack_up:
#   STACK_EMULATOR (host:port), STACK_STUB_ADDR, STACK_BRIDGE_PORT,
#   STACK_ORIGINS (browser origins allowed by the bridge and the stand-in).
# The bridge gets the audit webhook (secret STACK_AUDIT_SECRET) and a
# management key the stand-in accepts, so lifecycle sync runs locally too.
# stack_up builds into bin/, starts all three and waits until the bridge is
# ready; stack_down ends what stack_up started.

stack_pids=()

. "$(dirname "${BASH_SOURCE[0]}")/heartbeat.sh"

stack_up() {
  : "${STACK_EMULATOR:?}" "${STACK_STUB_ADDR:?}" "${STACK_BRIDGE_PORT:?}"
  local project=${DESCOPE_PROJECT_ID:-Plocaldfbridge}
  local mgmt=local-management-key
  STACK_AUDIT_SECRET=${STACK_AUDIT_SECRET:-local-audit-secret-0123456789}
  mkdir -p bin
  echo "== building the bridge and the Descope stand-in (go build; the first run downloads modules)" >&2
  heartbeat "building" go build -o bin/bridge ./cmd/bridge
  heartbeat "building" go build -o bin/descope-stub ./cmd/descope-stub
  echo "== starting the Firebase Auth emulator at $STACK_EMULATOR" >&2
  emulator/authemu/start.sh "$STACK_EMULATOR"
  echo "== starting the Descope stand-in at $STACK_STUB_ADDR and the bridge at 127.0.0.1:$STACK_BRIDGE_PORT" >&2

  STUB_ADDR=$STACK_STUB_ADDR DESCOPE_PROJECT_ID=$project STUB_DEV_ORIGINS=${STACK_ORIGINS:-} \
  DESCOPE_MANAGEMENT_KEY=$mgmt \
    bin/descope-stub >"bin/descope-stub-${STACK_STUB_ADDR##*:}.log" 2>&1 &
  stack_pids+=($!)

  # The bridge's whole environment, in a file: the bridge starts from it,
  # and `bin/bridge doctor --env` checks the same settings.
  STACK_ENV_FILE=bin/bridge-$STACK_BRIDGE_PORT.env
  cat >"$STACK_ENV_FILE" <<ENV
# The local stack's bridge settings (scripts/stack.sh). Check them:
#   bin/bridge doctor --env $STACK_ENV_FILE
DESCOPE_PROJECT_ID=$project
DESCOPE_BASE_URL=http://$STACK_STUB_ADDR
DESCOPE_MANAGEMENT_KEY=$mgmt
AUDIT_WEBHOOK_HMAC_SECRETS=$STACK_AUDIT_SECRET
FIREBASE_AUTH_EMULATOR_HOST=$STACK_EMULATOR
FIREBASE_PROJECT_ID=demo-dfbridge
FIREBASE_WEB_API_KEY=local-web-api-key
LISTEN_HOST=${LISTEN_HOST:-127.0.0.1}
PORT=$STACK_BRIDGE_PORT
CORS_ALLOWED_ORIGINS=${STACK_ORIGINS:-}
ENV
  chmod 600 "$STACK_ENV_FILE"
  (set -a; . "$STACK_ENV_FILE"; exec bin/bridge) >"bin/bridge-$STACK_BRIDGE_PORT.log" 2>&1 &
  stack_pids+=($!)

  local i
  for i in $(seq 1 200); do
    curl -fsS "http://127.0.0.1:$STACK_BRIDGE_PORT/readyz" >/dev/null 2>&1 && return 0
    kill -0 "${stack_pids[1]}" 2>/dev/null || break
    sleep 0.1
  done
  echo "the bridge did not become ready; its log:" >&2
  cat "bin/bridge-$STACK_BRIDGE_PORT.log" >&2
  return 1
}

stack_down() {
  local p
  for p in "${stack_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${stack_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  stack_pids=()
  emulator/authemu/stop.sh "$STACK_EMULATOR"
}

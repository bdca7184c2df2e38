#!/usr/bin/env bash
# Runs the whole stack locally with no cloud account, on the bridge's
# embedded defaults: the Firebase Auth emulator (127.0.0.1:9099), the Descope
# stand-in (127.0.0.1:8090) and the bridge (127.0.0.1:8080). Prints a curl
# command that exchanges a fresh session. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."

emu=127.0.0.1:9099
project=${DESCOPE_PROJECT_ID:-Plocaldfbridge}
mkdir -p bin
go build -o bin/bridge ./cmd/bridge
go build -o bin/descope-stub ./cmd/descope-stub

emulator/authemu/start.sh "$emu"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  emulator/authemu/stop.sh "$emu"
}
trap cleanup EXIT INT TERM

STUB_ADDR=127.0.0.1:8090 DESCOPE_PROJECT_ID=$project \
  STUB_DEV_ORIGINS=${STUB_DEV_ORIGINS:-http://127.0.0.1:5173,http://localhost:5173} \
  bin/descope-stub > bin/descope-stub.log 2>&1 &
pids+=($!)

export DESCOPE_PROJECT_ID=$project
export DESCOPE_BASE_URL=http://127.0.0.1:8090
export FIREBASE_AUTH_EMULATOR_HOST=$emu
export FIREBASE_PROJECT_ID=demo-dfbridge
export LISTEN_HOST=${LISTEN_HOST:-127.0.0.1}
export PORT=${PORT:-8080}
export CORS_ALLOWED_ORIGINS=${CORS_ALLOWED_ORIGINS:-http://127.0.0.1:5173,http://localhost:5173}
bin/bridge &
pids+=($!)

for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null || { echo "bridge did not become ready" >&2; exit 1; }

cat <<MSG

Local stack is up:
  bridge            http://127.0.0.1:$PORT   (POST /exchange, GET /readyz)
  Descope stand-in  http://127.0.0.1:8090   (POST /dev/session mints a session)
  Auth emulator     http://$emu

Exchange a fresh session (paste this):

  SESSION=\$(curl -s -X POST http://127.0.0.1:8090/dev/session -H 'Content-Type: application/json' \\
      -d '{"userId":"U2demo","roles":["admin"]}' | sed -E 's/.*"sessionJwt":"([^"]+)".*/\1/')
  curl -s -X POST http://127.0.0.1:$PORT/exchange -H "Authorization: Bearer \$SESSION"

Ctrl-C stops the stack.
MSG
wait "${pids[1]}"

#!/usr/bin/env bash
# Runs the whole stack locally with no cloud account, on the bridge's
# embedded defaults: the Firebase Auth emulator (127.0.0.1:9099), the Descope
# stand-in (127.0.0.1:8090) and the bridge (127.0.0.1:8080). Prints a curl
# command that exchanges a fresh session. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/stack.sh

STACK_EMULATOR=127.0.0.1:9099
STACK_STUB_ADDR=127.0.0.1:8090
STACK_BRIDGE_PORT=${PORT:-8080}
STACK_ORIGINS=${CORS_ALLOWED_ORIGINS:-http://127.0.0.1:5173,http://localhost:5173}
trap stack_down EXIT
trap 'exit 130' INT TERM
stack_up

cat <<MSG

Local stack is up:
  bridge            http://127.0.0.1:$STACK_BRIDGE_PORT   (POST /exchange, GET /readyz)   log: bin/bridge-$STACK_BRIDGE_PORT.log
  Descope stand-in  http://$STACK_STUB_ADDR   (POST /dev/session mints a session)
  Auth emulator     http://$STACK_EMULATOR

Exchange a fresh session (paste this):

  SESSION=\$(curl -s -X POST http://$STACK_STUB_ADDR/dev/session -H 'Content-Type: application/json' \\
      -d '{"userId":"U2demo","roles":["admin"]}' | sed -E 's/.*"sessionJwt":"([^"]+)".*/\1/')
  curl -s -X POST http://127.0.0.1:$STACK_BRIDGE_PORT/exchange -H "Authorization: Bearer \$SESSION"

Web example against this stack: see examples/web/README.md. Ctrl-C stops the stack.
MSG
wait "${stack_pids[1]}"

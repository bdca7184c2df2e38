#!/usr/bin/env bash
# Runs the whole stack locally with no cloud account, on the bridge's
# embedded defaults: the Firebase Auth emulator (127.0.0.1:9099), the Descope
# stand-in (127.0.0.1:8090) and the bridge (127.0.0.1:8080). Says what it is
# doing at each step, then prints a curl command that exchanges a fresh
# session. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/stack.sh

STACK_EMULATOR=${DFBRIDGE_EMULATOR:-127.0.0.1:9099}
STACK_STUB_ADDR=${DFBRIDGE_STUB_ADDR:-127.0.0.1:8090}
STACK_BRIDGE_PORT=${PORT:-8080}
STACK_ORIGINS=${CORS_ALLOWED_ORIGINS:-http://127.0.0.1:5173,http://localhost:5173}
emu_port=${STACK_EMULATOR##*:}

echo "dfbridge dev stack: ports"
echo "  bridge            127.0.0.1:$STACK_BRIDGE_PORT  (change with PORT=)"
echo "  Descope stand-in  $STACK_STUB_ADDR  (change with DFBRIDGE_STUB_ADDR=host:port)"
echo "  Auth emulator     $STACK_EMULATOR, plus $((emu_port + 1)) and $((emu_port + 2)) for its hub and logging (change with DFBRIDGE_EMULATOR=host:port)"

# A port already taken fails now, naming the variable that moves it, rather
# than minutes later inside a build or an emulator log.
port_taken() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
check_port() { # host port variable
  if port_taken "$1" "$2"; then
    echo "dev.sh: port $2 on $1 is already in use; stop what holds it or set $3" >&2
    exit 1
  fi
}
check_port 127.0.0.1 "$STACK_BRIDGE_PORT" PORT
check_port "${STACK_STUB_ADDR%:*}" "${STACK_STUB_ADDR##*:}" DFBRIDGE_STUB_ADDR
for p in "$emu_port" $((emu_port + 1)) $((emu_port + 2)); do
  check_port "${STACK_EMULATOR%:*}" "$p" DFBRIDGE_EMULATOR
done

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

Check the bridge's settings and every dependency, as on Cloud Run:

  bin/bridge doctor --env $STACK_ENV_FILE

Web example against this stack: see examples/web/README.md. Ctrl-C stops the stack.
MSG
wait "${stack_pids[1]}"

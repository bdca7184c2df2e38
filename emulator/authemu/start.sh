#!/usr/bin/env bash
# Installs (once) and starts the Firebase Auth emulator from the pinned
# firebase-tools in this folder. Prints nothing but errors; returns once the
# emulator answers. Usage: emulator/authemu/start.sh [host:port]
# The emulator hub and logging ports are the next two after the auth port,
# so several emulators (one per checkout) can run side by side.
# Stop it with: emulator/authemu/stop.sh [host:port]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
hostport=${1:-127.0.0.1:9099}
project=${FIREBASE_PROJECT:-demo-dfbridge}

if [ ! -x "$here/node_modules/.bin/firebase" ]; then
  # --ignore-scripts: no install script runs. Some of firebase-tools'
  # dependencies would otherwise compile native code with node-gyp (re2,
  # used by Hosting rewrites, takes minutes and needs a C++ toolchain, make
  # and python); the Auth emulator needs none of them.
  echo "installing firebase-tools (pinned, no install scripts; about 30 s on a fresh machine, npm's progress follows)..." >&2
  # npm is silent while it unpacks: a line every 15 s says it goes on.
  . "$here/../../scripts/heartbeat.sh"
  (cd "$here" && heartbeat "installing firebase-tools" npm ci --no-audit --no-fund --ignore-scripts --loglevel=http >&2)
fi

host=${hostport%:*}; port=${hostport##*:}
pidfile="$here/.emulator-$port.pid"
if curl -fsS "http://$hostport/emulator/v1/projects/$project/config" >/dev/null 2>&1; then
  echo "auth emulator already running at $hostport" >&2
  exit 0
fi
# The emulator's config lives beside its pid file and goes with it (stop.sh),
# so runs leave nothing behind in /tmp.
cfg="$here/.run-$port"
mkdir -p "$cfg"
cat > "$cfg/firebase.json" <<JSON
{ "emulators": {
    "auth": { "host": "$host", "port": $port },
    "hub": { "host": "$host", "port": $((port + 1)) },
    "logging": { "host": "$host", "port": $((port + 2)) },
    "ui": { "enabled": false } } }
JSON
(cd "$cfg" && exec "$here/node_modules/.bin/firebase" emulators:start --only auth \
   --project "$project" >"$here/emulator-$port.log" 2>&1) &
echo $! > "$pidfile"

for _ in $(seq 1 120); do
  if curl -fsS "http://$hostport/emulator/v1/projects/$project/config" >/dev/null 2>&1; then
    exit 0
  fi
  if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "auth emulator exited; its log:" >&2; cat "$here/emulator-$port.log" >&2; exit 1
  fi
  sleep 0.5
done
echo "auth emulator did not answer at $hostport within 60s; its log:" >&2
cat "$here/emulator-$port.log" >&2
exit 1

#!/usr/bin/env bash
# Stops an Auth emulator that start.sh started. Usage: stop.sh [host:port]
set -u
here=$(cd "$(dirname "$0")" && pwd)
hostport=${1:-127.0.0.1:9099}
pidfile="$here/.emulator-${hostport##*:}.pid"
[ -f "$pidfile" ] || exit 0
pid=$(cat "$pidfile")
# firebase-tools runs the emulator in child processes: end the whole group.
pkill -TERM -P "$pid" 2>/dev/null
kill -TERM "$pid" 2>/dev/null
for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
kill -KILL "$pid" 2>/dev/null
rm -f "$pidfile"
rm -rf "$here/.run-${hostport##*:}"

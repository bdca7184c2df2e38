# Sourced by scripts/stack.sh and emulator/authemu/start.sh.
# heartbeat WHAT CMD...: runs CMD, saying every 15 s that WHAT goes on, so a
# long first download or build never looks like a hang.
heartbeat() {
  local what=$1; shift
  "$@" & local pid=$! start=$SECONDS
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    if kill -0 "$pid" 2>/dev/null && (( (SECONDS - start) % 15 == 0 )); then
      echo "   ... still $what ($((SECONDS - start)) s)" >&2
    fi
  done
  wait "$pid"
}

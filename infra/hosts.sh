#!/usr/bin/env bash
# The hosts as local processes. `start` runs them in the foreground through the CLI (Ctrl+C stops
# them); `stop` ends exactly the processes the CLI recorded in .run/pids, never by name.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
case "${1:-}" in
  start) exec dotnet run -c Release --project "$root/src/Saga.Cli" -- up ;;
  stop)
    [ -f "$root/.run/pids" ] || exit 0
    while read -r pid name; do
      if kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid" && echo "[infra] stopped $name ($pid)"; fi
    done < "$root/.run/pids"
    rm -f "$root/.run/pids" ;;
  *) echo "usage: infra/hosts.sh start|stop" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Starts llmproxy on SQLite: installs dependencies if needed, builds the backend and the admin UI,
# then runs both listeners (migrations run at start). ADMIN_PASSWORD must be set, in the
# environment or in ./.env.
#
#   scripts/start.sh                in the foreground (Ctrl-C stops it, gracefully)
#   scripts/start.sh --background   detached: returns once the proxy answers, logs to llmproxy.log,
#                                   its pid in llmproxy.pid; scripts/stop.sh stops it
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

background=false
case "${1:-}" in
  --background) background=true ;;
  '') ;;
  *) echo "usage: scripts/start.sh [--background]" >&2; exit 2 ;;
esac

ensure_dependencies .
build_backend
build_ui
if ! $background; then exec node dist/apps/gateway/src/main.js; fi

if [ -f llmproxy.pid ] && kill -0 "$(cat llmproxy.pid)" 2>/dev/null; then
  echo "llmproxy is already running (pid $(cat llmproxy.pid)); scripts/stop.sh stops it" >&2
  exit 1
fi
nohup node dist/apps/gateway/src/main.js >> llmproxy.log 2>&1 &
pid=$!
echo "$pid" > llmproxy.pid
# Where it listens: the environment, else .env, else the defaults (as the server reads them).
setting() { local value="${!1:-}"; [ -n "$value" ] || value="$(sed -n "s/^$1=//p" .env 2>/dev/null | tail -n 1)"; echo "${value:-$2}"; }
proxy="http://127.0.0.1:$(setting PROXY_PORT 8000)"
admin="http://127.0.0.1:$(setting ADMIN_PORT 8001)"
for _ in $(seq 1 120); do
  if ! kill -0 "$pid" 2>/dev/null; then
    rm -f llmproxy.pid
    echo "llmproxy exited while starting; the end of llmproxy.log:" >&2
    tail -n 20 llmproxy.log >&2
    exit 1
  fi
  # Both listeners: the admin one opens after the proxy (it first checks whether ADMIN_PASSWORD changed).
  if node -e "Promise.all(['$proxy', '$admin'].map((u) => fetch(u + '/healthz'))).then((rs) => process.exit(rs.every((r) => r.ok) ? 0 : 1), () => process.exit(1))"; then
    echo "llmproxy is running (pid $pid): proxy $proxy, admin and UI $admin; logs in llmproxy.log; scripts/stop.sh stops it"
    node -e "fetch('$proxy/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))" ||
      echo "note: $proxy/readyz is not ready yet: no Ollama server answers (OLLAMA_URL, or the admin's upstream list)" >&2
    exit 0
  fi
  sleep 0.5
done
echo "llmproxy did not answer on $proxy/healthz and $admin/healthz within 60 s; see llmproxy.log (pid $pid, still running)" >&2
exit 1

#!/usr/bin/env bash
# Stops the llmproxy that `scripts/start.sh --background` started (pid in llmproxy.pid): SIGTERM,
# so it drains its requests in flight (SHUTDOWN_GRACE_S) before it exits.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f llmproxy.pid ]; then
  echo "no llmproxy.pid here: nothing started with scripts/start.sh --background" >&2
  exit 1
fi
pid="$(cat llmproxy.pid)"
if kill -0 "$pid" 2>/dev/null; then
  kill -TERM "$pid"
  for _ in $(seq 1 120); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "llmproxy (pid $pid) is still draining after 60 s; left running" >&2
    exit 1
  fi
  echo "llmproxy (pid $pid) stopped"
else
  echo "llmproxy (pid $pid) was not running"
fi
rm -f llmproxy.pid

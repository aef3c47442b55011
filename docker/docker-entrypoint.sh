#!/bin/sh
# Container entrypoint: checks that the data and log directories are writable, then replaces itself
# with node (exec), so SIGTERM from `docker stop` reaches the server and its shutdown is graceful.
# Migrations run inside the server at start, under a lock, before either port listens.
set -eu

app_dir="$(cd "$(dirname "$0")/.." && pwd)"

# A volume mounted from the host keeps the host's ownership: say so plainly instead of failing later.
check_writable() {
  dir="$1"
  mkdir -p "$dir" 2>/dev/null || true
  if [ ! -w "$dir" ]; then
    echo "llmproxy: $dir is not writable by uid $(id -u); chown the volume to $(id -u):$(id -g) (or run with --user)" >&2
    exit 1
  fi
}

case "${DATABASE_URL:-sqlite:///./data/llmproxy.db}" in
  sqlite:///*) db_path="${DATABASE_URL:-sqlite:///./data/llmproxy.db}"; db_path="${db_path#sqlite:///}"; check_writable "$(dirname "$db_path")" ;;
esac
log_file="${LOG_FILE:-logs/usage.log}"
check_writable "$(dirname "$log_file")"

exec node "$app_dir/dist/apps/gateway/src/main.js" "$@"

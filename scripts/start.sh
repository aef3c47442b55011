#!/usr/bin/env bash
# Starts llmproxy on SQLite: installs dependencies if needed, builds, then runs both listeners
# (migrations run at start). ADMIN_PASSWORD must be set, in the environment or in ./.env.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "llmproxy: installing dependencies (first run compiles better-sqlite3: a few minutes)..."
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run --silent build
exec node dist/apps/gateway/src/main.js

#!/usr/bin/env bash
# Starts llmproxy on SQLite: installs dependencies if needed, builds the backend and the admin UI,
# then runs both listeners (migrations run at start). ADMIN_PASSWORD must be set, in the
# environment or in ./.env.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_dependencies .
build_backend
build_ui
exec node dist/apps/gateway/src/main.js

#!/usr/bin/env bash
# The whole test suite: install, type-check, build, then unit and end-to-end tests (SQLite always;
# PostgreSQL at 127.0.0.1:5432 when reachable, required with REQUIRE_PG=1 as CI sets it).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi

echo "== type-check"
npm run --silent typecheck
echo "== build"
npm run --silent build
echo "== jest"
results="$(mktemp)"
status=0
NODE_OPTIONS=--experimental-vm-modules npx jest --ci --json --outputFile="$results" "$@" || status=$?
# The plain closing line CI reads: "N passed, N failed, N skipped".
node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests} skipped`);' "$results" || true
rm -f "$results"
exit "$status"

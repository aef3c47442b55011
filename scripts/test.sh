#!/usr/bin/env bash
# The whole test suite: install, type-check, build backend and UI, the UI's unit tests, then Jest:
# unit and end-to-end tests (SQLite always; PostgreSQL at 127.0.0.1:5432 when reachable, required
# with REQUIRE_PG=1) and the browser test in headless Chromium (installed from Debian's packages
# when missing and this is root; required with REQUIRE_BROWSER=1). CI sets both. Debian's faketime is
# installed the same way for test/attacks/pg-clocks.e2e-spec.ts (required with REQUIRE_PG=1).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_dependencies .
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "== installing chromium for the browser test"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) ||
    echo "could not install chromium; the browser test will be skipped unless REQUIRE_BROWSER=1"
fi
if ! ls /usr/lib/*/faketime/libfaketimeMT.so.1 >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "== installing faketime for the PostgreSQL clock test (one gateway process with its clock ahead)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq faketime >/dev/null) ||
    echo "could not install faketime; the clock test will be skipped unless REQUIRE_PG=1"
fi

echo "== type-check"
npm run --silent typecheck
echo "== build"
build_backend
build_ui
echo "== bench smoke (seconds, no thresholds: keeps bench/ from rotting)"
npm run --silent bench:smoke
echo "== admin UI unit tests"
(cd angular-admin && npx ng test --watch=false --progress=false)
echo "== jest"
results="$(mktemp)"
status=0
NODE_OPTIONS=--experimental-vm-modules npx jest --ci --json --outputFile="$results" "$@" || status=$?
# The plain closing line CI reads: "N passed, N failed, N skipped".
node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests} skipped`);' "$results" || true
rm -f "$results"
exit "$status"

# Shared by start.sh and test.sh: install what is missing, build the backend and the admin UI.

# npm ci when node_modules is missing or older than the lockfile (in the folder given, default .).
ensure_dependencies() {
  local dir="${1:-.}"
  if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    echo "llmproxy: installing dependencies in $dir (the first time compiles native modules: a few minutes)..."
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

build_backend() {
  npm run --silent build
}

# The Angular admin UI, served by the admin listener from angular-admin/dist/admin/browser.
build_ui() {
  ensure_dependencies angular-admin
  (cd angular-admin && npx ng build --progress=false >/dev/null) || {
    echo "llmproxy: building the admin UI failed; run 'npm --prefix angular-admin run build' to see why" >&2
    return 1
  }
}

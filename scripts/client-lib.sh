# Shared by the client launchers (start_claude.sh, start_codex.sh); sourced, not run.

# Prints the sourcing script's header comment (from line 2 to `set -euo pipefail`) as its help.
usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}

# Reads one variable from ./.env (or the repository's .env) without running the file.
dotenv() {
  local name="$1" file
  for file in ./.env "$(dirname "$0")/../.env"; do
    [ -f "$file" ] || continue
    local line
    line="$(grep -E "^[[:space:]]*(export[[:space:]]+)?${name}=" "$file" | tail -n 1 || true)"
    if [ -n "$line" ]; then
      line="${line#*=}"
      line="${line%\"}"; line="${line#\"}"; line="${line%\'}"; line="${line#\'}"
      printf '%s' "$line"
      return 0
    fi
  done
  return 0
}

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

# Prints the context window (tokens) the gateway runs MODEL with for KEY, from GET URL/v1/models/MODEL
# (its `context_window` field); prints nothing when the gateway cannot say (unreachable, unknown model,
# an older gateway). DIALECT `anthropic` resolves the name as Claude Code's requests are (claude-* names
# to the gateway's aliases or default model). Uses node when present (the gateway's machine has it; the
# Claude Code and Codex CLIs are native binaries), else curl; never jq.
#   gateway_model_status URL KEY MODEL [anthropic|openai]
# The HTTP status of GET URL/v1/models/MODEL with the key (404: the gateway serves no model by that
# name: no such model, no alias, no default model); empty when it cannot be asked.
gateway_model_status() {
  local headers=(-H "authorization: Bearer $2")
  [ "${4:-openai}" != anthropic ] || headers+=(-H "anthropic-version: 2023-06-01")
  if command -v curl > /dev/null 2>&1; then
    curl -s -o /dev/null -w '%{http_code}' --max-time 5 "${headers[@]}" "$1/v1/models/$3" 2> /dev/null || true
    return 0
  fi
  command -v node > /dev/null 2>&1 || return 0
  LLMPROXY_Q_URL="$1" LLMPROXY_Q_KEY="$2" LLMPROXY_Q_MODEL="$3" LLMPROXY_Q_DIALECT="${4:-openai}" node -e '
    const { LLMPROXY_Q_URL: url, LLMPROXY_Q_KEY: key, LLMPROXY_Q_MODEL: model, LLMPROXY_Q_DIALECT: dialect } = process.env;
    const headers = { authorization: `Bearer ${key}` };
    if (dialect === "anthropic") headers["anthropic-version"] = "2023-06-01";
    fetch(`${url}/v1/models/${model.split("/").map(encodeURIComponent).join("/")}`, { headers, signal: AbortSignal.timeout(5000) })
      .then((r) => console.log(r.status), () => {});
  ' 2>/dev/null || true
}

#   gateway_context_window URL KEY MODEL [anthropic|openai]
gateway_context_window() {
  if ! command -v node > /dev/null 2>&1; then
    command -v curl > /dev/null 2>&1 || return 0
    local headers=(-H "authorization: Bearer $2")
    [ "${4:-openai}" != anthropic ] || headers+=(-H "anthropic-version: 2023-06-01")
    curl -fsS --max-time 5 "${headers[@]}" "$1/v1/models/$3" 2> /dev/null |
      grep -o '"context_window":[0-9]*' | head -n 1 | cut -d: -f2 || true
    return 0
  fi
  LLMPROXY_Q_URL="$1" LLMPROXY_Q_KEY="$2" LLMPROXY_Q_MODEL="$3" LLMPROXY_Q_DIALECT="${4:-openai}" node -e '
    const { LLMPROXY_Q_URL: url, LLMPROXY_Q_KEY: key, LLMPROXY_Q_MODEL: model, LLMPROXY_Q_DIALECT: dialect } = process.env;
    const headers = { authorization: `Bearer ${key}` };
    if (dialect === "anthropic") headers["anthropic-version"] = "2023-06-01";
    fetch(`${url}/v1/models/${model.split("/").map(encodeURIComponent).join("/")}`, { headers, signal: AbortSignal.timeout(5000) })
      .then((r) => (r.ok ? r.json() : {}))
      .then((m) => { if (Number.isSafeInteger(m.context_window) && m.context_window > 0) console.log(m.context_window); })
      .catch(() => {});
  ' 2>/dev/null || true
}

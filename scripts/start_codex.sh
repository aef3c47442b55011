#!/usr/bin/env bash
# Starts OpenAI's Codex CLI (`codex`) against llmproxy, on the gateway's Ollama models, with your own key.
#
#   scripts/start_codex.sh [options] [KEY] [--] [codex arguments...]
#
#   KEY, -k/--key KEY   your llmproxy key (sk-...). Else $LLMPROXY_API_KEY, else $PROXY_API_KEY, else
#                       ./.env, else asked for (when run in a terminal).
#   -u/--url URL        the gateway's proxy listener. Else $LLMPROXY_URL, else http://localhost:$PROXY_PORT
#                       (PROXY_PORT from the environment or ./.env, default 8000). Codex is pointed at URL/v1.
#   -m/--model NAME     the model Codex asks for (an Ollama name such as qwen3-coder:30b, or an alias the
#                       gateway knows). Else $LLMPROXY_CODEX_MODEL; else the gateway's default model.
#   --context-window N  tell Codex the model's context window in tokens (model_context_window).
#   -h/--help           this text.
#
# Codex reads its configuration from a private CODEX_HOME ($LLMPROXY_CODEX_HOME, default
# ~/.local/state/llmproxy/codex), written by this script: a provider `llmproxy` with base_url URL/v1,
# wire_api = "responses" and env_key = LLMPROXY_CODEX_API_KEY (the key stays in the environment, never in
# the file). Your own ~/.codex is neither read nor written. Codex's sessions are kept in that private home.
#
# Everything else (and everything after --) goes to `codex`, e.g. `scripts/start_codex.sh exec "Say hello"`.
set -euo pipefail

# usage (this script's header comment) and dotenv (one variable from ./.env), shared with the other launcher.
source "$(dirname "$0")/client-lib.sh"

# A TOML basic string: backslashes and quotes escaped, control characters refused.
toml_string() {
  case "$1" in
    *[[:cntrl:]]*) echo "start_codex.sh: control characters are not allowed in '$1'" >&2; exit 2 ;;
  esac
  local s="${1//\\/\\\\}"
  printf '"%s"' "${s//\"/\\\"}"
}

url="${LLMPROXY_URL:-}"
key="${LLMPROXY_API_KEY:-${PROXY_API_KEY:-}}"
model="${LLMPROXY_CODEX_MODEL:-}"
context_window=""
codex_args=()

need_value() {
  if [ "$2" -lt 2 ]; then
    echo "start_codex.sh: $1 needs a value (see --help)" >&2
    exit 2
  fi
}

while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    -u | --url) need_value "$1" $#; url="$2"; shift 2 ;;
    --url=*) url="${1#*=}"; shift ;;
    -k | --key) need_value "$1" $#; key="$2"; shift 2 ;;
    --key=*) key="${1#*=}"; shift ;;
    -m | --model) need_value "$1" $#; model="$2"; shift 2 ;;
    --model=*) model="${1#*=}"; shift ;;
    --context-window) need_value "$1" $#; context_window="$2"; shift 2 ;;
    --) shift; codex_args+=("$@"); break ;;
    sk-*) key="$1"; shift ;;
    *) codex_args+=("$1"); shift ;;
  esac
done

[ -n "$key" ] || key="$(dotenv LLMPROXY_API_KEY)"
[ -n "$key" ] || key="$(dotenv PROXY_API_KEY)"
if [ -z "$key" ]; then
  if [ -t 0 ]; then
    read -r -s -p "llmproxy API key (sk-...): " key
    echo >&2
  fi
  if [ -z "$key" ]; then
    echo "start_codex.sh: no API key: pass it as an argument, with --key, or in LLMPROXY_API_KEY" >&2
    exit 2
  fi
fi
if [ -n "$context_window" ] && ! [[ "$context_window" =~ ^[1-9][0-9]*$ ]]; then
  echo "start_codex.sh: --context-window needs a positive number of tokens" >&2
  exit 2
fi

[ -n "$url" ] || url="$(dotenv LLMPROXY_URL)"
if [ -z "$url" ]; then
  port="${PROXY_PORT:-$(dotenv PROXY_PORT)}"
  url="http://localhost:${port:-8000}"
fi
url="${url%/}"
url="${url%/v1}"

if ! command -v codex > /dev/null 2>&1; then
  cat >&2 <<'EOF2'
start_codex.sh: the Codex CLI (`codex`) is not installed or not on PATH.
Install it with:

    npm install -g @openai/codex

then run this script again.
EOF2
  exit 127
fi

codex_home="${LLMPROXY_CODEX_HOME:-${XDG_STATE_HOME:-$HOME/.local/state}/llmproxy/codex}"
if [ "$(cd "$(dirname "$codex_home")" 2>/dev/null && pwd -P)/$(basename "$codex_home")" = "$(cd "$HOME" && pwd -P)/.codex" ]; then
  echo "start_codex.sh: LLMPROXY_CODEX_HOME must not be your own ~/.codex" >&2
  exit 2
fi
mkdir -p "$codex_home"
chmod 700 "$codex_home"
{
  echo "# Written by llmproxy's scripts/start_codex.sh on every start; edits are overwritten."
  [ -z "$model" ] || echo "model = $(toml_string "$model")"
  echo 'model_provider = "llmproxy"'
  [ -z "$context_window" ] || echo "model_context_window = $context_window"
  echo
  echo '[model_providers.llmproxy]'
  echo 'name = "llmproxy"'
  echo "base_url = $(toml_string "$url/v1")"
  echo 'wire_api = "responses"'
  echo 'env_key = "LLMPROXY_CODEX_API_KEY"'
} > "$codex_home/config.toml"

export CODEX_HOME="$codex_home"
export LLMPROXY_CODEX_API_KEY="$key"

echo "start_codex.sh: Codex -> $url/v1 (key ${key:0:7}...)${model:+, model $model}; CODEX_HOME=$codex_home" >&2
exec codex ${codex_args[@]+"${codex_args[@]}"}

#!/usr/bin/env bash
# Starts Claude Code (the `claude` CLI) against llmproxy, on the gateway's Ollama models, with your own key.
#
#   scripts/start_claude.sh [options] [KEY] [--] [claude arguments...]
#
#   KEY, -k/--key KEY   your llmproxy key (sk-...). Else $LLMPROXY_API_KEY, else $PROXY_API_KEY,
#                       else asked for (when run in a terminal).
#   -u/--url URL        the gateway's proxy listener. Else $LLMPROXY_URL, else http://localhost:$PROXY_PORT
#                       (PROXY_PORT from the environment or ./.env, default 8000). A trailing /v1 is removed:
#                       Claude Code appends /v1/messages itself.
#   -m/--model NAME     ANTHROPIC_MODEL (the model Claude Code asks for; also $ANTHROPIC_MODEL).
#   --opus/--sonnet/--haiku NAME
#                       ANTHROPIC_DEFAULT_{OPUS,SONNET,HAIKU}_MODEL (also from those variables).
#   -h/--help           this text.
#
# Model names: without -m, Claude Code asks for names such as claude-sonnet-4-6; the gateway maps them to
# Ollama models by its aliases (e.g. claude-*haiku* -> qwen3:4b), else its default model
# (ANTHROPIC_DEFAULT_MODEL or the admin setting). An Ollama name (-m qwen3:8b) is used as is.
#
# Everything else (and everything after --) goes to `claude`, e.g. `scripts/start_claude.sh -p "hi"`.
# Sets ANTHROPIC_BASE_URL, ANTHROPIC_AUTH_TOKEN=<key> (sent as Authorization: Bearer), ANTHROPIC_API_KEY=""
# (it would take priority over the token) and CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 (no telemetry,
# error reporting or update checks towards Anthropic), then execs `claude`.
set -euo pipefail

# usage (this script's header comment) and dotenv (one variable from ./.env), shared with the other launcher.
source "$(dirname "$0")/client-lib.sh"

url="${LLMPROXY_URL:-}"
key="${LLMPROXY_API_KEY:-${PROXY_API_KEY:-}}"
model="${ANTHROPIC_MODEL:-}"
opus="${ANTHROPIC_DEFAULT_OPUS_MODEL:-}"
sonnet="${ANTHROPIC_DEFAULT_SONNET_MODEL:-}"
haiku="${ANTHROPIC_DEFAULT_HAIKU_MODEL:-}"
claude_args=()

need_value() {
  if [ "$2" -lt 2 ]; then
    echo "start_claude.sh: $1 needs a value (see --help)" >&2
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
    --opus) need_value "$1" $#; opus="$2"; shift 2 ;;
    --sonnet) need_value "$1" $#; sonnet="$2"; shift 2 ;;
    --haiku) need_value "$1" $#; haiku="$2"; shift 2 ;;
    --) shift; claude_args+=("$@"); break ;;
    sk-*) key="$1"; shift ;;
    *) claude_args+=("$1"); shift ;;
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
    echo "start_claude.sh: no API key: pass it as an argument, with --key, or in LLMPROXY_API_KEY" >&2
    exit 2
  fi
fi

if [ -z "$url" ]; then
  url="$(dotenv LLMPROXY_URL)"
fi
if [ -z "$url" ]; then
  port="${PROXY_PORT:-$(dotenv PROXY_PORT)}"
  url="http://localhost:${port:-8000}"
fi
url="${url%/}"
url="${url%/v1}"

if ! command -v claude > /dev/null 2>&1; then
  cat >&2 <<'EOF'
start_claude.sh: the Claude Code CLI (`claude`) is not installed or not on PATH.
Install it with:

    npm install -g @anthropic-ai/claude-code

then run this script again.
EOF
  exit 127
fi

export ANTHROPIC_BASE_URL="$url"
export ANTHROPIC_AUTH_TOKEN="$key"
export ANTHROPIC_API_KEY=""
export CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1
[ -z "$model" ] || export ANTHROPIC_MODEL="$model"
[ -z "$opus" ] || export ANTHROPIC_DEFAULT_OPUS_MODEL="$opus"
[ -z "$sonnet" ] || export ANTHROPIC_DEFAULT_SONNET_MODEL="$sonnet"
[ -z "$haiku" ] || export ANTHROPIC_DEFAULT_HAIKU_MODEL="$haiku"

echo "start_claude.sh: Claude Code -> $ANTHROPIC_BASE_URL (key ${key:0:7}...)${model:+, model $model}" >&2
exec claude ${claude_args[@]+"${claude_args[@]}"}

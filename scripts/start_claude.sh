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
# Model names: without -m, Claude Code asks for names such as claude-opus-4-8 (its default) and
# claude-haiku-4-5 (side requests); the gateway maps them to Ollama models by its aliases (e.g.
# claude-*haiku* -> qwen3:4b), else its default model (ANTHROPIC_DEFAULT_MODEL or the admin setting).
# An Ollama name (-m qwen3:8b) is used as is.
#
# Everything else (and everything after --) goes to `claude`, e.g. `scripts/start_claude.sh -p "hi"`.
# Sets ANTHROPIC_BASE_URL, ANTHROPIC_AUTH_TOKEN=<key> (sent as Authorization: Bearer), ANTHROPIC_API_KEY=""
# (it would take priority over the token) and CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 (no telemetry,
# error reporting or update checks towards Anthropic), then execs `claude`: the one on PATH, else the one
# installed with this project (node_modules/.bin/claude, from `npm ci`).
#
# Context window: Claude Code does not know how large the local model's context is. It reckons with
# 200,000 tokens for a claude-* name (1,000,000 for its default model) and compacts the conversation
# (summarises it and goes on) only near that; on a smaller window the gateway refuses the grown
# conversation first ("prompt is too long") and Claude Code compacts only after the refusal. So this
# script asks the gateway (GET /v1/models/NAME with your key) for the window of the model Claude Code's
# main loop will use (-m/ANTHROPIC_MODEL, else --opus/ANTHROPIC_DEFAULT_OPUS_MODEL, else claude-opus-4-8:
# Claude Code 2.1.197's default, run as claude-opus-4-8[1m]) and, unless CLAUDE_CODE_AUTO_COMPACT_WINDOW
# is already set, exports what makes Claude Code compact where it would on a model of that window: at the
# window minus 20,000 tokens kept for the summary, minus its 13,000-token buffer.
#   CLAUDE_CODE_AUTO_COMPACT_WINDOW=<window>   Claude Code raises values below 100,000 to 100,000, so also:
#   CLAUDE_CODE_MAX_CONTEXT_TOKENS=<window>    for an Ollama name (-m qwen3:8b): the model's window itself
#                                              (Claude Code ignores it for claude-* names);
#   CLAUDE_AUTOCOMPACT_PCT_OVERRIDE=<percent>  otherwise, for a window under 100,000 tokens: the threshold
#                                              as a percentage of the 100,000 Claude Code reckons with.
# A variable you set yourself is left alone; nothing is exported when the gateway cannot say.
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

claude_bin=claude
if ! command -v claude > /dev/null 2>&1; then
  # The pinned devDependency: `npm ci` in this repository puts it here.
  claude_bin="$(cd "$(dirname "$0")/.." && pwd)/node_modules/.bin/claude"
  if [ ! -x "$claude_bin" ]; then
    cat >&2 <<'EOF'
start_claude.sh: the Claude Code CLI (`claude`) is neither on PATH nor installed in this repository
(node_modules/.bin/claude). Install it with:

    npm install -g @anthropic-ai/claude-code      # or `npm ci` in this repository

then run this script again.
EOF
    exit 127
  fi
fi

export ANTHROPIC_BASE_URL="$url"
export ANTHROPIC_AUTH_TOKEN="$key"
export ANTHROPIC_API_KEY=""
export CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1
[ -z "$model" ] || export ANTHROPIC_MODEL="$model"
[ -z "$opus" ] || export ANTHROPIC_DEFAULT_OPUS_MODEL="$opus"
[ -z "$sonnet" ] || export ANTHROPIC_DEFAULT_SONNET_MODEL="$sonnet"
[ -z "$haiku" ] || export ANTHROPIC_DEFAULT_HAIKU_MODEL="$haiku"

# The context window (see the header): what Claude Code reckons with, and where it compacts.
window_note=""
if [ -z "${CLAUDE_CODE_AUTO_COMPACT_WINDOW:-}" ]; then
  # The name Claude Code sends for its main loop. Without a model of yours, 2.1.197 runs its default,
  # claude-opus-4-8 (or ANTHROPIC_DEFAULT_OPUS_MODEL) as "…[1m]": it reckons with a 1M-token window.
  # "sonnet"/"opus"/"haiku" are its own aliases.
  one_m=0
  if [ -n "$model" ]; then
    main_model="$model"
  else
    main_model="${opus:-claude-opus-4-8}"
    one_m=1
  fi
  case "$main_model" in
    sonnet) main_model="${sonnet:-claude-sonnet-4-6}" ;;
    opus) main_model="${opus:-claude-opus-4-8}" ;;
    haiku) main_model="${haiku:-claude-haiku-4-5}" ;;
  esac
  case "$main_model" in *\[1[mM]\]) one_m=1; main_model="${main_model%\[*}" ;; esac
  window="$(gateway_context_window "$url" "$key" "$main_model" anthropic)"
  if [ -n "$window" ]; then
    # Claude Code keeps min(max output tokens, 20,000) for the summary and compacts 13,000 tokens before that.
    reserve=20000
    max_output="${CLAUDE_CODE_MAX_OUTPUT_TOKENS:-}"
    if [[ "$max_output" =~ ^[0-9]+$ ]] && [ "$max_output" -gt 0 ] && [ "$max_output" -lt "$reserve" ]; then
      reserve="$max_output"
    fi
    threshold=$((window - reserve - 13000))
    # The model window Claude Code assumes: 1M with [1m], 200,000 for claude-* names, else
    # CLAUDE_CODE_MAX_CONTEXT_TOKENS (which it reads for other names only).
    if [ "$one_m" = 1 ]; then
      assumed=1000000
    elif [[ "$(printf '%s' "$main_model" | tr '[:upper:]' '[:lower:]')" == *claude-* ]]; then
      assumed=200000
    else
      export CLAUDE_CODE_MAX_CONTEXT_TOKENS="${CLAUDE_CODE_MAX_CONTEXT_TOKENS:-$window}"
      assumed="$window"
      [[ ! "$CLAUDE_CODE_MAX_CONTEXT_TOKENS" =~ ^[1-9][0-9]*$ ]] || assumed="$CLAUDE_CODE_MAX_CONTEXT_TOKENS"
    fi
    export CLAUDE_CODE_AUTO_COMPACT_WINDOW="$window"
    # What Claude Code then reckons with: the smaller of the model window and this one, at least 100,000.
    reckoned=$((window > 100000 ? window : 100000))
    reckoned=$((reckoned < assumed ? reckoned : assumed))
    if [ "$threshold" -lt 20000 ]; then
      echo "start_claude.sh: warning: the gateway runs $main_model with a context window of $window tokens;" \
        "Claude Code compacts $((reserve + 13000)) tokens before the end, and its own prompt is some 15,000-20,000:" \
        "raise num_ctx (admin setting) for Claude Code" >&2
    fi
    if [ "$threshold" -gt 0 ] && [ "$reckoned" -gt "$window" ] && [ -z "${CLAUDE_AUTOCOMPACT_PCT_OVERRIDE:-}" ]; then
      # Hundredths of a percent, rounded down: compact at or a little before the threshold.
      pct=$((threshold * 10000 / (reckoned - reserve)))
      export CLAUDE_AUTOCOMPACT_PCT_OVERRIDE="$((pct / 100)).$(printf '%02d' $((pct % 100)))"
    fi
    window_note=", context window $window tokens (auto-compact near $threshold)"
  elif [ "$(gateway_model_status "$url" "$key" "$main_model" anthropic)" = 404 ]; then
    echo "start_claude.sh: warning: the gateway serves no model for '$main_model' (Claude Code's main model):" \
      "it has no model alias for it and no default model. Set the default model in the admin UI (Settings)" \
      "or DEFAULT_MODEL on the server, or pass -m <an Ollama model>; until then Claude Code's requests get 404" >&2
  fi
fi

echo "start_claude.sh: Claude Code -> $ANTHROPIC_BASE_URL (key ${key:0:7}...)${model:+, model $model}$window_note" >&2
exec "$claude_bin" ${claude_args[@]+"${claude_args[@]}"}

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
#   --context-window N  tell Codex the model's context window in tokens. Else the gateway's window for the
#                       model (GET URL/v1/models/NAME, its `context_window`), when a model is named.
#   -h/--help           this text.
#
# Codex reads its configuration from a private CODEX_HOME ($LLMPROXY_CODEX_HOME, default
# ~/.local/state/llmproxy/codex), written by this script: a provider `llmproxy` with base_url URL/v1,
# wire_api = "responses" and env_key = LLMPROXY_CODEX_API_KEY (the key stays in the environment, never in
# the file). Your own ~/.codex is neither read nor written. Codex's sessions are kept in that private home.
#
# Model metadata: Codex knows only OpenAI's models and runs any other name on fallback metadata (a
# 272,000-token window, and a "Model metadata ... not found" warning). When the model and its window are
# known, the script also writes a one-model catalog (model_catalog_json = CODEX_HOME/llmproxy-models.json):
# Codex's own fallback metadata for that name with the real window, and as base instructions exactly the
# system prompt this Codex sends on fallback metadata, captured once per Codex version and model by probe
# runs against a local catcher that answers 400 (no model is called; cached in CODEX_HOME), and used only
# if Codex, given the catalog, sends that same prompt.
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

# Prints the system prompt this Codex sends for MODEL: its instructions, or (0.169.0) the first developer
# message of the request. A probe `codex exec` in a scratch CODEX_HOME talks to a catcher on 127.0.0.1
# that keeps the first request and answers 400, so no model is called and nothing is kept. With CATALOG,
# the probe runs with model_catalog_json = CATALOG; without it, on Codex's fallback metadata.
#   codex_probe_prompt HOME MODEL [CATALOG]
codex_probe_prompt() {
  local home="$1" model="$2" catalog="${3:-}" scratch status
  scratch="$(mktemp -d "$home/.probe.XXXXXX")" || return 1
  LLMPROXY_PROBE_HOME="$scratch" LLMPROXY_PROBE_MODEL="$model" LLMPROXY_PROBE_CATALOG="$catalog" node -e '
    const http = require("node:http");
    const { spawn } = require("node:child_process");
    const { LLMPROXY_PROBE_HOME: home, LLMPROXY_PROBE_MODEL: model, LLMPROXY_PROBE_CATALOG: catalog } = process.env;
    let prompt;
    const server = http.createServer((req, res) => {
      const chunks = [];
      req.on("data", (c) => chunks.push(c));
      req.on("end", () => {
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
          const first = (Array.isArray(body.input) ? body.input : []).find((i) => i && i.type === "message" && (i.role === "developer" || i.role === "system"));
          const text = typeof body.instructions === "string" && body.instructions ? body.instructions : first?.content?.[0]?.text;
          if (prompt === undefined && typeof text === "string") prompt = text;
        } catch {}
        res.writeHead(400, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { message: "llmproxy start_codex.sh probe", type: "invalid_request_error" } }));
      });
    });
    server.listen(0, "127.0.0.1", () => {
      const q = (v) => JSON.stringify(v);
      const provider = `{name="probe",base_url=${q(`http://127.0.0.1:${server.address().port}/v1`)},wire_api="responses",env_key="LLMPROXY_CODEX_PROBE_KEY",request_max_retries=0,stream_max_retries=0}`;
      const args = ["exec", "--skip-git-repo-check", "--ephemeral", "-c", `model=${q(model)}`, "-c", "model_provider=\"llmproxy_probe\"", "-c", `model_providers.llmproxy_probe=${provider}`];
      if (catalog) args.push("-c", `model_catalog_json=${q(catalog)}`);
      const child = spawn("codex", [...args, "probe"], {
        cwd: home, stdio: ["ignore", "ignore", "ignore"], env: { ...process.env, CODEX_HOME: home, LLMPROXY_CODEX_PROBE_KEY: "probe" },
      });
      const timer = setTimeout(() => child.kill("SIGKILL"), 30000);
      child.on("error", () => process.exit(1));
      child.on("exit", () => {
        clearTimeout(timer);
        server.close();
        if (!prompt) process.exit(1);
        process.stdout.write(prompt);
      });
    });
  '
  status=$?
  rm -rf "$scratch"
  return $status
}

# Writes HOME/llmproxy-models.json: one model, MODEL, with Codex's fallback metadata (codex-rs
# models-manager, model_info_from_slug), WINDOW as its context window and, as base_instructions, the
# prompt Codex sends on that fallback metadata. Checked once per Codex version and model by probing
# again with the catalog: the prompt must come out the same, else no catalog (and a non-zero status).
# The prompt is cached in HOME/llmproxy-instructions/.
codex_model_catalog() {
  local home="$1" model="$2" window="$3" out="$1/llmproxy-models.json" version cache status
  version="$(codex --version 2>/dev/null)" || return 1
  cache="$home/llmproxy-instructions/$(printf '%s\n%s\n' "$version" "$model" | cksum | cut -d' ' -f1).md"
  write_catalog() {
    LLMPROXY_CAT_MODEL="$model" LLMPROXY_CAT_WINDOW="$window" LLMPROXY_CAT_PROMPT="$1" LLMPROXY_CAT_OUT="$out" node -e '
      const fs = require("node:fs");
      const { LLMPROXY_CAT_MODEL: slug, LLMPROXY_CAT_WINDOW: window, LLMPROXY_CAT_PROMPT: file, LLMPROXY_CAT_OUT: out } = process.env;
      const model = {
        slug, display_name: slug, description: "Served by llmproxy.", default_reasoning_level: null, supported_reasoning_levels: [],
        shell_type: "unified_exec", visibility: "list", supported_in_api: true, priority: 99,
        additional_speed_tiers: [], service_tiers: [], availability_nux: null, upgrade: null,
        base_instructions: fs.readFileSync(file, "utf8"),
        include_skills_usage_instructions: false, include_plugin_usage_instructions: false, include_apps_usage_instructions: false,
        supports_reasoning_summaries: false, default_reasoning_summary: "auto", support_verbosity: false, default_verbosity: null,
        apply_patch_tool_type: null, web_search_tool_type: "text", truncation_policy: { mode: "bytes", limit: 10000 },
        supports_parallel_tool_calls: false, supports_image_detail_original: false,
        context_window: Number(window), max_context_window: Number(window), effective_context_window_percent: 95,
        experimental_supported_tools: [], input_modalities: ["text", "image"], supports_search_tool: false, use_responses_lite: false,
      };
      fs.writeFileSync(out + ".tmp", JSON.stringify({ models: [model] }, null, 2) + "\n");
      fs.renameSync(out + ".tmp", out);
    '
  }
  rm -f "$out"
  if [ -s "$cache" ]; then
    write_catalog "$cache"
    return
  fi
  mkdir -p "$home/llmproxy-instructions"
  codex_probe_prompt "$home" "$model" > "$cache.fallback" && [ -s "$cache.fallback" ] && write_catalog "$cache.fallback" \
    && codex_probe_prompt "$home" "$model" "$out" > "$cache.check" && cmp -s "$cache.fallback" "$cache.check" \
    && mv "$cache.fallback" "$cache"
  status=$?
  rm -f "$cache.fallback" "$cache.check"
  [ "$status" -eq 0 ] || rm -f "$out"
  return "$status"
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

# The model's window: --context-window, else what the gateway runs the model with.
if [ -z "$context_window" ] && [ -n "$model" ]; then
  context_window="$(gateway_context_window "$url" "$key" "$model" openai)"
fi
catalog=""
if [ -n "$model" ] && [ -n "$context_window" ]; then
  if codex_model_catalog "$codex_home" "$model" "$context_window"; then
    catalog="$codex_home/llmproxy-models.json"
  else
    echo "start_codex.sh: could not capture Codex's own instructions; Codex runs $model on its fallback metadata (window $context_window)" >&2
  fi
fi

{
  echo "# Written by llmproxy's scripts/start_codex.sh on every start; edits are overwritten."
  [ -z "$model" ] || echo "model = $(toml_string "$model")"
  echo 'model_provider = "llmproxy"'
  [ -z "$context_window" ] || echo "model_context_window = $context_window"
  [ -z "$catalog" ] || echo "model_catalog_json = $(toml_string "$catalog")"
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

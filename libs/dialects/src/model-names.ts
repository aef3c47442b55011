/** The dialects that translate a client's model name to an Ollama model (the native API passes names through). */
export type TranslatedDialect = 'openai' | 'anthropic';

/**
 * The vendors' own model names, which a client of that dialect sends without knowing the server
 * (Claude Code asks for `claude-sonnet-4-6`, Codex CLI for `gpt-5-codex`): only these fall back to
 * the default model. Matched case-insensitively, like alias patterns — a client that writes
 * `GPT-4o` still means a vendor model, and nothing else starts so.
 */
const VENDOR_PREFIXES: Record<TranslatedDialect, readonly string[]> = {
  anthropic: ['claude-'],
  openai: ['gpt-', 'o1', 'o3', 'o4', 'chatgpt-', 'codex-'],
};

export function isVendorModelName(dialect: TranslatedDialect, name: string): boolean {
  const lower = name.toLowerCase();
  return VENDOR_PREFIXES[dialect].some((prefix) => lower.startsWith(prefix));
}

/**
 * `llama3.2` and `llama3.2:latest` name the same Ollama model; so do `host:5000/me/model` and
 * `host:5000/me/model:latest` — the tag is what follows the last `:` after the last `/`.
 */
export function canonicalModelName(name: string): string {
  return name.lastIndexOf(':') > name.lastIndexOf('/') ? name : `${name}:latest`;
}

/** Whether two names are the same Ollama model (the allow-list's comparison, in every dialect). */
export function sameModel(a: string, b: string): boolean {
  return canonicalModelName(a) === canonicalModelName(b);
}

/**
 * Whether a key's allow-list (null: every model) lets it use `model`. The allow-list names Ollama
 * models, and `model` must be the one actually served — never the name the client sent — so an
 * alias or the default model cannot lead a key to a model outside its list.
 */
export function allowListPermits(allowedModels: readonly string[] | null, model: string): boolean {
  return allowedModels === null || allowedModels.some((allowed) => sameModel(allowed, model));
}

function globToRegExp(pattern: string): RegExp {
  const escaped = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${escaped.join('.*')}$`, 'i');
}

/** Whether `name` matches a glob where `*` stands for any run of characters (case-insensitive). */
export function matchesModelPattern(pattern: string, name: string): boolean {
  return globToRegExp(pattern).test(name);
}

/** What the resolver knows of the server: Ollama's models and the admin's settings. */
export interface ModelNameContext {
  /** The names Ollama lists (/api/tags). */
  available: readonly string[];
  /** Admin alias patterns → Ollama model, tried in insertion order. */
  aliases: Readonly<Record<string, string>>;
  /** The model for the dialect's vendor names no alias matches; null or empty: none. */
  defaultModel: string | null;
}

export type ModelResolution =
  | { found: true; model: string; via: 'ollama' | 'alias' | 'default' }
  | { found: false; vendorName: boolean };

/**
 * The Ollama model a translated dialect serves for a client's model name: the name itself if Ollama
 * has it (as listed, so `llama3.2` is served as `llama3.2:latest`); else the target of the first
 * alias whose pattern matches; else the default model, but only for the dialect's vendor names.
 * Any other name is not found: a typo (`llama3.2:3bb`) must not silently get another model.
 */
export function resolveModelName(requested: string, dialect: TranslatedDialect, context: ModelNameContext): ModelResolution {
  const listed = context.available.find((name) => name === requested) ?? context.available.find((name) => sameModel(name, requested));
  if (listed !== undefined) return { found: true, model: listed, via: 'ollama' };
  for (const [pattern, target] of Object.entries(context.aliases)) {
    if (matchesModelPattern(pattern, requested)) return { found: true, model: target, via: 'alias' };
  }
  const vendorName = isVendorModelName(dialect, requested);
  if (vendorName && context.defaultModel) return { found: true, model: context.defaultModel, via: 'default' };
  return { found: false, vendorName };
}

/**
 * The 404 message for a name that resolves to nothing, the same in every dialect: it names the
 * model, says why nothing applied and where to look.
 */
export function modelNotFoundMessage(requested: string, resolution: { vendorName: boolean }): string {
  const why = resolution.vendorName
    ? 'Ollama has no such model, no alias matches it and no default model is configured'
    : 'Ollama has no such model and no alias matches it';
  return `model '${requested}' not found: ${why}; see GET /v1/models for the models this key may use`;
}

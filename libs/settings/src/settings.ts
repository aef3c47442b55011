/** Run-time settings, edited in the admin UI; stored as JSON values in the `settings` table. */
export interface Settings {
  /** Where Ollama answers; seeded from OLLAMA_URL on first start. */
  ollamaUrl: string;
  /** Ollama model used for names that match no model and no alias (Anthropic/OpenAI clients). */
  defaultModel: string | null;
  /** Glob pattern (`*` = any run of characters, case-insensitive) → Ollama model, tried in order. */
  modelAliases: Record<string, string>;
  /** `options.num_ctx` sent with translated (OpenAI/Anthropic) requests; agents need 64k+. */
  numCtx: number;
}

export const SETTING_KEYS: Record<keyof Settings, string> = {
  ollamaUrl: 'ollama_url',
  defaultModel: 'default_model',
  modelAliases: 'model_aliases',
  numCtx: 'num_ctx',
};

export function defaultSettings(ollamaUrl: string, defaultModel?: string): Settings {
  return { ollamaUrl, defaultModel: defaultModel ?? null, modelAliases: {}, numCtx: 65_536 };
}

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
  /**
   * What key holders may ask of the shared server (libs/ollama `RequestPolicy`): the range `keep_alive`
   * is clamped into, in seconds (never 0 = unload now, never "for ever")…
   */
  keepAliveMinSeconds: number;
  keepAliveMaxSeconds: number;
  /** …the largest `options.num_ctx` a native request may ask for (null: the `numCtx` setting)… */
  maxNumCtx: number | null;
  /** …and whether options that reload a model (num_gpu, main_gpu, use_mmap, num_thread, …) pass. */
  allowLoadOptions: boolean;
  /** Whether Ollama's cloud models (`…:cloud`, `…-cloud`, run on ollama.com with the server owner's account) may be used. */
  allowCloudModels: boolean;
}

export const SETTING_KEYS: Record<keyof Settings, string> = {
  ollamaUrl: 'ollama_url',
  defaultModel: 'default_model',
  modelAliases: 'model_aliases',
  numCtx: 'num_ctx',
  keepAliveMinSeconds: 'keep_alive_min_s',
  keepAliveMaxSeconds: 'keep_alive_max_s',
  maxNumCtx: 'max_num_ctx',
  allowLoadOptions: 'allow_load_options',
  allowCloudModels: 'allow_cloud_models',
};

export function defaultSettings(ollamaUrl: string, defaultModel?: string): Settings {
  return {
    ollamaUrl,
    defaultModel: defaultModel ?? null,
    modelAliases: {},
    numCtx: 65_536,
    // Ollama's own default keep_alive is 5 minutes: no key holder unloads a model sooner than that,
    // nor pins one for longer than half an hour.
    keepAliveMinSeconds: 300,
    keepAliveMaxSeconds: 1_800,
    maxNumCtx: null,
    allowLoadOptions: false,
    allowCloudModels: false,
  };
}

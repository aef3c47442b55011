import axios, { type AxiosInstance } from 'axios';

export interface TagEntry {
  name: string;
  model?: string;
  modified_at?: string;
  size?: number;
  digest?: string;
  details?: Record<string, unknown>;
}

const SHOW_TTL_MS = 5 * 60_000;

/** What the gateway reads of a model's /api/show. */
interface ShowInfo {
  capabilities: string[];
  /** `model_info["<architecture>.context_length"]`: the longest context the model was trained for. */
  contextLength?: number;
}

/**
 * What each model can do (/api/show), for the translating dialects: `think` only where the model has
 * the `thinking` capability, and the model's own context length. Which models exist is the upstream
 * pool's (libs/upstreams, polled). Control plane: axios, cached with a TTL, so a busy proxy asks
 * Ollama at most every few minutes per model.
 */
export class ModelCatalogue {
  private readonly shows = new Map<string, { until: number; value: Promise<ShowInfo> }>();

  constructor(private readonly http: AxiosInstance = axios.create({ timeout: 10_000 })) {}

  /** The model's capabilities (`completion`, `tools`, `thinking`, `vision`, …); [] when Ollama does not say. */
  async modelCapabilities(baseUrl: string, model: string, now = Date.now()): Promise<string[]> {
    return (await this.show(baseUrl, model, now)).capabilities;
  }

  /** The model's own context length from /api/show; undefined when Ollama does not say. */
  async modelContextLength(baseUrl: string, model: string, now = Date.now()): Promise<number | undefined> {
    return (await this.show(baseUrl, model, now)).contextLength;
  }

  private show(baseUrl: string, model: string, now: number): Promise<ShowInfo> {
    return cached(this.shows, `${baseUrl} ${model}`, now, SHOW_TTL_MS, async () => {
      const response = await this.http.post<{ capabilities?: string[]; model_info?: Record<string, unknown> }>(`${baseUrl}/api/show`, { model });
      const info = response.data.model_info ?? {};
      const architecture = info['general.architecture'];
      const length = typeof architecture === 'string' ? info[`${architecture}.context_length`] : undefined;
      return {
        capabilities: response.data.capabilities ?? [],
        contextLength: typeof length === 'number' && Number.isSafeInteger(length) && length > 0 ? length : undefined,
      };
    });
  }
}

/** A failed look-up is not cached: the next request asks again. */
function cached<T>(cache: Map<string, { until: number; value: Promise<T> }>, key: string, now: number, ttl: number, load: () => Promise<T>): Promise<T> {
  const hit = cache.get(key);
  if (hit && hit.until > now) return hit.value;
  const value = load();
  cache.set(key, { until: now + ttl, value });
  value.catch(() => cache.delete(key));
  return value;
}

/**
 * What a key holder may ask of a shared Ollama server, applied to every inference request the
 * gateway sends (native requests as the client wrote them, translated ones as a dialect built them),
 * so one rule covers every dialect. A request that would unload a model others use, pin one for
 * ever, force a reload with other load settings, or generate without end is rewritten, not refused:
 * clients set these fields out of habit, and the answer they get is still what they asked for.
 */
export interface RequestPolicy {
  /** `keep_alive` is clamped into [min, max] seconds: 0 (unload now) becomes min, "forever" (< 0) max. */
  keepAliveMinSeconds: number;
  keepAliveMaxSeconds: number;
  /** Largest `options.num_ctx`; a larger one is lowered to it. */
  maxNumCtx: number;
  /** Whether options that change how a model is loaded (LOAD_OPTIONS) pass; removed otherwise. */
  allowLoadOptions: boolean;
}

/**
 * Ollama's runner options (api/types.go `Runner`, and older fields it still parses): a value other
 * than the loaded model's makes Ollama reload the model, for everyone using it.
 */
export const LOAD_OPTIONS: readonly string[] = [
  'num_gpu',
  'main_gpu',
  'use_mmap',
  'use_mlock',
  'num_thread',
  'num_batch',
  'numa',
  'low_vram',
  'f16_kv',
  'logits_all',
  'vocab_only',
];

/**
 * The `options.num_predict` an Ollama request carries, as sent — null when it is absent, not a number,
 * or beyond what Ollama's integer field holds. Whether it names a limit at all (Ollama stops only for
 * an integer > 0) is the quota's rule: `namedCompletionLimit` in libs/quota, restated by the PL/pgSQL
 * admission.
 */
export function numPredictOf(body: Record<string, unknown>): number | null {
  const value = asRecord(body.options)?.num_predict;
  return typeof value === 'number' && Math.abs(value) <= Number.MAX_SAFE_INTEGER ? value : null;
}

/**
 * Sets the completion limit Ollama must honour: a positive integer (the quota's cap) replaces
 * whatever the request said — including 0, negatives and fractions, which Ollama reads as unlimited.
 */
export function setCompletionLimit(body: Record<string, unknown>, limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`completion limit must be a positive integer, got ${limit}`);
  body.options = { ...asRecord(body.options), num_predict: limit };
}

/** Applies the policy to an Ollama request body in place; returns the names of the fields it changed. */
export function enforceRequestPolicy(body: Record<string, unknown>, policy: RequestPolicy): string[] {
  const changed: string[] = [];
  if (body.keep_alive !== undefined) {
    const seconds = keepAliveSeconds(body.keep_alive);
    const clamped = clampKeepAlive(seconds, policy);
    if (clamped !== body.keep_alive) {
      body.keep_alive = clamped;
      changed.push('keep_alive');
    }
  }
  // Options that are not an object are Ollama's to refuse (a 400, which costs nothing).
  const options = asRecord(body.options);
  if (options === undefined) return changed;
  const next: Record<string, unknown> = { ...options };
  if (!policy.allowLoadOptions) {
    for (const name of LOAD_OPTIONS) {
      if (name in next) {
        delete next[name];
        changed.push(`options.${name}`);
      }
    }
  }
  if (next.num_ctx !== undefined) {
    const numCtx = next.num_ctx;
    if (typeof numCtx !== 'number' || !Number.isFinite(numCtx) || numCtx > policy.maxNumCtx) {
      next.num_ctx = policy.maxNumCtx;
      changed.push('options.num_ctx');
    }
  }
  if (changed.some((name) => name.startsWith('options.'))) body.options = next;
  return changed;
}

/**
 * Ollama's `keep_alive` in seconds (api/types.go Duration): a number is seconds, a string a Go
 * duration ("5m", "1h30m", "300ms"); negative means for ever. NaN when Ollama could not parse it.
 */
export function keepAliveSeconds(value: unknown): number {
  if (typeof value === 'number') return Number.isFinite(value) ? (value < 0 ? -1 : value) : Number.NaN;
  if (typeof value !== 'string') return Number.NaN;
  const match = /^([+-])?((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/.exec(value.trim());
  if (!match && value.trim() !== '0') return Number.NaN;
  if (value.trim() === '0') return 0;
  const sign = match![1] === '-' ? -1 : 1;
  const units: Record<string, number> = { ns: 1e-9, us: 1e-6, µs: 1e-6, μs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };
  let total = 0;
  for (const part of value.trim().replace(/^[+-]/, '').matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) {
    total += Number(part[1]) * units[part[2]!]!;
  }
  return sign < 0 && total > 0 ? -1 : total;
}

/** The keep_alive sent to Ollama: whole seconds within the policy's range (an unparsable value gets the minimum). */
function clampKeepAlive(seconds: number, policy: RequestPolicy): number {
  if (Number.isNaN(seconds)) return policy.keepAliveMinSeconds;
  if (seconds < 0) return policy.keepAliveMaxSeconds;
  return Math.min(policy.keepAliveMaxSeconds, Math.max(policy.keepAliveMinSeconds, Math.round(seconds)));
}

/**
 * Whether Ollama would run this model on ollama.com with the server owner's account instead of
 * locally: its cloud models are named `<model>:cloud` or `<model>:<size>-cloud` (gpt-oss:120b-cloud).
 */
export function isCloudModel(name: string): boolean {
  return /(?:^|[:-])cloud$/i.test(name.trim());
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

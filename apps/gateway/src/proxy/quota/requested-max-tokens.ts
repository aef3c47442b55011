import type { Dialect } from '@llmproxy/dialects';

/** The completion limit a client asked for, in its dialect's field; null when it set none (or asked for "unlimited"). */
export function requestedMaxTokens(dialect: Dialect, body: Record<string, unknown>): number | null {
  const value =
    dialect === 'ollama'
      ? (body.options as Record<string, unknown> | undefined)?.num_predict
      : dialect === 'openai'
        ? (body.max_completion_tokens ?? body.max_tokens)
        : body.max_tokens;
  // Ollama: -1 = unlimited, -2 = fill the context.
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? Math.floor(value) : null;
}

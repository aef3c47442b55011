import { DialectError } from './dialect-error.js';
import type { Dialect } from './dialect.js';

/**
 * Output room a request must leave in the context window: what the client asked for, but at most a
 * quarter of the window — clients ask for far more than they use (Claude Code asks 32,000 on every
 * turn), and refusing a short prompt for that would break them on a small window.
 */
export function outputRoom(requested: number | null, window: number): number {
  return Math.min(requested ?? 0, Math.floor(window / 4));
}

/**
 * The error each dialect's clients read as "the conversation no longer fits the model's context",
 * in the vendors' own wording: Claude Code compacts on Anthropic's `prompt is too long: N tokens > M
 * maximum`; OpenAI's clients match on the code `context_length_exceeded`.
 */
export function contextTooLong(dialect: Dialect, tokens: number, maximum: number, param: string): DialectError {
  if (dialect === 'anthropic') return new DialectError(400, `prompt is too long: ${tokens} tokens > ${maximum} maximum`);
  return new DialectError(
    400,
    `This model's maximum context length is ${maximum} tokens. However, your messages resulted in ${tokens} tokens. Please reduce the length of the messages.`,
    param,
    'context_length_exceeded',
  );
}

import { randomBytesFromPool } from '../random-pool.js';

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const LOWER_ALPHANUMERIC = 'abcdefghijklmnopqrstuvwxyz0123456789';

function randomString(alphabet: string, length: number): string {
  // 256 % 62 and 256 % 36 leave a small bias; these ids only need to be unique, not uniform.
  let out = '';
  const bytes = randomBytesFromPool(length);
  for (let i = 0; i < length; i++) out += alphabet[bytes[i]! % alphabet.length];
  return out;
}

/**
 * An id shaped like OpenAI's (`chatcmpl-` + 29 characters). Ollama's own /v1 layer sends
 * `chatcmpl-<0..998>`, which collides across requests; log correlation needs these to be unique.
 */
export function newChatCompletionId(): string {
  return `chatcmpl-${randomString(ALPHANUMERIC, 29)}`;
}

/** A tool call id in Ollama's own format (`call_` + 8 of [a-z0-9]), for chunks that arrive without one. */
export function newToolCallId(): string {
  return `call_${randomString(LOWER_ALPHANUMERIC, 8)}`;
}

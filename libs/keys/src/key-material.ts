import { createHash, randomInt } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** 43 base62 characters ≈ 256 bits of entropy. */
const SECRET_LENGTH = 43;
const PREFIX_LENGTH = 'sk-'.length + 6;

export interface NewKeyMaterial {
  /** Shown once, never stored. */
  plaintext: string;
  hash: string;
  prefix: string;
}

export function generateKey(): NewKeyMaterial {
  let secret = '';
  for (let i = 0; i < SECRET_LENGTH; i++) secret += ALPHABET[randomInt(ALPHABET.length)];
  const plaintext = `sk-${secret}`;
  return { plaintext, hash: hashKey(plaintext), prefix: displayPrefix(plaintext) };
}

/**
 * SHA-256, hex. Keys are looked up by this hash, so a wrong key's timing depends only on an
 * unpredictable digest, never on how many leading characters of a real key it matched.
 */
export function hashKey(plaintext: string): string {
  return createHash('sha256').update(plaintext, 'utf8').digest('hex');
}

export function displayPrefix(plaintext: string): string {
  return plaintext.slice(0, PREFIX_LENGTH);
}

type HeaderValue = string | string[] | undefined;

/**
 * The key a client presented, from the headers the three dialects use: `x-api-key` (Anthropic SDK,
 * Claude Code's ANTHROPIC_API_KEY), `Authorization: Bearer` (OpenAI SDK, Ollama clients, Claude
 * Code's ANTHROPIC_AUTH_TOKEN) and `anthropic-auth-token`. Empty values are skipped: Claude Code
 * sends `x-api-key: ""` beside a bearer token when ANTHROPIC_API_KEY is set to the empty string.
 */
export function extractKey(headers: Record<string, HeaderValue>): string | undefined {
  const apiKey = single(headers['x-api-key']);
  if (apiKey) return apiKey;
  const authorization = single(headers['authorization']);
  if (authorization) {
    const match = /^Bearer\s+(.+)$/i.exec(authorization);
    if (match?.[1]?.trim()) return match[1].trim();
  }
  return single(headers['anthropic-auth-token']) || undefined;
}

function single(value: HeaderValue): string | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  return text?.trim() || undefined;
}

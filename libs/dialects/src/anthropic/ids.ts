import { randomBytesFromPool } from '../random-pool.js';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

function randomSuffix(length: number): string {
  const bytes = randomBytesFromPool(length);
  let out = '';
  // 256 % 62 leaves a slight bias; these ids only need to be unique, not uniformly distributed.
  for (let i = 0; i < length; i++) out += ALPHABET[bytes[i]! % ALPHABET.length];
  return out;
}

/** A Messages API id, `msg_` + 24 characters like Anthropic's. */
export function newMessageId(): string {
  return `msg_${randomSuffix(24)}`;
}

/** A tool_use id for a call Ollama sent without one. */
export function newToolUseId(): string {
  return `toolu_${randomSuffix(24)}`;
}

const TOOL_ID = /^[a-zA-Z0-9_-]+$/;

/**
 * Claude Code rejects tool ids outside `^[a-zA-Z0-9_-]+$`. Ollama's `call_xxxxxxxx` passes as is; other
 * characters become `_` (the id comes back in the next request's history, so it only has to be stable
 * within this conversation, which it is), and a missing id gets a fresh one.
 */
export function toolUseId(id: string | undefined): string {
  if (!id) return newToolUseId();
  if (TOOL_ID.test(id)) return id;
  return id.replace(/[^a-zA-Z0-9_-]/g, '_');
}

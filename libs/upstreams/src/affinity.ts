import { createHash } from 'node:crypto';

/** The headers affinity reads (lower-case, as Node gives them). */
export type AffinityHeaders = Record<string, string | string[] | undefined>;

/**
 * A conversation's identity, so its requests go back to the upstream whose prompt cache holds it:
 * what clients already send — Claude Code's `x-claude-code-session-id`, Codex's `session-id` header
 * or `prompt_cache_key`, OpenAI's `user`, Anthropic's `metadata.user_id` — else a hash of the
 * conversation's opening (system prompt and first message), which every later turn repeats. Always
 * scoped by the key, so two keys never share one. Undefined when the request has no conversation
 * (an embedding, a bare prompt).
 */
export function conversationOf(keyId: number, headers: AffinityHeaders, body: Record<string, unknown> | undefined): string | undefined {
  const sent =
    header(headers, 'x-claude-code-session-id') ??
    header(headers, 'session-id') ??
    text(body?.prompt_cache_key) ??
    text(body?.user) ??
    text((body?.metadata as { user_id?: unknown } | undefined)?.user_id);
  if (sent !== undefined) return `${keyId}:s:${sent}`;
  const opening = openingOf(body);
  if (opening === undefined) return undefined;
  return `${keyId}:h:${createHash('sha1').update(opening).digest('base64url')}`;
}

/**
 * The start of the conversation in any dialect: system text plus the messages or input items up to
 * and including the first that is not a system (developer) one — what the first turn already has.
 * Undefined when the items are not messages (an embedding's `input` of strings or tokens).
 */
function openingOf(body: Record<string, unknown> | undefined): string | undefined {
  if (!body) return undefined;
  const turns: unknown[] | undefined = Array.isArray(body.messages) ? body.messages : Array.isArray(body.input) ? body.input : undefined;
  if (!turns || turns.length === 0 || !turns.every((t) => typeof t === 'object' && t !== null && !Array.isArray(t))) return undefined;
  const first = turns.findIndex((t) => !SYSTEM_ROLES.has((t as { role?: unknown }).role));
  return JSON.stringify([body.system ?? null, body.instructions ?? null, turns.slice(0, first < 0 ? turns.length : first + 1)]);
}

const SYSTEM_ROLES = new Set<unknown>(['system', 'developer']);

function header(headers: AffinityHeaders, name: string): string | undefined {
  const value = headers[name];
  return text(Array.isArray(value) ? value[0] : value);
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= 512 ? value : undefined;
}

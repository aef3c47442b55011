import type { AnthropicModelInfo, AnthropicModelList } from './types.js';

/** The parts of an /api/tags entry the list reads. */
export interface TagLike {
  name: string;
  modified_at?: string;
}

const EPOCH = '1970-01-01T00:00:00Z';

function rfc3339(value: string | undefined): string {
  if (!value) return EPOCH;
  const time = new Date(value);
  // Ollama's modified_at carries nanoseconds and a local offset; Date keeps milliseconds in UTC.
  return Number.isNaN(time.getTime()) ? EPOCH : time.toISOString().replace('.000Z', 'Z');
}

/**
 * GET /v1/models in Anthropic's shape (Claude Code's gateway model discovery). Alias names without a
 * wildcard are listed too, dated like their target.
 */
export function toAnthropicModelList(
  tags: readonly TagLike[],
  aliases: Readonly<Record<string, string>> = {},
): AnthropicModelList {
  const data: AnthropicModelInfo[] = tags.map((tag) => ({
    type: 'model',
    id: tag.name,
    display_name: tag.name,
    created_at: rfc3339(tag.modified_at),
  }));
  const listed = new Set(data.map((model) => model.id));
  for (const [alias, target] of Object.entries(aliases)) {
    if (alias.includes('*') || listed.has(alias)) continue;
    listed.add(alias);
    const tag = tags.find((entry) => entry.name === target);
    data.push({ type: 'model', id: alias, display_name: `${alias} (${target})`, created_at: rfc3339(tag?.modified_at) });
  }
  return { data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null };
}

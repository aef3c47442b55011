import type { OpenAiModel, OpenAiModelList } from './types.js';

/** An entry of Ollama's /api/tags (`models[]`); `model` is the same name in current Ollama. */
export interface OllamaTagEntry {
  name?: string;
  model?: string;
  modified_at?: string;
}

/**
 * `owned_by` is the name's namespace, as Ollama's /v1 layer reports it: `library` for official
 * models (`llama3.2:3b`), the user for `user/model`, the middle part for `host/namespace/model`.
 */
export function ownerOf(name: string): string {
  let rest = name;
  if (rest.lastIndexOf(':') > rest.lastIndexOf('/')) rest = rest.slice(0, rest.lastIndexOf(':'));
  const parts = rest.split('/');
  return parts.length >= 2 && parts[parts.length - 2] !== '' ? parts[parts.length - 2]! : 'library';
}

/** One OpenAI model object from an /api/tags entry (or /api/show's modified_at with the name asked for). */
export function toModel(entry: OllamaTagEntry): OpenAiModel {
  const id = entry.name || entry.model || '';
  const modified = entry.modified_at ? Date.parse(entry.modified_at) : NaN;
  return {
    id,
    object: 'model',
    created: Number.isFinite(modified) ? Math.floor(modified / 1000) : 0,
    owned_by: ownerOf(id),
  };
}

/** GET /v1/models from Ollama's /api/tags. */
export function toModelList(tags: { models?: OllamaTagEntry[] | null }): OpenAiModelList {
  return { object: 'list', data: (tags.models ?? []).map(toModel) };
}

import { BadRequestException, ForbiddenException } from '@nestjs/common';
import type { ApiKeyRecord } from '@llmproxy/keys';

/** `llama3.2` and `llama3.2:latest` name the same Ollama model. */
export function canonicalModel(name: string): string {
  return name.includes(':') ? name : `${name}:latest`;
}

export function modelAllowed(key: ApiKeyRecord, model: string): boolean {
  if (key.allowedModels === null) return true;
  const wanted = canonicalModel(model);
  return key.allowedModels.some((allowed) => canonicalModel(allowed) === wanted);
}

/** The model a native request names (`model`, or `name` in older clients), checked against the key's allow-list. */
export function requireModel(key: ApiKeyRecord, body: Record<string, unknown>): string {
  const model = body.model ?? body.name;
  if (typeof model !== 'string' || model.trim() === '') throw new BadRequestException('model is required');
  if (!modelAllowed(key, model)) throw new ForbiddenException(`model '${model}' is not allowed for this API key`);
  return model;
}

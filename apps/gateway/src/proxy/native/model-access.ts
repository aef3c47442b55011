import { BadRequestException, ForbiddenException } from '@nestjs/common';
import { allowListPermits } from '@llmproxy/dialects';
import type { ApiKeyRecord } from '@llmproxy/keys';

/** The allow-list rule of every dialect (allowListPermits): `model` must be the Ollama model served. */
export function modelAllowed(key: ApiKeyRecord, model: string): boolean {
  return allowListPermits(key.allowedModels, model);
}

/**
 * The model a native request names (`model`, or `name` in older clients), checked against the key's
 * allow-list. Native names are not resolved: they go to Ollama unchanged (it answers its own 404),
 * so the name checked is the model served.
 */
export function requireModel(key: ApiKeyRecord, body: Record<string, unknown>): string {
  const model = body.model ?? body.name;
  if (typeof model !== 'string' || model.trim() === '') throw new BadRequestException('model is required');
  if (!modelAllowed(key, model)) throw new ForbiddenException(`model '${model}' is not allowed for this API key`);
  return model;
}

import { blockTexts, isObject, systemTexts } from './content.js';

/**
 * The text a count_tokens request (or a Messages request, for the message_start estimate) puts before
 * the model: system parts, each message's text, thinking, tool calls and tool results, and every tool's
 * name, description and schema as JSON. The caller counts it with its tokenizer; the result is an
 * estimate (Ollama's chat template adds its own tokens, images are not counted). Malformed parts are
 * skipped rather than refused: counting must never fail where the real request would be judged later.
 */
export function countTokensInput(body: unknown): string[] {
  if (!isObject(body)) return [];
  const parts: string[] = [...(systemTexts(body.system) ?? [])];
  if (Array.isArray(body.messages)) {
    for (const message of body.messages) {
      if (isObject(message)) parts.push(...blockTexts(message.content));
    }
  }
  if (Array.isArray(body.tools)) {
    for (const tool of body.tools) {
      if (!isObject(tool)) continue;
      if (typeof tool.name === 'string') parts.push(tool.name);
      if (typeof tool.description === 'string' && tool.description) parts.push(tool.description);
      if (isObject(tool.input_schema)) parts.push(JSON.stringify(tool.input_schema));
    }
  }
  return parts;
}

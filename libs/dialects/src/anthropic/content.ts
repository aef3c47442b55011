/**
 * Reading Anthropic content shared by the request translator and the count_tokens input: system text
 * (with Claude Code's attribution block removed) and the text carried by content blocks.
 */

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Claude Code's first system block, `x-anthropic-billing-header: cc_version=…; cch=…;`, changes on every
 * request. Left in, it sits at the very start of the prompt and defeats Ollama's prompt (KV) cache, so
 * every turn would re-read the whole ~20k-token prompt.
 */
export const BILLING_HEADER_PREFIX = 'x-anthropic-billing-header:';

function isBillingHeader(text: string): boolean {
  return text.trimStart().startsWith(BILLING_HEADER_PREFIX);
}

/** Drops a leading billing line from a plain-string system prompt (blocks are dropped whole). */
function withoutBillingLine(text: string): string {
  if (!isBillingHeader(text)) return text;
  const newline = text.indexOf('\n');
  return newline < 0 ? '' : text.slice(newline + 1).replace(/^\n+/, '');
}

/**
 * The texts of a `system` value (a string or text blocks; other block types are ignored), without the
 * billing header and without empty parts. Returns `null` when the value has neither shape.
 */
export function systemTexts(system: unknown): string[] | null {
  if (system === undefined || system === null) return [];
  if (typeof system === 'string') {
    const text = withoutBillingLine(system);
    return text ? [text] : [];
  }
  if (!Array.isArray(system)) return null;
  const texts: string[] = [];
  for (const block of system) {
    if (typeof block === 'string') {
      if (block && !isBillingHeader(block)) texts.push(block);
      continue;
    }
    if (!isObject(block) || block.type !== 'text' || typeof block.text !== 'string') continue;
    if (block.text && !isBillingHeader(block.text)) texts.push(block.text);
  }
  return texts;
}

/** A content value as blocks: a plain string is one text block. */
export function contentBlocks(content: unknown): unknown[] | null {
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  if (Array.isArray(content)) return content;
  return null;
}

/** The text of a tool_result's `content` (a string or text/image blocks); images are left to the caller. */
export function toolResultText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  const texts: string[] = [];
  for (const block of content) {
    if (typeof block === 'string') texts.push(block);
    else if (isObject(block) && block.type === 'text' && typeof block.text === 'string') texts.push(block.text);
  }
  return texts.join('\n');
}

/** Parts of a message's content that reach the model as text, for token counting. */
export function blockTexts(content: unknown): string[] {
  const blocks = contentBlocks(content) ?? [];
  const texts: string[] = [];
  for (const block of blocks) {
    if (!isObject(block)) continue;
    switch (block.type) {
      case 'text':
        if (typeof block.text === 'string' && !isBillingHeader(block.text)) texts.push(block.text);
        break;
      case 'thinking':
        if (typeof block.thinking === 'string') texts.push(block.thinking);
        break;
      case 'tool_use':
        if (typeof block.name === 'string') texts.push(block.name);
        texts.push(JSON.stringify(block.input ?? {}));
        break;
      case 'tool_result':
        texts.push(toolResultText(block.content));
        break;
    }
  }
  return texts.filter((text) => text.length > 0);
}

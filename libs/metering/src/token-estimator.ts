import { createRequire } from 'node:module';
import type { Tiktoken } from 'tiktoken';

/** Texts up to this length are counted exactly; longer ones from samples (tiktoken costs ~2 µs a token). */
const EXACT_CHARS = 6_000;
const SAMPLE_CHARS = 2_000;
/** What an image adds to a prompt, roughly (Ollama's vision models spend a few hundred tokens on one). */
const TOKENS_PER_IMAGE = 512;
/** Role markers and separators a chat template adds around each message. */
const TOKENS_PER_MESSAGE = 4;

let encoding: Tiktoken | undefined;
/**
 * cl100k_base, loaded when a count is first needed: importing tiktoken compiles its 5.6 MB WebAssembly
 * module (~20 MB of RSS) and the encoding's tables take ~50 MB more, which a process that never needs
 * an estimate (Ollama sends its counts; keys far from their limits) should not carry. `require` is the
 * same file the ESM import resolves to on Node (tiktoken.cjs, the package's "node" export), so the
 * counts are the eager ones.
 */
function tiktoken(): Tiktoken {
  if (encoding === undefined) {
    const { get_encoding } = createRequire(import.meta.url)('tiktoken') as typeof import('tiktoken');
    encoding = get_encoding('cl100k_base');
  }
  return encoding;
}

/** Whether the tokenizer has been loaded yet (it is on the first count). */
export function tokenizerLoaded(): boolean {
  return encoding !== undefined;
}

/**
 * Token counts where Ollama gives none: before a request runs (the admission estimate) and after a
 * stream was cut (what was generated). cl100k_base is not the model's own tokenizer, so every count
 * here is marked estimated. Long texts are counted from three slices (start, middle, end) and scaled,
 * which keeps a Claude-Code-sized prompt (~90 KB) at well under a millisecond instead of ~50 ms.
 * The samples are scaled by UTF-8 bytes, so the count never exceeds the text's UTF-8 length (every
 * cl100k token is at least one byte) — the property `promptTokenBound` relies on.
 */
export function countTokens(text: string): number {
  if (text.length === 0) return 0;
  if (text.length <= EXACT_CHARS) return tiktoken().encode_ordinary(text).length;
  const middle = Math.floor(text.length / 2 - SAMPLE_CHARS / 2);
  const samples = [text.slice(0, SAMPLE_CHARS), text.slice(middle, middle + SAMPLE_CHARS), text.slice(-SAMPLE_CHARS)];
  let sampled = 0;
  let sampledBytes = 0;
  for (const sample of samples) {
    sampled += tiktoken().encode_ordinary(sample).length;
    sampledBytes += Buffer.byteLength(sample, 'utf8');
  }
  return Math.ceil((sampled / sampledBytes) * Buffer.byteLength(text, 'utf8'));
}

/** Fields of a request body that carry no prompt text the model reads. */
const SKIPPED_KEYS = new Set(['model', 'images', 'stream', 'keep_alive', 'options', 'format', 'think', 'id', 'tool_call_id', 'tool_use_id', 'type', 'role', 'signature', 'cache_control', 'metadata']);

/**
 * The prompt estimate of any dialect's request body: every string the model will read (messages,
 * system, tool definitions), plus a fixed cost per image and per message. It works on the client's
 * JSON as sent, so the same estimate serves Ollama, OpenAI and Anthropic bodies.
 */
export function estimatePromptTokens(body: unknown): number {
  const texts: string[] = [];
  const { images, messages, contextTokens } = walkPrompt(body, (text) => texts.push(text));
  return Math.max(1, countTokens(texts.join('\n')) + images * TOKENS_PER_IMAGE + messages * TOKENS_PER_MESSAGE + contextTokens);
}

/**
 * A cheap upper bound of `estimatePromptTokens(body)` (about 40 µs instead of ~2 ms on a 90 KB
 * prompt): the UTF-8 length of the same texts and their separators, plus the same fixed costs.
 * It holds because `countTokens` never exceeds the UTF-8 length of what it counts. English text is
 * about four bytes a token, so the bound is roughly four times the estimate: admission uses it only
 * where the key has plenty left (`decideWithBound` in libs/quota), where it cannot change the decision.
 */
export function promptTokenBound(body: unknown): number {
  let bytes = 0;
  let texts = 0;
  const { images, messages, contextTokens } = walkPrompt(body, (text) => {
    bytes += Buffer.byteLength(text, 'utf8');
    texts++;
  });
  return Math.max(1, bytes + Math.max(0, texts - 1) + images * TOKENS_PER_IMAGE + messages * TOKENS_PER_MESSAGE + contextTokens);
}

/** A request's prompt size for admission: the bound now, the estimate only if asked for (then kept). */
export class PromptSize {
  readonly bound: number;
  private estimate: number | undefined;

  constructor(private readonly body: unknown) {
    this.bound = promptTokenBound(body);
  }

  exact(): number {
    this.estimate ??= estimatePromptTokens(this.body);
    return this.estimate;
  }

  /** The estimate if it was computed, else undefined. */
  get computed(): number | undefined {
    return this.estimate;
  }
}

/**
 * Every string the model will read, in order, and the counts of images and messages — and the tokens
 * of /api/generate's `context` (the token array of an earlier answer, which Ollama feeds to the model
 * before the prompt: one token per element).
 */
function walkPrompt(body: unknown, text: (value: string) => void): { images: number; messages: number; contextTokens: number } {
  let images = 0;
  let messages = 0;
  const context = (body as { context?: unknown } | null)?.context;
  const contextTokens = Array.isArray(context) ? context.length : 0;
  const visit = (value: unknown, key: string | undefined): void => {
    if (typeof value === 'string') {
      text(value);
    } else if (Array.isArray(value)) {
      if (key === 'images') images += value.length;
      else if (key === 'messages') messages += value.length;
      for (const item of value) visit(item, undefined);
    } else if (value !== null && typeof value === 'object') {
      const record = value as Record<string, unknown>;
      if (record.type === 'image' || record.type === 'image_url') {
        images++;
        return;
      }
      for (const name in record) {
        if (!Object.prototype.hasOwnProperty.call(record, name)) continue;
        const child = record[name];
        if (name === 'images' && Array.isArray(child)) images += child.length;
        else if (!SKIPPED_KEYS.has(name)) visit(child, name);
      }
    }
  };
  visit(body, undefined);
  return { images, messages, contextTokens };
}

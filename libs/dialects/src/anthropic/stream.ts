import type { OllamaChunk } from '@llmproxy/ollama';
import { stopReasonFor, toolUseBlock } from './response.js';
import type { AnthropicStopReason, AnthropicUsage } from './types.js';

/**
 * One SSE frame. Every frame carries its `event:` line: the SDK dispatches on it and drops frames
 * without one.
 */
export function sseEvent(event: string, data: object): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

export interface StreamTranslatorOptions {
  /** `msg_…` (see newMessageId). */
  id: string;
  /** The model name the client asked for. */
  requestedModel: string;
  /** Prompt tokens as counted before Ollama answers; message_start must carry a usage. */
  inputTokensEstimate: number;
}

/**
 * Turns Ollama `/api/chat` chunks into Anthropic Messages SSE, in the order the SDK's MessageStream
 * accumulates: message_start; then blocks with 0-based contiguous indices, each started, filled and
 * stopped before the next starts (thinking, text, tool_use — in the order Ollama produces them);
 * message_delta with the stop reason and cumulative usage; message_stop.
 *
 * Every method returns the SSE text to write at once ('' when there is nothing to write). `push` only
 * records Ollama's final counts; the caller then calls `end` with the usage it settles on.
 */
export class AnthropicStreamTranslator {
  private started = false;
  private finished = false;
  private nextIndex = 0;
  private open: 'text' | 'thinking' | null = null;
  private toolUses = 0;
  private readonly toolIds = new Set<string>();
  private doneReason: string | undefined;
  private promptEvalCount: number | undefined;
  private evalCount: number | undefined;
  private finalStopReason: AnthropicStopReason | null = null;

  constructor(private readonly options: StreamTranslatorOptions) {}

  /** Content blocks started so far. */
  get blockCount(): number {
    return this.nextIndex + (this.open === null ? 0 : 1);
  }

  /** Whether a tool_use block was sent. */
  get sawToolUse(): boolean {
    return this.toolUses > 0;
  }

  /** The stop reason sent in message_delta; null until `end`. */
  get stopReason(): AnthropicStopReason | null {
    return this.finalStopReason;
  }

  /** After `end` or `error`, nothing more may be written. */
  get ended(): boolean {
    return this.finished;
  }

  /** Ollama's counts from its final chunk, when it sent them (prompt_eval_count is absent on a cache hit). */
  get ollamaUsage(): { promptEvalCount?: number; evalCount?: number } {
    return { promptEvalCount: this.promptEvalCount, evalCount: this.evalCount };
  }

  /**
   * message_start, to send before Ollama's first byte: Claude Code gives up on a stream that stays
   * silent for about 15 s, and reading a long prompt takes longer than that.
   */
  start(): string {
    if (this.started) return '';
    this.started = true;
    return sseEvent('message_start', {
      type: 'message_start',
      message: {
        id: this.options.id,
        type: 'message',
        role: 'assistant',
        model: this.options.requestedModel,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: this.options.inputTokensEstimate, output_tokens: 0 },
      },
    });
  }

  /** A keep-alive while Ollama is silent (the SDK skips pings). */
  ping(): string {
    if (this.finished) return '';
    return sseEvent('ping', { type: 'ping' });
  }

  /** The events for one Ollama chunk. A chunk carrying `error` becomes an `api_error` error event. */
  push(chunk: OllamaChunk): string {
    if (this.finished) return '';
    if (chunk.error !== undefined) return this.error('api_error', chunk.error);
    let out = this.start();
    const message = chunk.message;

    if (message?.thinking) out += this.delta('thinking', message.thinking);
    if (message?.content) out += this.delta('text', message.content);
    for (const call of message?.tool_calls ?? []) {
      // Claude Code needs unique tool ids; a call repeated under the same id is sent once.
      if (call.id && this.toolIds.has(call.id)) continue;
      if (call.id) this.toolIds.add(call.id);
      out += this.closeOpen();
      const block = toolUseBlock(call);
      const index = this.nextIndex++;
      this.toolUses++;
      out += sseEvent('content_block_start', {
        type: 'content_block_start',
        index,
        content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} },
      });
      // Ollama hands over a call whole, so its arguments go out as one complete JSON fragment.
      out += sseEvent('content_block_delta', {
        type: 'content_block_delta',
        index,
        delta: { type: 'input_json_delta', partial_json: JSON.stringify(block.input) },
      });
      out += sseEvent('content_block_stop', { type: 'content_block_stop', index });
    }

    if (chunk.done) {
      if (chunk.done_reason) this.doneReason = chunk.done_reason;
      if (chunk.prompt_eval_count !== undefined) this.promptEvalCount = chunk.prompt_eval_count;
      if (chunk.eval_count !== undefined) this.evalCount = chunk.eval_count;
    }
    return out;
  }

  /**
   * Closes the open block and the message. `usage` defaults to Ollama's counts (the estimate when the
   * prompt count is absent). An answer with no content at all gets one empty text block, since Claude
   * Code rejects a message without content.
   */
  end(usage?: AnthropicUsage): string {
    if (this.finished) return '';
    let out = this.start() + this.closeOpen();
    if (this.nextIndex === 0) {
      const index = this.nextIndex++;
      out += sseEvent('content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
      out += sseEvent('content_block_stop', { type: 'content_block_stop', index });
    }
    this.finished = true;
    this.finalStopReason = stopReasonFor(this.doneReason, this.toolUses > 0);
    const settled = usage ?? {
      input_tokens: this.promptEvalCount ?? this.options.inputTokensEstimate,
      output_tokens: this.evalCount ?? 0,
    };
    // The SDK overwrites the message_start usage with these cumulative counts, input_tokens included.
    out += sseEvent('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: this.finalStopReason, stop_sequence: null },
      usage: { input_tokens: settled.input_tokens, output_tokens: settled.output_tokens },
    });
    out += sseEvent('message_stop', { type: 'message_stop' });
    return out;
  }

  /**
   * A mid-stream failure (`type` as in Anthropic's error bodies: api_error, overloaded_error, …). The SDK
   * throws an APIError on it. Ends the stream.
   */
  error(type: string, message: string): string {
    if (this.finished) return '';
    this.finished = true;
    return sseEvent('error', { type: 'error', error: { type, message } });
  }

  private delta(kind: 'text' | 'thinking', text: string): string {
    let out = '';
    if (this.open !== kind) {
      out += this.closeOpen();
      this.open = kind;
      const block = kind === 'text' ? { type: 'text', text: '' } : { type: 'thinking', thinking: '', signature: '' };
      out += sseEvent('content_block_start', { type: 'content_block_start', index: this.nextIndex, content_block: block });
    }
    // One per Ollama chunk: the bytes of sseEvent('content_block_delta', {type, index, delta: {type: 'text_delta', text}})
    // (or thinking_delta/thinking), without building the objects.
    const field = kind === 'text' ? '"text_delta","text"' : '"thinking_delta","thinking"';
    return `${out}event: content_block_delta\ndata: {"type":"content_block_delta","index":${this.nextIndex},"delta":{"type":${field}:${JSON.stringify(text)}}}\n\n`;
  }

  private closeOpen(): string {
    if (this.open === null) return '';
    this.open = null;
    return sseEvent('content_block_stop', { type: 'content_block_stop', index: this.nextIndex++ });
  }
}

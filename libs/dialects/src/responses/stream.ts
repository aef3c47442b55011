import type { OllamaChunk } from '@llmproxy/ollama';
import { newFunctionCallItemId, newMessageItemId, newReasoningItemId } from './ids.js';
import {
  functionCallItem,
  messageItem,
  reasoningItem,
  responseObject,
  statusFor,
  toResponsesUsage,
  type ResponseMeta,
} from './response.js';
import type { OutputItem, UsageCounts } from './types.js';

/** Where an item being streamed stands: its position in `output`, its id and the text so far. */
interface OpenItem {
  kind: 'reasoning' | 'message';
  index: number;
  id: string;
  text: string;
  /** The item's delta event around its sequence number and text (see `delta`). */
  deltaHead: string;
  deltaMiddle: string;
  deltaTail: string;
}

/**
 * Turns Ollama `/api/chat` chunks into Responses API SSE events, in the order the openai SDK's
 * `responses.stream()` accumulates and Codex parses: `response.created`, `response.in_progress`; then
 * output items, each added, filled and done before the next is added — reasoning (a summary part
 * added, then summary text deltas: the SDK needs the part before the first delta), the message (a
 * content part added, then text deltas), function calls (their arguments whole, as Ollama hands them
 * over); then `response.completed`, or `response.incomplete` when the completion limit cut the answer.
 * Every event carries its `event:` line, its `type` and a `sequence_number` counting from 0.
 *
 * Every method returns the SSE text to write at once ('' when there is nothing to write).
 */
export class ResponsesStreamTranslator {
  private sequence = 0;
  private started = false;
  private finished = false;
  private readonly output: OutputItem[] = [];
  private open: OpenItem | null = null;
  private thinkingText = '';
  private contentText = '';
  private doneReasonSeen: string | undefined;
  private promptCount: number | undefined;
  private evalCountSeen: number | undefined;

  constructor(private readonly meta: ResponseMeta) {}

  /** The thinking streamed so far (the gateway estimates reasoning tokens from it). */
  get thinking(): string {
    return this.thinkingText;
  }

  get content(): string {
    return this.contentText;
  }

  get doneReason(): string | undefined {
    return this.doneReasonSeen;
  }

  /** Ollama's counts from its final chunk, when it sent them. */
  get ollamaUsage(): { promptEvalCount?: number; evalCount?: number } {
    return { promptEvalCount: this.promptCount, evalCount: this.evalCountSeen };
  }

  /** After `end` or `error`, nothing more is written. */
  get ended(): boolean {
    return this.finished;
  }

  /** `response.created` and `response.in_progress`, to send before Ollama's first token. */
  start(): string {
    if (this.started) return '';
    this.started = true;
    const response = responseObject(this.meta, 'in_progress', []);
    return this.event('response.created', { response }) + this.event('response.in_progress', { response });
  }

  /** A keep-alive while Ollama is silent: OpenAI's own `keepalive` event, which the SDK and Codex skip. */
  ping(): string {
    if (this.finished || !this.started) return '';
    return this.event('keepalive', {});
  }

  push(chunk: OllamaChunk): string {
    if (this.finished) return '';
    if (chunk.error !== undefined) return this.error(chunk.error);
    let out = this.start();
    const message = chunk.message;
    if (message?.thinking) {
      this.thinkingText += message.thinking;
      out += this.delta('reasoning', message.thinking);
    }
    if (message?.content) {
      this.contentText += message.content;
      out += this.delta('message', message.content);
    }
    for (const call of message?.tool_calls ?? []) {
      out += this.closeOpen('completed');
      const item = functionCallItem(newFunctionCallItemId(), call, this.meta.namespaced);
      const index = this.output.length;
      this.output.push(item);
      out += this.event('response.output_item.added', { output_index: index, item: { ...item, status: 'in_progress', arguments: '' } });
      out += this.event('response.function_call_arguments.delta', { item_id: item.id, output_index: index, delta: item.arguments });
      out += this.event('response.function_call_arguments.done', { item_id: item.id, output_index: index, name: item.name, arguments: item.arguments });
      out += this.event('response.output_item.done', { output_index: index, item });
    }
    if (chunk.done) {
      this.doneReasonSeen = chunk.done_reason;
      this.promptCount = chunk.prompt_eval_count;
      this.evalCountSeen = chunk.eval_count;
    }
    return out;
  }

  /**
   * Closes the open item and the response with the usage the gateway settled on. An answer with no
   * item at all gets one empty message, as the non-streaming response has.
   */
  end(usage: UsageCounts): string {
    if (this.finished) return '';
    const status = statusFor(this.doneReasonSeen);
    let out = this.start() + this.closeOpen(status === 'incomplete' ? 'incomplete' : 'completed');
    if (this.output.length === 0) {
      this.openItem('message');
      out += this.openEvents();
      out += this.closeOpen(status === 'incomplete' ? 'incomplete' : 'completed');
    }
    this.finished = true;
    const response = responseObject(this.meta, status, this.output, { usage: toResponsesUsage(usage) });
    return out + this.event(status === 'incomplete' ? 'response.incomplete' : 'response.completed', { response });
  }

  /**
   * A failure after the stream started: `response.failed` (what Codex reads; it may retry the turn),
   * then an `error` event whose `error` object makes the openai SDK raise an APIError. Ends the stream.
   */
  error(message: string): string {
    if (this.finished) return '';
    let out = this.start();
    this.finished = true;
    const error = { code: 'server_error', message };
    out += this.event('response.failed', { response: responseObject(this.meta, 'failed', this.output, { error }) });
    out += this.event('error', { code: 'server_error', message, param: null, error: { type: 'server_error', code: 'server_error', message, param: null } });
    return out;
  }

  private delta(kind: OpenItem['kind'], text: string): string {
    let out = '';
    if (this.open?.kind !== kind) {
      out += this.closeOpen('completed');
      this.openItem(kind);
      out += this.openEvents();
    }
    const open = this.open!;
    open.text += text;
    // One per Ollama chunk: the bytes `event()` gives for
    //   response.reasoning_summary_text.delta {item_id, output_index, summary_index: 0, delta}
    //   response.output_text.delta {item_id, output_index, content_index: 0, delta, logprobs: []}
    // with the item's part serialised once when it opened.
    return `${out}${open.deltaHead}${this.sequence++}${open.deltaMiddle}${JSON.stringify(text)}${open.deltaTail}`;
  }

  private openItem(kind: OpenItem['kind']): void {
    const id = kind === 'reasoning' ? newReasoningItemId() : newMessageItemId();
    const index = this.output.length;
    const type = kind === 'reasoning' ? 'response.reasoning_summary_text.delta' : 'response.output_text.delta';
    this.open = {
      kind,
      index,
      id,
      text: '',
      deltaHead: `event: ${type}\ndata: {"type":${JSON.stringify(type)},"sequence_number":`,
      deltaMiddle: `,"item_id":${JSON.stringify(id)},"output_index":${index},${kind === 'reasoning' ? '"summary_index"' : '"content_index"'}:0,"delta":`,
      deltaTail: kind === 'reasoning' ? '}\n\n' : ',"logprobs":[]}\n\n',
    };
  }

  private openEvents(): string {
    const { kind, index, id } = this.open!;
    if (kind === 'reasoning') {
      return (
        this.event('response.output_item.added', { output_index: index, item: { id, type: 'reasoning', summary: [] } }) +
        this.event('response.reasoning_summary_part.added', { item_id: id, output_index: index, summary_index: 0, part: { type: 'summary_text', text: '' } })
      );
    }
    return (
      this.event('response.output_item.added', { output_index: index, item: { id, type: 'message', status: 'in_progress', role: 'assistant', content: [] } }) +
      this.event('response.content_part.added', { item_id: id, output_index: index, content_index: 0, part: { type: 'output_text', text: '', annotations: [], logprobs: [] } })
    );
  }

  private closeOpen(status: 'completed' | 'incomplete'): string {
    const open = this.open;
    if (!open) return '';
    this.open = null;
    const { index, id, text } = open;
    if (open.kind === 'reasoning') {
      const item = reasoningItem(id, text);
      this.output.push(item);
      return (
        this.event('response.reasoning_summary_text.done', { item_id: id, output_index: index, summary_index: 0, text }) +
        this.event('response.reasoning_summary_part.done', { item_id: id, output_index: index, summary_index: 0, part: { type: 'summary_text', text } }) +
        this.event('response.output_item.done', { output_index: index, item })
      );
    }
    const item = messageItem(id, text, status);
    this.output.push(item);
    return (
      this.event('response.output_text.done', { item_id: id, output_index: index, content_index: 0, text, logprobs: [] }) +
      this.event('response.content_part.done', { item_id: id, output_index: index, content_index: 0, part: item.content[0] }) +
      this.event('response.output_item.done', { output_index: index, item })
    );
  }

  private event(type: string, data: object): string {
    const payload = { type, sequence_number: this.sequence++, ...data };
    return `event: ${type}\ndata: ${JSON.stringify(payload)}\n\n`;
  }
}

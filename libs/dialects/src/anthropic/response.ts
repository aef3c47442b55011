import type { OllamaChunk, OllamaToolCall } from '@llmproxy/ollama';
import { toolUseId } from './ids.js';
import type {
  AnthropicContentBlock,
  AnthropicMessage,
  AnthropicStopReason,
  AnthropicToolUseBlock,
  AnthropicUsage,
} from './types.js';

/**
 * Claude Code treats the stop reason as a contract: `tool_use` exactly when the message holds a tool_use
 * block. Ollama ends a tool-call turn with `stop`, so the blocks decide; `length` is the num_predict cap.
 * A stop sequence also ends with `stop` and cannot be told apart, so it reads as `end_turn`.
 */
export function stopReasonFor(doneReason: string | undefined, hasToolUse: boolean): AnthropicStopReason {
  if (hasToolUse) return 'tool_use';
  return doneReason === 'length' ? 'max_tokens' : 'end_turn';
}

/** Collects an Ollama chat answer, streamed (many chunks) or not (one `stream:false` object). */
export class OllamaAggregator {
  content = '';
  thinking = '';
  readonly toolCalls: OllamaToolCall[] = [];
  doneReason: string | undefined;
  promptEvalCount: number | undefined;
  evalCount: number | undefined;
  done = false;
  /** Ollama's mid-stream `{"error": "..."}`, for the caller to turn into an error response. */
  error: string | undefined;

  push(chunk: OllamaChunk): void {
    if (chunk.error !== undefined) {
      this.error = chunk.error;
      return;
    }
    const message = chunk.message;
    if (message?.content) this.content += message.content;
    if (message?.thinking) this.thinking += message.thinking;
    for (const call of message?.tool_calls ?? []) {
      // Claude Code needs unique tool ids; a call repeated under the same id is kept once.
      if (call.id && this.toolCalls.some((seen) => seen.id === call.id)) continue;
      this.toolCalls.push(call);
    }
    if (chunk.done) {
      this.done = true;
      if (chunk.done_reason) this.doneReason = chunk.done_reason;
      if (chunk.prompt_eval_count !== undefined) this.promptEvalCount = chunk.prompt_eval_count;
      if (chunk.eval_count !== undefined) this.evalCount = chunk.eval_count;
    }
  }
}

export interface ToMessageOptions {
  /** `msg_…` (see newMessageId). */
  id: string;
  /** The model name the client asked for. */
  requestedModel: string;
  /**
   * Token counts as the caller settled them (e.g. a prompt count estimated when Ollama served the prompt
   * from cache and left prompt_eval_count out). Defaults to Ollama's counts, 0 where absent.
   */
  usage?: AnthropicUsage;
}

/** The tool_use block for an Ollama tool call. */
export function toolUseBlock(call: OllamaToolCall): AnthropicToolUseBlock {
  const args = call.function.arguments;
  return {
    type: 'tool_use',
    id: toolUseId(call.id),
    name: call.function.name,
    input: args && typeof args === 'object' && !Array.isArray(args) ? args : {},
  };
}

/** The non-streaming Messages response for a collected answer. Its content is never empty. */
export function toMessage(aggregate: OllamaAggregator, options: ToMessageOptions): AnthropicMessage {
  const content: AnthropicContentBlock[] = [];
  if (aggregate.thinking) content.push({ type: 'thinking', thinking: aggregate.thinking, signature: '' });
  if (aggregate.content) content.push({ type: 'text', text: aggregate.content });
  for (const call of aggregate.toolCalls) content.push(toolUseBlock(call));
  // An empty content array reads to Claude Code as a malformed response.
  if (content.length === 0) content.push({ type: 'text', text: '' });

  return {
    id: options.id,
    type: 'message',
    role: 'assistant',
    model: options.requestedModel,
    content,
    stop_reason: stopReasonFor(aggregate.doneReason, aggregate.toolCalls.length > 0),
    stop_sequence: null,
    usage: options.usage ?? {
      input_tokens: aggregate.promptEvalCount ?? 0,
      output_tokens: aggregate.evalCount ?? 0,
    },
  };
}

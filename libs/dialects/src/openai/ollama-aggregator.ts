import type { OllamaChunk, OllamaToolCall } from '@llmproxy/ollama';

/** Everything a finished Ollama /api/chat answer said, whether it came streamed or as one object. */
export interface ChatAggregate {
  content: string;
  thinking: string;
  toolCalls: OllamaToolCall[];
  /** Ollama's `done_reason` (stop, length, load, unload); undefined until the final chunk. */
  doneReason?: string;
  /** Absent when Ollama served the prompt from its cache and left the count out. */
  promptEvalCount?: number;
  evalCount?: number;
}

/**
 * Collects Ollama chat chunks into one answer. Feed it every NDJSON chunk of a streamed answer, or
 * the single object of a `stream: false` one: both end in a `done: true` chunk with the counts.
 * An `{"error": ...}` chunk is recorded in `error`, not thrown; the caller decides how to answer.
 */
export class OllamaAggregator {
  private content = '';
  private thinking = '';
  private readonly toolCalls: OllamaToolCall[] = [];
  private doneReason?: string;
  private promptEvalCount?: number;
  private evalCount?: number;
  /** Set once a chunk with `done: true` arrived. */
  done = false;
  /** The message of an upstream `{"error": ...}` chunk, if one arrived. */
  error?: string;

  push(chunk: OllamaChunk): void {
    if (chunk.error !== undefined) {
      this.error = chunk.error;
      return;
    }
    const message = chunk.message;
    if (message) {
      if (message.content) this.content += message.content;
      if (message.thinking) this.thinking += message.thinking;
      if (message.tool_calls) this.toolCalls.push(...message.tool_calls);
    }
    if (chunk.done) {
      this.done = true;
      if (chunk.done_reason !== undefined) this.doneReason = chunk.done_reason;
      if (chunk.prompt_eval_count !== undefined) this.promptEvalCount = chunk.prompt_eval_count;
      if (chunk.eval_count !== undefined) this.evalCount = chunk.eval_count;
    }
  }

  result(): ChatAggregate {
    const aggregate: ChatAggregate = { content: this.content, thinking: this.thinking, toolCalls: [...this.toolCalls] };
    if (this.doneReason !== undefined) aggregate.doneReason = this.doneReason;
    if (this.promptEvalCount !== undefined) aggregate.promptEvalCount = this.promptEvalCount;
    if (this.evalCount !== undefined) aggregate.evalCount = this.evalCount;
    return aggregate;
  }
}

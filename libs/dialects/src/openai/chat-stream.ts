import type { OllamaChunk } from '@llmproxy/ollama';
import { finishReason, SYSTEM_FINGERPRINT, toOpenAiToolCall, toUsage } from './chat-response.js';
import type { ChatCompletionChunk, ChatCompletionDelta, FinishReason } from './types.js';

export interface StreamTranslatorOptions {
  id: string;
  /** Unix seconds, the same on every chunk as OpenAI does. */
  created: number;
  /** The model name the client asked for. */
  model: string;
  /** `stream_options.include_usage`. */
  includeUsage: boolean;
}

/**
 * Turns Ollama /api/chat NDJSON chunks into OpenAI `chat.completion.chunk` SSE frames, one Ollama
 * chunk at a time so nothing is held back. Each method returns the text to write now ('' when
 * there is nothing); after `end()` or `error()` every method returns ''.
 *
 * Frames: a first delta `{role: "assistant", content: ""}`; then per Ollama chunk a `reasoning`
 * delta (the name Ollama's own /v1 layer uses for thinking), a `content` delta and a `tool_calls`
 * delta, each only when non-empty; on `end()` an empty delta with the finish reason, the usage chunk
 * if asked for, and `[DONE]`.
 */
export class OpenAiStreamTranslator {
  private started = false;
  private finished = false;
  private toolCalls = 0;
  private contentText = '';
  private reasoningText = '';
  private reason?: string;
  private promptCount?: number;
  private evalCountSeen?: number;

  /**
   * Every frame's JSON but its delta and finish reason is the same for the whole stream: it is
   * serialised once here, and each frame is two string concatenations around its delta — the same
   * bytes `JSON.stringify` of the whole chunk gives (key order id, object, created, model,
   * system_fingerprint, choices, usage), without an envelope object per frame.
   */
  private readonly framePrefix: string;
  private readonly frameSuffix: string;

  constructor(private readonly options: StreamTranslatorOptions) {
    const envelope = JSON.stringify(this.envelope());
    this.framePrefix = `data: ${envelope.slice(0, -1)},"choices":[{"index":0,"delta":`;
    this.frameSuffix = `,"logprobs":null}]${options.includeUsage ? ',"usage":null' : ''}}\n\n`;
  }

  /** Ollama's `done_reason` from the final chunk, once it arrived. */
  get doneReason(): string | undefined {
    return this.reason;
  }

  /** How many tool calls were sent to the client. */
  get toolCallCount(): number {
    return this.toolCalls;
  }

  /** The finish reason `end()` sends (or would send now). */
  get finishReason(): FinishReason {
    return finishReason(this.toolCalls > 0, this.reason);
  }

  /** Ollama's counts from the final chunk; undefined when it has not arrived or left them out. */
  get promptEvalCount(): number | undefined {
    return this.promptCount;
  }

  get evalCount(): number | undefined {
    return this.evalCountSeen;
  }

  /** The answer text and thinking sent so far, for token estimates when Ollama's counts are missing. */
  get content(): string {
    return this.contentText;
  }

  get reasoning(): string {
    return this.reasoningText;
  }

  /** True once `end()` or `error()` produced the stream's last frame. */
  get closed(): boolean {
    return this.finished;
  }

  /** Translates one Ollama chunk. An `{"error": ...}` chunk is answered as `error(message)`. */
  push(chunk: OllamaChunk): string {
    if (this.finished) return '';
    if (chunk.error !== undefined) return this.error(chunk.error);

    let out = this.roleFrame();
    const message = chunk.message;
    if (message?.thinking) {
      this.reasoningText += message.thinking;
      out += this.frame({ reasoning: message.thinking });
    }
    if (message?.content) {
      this.contentText += message.content;
      out += this.frame({ content: message.content });
    }
    if (message?.tool_calls && message.tool_calls.length > 0) {
      // Ollama sends each call whole, so one delta carries id, name and the complete arguments.
      // The index is counted here: not every Ollama model parser numbers its calls.
      const calls = message.tool_calls.map((call) => ({ index: this.toolCalls++, ...toOpenAiToolCall(call) }));
      out += this.frame({ tool_calls: calls });
    }
    if (chunk.done) {
      this.reason = chunk.done_reason;
      this.promptCount = chunk.prompt_eval_count;
      this.evalCountSeen = chunk.eval_count;
    }
    return out;
  }

  /**
   * Closes the stream: the finish-reason chunk, the usage chunk when the client asked for it, then
   * `[DONE]`. `usage` defaults to Ollama's counts seen on the final chunk (0 where absent).
   */
  end(usage?: { prompt_tokens: number; completion_tokens: number }): string {
    if (this.finished) return '';
    let out = this.roleFrame();
    out += this.frame({}, this.finishReason);
    if (this.options.includeUsage) {
      const counts = usage ?? { prompt_tokens: this.promptCount ?? 0, completion_tokens: this.evalCountSeen ?? 0 };
      const chunk: ChatCompletionChunk = {
        ...this.envelope(),
        choices: [],
        usage: toUsage(counts.prompt_tokens, counts.completion_tokens),
      };
      out += sse(chunk);
    }
    this.finished = true;
    return `${out}data: [DONE]\n\n`;
  }

  /** A mid-stream failure: one error frame that the openai SDK raises as an APIError; nothing follows it. */
  error(message: string): string {
    if (this.finished) return '';
    this.finished = true;
    return sse({ error: { message, type: 'api_error', param: null, code: null } });
  }

  private roleFrame(): string {
    if (this.started) return '';
    this.started = true;
    return this.frame({ role: 'assistant', content: '' });
  }

  private frame(delta: ChatCompletionDelta, reason: FinishReason | null = null): string {
    return `${this.framePrefix}${JSON.stringify(delta)},"finish_reason":${reason === null ? 'null' : JSON.stringify(reason)}${this.frameSuffix}`;
  }

  private envelope(): Pick<ChatCompletionChunk, 'id' | 'object' | 'created' | 'model' | 'system_fingerprint'> {
    const { id, created, model } = this.options;
    return { id, object: 'chat.completion.chunk', created, model, system_fingerprint: SYSTEM_FINGERPRINT };
  }
}

function sse(payload: unknown): string {
  return `data: ${JSON.stringify(payload)}\n\n`;
}

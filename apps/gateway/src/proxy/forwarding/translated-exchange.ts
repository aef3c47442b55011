import type { OllamaMeter } from '@llmproxy/metering';
import type { OllamaChunk } from '@llmproxy/ollama';

/** How a translating dialect answers a streaming client: frames written as Ollama's chunks arrive. */
export interface SseAnswer {
  /** Written as soon as the response starts (Anthropic's message_start), before Ollama's first token. */
  start?(): string;
  /** Written while Ollama is silent (reading a long prompt), so clients with a stall watchdog wait. */
  ping?(): string;
  chunk(chunk: OllamaChunk): string;
  end(meter: OllamaMeter): string;
  /** An in-band error once the response has started; `status` is what it would have been before (529/503: overloaded). */
  error(message: string, status?: number): string;
  /** Start the response (headers + start()) if Ollama has not answered by then. Default: on Ollama's answer. */
  startAfterMs?: number;
  pingEveryMs?: number;
}

/** How a translating dialect answers a non-streaming client: one JSON body once Ollama is done. */
export interface JsonAnswer {
  chunk(chunk: OllamaChunk): void;
  end(meter: OllamaMeter): object;
}

export interface TranslatedExchange {
  path: '/api/chat' | '/api/embed';
  /** The Ollama request the dialect translated to (chat is always streamed from Ollama). */
  body: object;
  /** For the usage record and the rollup. */
  model: string;
  /** The dialect's error body for an error before anything was sent. */
  errorBody(status: number, message: string): object;
  sse?: SseAnswer;
  json?: JsonAnswer;
}

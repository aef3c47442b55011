import type { OllamaToolCall } from '@llmproxy/ollama';
import { newToolCallId } from './ids.js';
import type { ChatAggregate } from './ollama-aggregator.js';
import type { ChatCompletion, FinishReason, OpenAiToolCall, OpenAiUsage } from './types.js';

/** Ollama's /v1 layer sends this fingerprint; clients that log it see where the answer came from. */
export const SYSTEM_FINGERPRINT = 'fp_ollama';

export interface CompletionMeta {
  id: string;
  /** Unix seconds. */
  created: number;
  /** The model name the client asked for. */
  model: string;
  /** Token counts to report; defaults to the aggregate's counts (0 where Ollama left one out). */
  usage?: { prompt_tokens: number; completion_tokens: number };
}

/**
 * Ollama ends a tool-calling turn with done_reason "stop", so `tool_calls` is derived from the
 * calls themselves. Reasons other than "length" (load, unload, absent) read as a normal stop.
 */
export function finishReason(sawToolCalls: boolean, doneReason: string | undefined): FinishReason {
  if (sawToolCalls) return 'tool_calls';
  return doneReason === 'length' ? 'length' : 'stop';
}

export function toUsage(promptTokens: number, completionTokens: number): OpenAiUsage {
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
  };
}

/** Ollama's tool call as OpenAI's: arguments become a JSON string; a missing id is filled in. */
export function toOpenAiToolCall(call: OllamaToolCall): OpenAiToolCall {
  return {
    id: call.id || newToolCallId(),
    type: 'function',
    function: { name: call.function.name, arguments: JSON.stringify(call.function.arguments ?? {}) },
  };
}

/** A non-streaming `chat.completion` from a finished Ollama answer. */
export function toChatCompletion(aggregate: ChatAggregate, meta: CompletionMeta): ChatCompletion {
  const toolCalls = aggregate.toolCalls.map(toOpenAiToolCall);
  const message: ChatCompletion['choices'][number]['message'] = {
    role: 'assistant',
    content: toolCalls.length > 0 && aggregate.content === '' ? null : aggregate.content,
    refusal: null,
  };
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  if (aggregate.thinking !== '') message.reasoning = aggregate.thinking;

  const usage = meta.usage ?? {
    prompt_tokens: aggregate.promptEvalCount ?? 0,
    completion_tokens: aggregate.evalCount ?? 0,
  };
  const reason = finishReason(toolCalls.length > 0, aggregate.doneReason);
  return {
    id: meta.id,
    object: 'chat.completion',
    created: meta.created,
    model: meta.model,
    system_fingerprint: SYSTEM_FINGERPRINT,
    choices: [{ index: 0, message, finish_reason: reason, logprobs: null }],
    usage: toUsage(usage.prompt_tokens, usage.completion_tokens),
  };
}

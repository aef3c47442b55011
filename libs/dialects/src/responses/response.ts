import type { OllamaToolCall } from '@llmproxy/ollama';
import { newToolCallId } from '../openai/ids.js';
import type { ChatAggregate } from '../openai/ollama-aggregator.js';
import { newFunctionCallItemId, newMessageItemId, newReasoningItemId } from './ids.js';
import type { NamespacedFunction, ResponseEcho } from './request.js';
import type { FunctionCallItem, MessageItem, OutputItem, ReasoningItem, ResponseObject, ResponseStatus, ResponsesUsage, UsageCounts } from './types.js';

export interface ResponseMeta {
  /** `resp_…` (newResponseId). */
  id: string;
  /** Unix seconds. */
  createdAt: number;
  /** The model name the client asked for. */
  model: string;
  echo: ResponseEcho;
  /** From the translated request: flat function names back to their namespace. */
  namespaced: Record<string, NamespacedFunction>;
}

/**
 * Ollama's `length` is the completion limit (the client's max_output_tokens or the key's cap): OpenAI
 * reports that as an incomplete response. A tool-calling turn ends with `stop`, like any other.
 */
export function statusFor(doneReason: string | undefined): Extract<ResponseStatus, 'completed' | 'incomplete'> {
  return doneReason === 'length' ? 'incomplete' : 'completed';
}

export function toResponsesUsage(counts: UsageCounts): ResponsesUsage {
  return {
    input_tokens: counts.inputTokens,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: counts.outputTokens,
    // Ollama counts thinking and answer together; the part spent thinking can never exceed the whole.
    output_tokens_details: { reasoning_tokens: Math.min(counts.reasoningTokens, counts.outputTokens) },
    total_tokens: counts.inputTokens + counts.outputTokens,
  };
}

/** A Response object in any state; the stream sends one in created/in_progress and in its last event. */
export function responseObject(
  meta: ResponseMeta,
  status: ResponseStatus,
  output: OutputItem[],
  extra: { usage?: ResponsesUsage; error?: { code: string; message: string } } = {},
): ResponseObject {
  const finished = status === 'completed' || status === 'incomplete';
  return {
    id: meta.id,
    object: 'response',
    created_at: meta.createdAt,
    completed_at: finished ? Math.floor(Date.now() / 1000) : null,
    status,
    background: false,
    error: extra.error ?? null,
    incomplete_details: status === 'incomplete' ? { reason: 'max_output_tokens' } : null,
    ...meta.echo,
    max_tool_calls: null,
    model: meta.model,
    output,
    previous_response_id: null,
    safety_identifier: null,
    service_tier: 'default',
    store: false,
    top_logprobs: 0,
    truncation: 'disabled',
    usage: extra.usage ?? null,
    user: null,
  };
}

export function reasoningItem(id: string, thinking: string): ReasoningItem {
  return { id, type: 'reasoning', summary: [{ type: 'summary_text', text: thinking }] };
}

export function messageItem(id: string, text: string, status: MessageItem['status']): MessageItem {
  return { id, type: 'message', status, role: 'assistant', content: [{ type: 'output_text', text, annotations: [], logprobs: [] }] };
}

/** Ollama's tool call as a function_call item: arguments as a JSON string, the namespace restored, an id filled in. */
export function functionCallItem(id: string, call: OllamaToolCall, namespaced: Record<string, NamespacedFunction>): FunctionCallItem {
  const flat = call.function.name;
  const declared = Object.hasOwn(namespaced, flat) ? namespaced[flat] : undefined;
  const item: FunctionCallItem = {
    id,
    type: 'function_call',
    status: 'completed',
    call_id: call.id || newToolCallId(),
    name: declared ? declared.name : flat,
    arguments: JSON.stringify(call.function.arguments ?? {}),
  };
  if (declared) item.namespace = declared.namespace;
  return item;
}

/**
 * The non-streaming Response for a finished Ollama answer: reasoning (the model's thinking as its
 * summary), then the message, then the function calls — the order Ollama produced them in. An answer
 * with nothing in it still has one (empty) message, so `output_text` reads as ''.
 */
export function toResponse(aggregate: ChatAggregate, meta: ResponseMeta, usage: UsageCounts): ResponseObject {
  const status = statusFor(aggregate.doneReason);
  const output: OutputItem[] = [];
  if (aggregate.thinking !== '') output.push(reasoningItem(newReasoningItemId(), aggregate.thinking));
  if (aggregate.content !== '' || aggregate.toolCalls.length === 0) {
    output.push(messageItem(newMessageItemId(), aggregate.content, status === 'incomplete' ? 'incomplete' : 'completed'));
  }
  for (const call of aggregate.toolCalls) output.push(functionCallItem(newFunctionCallItemId(), call, meta.namespaced));
  return responseObject(meta, status, output, { usage: toResponsesUsage(usage) });
}

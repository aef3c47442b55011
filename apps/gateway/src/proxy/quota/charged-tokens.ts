import { countTokens, estimatePromptTokens } from '@llmproxy/metering';
import type { ProxyRequest } from '../proxy-request.js';

/** What Ollama reported of an answer (an OllamaMeter, or the Metering a forwarder left on the request). */
export interface MeteredAnswer {
  promptTokens?: number;
  completionTokens?: number;
  generated: string;
}

/**
 * The request's prompt estimate, computed at most once: admission may already have done it; else the
 * first caller (Anthropic's message_start, a dialect's usage, the settlement) does and the rest reuse it.
 */
export function promptEstimate(request: ProxyRequest): number {
  return (request.promptEstimate ??= estimatePromptTokens(request.json ?? {}));
}

/**
 * The one charging rule: Ollama's counts where it sent them; else the prompt estimate and tiktoken
 * over the generated text, marked inexact. What a dialect tells its client is what the key is charged.
 */
export function chargedTokens(request: ProxyRequest, answer: MeteredAnswer): { prompt: number; completion: number; exact: boolean } {
  return {
    prompt: answer.promptTokens ?? promptEstimate(request),
    completion: answer.completionTokens ?? countTokens(answer.generated),
    exact: answer.promptTokens !== undefined && answer.completionTokens !== undefined,
  };
}

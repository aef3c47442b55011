import type { OllamaChatRequest } from '@llmproxy/ollama';
import type { ProxyRequest } from '../proxy-request.js';

/**
 * Lowers a translated request's num_predict to what the key's token quota leaves (set by the quota
 * interceptor); a smaller value the client asked for stays.
 */
export function applyQuotaCap(request: ProxyRequest, ollama: OllamaChatRequest): OllamaChatRequest {
  const cap = request.quota?.reservation.completionCap;
  if (cap === null || cap === undefined) return ollama;
  const asked = ollama.options?.num_predict;
  const numPredict = typeof asked === 'number' && asked >= 0 ? Math.min(asked, cap) : cap;
  return { ...ollama, options: { ...ollama.options, num_predict: numPredict } };
}

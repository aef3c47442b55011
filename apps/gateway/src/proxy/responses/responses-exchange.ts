import { errorBody, openai, responses } from '@llmproxy/dialects';
import { countTokens, type OllamaMeter } from '@llmproxy/metering';
import type { TranslatedExchange } from '../forwarding/translated-exchange.js';
import type { ProxyRequest } from '../proxy-request.js';
import { chargedTokens } from '../quota/charged-tokens.js';

/**
 * How long Ollama may take to answer before the event stream starts anyway with `response.created`:
 * an error before then is a proper HTTP error, after it `response.failed`.
 */
export const STREAM_START_AFTER_MS = 1_000;
/** A `keepalive` event this often while Ollama is silent (reading a long prompt, buffering a tool call). */
export const STREAM_PING_EVERY_MS = 5_000;

/**
 * The usage a client is told is what the key is charged (UsageSettler). Ollama counts thinking and
 * answer as one output; the reasoning part is tiktoken over the thinking text, an estimate.
 */
function usage(request: ProxyRequest, meter: OllamaMeter, thinking: string): responses.UsageCounts {
  const charged = chargedTokens(request, meter);
  return { inputTokens: charged.prompt, outputTokens: charged.completion, reasoningTokens: thinking === '' ? 0 : countTokens(thinking) };
}

/**
 * POST /v1/responses as a translated exchange. Ollama is always asked to stream; a non-streaming
 * client gets the aggregate as one Response once Ollama is done.
 */
export function responsesExchange(request: ProxyRequest, translated: responses.TranslatedResponsesRequest, ollamaModel: string): TranslatedExchange {
  const meta: responses.ResponseMeta = {
    id: responses.newResponseId(),
    createdAt: Math.floor(Date.now() / 1000),
    model: translated.requestedModel,
    echo: translated.echo,
    namespaced: translated.namespaced,
  };
  const base = {
    path: '/api/chat' as const,
    body: { ...translated.request, stream: true },
    model: ollamaModel,
    errorBody: (status: number, message: string) => errorBody('openai', status, message),
  };

  if (translated.stream) {
    const stream = new responses.ResponsesStreamTranslator(meta);
    return {
      ...base,
      sse: {
        start: () => stream.start(),
        ping: () => stream.ping(),
        chunk: (chunk) => stream.push(chunk),
        end: (meter) => stream.end(usage(request, meter, stream.thinking)),
        error: (message) => stream.error(message),
        startAfterMs: STREAM_START_AFTER_MS,
        pingEveryMs: STREAM_PING_EVERY_MS,
      },
    };
  }

  const aggregator = new openai.OllamaAggregator();
  return {
    ...base,
    json: {
      chunk: (chunk) => aggregator.push(chunk),
      end: (meter) => {
        const result = aggregator.result();
        return responses.toResponse(result, meta, usage(request, meter, result.thinking));
      },
    },
  };
}

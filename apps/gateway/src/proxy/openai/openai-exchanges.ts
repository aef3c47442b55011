import { DialectError, errorBody, openai } from '@llmproxy/dialects';
import type { OllamaMeter } from '@llmproxy/metering';
import { chargedTokens } from '../quota/charged-tokens.js';
import type { ProxyRequest } from '../proxy-request.js';
import type { TranslatedExchange } from '../forwarding/translated-exchange.js';

/**
 * The usage a client is told about is what the key is charged (UsageSettler): Ollama's counts where
 * it sent them; else the admission's prompt estimate and tiktoken over the generated text.
 */
export function chargedUsage(request: ProxyRequest, meter: OllamaMeter): { prompt_tokens: number; completion_tokens: number } {
  const charged = chargedTokens(request, meter);
  return { prompt_tokens: charged.prompt, completion_tokens: charged.completion };
}

export const openAiErrorBody = (status: number, message: string): object => errorBody('openai', status, message);

/**
 * POST /v1/chat/completions as a translated exchange. Ollama is always asked to stream; a
 * non-streaming client gets the aggregate as one `chat.completion` once Ollama is done.
 */
export function chatExchange(request: ProxyRequest, translated: openai.TranslatedChatRequest, ollamaModel: string): TranslatedExchange {
  const id = openai.newChatCompletionId();
  const created = Math.floor(Date.now() / 1000);
  const model = translated.requestedModel;
  const base = { path: '/api/chat' as const, body: { ...translated.request, stream: true }, model: ollamaModel, errorBody: openAiErrorBody };

  if (translated.stream) {
    const translator = new openai.OpenAiStreamTranslator({ id, created, model, includeUsage: translated.includeUsage });
    return {
      ...base,
      sse: {
        chunk: (chunk) => translator.push(chunk),
        end: (meter) => translator.end(chargedUsage(request, meter)),
        error: (message) => translator.error(message),
      },
    };
  }

  const aggregator = new openai.OllamaAggregator();
  return {
    ...base,
    json: {
      chunk: (chunk) => aggregator.push(chunk),
      end: (meter) => openai.toChatCompletion(aggregator.result(), { id, created, model, usage: chargedUsage(request, meter) }),
    },
  };
}

/** POST /v1/embeddings as a translated exchange to Ollama's /api/embed (one JSON answer). */
export function embeddingsExchange(request: ProxyRequest, translated: openai.TranslatedEmbeddingsRequest, ollamaModel: string): TranslatedExchange {
  let answer: openai.OllamaEmbedResponse | undefined;
  return {
    path: '/api/embed',
    body: translated.request,
    model: ollamaModel,
    errorBody: openAiErrorBody,
    json: {
      chunk: (chunk) => {
        answer = chunk as unknown as openai.OllamaEmbedResponse;
      },
      end: (meter) => {
        const embed: openai.OllamaEmbedResponse = {
          embeddings: answer?.embeddings ?? [],
          prompt_eval_count: chargedTokens(request, meter).prompt,
        };
        return openai.toEmbeddingsResponse(embed, translated.requestedModel, translated.encodingFormat);
      },
    },
  };
}

/** The client's `model`, read before translation because translation needs the resolved Ollama model. */
export function requestedModel(body: Record<string, unknown>): string {
  const model = body.model;
  if (model === undefined || model === null || model === '') throw new DialectError(400, 'You must provide a model parameter.', 'model');
  if (typeof model !== 'string') throw new DialectError(400, "Invalid type for 'model': expected a string.", 'model');
  return model;
}

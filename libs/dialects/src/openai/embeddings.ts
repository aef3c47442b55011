import { invalid, optionalInteger, optionalString, requireBody, requireModel } from './fields.js';
import type { EncodingFormat, OpenAiEmbeddingList } from './types.js';

/** Ollama's /api/embed request (api/types.go EmbedRequest), as far as the translator fills it. */
export interface OllamaEmbedRequest {
  model: string;
  input: string | string[];
  dimensions?: number;
}

/** Ollama's /api/embed answer. */
export interface OllamaEmbedResponse {
  model?: string;
  embeddings: number[][];
  prompt_eval_count?: number;
}

export interface TranslatedEmbeddingsRequest {
  request: OllamaEmbedRequest;
  encodingFormat: EncodingFormat;
  requestedModel: string;
}

/**
 * POST /v1/embeddings to Ollama /api/embed. `input` is text or a list of texts; token arrays
 * (number[] / number[][]) are refused because Ollama embeds text only.
 */
export function translateEmbeddingsRequest(body: unknown, ctx: { model: string }): TranslatedEmbeddingsRequest {
  const input = requireBody(body);
  const requestedModel = requireModel(input);

  const text = input.input;
  if (text === undefined || text === null) throw invalid('input', "Missing required parameter: 'input'.");
  if (Array.isArray(text)) {
    if (text.length === 0) throw invalid('input', "Invalid 'input': empty array. Expected at least one string.");
    if (!text.every((item): item is string => typeof item === 'string')) {
      const tokens = text.every((item) => typeof item === 'number' || Array.isArray(item));
      throw invalid(
        'input',
        tokens
          ? "Invalid 'input': token arrays are not supported, send the text as a string or an array of strings."
          : "Invalid 'input': expected a string or an array of strings.",
      );
    }
  } else if (typeof text !== 'string') {
    throw invalid('input', "Invalid type for 'input': expected a string or an array of strings.");
  }

  const request: OllamaEmbedRequest = { model: ctx.model, input: text };
  const dimensions = optionalInteger(input, 'dimensions', 'dimensions', 1);
  if (dimensions !== undefined) request.dimensions = dimensions;

  const format = optionalString(input, 'encoding_format')?.toLowerCase() ?? 'float';
  if (format !== 'float' && format !== 'base64') {
    throw invalid('encoding_format', "Invalid value for 'encoding_format': supported values are 'float' and 'base64'.");
  }
  return { request, encodingFormat: format, requestedModel };
}

/**
 * Ollama's embeddings in OpenAI's list shape. `base64` is the vector as little-endian float32
 * bytes, as OpenAI sends it (and as the openai SDK requests by default, then decodes).
 */
export function toEmbeddingsResponse(
  embed: OllamaEmbedResponse,
  requestedModel: string,
  encodingFormat: EncodingFormat = 'float',
): OpenAiEmbeddingList {
  const promptTokens = embed.prompt_eval_count ?? 0;
  return {
    object: 'list',
    data: (embed.embeddings ?? []).map((vector, index) => ({
      object: 'embedding',
      index,
      embedding: encodingFormat === 'base64' ? float32Base64(vector) : vector,
    })),
    model: requestedModel,
    usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
  };
}

export function float32Base64(vector: number[]): string {
  const bytes = Buffer.allocUnsafe(vector.length * 4);
  vector.forEach((value, i) => bytes.writeFloatLE(value, i * 4));
  return bytes.toString('base64');
}

/**
 * The OpenAI response shapes the translators produce (openai-node src/resources/chat/completions,
 * models, embeddings). Only what llmproxy sends is typed; `reasoning` is not OpenAI's but the name
 * Ollama's own /v1 layer gives the thinking text, so clients written against Ollama find it there.
 */

export type FinishReason = 'stop' | 'length' | 'tool_calls';

export interface OpenAiUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export interface OpenAiToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  system_fingerprint: string;
  choices: Array<{
    index: 0;
    message: {
      role: 'assistant';
      content: string | null;
      refusal: null;
      tool_calls?: OpenAiToolCall[];
      reasoning?: string;
    };
    finish_reason: FinishReason;
    logprobs: null;
  }>;
  usage: OpenAiUsage;
}

export interface ChatCompletionDelta {
  role?: 'assistant';
  content?: string;
  reasoning?: string;
  tool_calls?: Array<OpenAiToolCall & { index: number }>;
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  system_fingerprint: string;
  choices: Array<{ index: 0; delta: ChatCompletionDelta; finish_reason: FinishReason | null; logprobs: null }>;
  /** Present only when the client asked for `stream_options.include_usage`: null but on the last chunk. */
  usage?: OpenAiUsage | null;
}

export interface OpenAiModel {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
}

export interface OpenAiModelList {
  object: 'list';
  data: OpenAiModel[];
}

export type EncodingFormat = 'float' | 'base64';

export interface OpenAiEmbeddingList {
  object: 'list';
  data: Array<{ object: 'embedding'; index: number; embedding: number[] | string }>;
  model: string;
  usage: { prompt_tokens: number; total_tokens: number };
}

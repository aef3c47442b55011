import type { OllamaChunk } from '@llmproxy/ollama';

/**
 * Ollama /api/chat NDJSON streams as Ollama sends them (one object per line), for the translator
 * specs. Durations are nanoseconds; counts appear only on the final chunk.
 */

const at = (ms: number) => `2026-03-01T10:00:00.${String(ms).padStart(3, '0')}Z`;
const model = 'qwen3:8b';

function final(doneReason: string, promptEvalCount: number | undefined, evalCount: number, ms = 900): OllamaChunk {
  const chunk: OllamaChunk = {
    model,
    created_at: at(ms),
    message: { role: 'assistant', content: '' },
    done: true,
    done_reason: doneReason,
    total_duration: 912_345_678,
    eval_count: evalCount,
  };
  if (promptEvalCount !== undefined) chunk.prompt_eval_count = promptEvalCount;
  return chunk;
}

const text = (content: string, ms: number): OllamaChunk => ({
  model,
  created_at: at(ms),
  message: { role: 'assistant', content },
  done: false,
});

const thought = (thinking: string, ms: number): OllamaChunk => ({
  model,
  created_at: at(ms),
  message: { role: 'assistant', content: '', thinking },
  done: false,
});

export const textStream: OllamaChunk[] = [text('Hello', 100), text(' there', 120), text('!', 140), final('stop', 26, 4)];

export const toolCallStream: OllamaChunk[] = [
  {
    model,
    created_at: at(300),
    message: {
      role: 'assistant',
      content: '',
      tool_calls: [{ id: 'call_k3x9a0qz', function: { index: 0, name: 'get_weather', arguments: { city: 'Tokyo' } } }],
    },
    done: false,
  },
  final('stop', 152, 21),
];

/** Two calls in two chunks, the way a model parser that does not number its calls sends them (both index 0). */
export const parallelToolCallStream: OllamaChunk[] = [
  text('Checking both.', 100),
  {
    model,
    created_at: at(300),
    message: {
      role: 'assistant',
      content: '',
      tool_calls: [{ id: 'call_a1b2c3d4', function: { index: 0, name: 'get_weather', arguments: { city: 'Tokyo' } } }],
    },
    done: false,
  },
  {
    model,
    created_at: at(320),
    message: {
      role: 'assistant',
      content: '',
      tool_calls: [{ id: 'call_e5f6g7h8', function: { index: 0, name: 'get_time', arguments: { city: 'Paris', format: '24h' } } }],
    },
    done: false,
  },
  final('stop', 180, 44),
];

export const thinkingStream: OllamaChunk[] = [
  thought('The user', 100),
  thought(' greets me.', 120),
  // The chunk where thinking ends and the answer starts carries both.
  { model, created_at: at(140), message: { role: 'assistant', content: 'Hi', thinking: '' }, done: false },
  text('!', 160),
  final('stop', 12, 9),
];

export const lengthStream: OllamaChunk[] = [text('Once upon', 100), text(' a time', 120), final('length', 8, 3)];

export const errorStream: OllamaChunk[] = [text('Partial', 100), { error: 'model runner has unexpectedly stopped' }];

/** Multibyte text whose characters straddle Ollama's token boundaries only as whole code points. */
export const multibyteStream: OllamaChunk[] = [text('Grüß', 100), text(' 日本', 120), text('語 🦙', 140), text('✓', 160), final('stop', 5, 6)];

/** The prompt came from Ollama's cache: prompt_eval_count is left out of the final chunk. */
export const cachedPromptStream: OllamaChunk[] = [text('Again', 100), final('stop', undefined, 1)];

/** A `stream: false` answer: one object with everything. */
export const nonStreamedToolAnswer: OllamaChunk = {
  model,
  created_at: at(900),
  message: {
    role: 'assistant',
    content: '',
    thinking: 'I should look up the weather.',
    tool_calls: [{ id: 'call_k3x9a0qz', function: { index: 0, name: 'get_weather', arguments: { city: 'Tokyo' } } }],
  },
  done: true,
  done_reason: 'stop',
  total_duration: 1_234_567_890,
  prompt_eval_count: 152,
  eval_count: 21,
};

/** The stream as NDJSON bytes, exactly as it crosses the wire from Ollama. */
export function toNdjson(chunks: OllamaChunk[]): string {
  return chunks.map((chunk) => `${JSON.stringify(chunk)}\n`).join('');
}

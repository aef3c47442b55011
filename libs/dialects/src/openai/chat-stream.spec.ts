import type { OllamaChunk } from '@llmproxy/ollama';
import { OpenAiStreamTranslator } from './chat-stream.js';
import {
  cachedPromptStream,
  errorStream,
  lengthStream,
  multibyteStream,
  parallelToolCallStream,
  textStream,
  thinkingStream,
  toNdjson,
  toolCallStream,
} from './testing/ollama-recordings.js';

const meta = { id: 'chatcmpl-test', created: 1_772_359_200, model: 'gpt-4o' };
const envelope = { id: 'chatcmpl-test', object: 'chat.completion.chunk', created: 1_772_359_200, model: 'gpt-4o', system_fingerprint: 'fp_ollama' };

/** Plays a recorded stream through a translator, decoding the NDJSON line by line as the proxy would. */
function play(chunks: OllamaChunk[], includeUsage = false, usage?: { prompt_tokens: number; completion_tokens: number }) {
  const translator = new OpenAiStreamTranslator({ ...meta, includeUsage });
  const writes: string[] = [];
  for (const line of toNdjson(chunks).split('\n').filter(Boolean)) {
    writes.push(translator.push(JSON.parse(line) as OllamaChunk));
  }
  writes.push(translator.end(usage));
  return { translator, writes, sse: writes.join('') };
}

/** Splits SSE text into frames, checking the framing on the way. */
function frames(sse: string): unknown[] {
  expect(sse.endsWith('\n\n')).toBe(true);
  return sse
    .slice(0, -2)
    .split('\n\n')
    .map((frame) => {
      expect(frame.startsWith('data: ')).toBe(true);
      expect(frame).not.toContain('\n');
      const data = frame.slice('data: '.length);
      return data === '[DONE]' ? '[DONE]' : JSON.parse(data);
    });
}

const chunk = (delta: object, finishReason: string | null = null) => ({
  ...envelope,
  choices: [{ index: 0, delta, finish_reason: finishReason, logprobs: null }],
});

describe('OpenAiStreamTranslator', () => {
  it('streams text: role first, one delta per Ollama chunk, finish chunk, [DONE]', () => {
    const { writes, sse, translator } = play(textStream);
    expect(frames(sse)).toEqual([
      chunk({ role: 'assistant', content: '' }),
      chunk({ content: 'Hello' }),
      chunk({ content: ' there' }),
      chunk({ content: '!' }),
      chunk({}, 'stop'),
      '[DONE]',
    ]);
    // Each Ollama chunk is answered at once; the final (empty) one writes nothing.
    expect(writes.map((w) => (w === '' ? 0 : frames(w).length))).toEqual([2, 1, 1, 0, 2]);
    expect(translator).toMatchObject({ doneReason: 'stop', toolCallCount: 0, finishReason: 'stop', promptEvalCount: 26, evalCount: 4, content: 'Hello there!' });
    expect(translator.closed).toBe(true);
  });

  it('sends a tool call whole in one delta and finishes with tool_calls', () => {
    const { sse, translator } = play(toolCallStream);
    expect(frames(sse)).toEqual([
      chunk({ role: 'assistant', content: '' }),
      chunk({
        tool_calls: [{ index: 0, id: 'call_k3x9a0qz', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Tokyo"}' } }],
      }),
      chunk({}, 'tool_calls'),
      '[DONE]',
    ]);
    expect(translator.doneReason).toBe('stop');
    expect(translator.finishReason).toBe('tool_calls');
  });

  it('numbers parallel tool calls itself, even when Ollama gives both index 0', () => {
    const all = frames(play(parallelToolCallStream).sse);
    expect(all).toEqual([
      chunk({ role: 'assistant', content: '' }),
      chunk({ content: 'Checking both.' }),
      chunk({ tool_calls: [{ index: 0, id: 'call_a1b2c3d4', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Tokyo"}' } }] }),
      chunk({ tool_calls: [{ index: 1, id: 'call_e5f6g7h8', type: 'function', function: { name: 'get_time', arguments: '{"city":"Paris","format":"24h"}' } }] }),
      chunk({}, 'tool_calls'),
      '[DONE]',
    ]);
  });

  it('fills in a missing tool call id and keeps several calls of one chunk in one delta', () => {
    const translator = new OpenAiStreamTranslator({ ...meta, includeUsage: false });
    const out = translator.push({
      message: {
        role: 'assistant',
        content: '',
        tool_calls: [
          { function: { name: 'a', arguments: {} } },
          { function: { name: 'b', arguments: { x: [1, 2] } } },
        ],
      },
      done: false,
    });
    const [, calls] = frames(out) as Array<{ choices: Array<{ delta: { tool_calls: Array<{ index: number; id: string; function: object }> } }> }>;
    const deltas = calls!.choices[0]!.delta.tool_calls;
    expect(deltas.map((call) => call.index)).toEqual([0, 1]);
    expect(deltas[0]!.id).toMatch(/^call_[a-z0-9]{8}$/);
    expect(deltas[1]!.function).toEqual({ name: 'b', arguments: '{"x":[1,2]}' });
  });

  it('streams thinking as reasoning deltas before the content', () => {
    const { sse, translator } = play(thinkingStream);
    expect(frames(sse)).toEqual([
      chunk({ role: 'assistant', content: '' }),
      chunk({ reasoning: 'The user' }),
      chunk({ reasoning: ' greets me.' }),
      chunk({ content: 'Hi' }),
      chunk({ content: '!' }),
      chunk({}, 'stop'),
      '[DONE]',
    ]);
    expect(translator.reasoning).toBe('The user greets me.');
  });

  it('splits a chunk carrying both thinking and content into two deltas', () => {
    const translator = new OpenAiStreamTranslator({ ...meta, includeUsage: false });
    translator.push({ message: { role: 'assistant', content: '' }, done: false });
    expect(frames(translator.push({ message: { role: 'assistant', thinking: 'so', content: 'Yes' }, done: false }))).toEqual([
      chunk({ reasoning: 'so' }),
      chunk({ content: 'Yes' }),
    ]);
  });

  it("finishes with 'length' when Ollama ran out of tokens", () => {
    const all = frames(play(lengthStream).sse);
    expect(all.at(-2)).toEqual(chunk({}, 'length'));
  });

  it('prefers tool_calls over length when a call was sent', () => {
    const translator = new OpenAiStreamTranslator({ ...meta, includeUsage: false });
    translator.push(toolCallStream[0]!);
    translator.push({ done: true, done_reason: 'length', eval_count: 3 });
    expect(translator.finishReason).toBe('tool_calls');
  });

  it('ends with a usage chunk and usage: null on every other chunk when include_usage is set', () => {
    const all = frames(play(textStream, true).sse) as Array<Record<string, unknown>>;
    expect(all.slice(0, 5).every((c) => c.usage === null)).toBe(true);
    expect(all[4]).toEqual({ ...chunk({}, 'stop'), usage: null });
    expect(all[5]).toEqual({ ...envelope, choices: [], usage: { prompt_tokens: 26, completion_tokens: 4, total_tokens: 30 } });
    expect(all[6]).toBe('[DONE]');
  });

  it('omits usage entirely without include_usage', () => {
    const all = frames(play(textStream).sse) as Array<Record<string, unknown>>;
    expect(all.slice(0, -1).some((c) => 'usage' in c)).toBe(false);
  });

  it('reports the usage it is given, else 0 for a count Ollama left out', () => {
    const given = frames(play(textStream, true, { prompt_tokens: 100, completion_tokens: 7 }).sse) as Array<Record<string, unknown>>;
    expect(given.at(-2)).toMatchObject({ usage: { prompt_tokens: 100, completion_tokens: 7, total_tokens: 107 } });
    const { sse, translator } = play(cachedPromptStream, true);
    expect(translator.promptEvalCount).toBeUndefined();
    expect(frames(sse).at(-2)).toMatchObject({ usage: { prompt_tokens: 0, completion_tokens: 1, total_tokens: 1 } });
  });

  it('turns a mid-stream Ollama error into one error frame and stops', () => {
    const translator = new OpenAiStreamTranslator({ ...meta, includeUsage: true });
    const first = translator.push(errorStream[0]!);
    const failed = translator.push(errorStream[1]!);
    expect(frames(first)).toHaveLength(2);
    expect(frames(failed)).toEqual([
      { error: { message: 'model runner has unexpectedly stopped', type: 'api_error', param: null, code: null } },
    ]);
    expect(translator.closed).toBe(true);
    expect(translator.push(textStream[0]!)).toBe('');
    expect(translator.end()).toBe('');
    expect(translator.error('again')).toBe('');
  });

  it('reports a failure the caller detects (upstream gone) the same way', () => {
    const translator = new OpenAiStreamTranslator({ ...meta, includeUsage: false });
    translator.push(textStream[0]!);
    expect(translator.error('upstream closed the connection')).toBe(
      'data: {"error":{"message":"upstream closed the connection","type":"api_error","param":null,"code":null}}\n\n',
    );
    expect(translator.end()).toBe('');
  });

  it('passes multibyte text through whole', () => {
    const { sse } = play(multibyteStream);
    const text = (frames(sse) as Array<{ choices?: Array<{ delta: { content?: string } }> }>)
      .map((c) => c.choices?.[0]?.delta.content ?? '')
      .join('');
    expect(text).toBe('Grüß 日本語 🦙✓');
  });

  it('still opens with the role when the stream ends before any chunk', () => {
    const translator = new OpenAiStreamTranslator({ ...meta, includeUsage: false });
    expect(frames(translator.end())).toEqual([chunk({ role: 'assistant', content: '' }), chunk({}, 'stop'), '[DONE]']);
    expect(translator.end()).toBe('');
  });

  it('keeps content that JSON must escape on one SSE line', () => {
    const translator = new OpenAiStreamTranslator({ ...meta, includeUsage: false });
    const out = translator.push({ message: { role: 'assistant', content: 'a\n\nb\r\n"c"\u2028' }, done: false });
    expect(frames(out)[1]).toEqual(chunk({ content: 'a\n\nb\r\n"c"\u2028' }));
  });
});

describe('OpenAiStreamTranslator frames are the bytes JSON.stringify gives the whole chunk', () => {
  // Frames are concatenated around an envelope serialised once; a client comparing bytes (or a cache)
  // must see exactly what serialising each chunk object would give.
  const streams = { textStream, thinkingStream, toolCallStream, parallelToolCallStream, lengthStream, multibyteStream };
  for (const [name, stream] of Object.entries(streams)) {
    for (const includeUsage of [false, true]) {
      it(`${name}, include_usage ${includeUsage}`, () => {
        const odd = { id: 'chatcmpl-"q"\u2028', created: 7, model: 'we\\ird "model" é' };
        const translator = new OpenAiStreamTranslator({ ...odd, includeUsage });
        const lines = toNdjson(stream).split('\n').filter(Boolean);
        const sse = lines.map((line) => translator.push(JSON.parse(line) as OllamaChunk)).join('') + translator.end({ prompt_tokens: 3, completion_tokens: 4 });
        const written = sse.slice(0, -2).split('\n\n');
        expect(written.at(-1)).toBe('data: [DONE]');
        for (const frame of written.slice(0, -1)) {
          const parsed = JSON.parse(frame.slice('data: '.length)) as Record<string, unknown>;
          expect(frame).toBe(`data: ${JSON.stringify(parsed)}`);
          expect(Object.keys(parsed)).toEqual(['id', 'object', 'created', 'model', 'system_fingerprint', 'choices', ...(includeUsage ? ['usage'] : [])]);
          expect(parsed).toMatchObject({ id: odd.id, object: 'chat.completion.chunk', created: 7, model: odd.model, system_fingerprint: 'fp_ollama' });
        }
      });
    }
  }
});

import type { OllamaChunk } from '@llmproxy/ollama';
import {
  emptyStream,
  lengthCappedStream,
  midStreamErrorStream,
  multibyteStream,
  textStream,
  textThenToolCallStream,
  thinkingThenTextStream,
  thinkingThenTwoToolCallsStream,
} from './fixtures/ollama-streams.js';
import { parseSse, type SseFrame } from './fixtures/sse.js';
import { AnthropicStreamTranslator, sseEvent } from './stream.js';

const options = { id: 'msg_stream', requestedModel: 'claude-sonnet-4-6', inputTokensEstimate: 20 };

/** Runs a recorded stream through a fresh translator the way the controller will: start, push…, end. */
function translate(chunks: OllamaChunk[], usage?: { input_tokens: number; output_tokens: number }) {
  const translator = new AnthropicStreamTranslator(options);
  let sse = translator.start();
  for (const chunk of chunks) sse += translator.push(chunk);
  sse += translator.end(usage);
  return { translator, sse, frames: parseSse(sse) };
}

/** The ordering rules the SDK's MessageStream and Claude Code rely on. */
function expectWellFormed(frames: SseFrame[]): void {
  expect(frames[0]!.event).toBe('message_start');
  expect(frames.at(-2)!.event).toBe('message_delta');
  expect(frames.at(-1)!.event).toBe('message_stop');
  let open: number | null = null;
  let next = 0;
  let toolUse = false;
  for (const { event, data } of frames) {
    expect(event).toBe(data.type);
    if (event === 'content_block_start') {
      expect(open).toBeNull();
      expect(data.index).toBe(next);
      open = next++;
      if (data.content_block.type === 'tool_use') toolUse = true;
    } else if (event === 'content_block_delta') {
      expect(data.index).toBe(open);
    } else if (event === 'content_block_stop') {
      expect(data.index).toBe(open);
      open = null;
    }
  }
  expect(open).toBeNull();
  expect(next).toBeGreaterThan(0);
  expect(frames.at(-2)!.data.delta.stop_reason === 'tool_use').toBe(toolUse);
}

const start = (index: number, content_block: object) => ({ event: 'content_block_start', data: { type: 'content_block_start', index, content_block } });
const delta = (index: number, d: object) => ({ event: 'content_block_delta', data: { type: 'content_block_delta', index, delta: d } });
const stop = (index: number) => ({ event: 'content_block_stop', data: { type: 'content_block_stop', index } });
const messageDelta = (stop_reason: string, input_tokens: number, output_tokens: number) => ({
  event: 'message_delta',
  data: { type: 'message_delta', delta: { stop_reason, stop_sequence: null }, usage: { input_tokens, output_tokens } },
});
const messageStop = { event: 'message_stop', data: { type: 'message_stop' } };
const messageStart = {
  event: 'message_start',
  data: {
    type: 'message_start',
    message: {
      id: 'msg_stream',
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-6',
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: 20, output_tokens: 0 },
    },
  },
};

describe('sseEvent', () => {
  it('writes an event line, one JSON data line and a blank line', () => {
    expect(sseEvent('ping', { type: 'ping' })).toBe('event: ping\ndata: {"type":"ping"}\n\n');
  });
});

describe('AnthropicStreamTranslator', () => {
  it('starts with message_start carrying the estimate, before any chunk', () => {
    const translator = new AnthropicStreamTranslator(options);
    expect(parseSse(translator.start())).toEqual([messageStart]);
    expect(translator.start()).toBe('');
  });

  it('streams text', () => {
    const { frames, translator } = translate(textStream);
    expect(frames).toEqual([
      messageStart,
      start(0, { type: 'text', text: '' }),
      delta(0, { type: 'text_delta', text: 'The' }),
      delta(0, { type: 'text_delta', text: ' capital' }),
      delta(0, { type: 'text_delta', text: ' of France is' }),
      delta(0, { type: 'text_delta', text: ' Paris.' }),
      stop(0),
      messageDelta('end_turn', 26, 7),
      messageStop,
    ]);
    expect(translator.stopReason).toBe('end_turn');
    expect(translator.blockCount).toBe(1);
    expect(translator.sawToolUse).toBe(false);
    expect(translator.ended).toBe(true);
  });

  it('closes the thinking block before text starts', () => {
    const { frames } = translate(thinkingThenTextStream);
    expect(frames).toEqual([
      messageStart,
      start(0, { type: 'thinking', thinking: '', signature: '' }),
      delta(0, { type: 'thinking_delta', thinking: 'The user' }),
      delta(0, { type: 'thinking_delta', thinking: ' asks for 2+2.' }),
      stop(0),
      start(1, { type: 'text', text: '' }),
      delta(1, { type: 'text_delta', text: '2 + 2' }),
      delta(1, { type: 'text_delta', text: ' = 4' }),
      stop(1),
      messageDelta('end_turn', 31, 15),
      messageStop,
    ]);
  });

  it('sends a tool call as one complete tool_use block and stops with tool_use', () => {
    const { frames, translator } = translate(textThenToolCallStream);
    expect(frames).toEqual([
      messageStart,
      start(0, { type: 'text', text: '' }),
      delta(0, { type: 'text_delta', text: 'Let me check' }),
      delta(0, { type: 'text_delta', text: ' the weather.' }),
      stop(0),
      start(1, { type: 'tool_use', id: 'call_k3x9a0qz', name: 'get_weather', input: {} }),
      delta(1, { type: 'input_json_delta', partial_json: '{"city":"Tokyo"}' }),
      stop(1),
      messageDelta('tool_use', 112, 24),
      messageStop,
    ]);
    expect(translator.sawToolUse).toBe(true);
    expect(translator.blockCount).toBe(2);
  });

  it('closes thinking before tool calls; two calls make two blocks; missing prompt count falls back to the estimate', () => {
    const { frames, translator } = translate(thinkingThenTwoToolCallsStream);
    expect(frames).toEqual([
      messageStart,
      start(0, { type: 'thinking', thinking: '', signature: '' }),
      delta(0, { type: 'thinking_delta', thinking: 'I need both cities.' }),
      stop(0),
      start(1, { type: 'tool_use', id: 'call_k3x9a0qz', name: 'get_weather', input: {} }),
      delta(1, { type: 'input_json_delta', partial_json: '{"city":"Tokyo"}' }),
      stop(1),
      start(2, { type: 'tool_use', id: 'call_p0q1r2s3', name: 'get_weather', input: {} }),
      delta(2, { type: 'input_json_delta', partial_json: '{"city":"Osaka","unit":"c"}' }),
      stop(2),
      messageDelta('tool_use', 20, 40),
      messageStop,
    ]);
    expect(translator.ollamaUsage).toEqual({ promptEvalCount: undefined, evalCount: 40 });
  });

  it('maps a length cap to max_tokens', () => {
    const { frames } = translate(lengthCappedStream);
    expect(frames.at(-2)).toEqual(messageDelta('max_tokens', 12, 4));
    expect(frames.filter((frame) => frame.event === 'content_block_delta')).toHaveLength(3);
  });

  it('answers an empty generation with one empty text block', () => {
    const { frames, translator } = translate(emptyStream);
    expect(frames).toEqual([messageStart, start(0, { type: 'text', text: '' }), stop(0), messageDelta('end_turn', 9, 1), messageStop]);
    expect(translator.blockCount).toBe(1);
  });

  it('uses the usage the caller settles on', () => {
    const { frames } = translate(textStream, { input_tokens: 500, output_tokens: 8 });
    expect(frames.at(-2)).toEqual(messageDelta('end_turn', 500, 8));
  });

  it('keeps multibyte text intact', () => {
    const { frames } = translate(multibyteStream);
    const text = frames
      .filter((frame) => frame.event === 'content_block_delta')
      .map((frame) => frame.data.delta.text)
      .join('');
    expect(text).toBe('Café 日本語 🙂 done');
  });

  it('turns an Ollama error chunk into an error event and ends', () => {
    const translator = new AnthropicStreamTranslator(options);
    let sse = translator.start();
    for (const chunk of midStreamErrorStream) sse += translator.push(chunk);
    expect(translator.ended).toBe(true);
    expect(translator.end()).toBe('');
    expect(translator.ping()).toBe('');
    expect(parseSse(sse)).toEqual([
      messageStart,
      start(0, { type: 'text', text: '' }),
      delta(0, { type: 'text_delta', text: 'Partial' }),
      { event: 'error', data: { type: 'error', error: { type: 'api_error', message: 'model runner has unexpectedly stopped' } } },
    ]);
  });

  it('writes an error event for a failure the caller detects', () => {
    const translator = new AnthropicStreamTranslator(options);
    translator.start();
    expect(parseSse(translator.error('overloaded_error', 'Ollama is busy'))).toEqual([
      { event: 'error', data: { type: 'error', error: { type: 'overloaded_error', message: 'Ollama is busy' } } },
    ]);
    expect(translator.push(textStream[0]!)).toBe('');
  });

  it('pings while waiting', () => {
    const translator = new AnthropicStreamTranslator(options);
    const sse = translator.start() + translator.ping() + translator.ping() + translator.push(textStream[0]!);
    expect(parseSse(sse).map((frame) => frame.event)).toEqual(['message_start', 'ping', 'ping', 'content_block_start', 'content_block_delta']);
  });

  it('sends message_start itself if the caller pushes first', () => {
    const translator = new AnthropicStreamTranslator(options);
    expect(parseSse(translator.push(textStream[0]!))[0]).toEqual(messageStart);
  });

  it('sends a call repeated under the same id once', () => {
    const { frames, translator } = translate([textThenToolCallStream[2]!, textThenToolCallStream[2]!, textThenToolCallStream[3]!]);
    expect(frames.filter((frame) => frame.event === 'content_block_start')).toHaveLength(1);
    expect(translator.blockCount).toBe(1);
  });

  it('ignores further calls after end', () => {
    const { translator } = translate(textStream);
    expect(translator.end()).toBe('');
    expect(translator.push(textStream[0]!)).toBe('');
    expect(translator.error('api_error', 'late')).toBe('');
  });

  it.each([
    ['text', textStream],
    ['thinking then text', thinkingThenTextStream],
    ['text then tool call', textThenToolCallStream],
    ['thinking then two tool calls', thinkingThenTwoToolCallsStream],
    ['length', lengthCappedStream],
    ['empty', emptyStream],
    ['multibyte', multibyteStream],
    ['text after a tool call', [...textThenToolCallStream.slice(0, 3), { message: { content: 'Done.' } }, ...textThenToolCallStream.slice(3)]],
  ])('keeps the SDK ordering rules for the %s stream', (_name, chunks) => {
    expectWellFormed(translate(chunks as OllamaChunk[]).frames);
  });
});

describe('AnthropicStreamTranslator deltas are the bytes sseEvent gives', () => {
  // Text and thinking deltas are written by concatenation, one per Ollama chunk: same bytes, same key order.
  for (const [name, stream] of Object.entries({ textStream, thinkingThenTextStream, multibyteStream, textThenToolCallStream })) {
    it(name, () => {
      const { sse } = translate(stream);
      const frames = sse.slice(0, -2).split('\n\n');
      const deltas = frames.filter((frame) => frame.startsWith('event: content_block_delta\n'));
      expect(deltas.length).toBeGreaterThan(0);
      for (const frame of frames) {
        const [eventLine, dataLine] = frame.split('\n');
        const data = JSON.parse(dataLine!.slice('data: '.length)) as Record<string, unknown>;
        expect(frame).toBe(sseEvent(eventLine!.slice('event: '.length), data).slice(0, -2));
      }
      for (const frame of deltas) {
        const data = JSON.parse(frame.split('\n')[1]!.slice('data: '.length)) as { delta: Record<string, unknown> };
        expect(Object.keys(data)).toEqual(['type', 'index', 'delta']);
        if (data.delta.type !== 'input_json_delta') expect(Object.keys(data.delta)).toEqual(['type', data.delta.type === 'text_delta' ? 'text' : 'thinking']);
      }
    });
  }
});

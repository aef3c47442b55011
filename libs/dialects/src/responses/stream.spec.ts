import type { OllamaChunk } from '@llmproxy/ollama';
import { errorStream, lengthStream, parallelToolCallStream, textStream, thinkingStream } from '../openai/testing/ollama-recordings.js';
import type { ResponseMeta } from './response.js';
import { translateResponsesRequest } from './request.js';
import { ResponsesStreamTranslator } from './stream.js';

const { echo } = translateResponsesRequest({ model: 'qwen3', input: 'hi', stream: true }, { model: 'qwen3:8b', thinkingCapable: true });
const meta: ResponseMeta = { id: 'resp_1', createdAt: 1_772_359_200, model: 'qwen3', echo, namespaced: {} };
const usage = { inputTokens: 12, outputTokens: 9, reasoningTokens: 4 };

interface Event {
  event: string;
  data: Record<string, unknown> & { type: string; sequence_number: number };
}

function parse(sse: string): Event[] {
  return sse
    .split('\n\n')
    .filter(Boolean)
    .map((frame) => {
      const [eventLine, dataLine] = frame.split('\n');
      return { event: eventLine.slice('event: '.length), data: JSON.parse(dataLine.slice('data: '.length)) as Event['data'] };
    });
}

function play(chunks: OllamaChunk[]): Event[] {
  const translator = new ResponsesStreamTranslator(meta);
  let out = '';
  for (const chunk of chunks) out += translator.push(chunk);
  out += translator.end(usage);
  return parse(out);
}

describe('ResponsesStreamTranslator', () => {
  it('streams text: created, in_progress, message added, part added, deltas, done events, completed', () => {
    const events = play(textStream);
    expect(events.map((e) => e.event)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    // The event line and the type agree; sequence numbers count from 0 without gaps.
    expect(events.every((e) => e.event === e.data.type)).toBe(true);
    expect(events.map((e) => e.data.sequence_number)).toEqual(events.map((_, i) => i));
    expect(events[7].data).toMatchObject({ output_index: 0, content_index: 0, text: 'Hello there!' });
    const completed = events.at(-1)!.data.response as Record<string, unknown>;
    expect(completed).toMatchObject({
      id: 'resp_1',
      status: 'completed',
      output: [{ type: 'message', status: 'completed', content: [{ type: 'output_text', text: 'Hello there!' }] }],
      usage: { input_tokens: 12, output_tokens: 9, total_tokens: 21, output_tokens_details: { reasoning_tokens: 4 } },
    });
    expect((events[0].data.response as Record<string, unknown>).status).toBe('in_progress');
  });

  it('streams thinking as a reasoning item whose summary part is added before its first delta', () => {
    const events = play(thinkingStream);
    expect(events.map((e) => e.event).slice(2, 9)).toEqual([
      'response.output_item.added',
      'response.reasoning_summary_part.added',
      'response.reasoning_summary_text.delta',
      'response.reasoning_summary_text.delta',
      'response.reasoning_summary_text.done',
      'response.reasoning_summary_part.done',
      'response.output_item.done',
    ]);
    expect(events[2].data).toMatchObject({ output_index: 0, item: { type: 'reasoning', summary: [] } });
    expect(events[8].data).toMatchObject({ output_index: 0, item: { type: 'reasoning', summary: [{ type: 'summary_text', text: 'The user greets me.' }] } });
    // The message follows at output index 1.
    expect(events[9].data).toMatchObject({ type: 'response.output_item.added', output_index: 1, item: { type: 'message' } });
    const output = (events.at(-1)!.data.response as { output: { type: string }[] }).output;
    expect(output.map((item) => item.type)).toEqual(['reasoning', 'message']);
  });

  it('streams each tool call as a function_call item with its arguments whole', () => {
    const events = play(parallelToolCallStream);
    const calls = events.filter((e) => e.event === 'response.output_item.done' && (e.data.item as { type: string }).type === 'function_call');
    expect(calls.map((e) => e.data)).toEqual([
      expect.objectContaining({ output_index: 1, item: expect.objectContaining({ call_id: 'call_a1b2c3d4', name: 'get_weather', arguments: '{"city":"Tokyo"}', status: 'completed' }) }),
      expect.objectContaining({ output_index: 2, item: expect.objectContaining({ call_id: 'call_e5f6g7h8', name: 'get_time', arguments: '{"city":"Paris","format":"24h"}' }) }),
    ]);
    const added = events.find((e) => e.event === 'response.output_item.added' && e.data.output_index === 1)!;
    expect(added.data.item).toMatchObject({ type: 'function_call', status: 'in_progress', arguments: '' });
    expect(events.find((e) => e.event === 'response.function_call_arguments.done')!.data).toMatchObject({ output_index: 1, arguments: '{"city":"Tokyo"}' });
  });

  it('ends a capped answer with response.incomplete (reason max_output_tokens)', () => {
    const events = play(lengthStream);
    const last = events.at(-1)!;
    expect(last.event).toBe('response.incomplete');
    expect(last.data.response).toMatchObject({ status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' }, output: [{ status: 'incomplete' }] });
  });

  it('ends an empty answer with one empty message', () => {
    const events = play([{ done: true, done_reason: 'stop', prompt_eval_count: 3, eval_count: 0 }]);
    expect(events.map((e) => e.event)).toContain('response.content_part.added');
    expect((events.at(-1)!.data.response as { output: unknown[] }).output).toHaveLength(1);
  });

  it("answers Ollama's mid-stream error with response.failed, then an error event carrying an error object", () => {
    const translator = new ResponsesStreamTranslator(meta);
    const events = parse(errorStream.map((chunk) => translator.push(chunk)).join('') + translator.end(usage));
    expect(events.slice(-2).map((e) => e.event)).toEqual(['response.failed', 'error']);
    expect(events.at(-2)!.data.response).toMatchObject({ status: 'failed', error: { code: 'server_error', message: 'model runner has unexpectedly stopped' } });
    expect(events.at(-1)!.data).toMatchObject({ code: 'server_error', message: 'model runner has unexpectedly stopped', error: { message: 'model runner has unexpectedly stopped' } });
    expect(translator.ended).toBe(true);
  });

  it('starts before Ollama answers and pings with keepalive events', () => {
    const translator = new ResponsesStreamTranslator(meta);
    expect(translator.ping()).toBe('');
    const start = parse(translator.start() + translator.ping());
    expect(start.map((e) => e.event)).toEqual(['response.created', 'response.in_progress', 'keepalive']);
    expect(translator.start()).toBe('');
    expect(parse(translator.push(textStream[0]))[0].data.sequence_number).toBe(3);
  });
});

describe('ResponsesStreamTranslator deltas are the bytes JSON.stringify gives the event', () => {
  // Text and reasoning deltas are written by concatenation, one per Ollama chunk: same bytes, same key order.
  for (const [name, stream] of Object.entries({ textStream, thinkingStream, lengthStream, parallelToolCallStream })) {
    it(name, () => {
      const translator = new ResponsesStreamTranslator({ ...meta, id: 'resp_"odd"\u2028' });
      let sse = '';
      for (const chunk of stream) sse += translator.push(chunk);
      sse += translator.end(usage);
      const frames = sse.slice(0, -2).split('\n\n');
      let sequence = 0;
      for (const frame of frames) {
        const [eventLine, dataLine] = frame.split('\n');
        const data = JSON.parse(dataLine!.slice('data: '.length)) as Record<string, unknown>;
        expect(frame).toBe(`${eventLine}\ndata: ${JSON.stringify(data)}`);
        expect(data.sequence_number).toBe(sequence++);
        if (data.type === 'response.output_text.delta') expect(Object.keys(data)).toEqual(['type', 'sequence_number', 'item_id', 'output_index', 'content_index', 'delta', 'logprobs']);
        if (data.type === 'response.reasoning_summary_text.delta') expect(Object.keys(data)).toEqual(['type', 'sequence_number', 'item_id', 'output_index', 'summary_index', 'delta']);
      }
      expect(frames.some((frame) => frame.startsWith('event: response.output_text.delta\n'))).toBe(true);
    });
  }
});

import { OllamaAggregator } from '../openai/ollama-aggregator.js';
import { lengthStream, nonStreamedToolAnswer, textStream, thinkingStream, toolCallStream } from '../openai/testing/ollama-recordings.js';
import type { OllamaChunk } from '@llmproxy/ollama';
import { toResponse, toResponsesUsage, type ResponseMeta } from './response.js';
import { translateResponsesRequest } from './request.js';

const translated = translateResponsesRequest(
  { model: 'qwen3', input: 'hi', instructions: 'Be brief.', tools: [{ type: 'namespace', name: 'weather', tools: [{ type: 'function', name: 'get_weather' }] }] },
  { model: 'qwen3:8b', thinkingCapable: true },
);
const meta: ResponseMeta = { id: 'resp_1', createdAt: 1_772_359_200, model: 'qwen3', echo: translated.echo, namespaced: {} };
const usage = { inputTokens: 26, outputTokens: 4, reasoningTokens: 0 };

function aggregate(chunks: OllamaChunk[]) {
  const aggregator = new OllamaAggregator();
  for (const chunk of chunks) aggregator.push(chunk);
  return aggregator.result();
}

describe('toResponse', () => {
  it('answers text as one completed message with usage, echoing the request', () => {
    const response = toResponse(aggregate(textStream), meta, usage);
    expect(response).toMatchObject({
      id: 'resp_1',
      object: 'response',
      created_at: 1_772_359_200,
      status: 'completed',
      incomplete_details: null,
      error: null,
      model: 'qwen3',
      instructions: 'Be brief.',
      store: false,
      previous_response_id: null,
      output: [
        { type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: 'Hello there!', annotations: [] }] },
      ],
      usage: { input_tokens: 26, output_tokens: 4, total_tokens: 30, input_tokens_details: { cached_tokens: 0 }, output_tokens_details: { reasoning_tokens: 0 } },
    });
    expect(response.output[0].id).toMatch(/^msg_[0-9a-f]{48}$/);
    expect(response.completed_at).toEqual(expect.any(Number));
  });

  it('puts the thinking first as a reasoning item with its summary', () => {
    const response = toResponse(aggregate(thinkingStream), meta, { inputTokens: 12, outputTokens: 9, reasoningTokens: 5 });
    expect(response.output.map((item) => item.type)).toEqual(['reasoning', 'message']);
    expect(response.output[0]).toEqual({ id: expect.stringMatching(/^rs_/), type: 'reasoning', summary: [{ type: 'summary_text', text: 'The user greets me.' }] });
    expect(response.usage?.output_tokens_details.reasoning_tokens).toBe(5);
  });

  it('answers a tool call as a function_call item with its call_id, no empty message', () => {
    const response = toResponse(aggregate(toolCallStream), meta, usage);
    expect(response.output).toEqual([
      { id: expect.stringMatching(/^fc_/), type: 'function_call', status: 'completed', call_id: 'call_k3x9a0qz', name: 'get_weather', arguments: '{"city":"Tokyo"}' },
    ]);
    expect(toResponse(aggregate([nonStreamedToolAnswer]), meta, usage).output.some((item) => item.type === 'function_call')).toBe(true);
  });

  it("restores a namespaced function's namespace", () => {
    const named = { ...meta, namespaced: { weather__get_weather: { namespace: 'weather', name: 'get_weather' } } };
    const call: OllamaChunk = { message: { role: 'assistant', content: '', tool_calls: [{ function: { name: 'weather__get_weather', arguments: {} } }] }, done: false };
    const [item] = toResponse(aggregate([call, { done: true, done_reason: 'stop' }]), named, usage).output;
    expect(item).toMatchObject({ type: 'function_call', name: 'get_weather', namespace: 'weather', arguments: '{}', call_id: expect.stringMatching(/^call_/) });
  });

  it('reports the completion limit as incomplete: max_output_tokens', () => {
    const response = toResponse(aggregate(lengthStream), meta, usage);
    expect(response.status).toBe('incomplete');
    expect(response.incomplete_details).toEqual({ reason: 'max_output_tokens' });
    expect(response.output[0]).toMatchObject({ type: 'message', status: 'incomplete' });
  });

  it('keeps one empty message for an empty answer', () => {
    expect(toResponse(aggregate([{ done: true, done_reason: 'stop' }]), meta, usage).output).toEqual([
      expect.objectContaining({ type: 'message', content: [expect.objectContaining({ text: '' })] }),
    ]);
  });

  it('never reports more reasoning tokens than output tokens', () => {
    expect(toResponsesUsage({ inputTokens: 1, outputTokens: 3, reasoningTokens: 7 }).output_tokens_details.reasoning_tokens).toBe(3);
  });
});

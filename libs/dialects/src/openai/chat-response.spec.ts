import type { OllamaChunk } from '@llmproxy/ollama';
import { finishReason, toChatCompletion } from './chat-response.js';
import { OllamaAggregator } from './ollama-aggregator.js';
import {
  cachedPromptStream,
  errorStream,
  lengthStream,
  nonStreamedToolAnswer,
  parallelToolCallStream,
  textStream,
  thinkingStream,
} from './testing/ollama-recordings.js';

const meta = { id: 'chatcmpl-test', created: 1_772_359_200, model: 'gpt-4o' };

function aggregate(chunks: OllamaChunk[]) {
  const aggregator = new OllamaAggregator();
  for (const chunk of chunks) aggregator.push(chunk);
  return aggregator;
}

describe('OllamaAggregator', () => {
  it('collects a streamed answer', () => {
    const aggregator = aggregate(thinkingStream);
    expect(aggregator.done).toBe(true);
    expect(aggregator.result()).toEqual({ content: 'Hi!', thinking: 'The user greets me.', toolCalls: [], doneReason: 'stop', promptEvalCount: 12, evalCount: 9 });
  });

  it('collects tool calls across chunks and a single stream:false object alike', () => {
    expect(aggregate(parallelToolCallStream).result().toolCalls.map((call) => call.function.name)).toEqual(['get_weather', 'get_time']);
    expect(aggregate([nonStreamedToolAnswer]).result()).toMatchObject({ thinking: 'I should look up the weather.', toolCalls: [{ id: 'call_k3x9a0qz' }], evalCount: 21 });
  });

  it('records an upstream error instead of throwing, and leaves absent counts undefined', () => {
    const failed = aggregate(errorStream);
    expect(failed.error).toBe('model runner has unexpectedly stopped');
    expect(failed.done).toBe(false);
    expect(aggregate(cachedPromptStream).result()).not.toHaveProperty('promptEvalCount');
  });
});

describe('finishReason', () => {
  it('derives tool_calls from the calls, length from done_reason, else stop', () => {
    expect(finishReason(true, 'stop')).toBe('tool_calls');
    expect(finishReason(true, 'length')).toBe('tool_calls');
    expect(finishReason(false, 'length')).toBe('length');
    expect(finishReason(false, 'stop')).toBe('stop');
    expect(finishReason(false, 'unload')).toBe('stop');
    expect(finishReason(false, undefined)).toBe('stop');
  });
});

describe('toChatCompletion', () => {
  it('builds a text completion with usage from Ollama counts', () => {
    expect(toChatCompletion(aggregate(textStream).result(), meta)).toEqual({
      id: 'chatcmpl-test',
      object: 'chat.completion',
      created: 1_772_359_200,
      model: 'gpt-4o',
      system_fingerprint: 'fp_ollama',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hello there!', refusal: null }, finish_reason: 'stop', logprobs: null }],
      usage: { prompt_tokens: 26, completion_tokens: 4, total_tokens: 30 },
    });
  });

  it('answers a tool call with null content, JSON-string arguments, reasoning and tool_calls', () => {
    const completion = toChatCompletion(aggregate([nonStreamedToolAnswer]).result(), meta);
    expect(completion.choices[0]).toEqual({
      index: 0,
      message: {
        role: 'assistant',
        content: null,
        refusal: null,
        reasoning: 'I should look up the weather.',
        tool_calls: [{ id: 'call_k3x9a0qz', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Tokyo"}' } }],
      },
      finish_reason: 'tool_calls',
      logprobs: null,
    });
    expect(completion.usage).toEqual({ prompt_tokens: 152, completion_tokens: 21, total_tokens: 173 });
  });

  it('keeps text that came with tool calls', () => {
    const completion = toChatCompletion(aggregate(parallelToolCallStream).result(), meta);
    expect(completion.choices[0]!.message.content).toBe('Checking both.');
    expect(completion.choices[0]!.message.tool_calls).toHaveLength(2);
  });

  it("reports 'length', caller-given usage, and empty content as ''", () => {
    expect(toChatCompletion(aggregate(lengthStream).result(), meta).choices[0]!.finish_reason).toBe('length');
    expect(toChatCompletion(aggregate(cachedPromptStream).result(), { ...meta, usage: { prompt_tokens: 40, completion_tokens: 1 } }).usage).toEqual({
      prompt_tokens: 40,
      completion_tokens: 1,
      total_tokens: 41,
    });
    expect(toChatCompletion(aggregate(cachedPromptStream).result(), meta).usage.prompt_tokens).toBe(0);
    expect(toChatCompletion({ content: '', thinking: '', toolCalls: [] }, meta).choices[0]!.message.content).toBe('');
  });
});

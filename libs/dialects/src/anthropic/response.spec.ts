import {
  emptyStream,
  lengthCappedStream,
  nonStreamedToolAnswer,
  textStream,
  textThenToolCallStream,
  thinkingThenTextStream,
  thinkingThenTwoToolCallsStream,
} from './fixtures/ollama-streams.js';
import type { OllamaChunk } from '@llmproxy/ollama';
import { OllamaAggregator, stopReasonFor, toMessage } from './response.js';

function collect(chunks: OllamaChunk[]): OllamaAggregator {
  const aggregate = new OllamaAggregator();
  for (const chunk of chunks) aggregate.push(chunk);
  return aggregate;
}

const options = { id: 'msg_test', requestedModel: 'claude-sonnet-4-6' };

describe('stopReasonFor', () => {
  it.each([
    ['stop', false, 'end_turn'],
    ['length', false, 'max_tokens'],
    ['stop', true, 'tool_use'],
    ['length', true, 'tool_use'],
    [undefined, false, 'end_turn'],
    ['unload', false, 'end_turn'],
  ] as const)('%s with tool use %s → %s', (reason, tools, expected) => {
    expect(stopReasonFor(reason, tools)).toBe(expected);
  });
});

describe('OllamaAggregator', () => {
  it('collects content, thinking, calls, reason and counts', () => {
    const aggregate = collect(thinkingThenTwoToolCallsStream);
    expect(aggregate.thinking).toBe('I need both cities.');
    expect(aggregate.content).toBe('');
    expect(aggregate.toolCalls.map((call) => call.id)).toEqual(['call_k3x9a0qz', 'call_p0q1r2s3']);
    expect(aggregate.done).toBe(true);
    expect(aggregate.doneReason).toBe('stop');
    expect(aggregate.promptEvalCount).toBeUndefined();
    expect(aggregate.evalCount).toBe(40);
  });

  it('keeps a call repeated under the same id once', () => {
    const aggregate = collect([textThenToolCallStream[2]!, textThenToolCallStream[2]!, textThenToolCallStream[3]!]);
    expect(aggregate.toolCalls).toHaveLength(1);
  });

  it('records a mid-stream error', () => {
    const aggregate = collect([{ message: { content: 'a' } }, { error: 'boom' }]);
    expect(aggregate.error).toBe('boom');
    expect(aggregate.done).toBe(false);
  });
});

describe('toMessage', () => {
  it('builds a text message with Ollama\'s counts and the requested model name', () => {
    expect(toMessage(collect(textStream), options)).toEqual({
      id: 'msg_test',
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-6',
      content: [{ type: 'text', text: 'The capital of France is Paris.' }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: 26, output_tokens: 7 },
    });
  });

  it('puts thinking first, with an empty signature', () => {
    const message = toMessage(collect(thinkingThenTextStream), options);
    expect(message.content).toEqual([
      { type: 'thinking', thinking: 'The user asks for 2+2.', signature: '' },
      { type: 'text', text: '2 + 2 = 4' },
    ]);
    expect(message.stop_reason).toBe('end_turn');
  });

  it('turns tool calls into tool_use blocks and stops with tool_use', () => {
    const message = toMessage(collect(textThenToolCallStream), options);
    expect(message.content).toEqual([
      { type: 'text', text: 'Let me check the weather.' },
      { type: 'tool_use', id: 'call_k3x9a0qz', name: 'get_weather', input: { city: 'Tokyo' } },
    ]);
    expect(message.stop_reason).toBe('tool_use');
  });

  it('reads a single stream:false answer', () => {
    const message = toMessage(collect([nonStreamedToolAnswer]), { ...options, usage: { input_tokens: 1, output_tokens: 2 } });
    expect(message.content).toEqual([
      { type: 'thinking', thinking: 'Weather needs a tool.', signature: '' },
      { type: 'tool_use', id: 'call_k3x9a0qz', name: 'get_weather', input: { city: 'Tokyo' } },
    ]);
    expect(message.stop_reason).toBe('tool_use');
    expect(message.usage).toEqual({ input_tokens: 1, output_tokens: 2 });
  });

  it('maps length to max_tokens', () => {
    const message = toMessage(collect(lengthCappedStream), options);
    expect(message.stop_reason).toBe('max_tokens');
    expect(message.content).toEqual([{ type: 'text', text: 'Once upon a time there' }]);
  });

  it('answers an empty generation with one empty text block', () => {
    const message = toMessage(collect(emptyStream), options);
    expect(message.content).toEqual([{ type: 'text', text: '' }]);
    expect(message.stop_reason).toBe('end_turn');
    expect(message.usage).toEqual({ input_tokens: 9, output_tokens: 1 });
  });

  it('gives every tool_use a valid id', () => {
    const aggregate = collect([
      { message: { content: '', tool_calls: [{ function: { name: 'a', arguments: {} } }, { id: 'fc:1/2', function: { name: 'b', arguments: { x: 1 } } }] }, done: true, done_reason: 'stop' },
    ]);
    const blocks = toMessage(aggregate, options).content;
    expect(blocks).toHaveLength(2);
    for (const block of blocks) {
      expect(block.type).toBe('tool_use');
      if (block.type === 'tool_use') expect(block.id).toMatch(/^[a-zA-Z0-9_-]+$/);
    }
    expect(blocks[0]).toMatchObject({ id: expect.stringMatching(/^toolu_[a-zA-Z0-9]{24}$/), name: 'a' });
    expect(blocks[1]).toMatchObject({ id: 'fc_1_2', name: 'b', input: { x: 1 } });
  });
});

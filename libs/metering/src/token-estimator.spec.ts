import { get_encoding } from 'tiktoken';
import { countTokens, estimatePromptTokens, PromptSize, promptTokenBound } from './token-estimator.js';

describe('countTokens', () => {
  it('counts short texts exactly with cl100k_base', () => {
    expect(countTokens('')).toBe(0);
    expect(countTokens('hello world')).toBe(2);
    expect(countTokens('<|endoftext|>')).toBeGreaterThan(1); // special tokens are plain text here
  });

  it('estimates long texts from samples within a few percent of the exact count', () => {
    const words = ['alpha', 'beta', 'gamma', 'delta', 'function', 'const', 'return', '{', '}', 'Straße', '東京'];
    let text = '';
    for (let i = 0; text.length < 90_000; i++) text += words[(i * 7) % words.length] + (i % 13 === 0 ? '\n' : ' ');
    const estimate = countTokens(text);
    const exact = get_encoding('cl100k_base').encode_ordinary(text).length;
    expect(Math.abs(estimate - exact) / exact).toBeLessThan(0.1);
  });
});

describe('estimatePromptTokens', () => {
  it('counts message text, not model names or options, plus a per-message overhead', () => {
    const body = { model: 'llama3.2-with-a-long-name', options: { num_predict: 5 }, messages: [{ role: 'user', content: 'hello world' }] };
    expect(estimatePromptTokens(body)).toBe(2 + 4);
  });

  it('adds a fixed cost per image instead of counting base64', () => {
    const base64 = 'iVBORw0KGgo'.repeat(1000);
    const ollama = { model: 'm', messages: [{ role: 'user', content: 'hi', images: [base64] }] };
    const openai = { model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${base64}` } }] }] };
    expect(estimatePromptTokens(ollama)).toBe(1 + 512 + 4);
    expect(estimatePromptTokens(openai)).toBe(1 + 512 + 4);
  });

  it('counts system prompts and tool definitions of translated dialects', () => {
    const withTools = estimatePromptTokens({ system: 'you are helpful', messages: [], tools: [{ name: 'get_weather', description: 'look up the weather', input_schema: { type: 'object' } }] });
    expect(withTools).toBeGreaterThan(countTokens('you are helpful'));
  });
});

describe("/api/generate's context", () => {
  it('counts as its length in tokens, in the estimate and in the bound', () => {
    const body = { model: 'm', prompt: 'hi', context: Array.from({ length: 5_000 }, (_, i) => i) };
    const without = { model: 'm', prompt: 'hi' };
    expect(estimatePromptTokens(body) - estimatePromptTokens(without)).toBe(5_000);
    expect(promptTokenBound(body) - promptTokenBound(without)).toBe(5_000);
  });
});

describe('promptTokenBound', () => {
  const bodies: [string, unknown][] = [
    ['empty', {}],
    ['short chat', { model: 'm', messages: [{ role: 'user', content: 'hello world' }] }],
    ['images', { model: 'm', messages: [{ role: 'user', content: 'hi', images: ['iVBORw0KGgo'.repeat(100)] }] }],
    ['CJK and emoji', { messages: [{ role: 'user', content: '東京タワー 🗼🗼🗼 Straße '.repeat(40) }] }],
    ['long mixed, sampled', { system: 'x'.repeat(30_000), messages: [{ role: 'user', content: '東京'.repeat(5_000) }, { role: 'assistant', content: 'ok '.repeat(9_000) }] }],
    ['long dense samples, sparse middle', { system: '🗼'.repeat(3_000) + ' '.repeat(40_000) + '🗼'.repeat(3_000) }],
    ['tools', { system: 'you are helpful', messages: [], tools: [{ name: 'get_weather', description: 'look up the weather', input_schema: { type: 'object' } }] }],
  ];

  it.each(bodies)('is never below the estimate: %s', (_name, body) => {
    expect(promptTokenBound(body)).toBeGreaterThanOrEqual(estimatePromptTokens(body));
  });

  it('is the UTF-8 length of the texts and separators plus the fixed costs', () => {
    expect(promptTokenBound({ model: 'm', messages: [{ role: 'user', content: 'hello' }, { role: 'user', content: 'Straße' }] })).toBe(5 + 1 + 7 + 2 * 4);
  });

  it('PromptSize computes the estimate only when asked, once', () => {
    const body = { messages: [{ role: 'user', content: 'hello world' }] };
    const size = new PromptSize(body);
    expect(size.bound).toBe(promptTokenBound(body));
    expect(size.computed).toBeUndefined();
    expect(size.exact()).toBe(estimatePromptTokens(body));
    expect(size.computed).toBe(estimatePromptTokens(body));
  });
});

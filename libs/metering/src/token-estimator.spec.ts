import { get_encoding } from 'tiktoken';
import { countTokens, estimatePromptTokens } from './token-estimator.js';

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

// Its own file: Jest gives each test file a fresh module registry, so nothing here has counted yet.
import { createRequire } from 'node:module';
import { countTokens, estimatePromptTokens, PromptSize, promptTokenBound, tokenizerLoaded } from './token-estimator.js';

describe('the tokenizer is loaded when a count is first needed', () => {
  const body = { model: 'm', system: 'You are a helpful assistant.', messages: [{ role: 'user', content: 'Write a short story about a quick brown fox and a lazy dog. Straße 東京 ' }] };

  it('is not loaded by importing the estimator or by the cheap bound', () => {
    expect(promptTokenBound(body)).toBeGreaterThan(0);
    new PromptSize(body);
    expect(tokenizerLoaded()).toBe(false);
  });

  it('gives the first estimate after start exactly as an eagerly loaded cl100k_base does', () => {
    const text = ['You are a helpful assistant.', 'Write a short story about a quick brown fox and a lazy dog. Straße 東京 '].join('\n');
    const first = estimatePromptTokens(body); // loads it
    expect(tokenizerLoaded()).toBe(true);
    // The eager way, as the module did before: tiktoken's own import (the same file on Node).
    const { get_encoding } = createRequire(import.meta.url)('tiktoken') as typeof import('tiktoken');
    const eager = get_encoding('cl100k_base');
    expect(first).toBe(eager.encode_ordinary(text).length + 4);
    const long = 'alpha beta gamma function const return { } Straße 東京\n'.repeat(400);
    const middle = Math.floor(long.length / 2 - 1_000);
    const samples = [long.slice(0, 2_000), long.slice(middle, middle + 2_000), long.slice(-2_000)];
    const sampled = samples.reduce((n, s) => n + eager.encode_ordinary(s).length, 0);
    const bytes = samples.reduce((n, s) => n + Buffer.byteLength(s, 'utf8'), 0);
    expect(countTokens(long)).toBe(Math.ceil((sampled / bytes) * Buffer.byteLength(long, 'utf8')));
    eager.free();
  });
});

import { errors } from 'undici';
import { publicUrl, toUpstreamError } from './upstream.js';

describe('publicUrl', () => {
  it.each([
    ['http://user:s3cret@ollama:11434', 'http://ollama:11434'],
    ['http://:s3cret@ollama:11434/base', 'http://ollama:11434/base'],
    ['https://ollama.example/v1?token=s3cret#frag', 'https://ollama.example/v1'],
    ['http://127.0.0.1:11434', 'http://127.0.0.1:11434'],
    ['not a url with s3cret', 'the configured URL'],
  ])('%s → %s', (url, expected) => {
    expect(publicUrl(url)).toBe(expected);
  });
});

describe('toUpstreamError', () => {
  const url = 'http://user:s3cret@ollama:11434?key=s3cret';

  it.each([
    ['refused', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), 'Ollama at http://ollama:11434 is unreachable (ECONNREFUSED)'],
    ['connect timeout', new errors.ConnectTimeoutError(), 'Ollama at http://ollama:11434 is unreachable (connect timeout)'],
    ['headers timeout', new errors.HeadersTimeoutError(), 'Ollama at http://ollama:11434 did not answer in time'],
    ['anything else', new Error('socket hang up'), 'Ollama at http://ollama:11434 closed the connection unexpectedly'],
  ])('names Ollama without the credentials of its URL (%s)', (_, error, message) => {
    expect(toUpstreamError(error, url).message).toBe(message);
  });
});

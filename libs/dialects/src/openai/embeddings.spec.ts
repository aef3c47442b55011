import { DialectError } from '../dialect-error.js';
import { float32Base64, toEmbeddingsResponse, translateEmbeddingsRequest } from './embeddings.js';

const ctx = { model: 'nomic-embed-text:latest' };

function rejects(body: unknown, param: string, message?: RegExp) {
  let caught: unknown;
  try {
    translateEmbeddingsRequest(body, ctx);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(DialectError);
  expect(caught).toMatchObject({ status: 400, param });
  if (message) expect((caught as Error).message).toMatch(message);
}

describe('translateEmbeddingsRequest', () => {
  it('translates text input, dimensions and the encoding format', () => {
    expect(translateEmbeddingsRequest({ model: 'text-embedding-3-small', input: 'hello' }, ctx)).toEqual({
      request: { model: 'nomic-embed-text:latest', input: 'hello' },
      encodingFormat: 'float',
      requestedModel: 'text-embedding-3-small',
    });
    expect(translateEmbeddingsRequest({ model: 'e', input: ['a', 'b'], dimensions: 256, encoding_format: 'base64', user: 'u' }, ctx)).toEqual({
      request: { model: 'nomic-embed-text:latest', input: ['a', 'b'], dimensions: 256 },
      encodingFormat: 'base64',
      requestedModel: 'e',
    });
  });

  it('refuses token arrays and other bad input', () => {
    rejects({ model: 'e', input: [1, 2, 3] }, 'input', /token arrays are not supported/);
    rejects({ model: 'e', input: [[1, 2], [3]] }, 'input', /token arrays/);
    rejects({ model: 'e', input: [] }, 'input', /empty/);
    rejects({ model: 'e', input: ['a', 2, null] }, 'input');
    rejects({ model: 'e', input: 42 }, 'input');
    rejects({ model: 'e' }, 'input', /Missing/);
    rejects({ input: 'x' }, 'model');
    rejects({ model: 'e', input: 'x', dimensions: 0 }, 'dimensions');
    rejects({ model: 'e', input: 'x', encoding_format: 'int8' }, 'encoding_format', /float.*base64/);
  });
});

describe('toEmbeddingsResponse', () => {
  const embed = { model: 'nomic-embed-text:latest', embeddings: [[0.5, -1.25], [3, 0]], prompt_eval_count: 7 };

  it('builds the list with usage and the requested model', () => {
    expect(toEmbeddingsResponse(embed, 'text-embedding-3-small', 'float')).toEqual({
      object: 'list',
      data: [
        { object: 'embedding', index: 0, embedding: [0.5, -1.25] },
        { object: 'embedding', index: 1, embedding: [3, 0] },
      ],
      model: 'text-embedding-3-small',
      usage: { prompt_tokens: 7, total_tokens: 7 },
    });
  });

  it('encodes base64 as little-endian float32, as OpenAI does', () => {
    // 0.5 = 0x3F000000, -1.25 = 0xBFA00000, little-endian byte order.
    expect(float32Base64([0.5, -1.25])).toBe(Buffer.from([0, 0, 0, 0x3f, 0, 0, 0xa0, 0xbf]).toString('base64'));
    const [first] = toEmbeddingsResponse(embed, 'm', 'base64').data;
    const bytes = Buffer.from(first!.embedding as string, 'base64');
    expect(Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, 2))).toEqual([0.5, -1.25]);
  });
});

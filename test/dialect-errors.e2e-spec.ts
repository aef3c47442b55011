import Anthropic from '@anthropic-ai/sdk';
import { startFakeOllama, type FakeOllama } from './upstream/fake-ollama.js';
import { testDatabases } from './support/databases.js';
import { startTestGateway, type TestGateway } from './support/gateway.js';

const [database] = await testDatabases();

/** Errors raised before any controller (auth, body size, routing, upstream down) in each dialect's shape. */
describe('errors in the caller’s dialect', () => {
  let upstream: FakeOllama;
  let gateway: TestGateway;
  let key: string;

  beforeAll(async () => {
    upstream = await startFakeOllama();
    gateway = await startTestGateway(await database!.create(), upstream.url, { BODY_LIMIT_MB: '1' });
    key = (await gateway.createKey()).key;
  });

  afterAll(async () => {
    await gateway?.close();
    await upstream?.close();
  });

  const post = (path: string, body: string, headers: Record<string, string> = { 'x-api-key': key }) =>
    fetch(`${gateway.proxyUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

  it('answers a body over BODY_LIMIT_MB with 413 in each dialect, without forwarding anything', async () => {
    const huge = JSON.stringify({ model: 'llama3.2', messages: [{ role: 'user', content: 'x'.repeat(2 * 1024 * 1024) }], max_tokens: 5 });
    const native = await post('/api/chat', huge);
    expect(native.status).toBe(413);
    expect(await native.json()).toEqual({ error: 'request body exceeds the limit of 1 MiB' });
    const openai = await post('/v1/chat/completions', huge);
    expect(openai.status).toBe(413);
    expect(await openai.json()).toMatchObject({ error: { type: 'invalid_request_error', code: 'request_too_large' } });
    const anthropic = await post('/v1/messages', huge);
    expect(anthropic.status).toBe(413);
    expect(await anthropic.json()).toMatchObject({ type: 'error', error: { type: 'request_too_large' } });
    expect(upstream.requests).toHaveLength(0);
  });

  it('answers unknown routes with 404 in the dialect of the path', async () => {
    const native = await fetch(`${gateway.proxyUrl}/api/nope`, { headers: { 'x-api-key': key } });
    expect(native.status).toBe(404);
    expect(await native.json()).toEqual({ error: 'no route for GET /api/nope' });
    const openai = await fetch(`${gateway.proxyUrl}/v1/nope`, { headers: { 'x-api-key': key } });
    expect(await openai.json()).toMatchObject({ error: { message: 'no route for GET /v1/nope' } });
  });

  it('gives the Anthropic SDK a request id on a refused key', async () => {
    const client = new Anthropic({ baseURL: gateway.proxyUrl, apiKey: 'sk-wrong' });
    const error = await client.messages.create({ model: 'llama3.2', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.AuthenticationError);
    expect((error as InstanceType<typeof Anthropic.AuthenticationError>).requestID).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('Ollama unreachable, in each dialect', () => {
  it('answers 502 with the dialect’s error body naming the upstream', async () => {
    const gateway = await startTestGateway(await database!.create(), 'http://127.0.0.1:9', { ANTHROPIC_DEFAULT_MODEL: 'llama3.2' });
    try {
      const { key } = await gateway.createKey();
      const body = JSON.stringify({ model: 'llama3.2', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
      for (const [path, shape] of [
        ['/api/chat', { error: expect.stringContaining('127.0.0.1:9') }],
        ['/v1/chat/completions', { error: { type: 'api_error', message: expect.stringContaining('127.0.0.1:9') } }],
        ['/v1/messages', { type: 'error', error: { type: 'api_error', message: expect.stringContaining('127.0.0.1:9') } }],
      ] as const) {
        const response = await fetch(`${gateway.proxyUrl}${path}`, { method: 'POST', headers: { 'x-api-key': key }, body });
        expect(response.status).toBe(502);
        expect(await response.json()).toMatchObject(shape);
      }
    } finally {
      await gateway.close();
    }
  });
});

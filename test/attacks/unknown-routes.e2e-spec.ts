/**
 * A path the proxy does not serve answers 404 in the dialect of the path, saying the route is
 * unknown — not that a model is missing (OpenAI's 404 code used to read model_not_found, and
 * clients that retry or fall back on a missing model acted on it).
 */
import { testDatabases } from '../support/databases.js';
import { closeWithFakeOllama, startWithFakeOllama, type TestGateway } from '../support/gateway.js';
import type { FakeOllama } from '../upstream/fake-ollama.js';

const [sqlite] = await testDatabases();

describe('unknown routes, in each dialect', () => {
  let started: { upstream: FakeOllama; gateway: TestGateway } | undefined;
  let key: string;

  beforeAll(async () => {
    started = await startWithFakeOllama(await sqlite!.create());
    key = (await started.gateway.createKey({ name: 'routes' })).key;
  });

  afterAll(async () => {
    await closeWithFakeOllama(started ?? {});
  });

  const call = (method: string, path: string) =>
    fetch(`${started!.gateway.proxyUrl}${path}`, {
      method,
      headers: { 'x-api-key': key, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
      body: method === 'GET' ? undefined : JSON.stringify({ model: 'llama3.2', prompt: 'hi' }),
    });

  it.each([
    ['POST', '/v1/completions'],
    ['POST', '/v1/audio/speech'],
    ['GET', '/v1/chat/completions'],
    ['GET', '/v1/responses/resp_123'],
  ])('OpenAI: %s %s → 404 invalid_request_error, code unknown_route', async (method, path) => {
    const response = await call(method, path);
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ error: { message: `no route for ${method} ${path}`, type: 'invalid_request_error', param: null, code: 'unknown_route' } });
  });

  it.each([
    ['POST', '/v1/messages/batches'],
    ['GET', '/v1/messages'],
  ])('Anthropic: %s %s → 404 not_found_error naming the route', async (method, path) => {
    const response = await call(method, path);
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ type: 'error', error: { type: 'not_found_error', message: `no route for ${method} ${path}` }, request_id: expect.any(String) });
    expect(response.headers.get('request-id')).toEqual(expect.any(String));
  });

  it.each([
    ['POST', '/api/completions'],
    ['GET', '/api/chat'],
  ])('Ollama: %s %s → 404 {"error": "no route for …"}', async (method, path) => {
    const response = await call(method, path);
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ error: `no route for ${method} ${path}` });
  });

  it('never reaches Ollama', () => {
    expect(started!.upstream.requests.filter((request) => request.method === 'POST')).toEqual([]);
  });
});

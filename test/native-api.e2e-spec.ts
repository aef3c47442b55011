import { DataSource } from 'typeorm';
import { Ollama } from 'ollama';
import { countPromptTokens, startFakeOllama, type FakeOllama } from './upstream/fake-ollama.js';
import { testDatabases } from './support/databases.js';
import { eventually, startTestGateway, type TestGateway } from './support/gateway.js';

const databases = await testDatabases();

describe.each(databases)('Ollama native API through the gateway on $name', (database) => {
  let upstream: FakeOllama;
  let gateway: TestGateway;
  let key: string;
  const client = (headers: Record<string, string>) => new Ollama({ host: gateway.proxyUrl, headers });

  beforeAll(async () => {
    upstream = await startFakeOllama();
    gateway = await startTestGateway(await database.create(), upstream.url);
    key = (await gateway.createKey({ name: 'alice' })).key;
  });

  afterAll(async () => {
    await gateway?.close();
    await upstream?.close();
    await database.dropAll();
  });

  beforeEach(() => upstream.reset());

  it.each([
    ['Authorization: Bearer', (k: string) => ({ Authorization: `Bearer ${k}` })],
    ['x-api-key', (k: string) => ({ 'x-api-key': k })],
    ['anthropic-auth-token', (k: string) => ({ 'anthropic-auth-token': k })],
  ])('accepts the key from %s on /api/tags, streamed /api/chat and /api/generate', async (_name, headers) => {
    const ollama = client(headers(key));
    const tags = await ollama.list();
    expect(tags.models.map((m) => m.name)).toContain('llama3.2:latest');

    const parts: string[] = [];
    let final: { done: boolean; eval_count: number; prompt_eval_count: number } | undefined;
    for await (const part of await ollama.chat({ model: 'llama3.2', messages: [{ role: 'user', content: 'say hello please' }], stream: true })) {
      parts.push(part.message.content);
      if (part.done) final = part;
    }
    expect(parts.join('')).toBe('Hello there! How can I help you?');
    expect(final).toMatchObject({ done: true, eval_count: 8, prompt_eval_count: 3 });

    const generated = await ollama.generate({ model: 'llama3.2', prompt: 'one two', stream: false });
    expect(generated.response).toBe('Hello there! How can I help you?');
    expect(generated.prompt_eval_count).toBe(countPromptTokens({ prompt: 'one two' }));
  });

  it('never forwards the client credentials to Ollama', async () => {
    await client({ Authorization: `Bearer ${key}`, 'x-api-key': key, cookie: 'session=1' }).list();
    const seen = await upstream.waitForRequest((r) => r.path === '/api/tags');
    expect(seen.headers.authorization).toBeUndefined();
    expect(seen.headers['x-api-key']).toBeUndefined();
    expect(seen.headers.cookie).toBeUndefined();
    expect(JSON.stringify(seen.headers)).not.toContain(key);
  });

  it('refuses a missing or wrong key with 401 in Ollama’s error shape', async () => {
    await expect(client({}).list()).rejects.toMatchObject({ status_code: 401 });
    await expect(client({ Authorization: 'Bearer sk-wrong' }).list()).rejects.toMatchObject({ status_code: 401, error: 'invalid API key' });
    const response = await fetch(`${gateway.proxyUrl}/api/chat`, { method: 'POST', body: '{}', headers: { 'x-api-key': `${key}x` } });
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ error: 'invalid API key' });
    expect(upstream.requests).toHaveLength(0);
  });

  it('refuses deactivated and expired keys with their own messages', async () => {
    const inactive = await gateway.createKey({ name: 'inactive' });
    await gateway.admin(`/api/api-keys/${inactive.id}/deactivate`, { method: 'PUT' });
    await expect(client({ 'x-api-key': inactive.key }).list()).rejects.toMatchObject({ status_code: 401, error: 'API key is deactivated' });
    await gateway.admin(`/api/api-keys/${inactive.id}/activate`, { method: 'PUT' });
    expect((await client({ 'x-api-key': inactive.key }).list()).models.length).toBeGreaterThan(0);

    const expiring = await gateway.createKey({ name: 'expiring', expires_at: new Date(Date.now() + 1_500).toISOString() });
    expect((await client({ 'x-api-key': expiring.key }).list()).models.length).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 1_600));
    await expect(client({ 'x-api-key': expiring.key }).list()).rejects.toMatchObject({ status_code: 401, error: expect.stringMatching(/^API key expired at /) });
  });

  it('refuses model management with a valid key and never lets it reach Ollama', async () => {
    const ollama = client({ Authorization: `Bearer ${key}` });
    await expect(ollama.delete({ model: 'llama3.2' })).rejects.toMatchObject({ status_code: 403 });
    await expect(ollama.pull({ model: 'llama3.2', stream: false })).rejects.toMatchObject({ status_code: 403 });
    await expect(ollama.copy({ source: 'llama3.2', destination: 'x' })).rejects.toMatchObject({ status_code: 403 });
    await expect(ollama.create({ model: 'evil', from: 'llama3.2', stream: false })).rejects.toMatchObject({ status_code: 403 });
    const blob = await fetch(`${gateway.proxyUrl}/api/blobs/sha256:abc`, { method: 'POST', headers: { 'x-api-key': key } });
    expect(blob.status).toBe(403);
    expect(upstream.requests).toHaveLength(0);
  });

  it('serves version (and the seed’s /api/versions), show and ps', async () => {
    const ollama = client({ 'x-api-key': key });
    expect((await ollama.version()).version).toMatch(/^\d+\.\d+\.\d+$/);
    const alias = await fetch(`${gateway.proxyUrl}/api/versions`, { headers: { 'x-api-key': key } });
    expect(alias.status).toBe(200);
    expect(await alias.json()).toEqual({ version: expect.any(String) });
    expect((await ollama.show({ model: 'qwen3:4b' })).capabilities).toContain('thinking');
    expect(await ollama.ps()).toHaveProperty('models');
  });

  it('passes embeddings through and Ollama’s own errors unchanged', async () => {
    const ollama = client({ 'x-api-key': key });
    const embedded = await ollama.embed({ model: 'nomic-embed-text', input: ['a b', 'c'] });
    expect(embedded.embeddings).toHaveLength(2);
    await expect(ollama.chat({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] })).rejects.toMatchObject({
      status_code: 404,
      error: expect.stringContaining('no-such-model'),
    });
  });

  it('answers probes without a key: GET /, HEAD /, HEAD /api/hello', async () => {
    const root = await fetch(`${gateway.proxyUrl}/`);
    expect(root.status).toBe(200);
    expect(await root.text()).toBe('Ollama is running');
    expect((await fetch(`${gateway.proxyUrl}/`, { method: 'HEAD' })).status).toBe(200);
    expect((await fetch(`${gateway.proxyUrl}/api/hello`, { method: 'HEAD' })).status).toBe(200);
  });

  it('streams /api/chat chunk by chunk: the first chunk arrives while Ollama still holds the rest', async () => {
    upstream.enqueue({ tokens: ['first', ' second', ' third'], holdAfterChunks: 1 });
    const stream = await client({ 'x-api-key': key }).chat({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }], stream: true });
    const iterator = stream[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect((first.value as { message: { content: string } }).message.content).toBe('first');
    expect(upstream.heldCount).toBe(1); // the upstream has not sent the rest yet
    upstream.release();
    const rest: string[] = [];
    for (let part = await iterator.next(); !part.done; part = await iterator.next()) rest.push(part.value.message.content);
    expect(rest.join('')).toBe(' second third');
  });

  it('aborts the upstream request when the client disconnects mid-stream', async () => {
    upstream.enqueue({ tokens: ['a', 'b', 'c', 'd'], holdAfterChunks: 2 });
    const stream = await client({ 'x-api-key': key }).chat({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }], stream: true });
    const seen = await upstream.waitForRequest((r) => r.path === '/api/chat');
    await upstream.waitForHold();
    stream.abort();
    expect(await seen.settled).toBe('aborted');
    const record = await eventually(() => {
      const line = gateway.usageLines().find((l) => l.outcome === 'client_aborted');
      if (!line) throw new Error('no usage record yet');
      return line;
    });
    expect(record).toMatchObject({ key_name: 'alice', route: '/api/chat', status: 499 });
  });

  it('enforces a key’s model allow-list on inference and in the catalogue', async () => {
    const limited = await gateway.createKey({ name: 'limited', allowed_models: ['llama3.2'] });
    const ollama = client({ 'x-api-key': limited.key });
    expect((await ollama.list()).models.map((m) => m.name)).toEqual(['llama3.2:latest']);
    await expect(ollama.chat({ model: 'qwen3:4b', messages: [{ role: 'user', content: 'x' }] })).rejects.toMatchObject({ status_code: 403 });
    expect((await ollama.chat({ model: 'llama3.2:latest', messages: [{ role: 'user', content: 'x' }] })).done).toBe(true);
  });

  it('answers malformed bodies with 400 in Ollama’s shape and forwards nothing', async () => {
    for (const body of ['{oops', '', '[1,2]', '"text"']) {
      const response = await fetch(`${gateway.proxyUrl}/api/chat`, { method: 'POST', body, headers: { 'x-api-key': key } });
      expect(response.status).toBe(400);
      expect(await response.json()).toEqual({ error: expect.any(String) });
    }
    const noModel = await fetch(`${gateway.proxyUrl}/api/chat`, { method: 'POST', body: '{"messages":[]}', headers: { 'x-api-key': key } });
    expect(await noModel.json()).toEqual({ error: 'model is required' });
    expect(upstream.requests).toHaveLength(0);
  });

  it('keeps the two listeners apart: no admin routes on the proxy port, no proxy routes on the admin port', async () => {
    const onProxy = await fetch(`${gateway.proxyUrl}/api/api-keys`, { headers: { authorization: `Bearer ${key}` } });
    expect(onProxy.status).toBe(404);
    const asAdminOnProxy = await fetch(`${gateway.proxyUrl}/api/api-keys`, { method: 'POST', headers: { authorization: 'Bearer test-admin-password-0123' }, body: '{"name":"x"}' });
    expect([401, 404]).toContain(asAdminOnProxy.status);
    const onAdmin = await fetch(`${gateway.adminUrl}/api/tags`, { headers: { 'x-api-key': key } });
    expect(onAdmin.status).toBe(404);
    const chatOnAdmin = await gateway.admin('/api/chat', { method: 'POST', body: '{"model":"llama3.2"}' });
    expect(chatOnAdmin.status).toBe(404);
    expect(upstream.requests).toHaveLength(0);
  });

  it('stores no plaintext key: only its SHA-256 and a short prefix', async () => {
    const { key: secret } = await gateway.createKey({ name: 'stored' });
    const dataSource: DataSource = gateway.shared.dataSource;
    const rows = (await dataSource.query('SELECT * FROM api_keys')) as Record<string, unknown>[];
    const dump = JSON.stringify(rows);
    expect(dump).not.toContain(secret);
    expect(dump).not.toContain(secret.slice(9)); // not even the part after the displayed prefix
    const stored = rows.find((row) => row.name === 'stored')!;
    expect(stored.key_prefix).toBe(secret.slice(0, 9));
    expect(stored.key_hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('writes one usage line per inference request, without keys or prompt text', async () => {
    const secretPrompt = 'my-very-secret-prompt-words';
    // Lines are written in batches (every 20 ms): earlier requests' lines may still arrive; each is stamped when it settles.
    const since = new Date().toISOString();
    await client({ 'x-api-key': key }).chat({ model: 'llama3.2', messages: [{ role: 'user', content: secretPrompt }], stream: false });
    const line = await eventually(() => {
      const found = gateway.usageLines().find((l) => l.route === '/api/chat' && String(l.time) >= since);
      if (!found) throw new Error('no usage record yet');
      return found;
    });
    expect(line).toMatchObject({ key_name: 'alice', model: 'llama3.2:latest', status: 200, prompt_tokens: 1, completion_tokens: 8, tokens_exact: true });
    expect(typeof line.duration_ms).toBe('number');
    const everything = JSON.stringify(gateway.usageLines()) + gateway.appLog.join('\n');
    expect(everything).not.toContain(secretPrompt);
    expect(everything).not.toContain(key);
  });
});

describe('Ollama unreachable', () => {
  it('answers 502 naming the upstream within two seconds', async () => {
    const database = databases[0]!;
    const gateway = await startTestGateway(await database.create(), 'http://127.0.0.1:9');
    try {
      const { key } = await gateway.createKey();
      const started = Date.now();
      const response = await fetch(`${gateway.proxyUrl}/api/chat`, {
        method: 'POST',
        headers: { 'x-api-key': key },
        body: JSON.stringify({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }] }),
      });
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(response.status).toBe(502);
      expect(await response.json()).toEqual({ error: expect.stringContaining('http://127.0.0.1:9') });
    } finally {
      await gateway.close();
    }
  });
});

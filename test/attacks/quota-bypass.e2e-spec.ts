/**
 * Attacks on a key's limits (issue 13, items 1, 3, 7, 8, 9), each performed by a key holder against
 * the real gateway on SQLite and PostgreSQL: what they send, and what must hold instead.
 */
import { DEFAULT_MODELS, startFakeOllama, type FakeOllama, type RecordedRequest } from '../upstream/fake-ollama.js';
import { testDatabases } from '../support/databases.js';
import { closeWithFakeOllama, eventually, startTestGateway, type TestGateway } from '../support/gateway.js';
import { CHAT, post, type Json } from '../support/dialects.js';

const databases = await testDatabases();
const CLOUD_MODEL = 'gpt-oss:120b-cloud';

interface KeyUsage {
  day: { requests: number; tokens: number; reserved_tokens: number };
}

async function usage(gateway: TestGateway, key: string): Promise<KeyUsage> {
  const response = await fetch(`${gateway.proxyUrl}/v1/usage`, { headers: { authorization: `Bearer ${key}` } });
  expect(response.status).toBe(200);
  return (await response.json()) as KeyUsage;
}

/** Usage once nothing is reserved any more (settlements are written behind). */
async function settledUsage(gateway: TestGateway, key: string): Promise<KeyUsage> {
  return eventually(async () => {
    const now = await usage(gateway, key);
    if (now.day.reserved_tokens !== 0) throw new Error(`still reserved: ${now.day.reserved_tokens}`);
    return now;
  });
}

function numPredictOf(request: RecordedRequest): unknown {
  return ((request.body as Json).options as Json | undefined)?.num_predict;
}

describe.each(databases)('attacks on a key holder limits ($name)', (database) => {
  let upstream: FakeOllama;
  let gateway: TestGateway;

  beforeAll(async () => {
    upstream = await startFakeOllama({ models: [...DEFAULT_MODELS, { name: CLOUD_MODEL, capabilities: ['completion', 'tools'] }] });
    gateway = await startTestGateway(await database.create(), upstream.url);
  });
  afterAll(async () => {
    await closeWithFakeOllama({ gateway, upstream });
    await database.dropAll();
  });
  beforeEach(() => upstream.reset());

  describe('item 1: num_predict that Ollama reads as "no limit"', () => {
    const LIMIT = 100;
    const LONG = { tokens: Array.from({ length: 400 }, () => ' word') };

    it.each([
      ['/api/chat num_predict 0', '/api/chat', { ...CHAT, stream: false, options: { num_predict: 0 } }],
      ['/api/chat num_predict 0.5', '/api/chat', { ...CHAT, stream: false, options: { num_predict: 0.5 } }],
      ['/api/chat num_predict 1.5', '/api/chat', { ...CHAT, stream: false, options: { num_predict: 1.5 } }],
      ['/api/chat num_predict -1', '/api/chat', { ...CHAT, stream: false, options: { num_predict: -1 } }],
      ['/api/chat num_predict -2', '/api/chat', { ...CHAT, stream: false, options: { num_predict: -2 } }],
      ['/api/chat num_predict "0"', '/api/chat', { ...CHAT, stream: false, options: { num_predict: '0' } }],
      ['/api/generate num_predict 0', '/api/generate', { model: 'llama3.2', prompt: 'hello', stream: false, options: { num_predict: 0 } }],
      ['/api/generate streamed num_predict 0', '/api/generate', { model: 'llama3.2', prompt: 'hello', options: { num_predict: 0 } }],
      ['/v1/chat/completions without max_tokens', '/v1/chat/completions', { ...CHAT }],
      ['/v1/messages max_tokens 4096', '/v1/messages', { ...CHAT, max_tokens: 4096 }],
      ['/v1/responses without max_output_tokens', '/v1/responses', { model: 'llama3.2', input: 'hello', store: false }],
      ['/v1/responses streamed, max_output_tokens 4096', '/v1/responses', { model: 'llama3.2', input: 'hello', store: false, stream: true, max_output_tokens: 4096 }],
    ])('%s: Ollama gets an integer num_predict within what the key has left, and the key is not overrun', async (_name, path, body) => {
      const { key } = await gateway.createKey({ daily_token_limit: LIMIT });
      upstream.enqueue(LONG);
      const response = await post(gateway.proxyUrl, path, key, body);
      await response.text();
      expect(response.status).toBe(200);
      const sent = upstream.requests.find((r) => r.path === path || r.path === '/api/chat')!;
      const numPredict = numPredictOf(sent);
      expect({ numPredict, integer: Number.isSafeInteger(numPredict), positive: (numPredict as number) >= 1, withinLimit: (numPredict as number) <= LIMIT }).toEqual({
        numPredict,
        integer: true,
        positive: true,
        withinLimit: true,
      });
      const after = await settledUsage(gateway, key);
      expect(after.day.tokens).toBeLessThanOrEqual(LIMIT);
    });

    it('a key without a token limit keeps the num_predict it asked for', async () => {
      const { key } = await gateway.createKey({});
      await (await post(gateway.proxyUrl, '/api/chat', key, { ...CHAT, stream: false, options: { num_predict: 0 } })).text();
      expect(numPredictOf(upstream.requests.find((r) => r.path === '/api/chat')!)).toBe(0);
    });
  });

  describe('item 3: requests the gateway refuses cost nothing and are logged with the status the client got', () => {
    it.each([
      ['native, model outside the allow-list', '/api/chat', { ...CHAT, model: 'qwen3:4b', stream: false }, 403],
      ['native, no model', '/api/chat', { messages: CHAT.messages, stream: false }, 400],
      ['OpenAI, model outside the allow-list', '/v1/chat/completions', { ...CHAT, model: 'qwen3:4b' }, 403],
      ['OpenAI, no model', '/v1/chat/completions', { messages: CHAT.messages }, 400],
      ['OpenAI, malformed messages', '/v1/chat/completions', { model: 'llama3.2', messages: 'hello' }, 400],
      ['OpenAI, unknown model', '/v1/chat/completions', { ...CHAT, model: 'no-such-model:1b' }, 404],
      ['Anthropic, model outside the allow-list', '/v1/messages', { ...CHAT, model: 'qwen3:4b', max_tokens: 10 }, 403],
      ['Anthropic, malformed messages', '/v1/messages', { model: 'llama3.2', messages: [{ role: 'user' }], max_tokens: 10 }, 400],
      ['Anthropic, unmapped model', '/v1/messages', { ...CHAT, model: 'claude-sonnet-4-6', max_tokens: 10 }, 404],
      ['Responses, model outside the allow-list', '/v1/responses', { model: 'qwen3:4b', input: 'hello', store: false }, 403],
      ['Responses, stateful request', '/v1/responses', { model: 'llama3.2', input: 'hello', previous_response_id: 'resp_1' }, 400],
      ['Responses, unknown model', '/v1/responses', { model: 'llama3.2:3bb', input: 'hello', store: false }, 404],
    ])('%s', async (_name, path, body, status) => {
      // An allow-list only where the case is about it: with one, an unknown name is refused as not allowed (403).
      const { key, id } = await gateway.createKey({ daily_request_limit: 1, daily_token_limit: 10_000, ...(status === 403 ? { allowed_models: ['llama3.2'] } : {}) });
      const response = await post(gateway.proxyUrl, path, key, body);
      await response.text();
      expect(response.status).toBe(status);
      expect(upstream.requests.filter((r) => r.path === '/api/chat')).toHaveLength(0);
      expect((await usage(gateway, key)).day).toMatchObject({ requests: 0, tokens: 0, reserved_tokens: 0 });
      const line = await eventually(() => {
        const found = gateway.usageLines().find((l) => l.key_id === id);
        if (!found) throw new Error('no usage line yet');
        return found;
      });
      expect(line).toMatchObject({ status, outcome: 'refused', prompt_tokens: 0, completion_tokens: 0 });
      // The one request the key has left is still there.
      const ok = await post(gateway.proxyUrl, '/api/chat', key, { ...CHAT, stream: false });
      await ok.text();
      expect(ok.status).toBe(200);
    });

    it('/metrics counts by status what the usage log records', async () => {
      const { key } = await gateway.createKey({ allowed_models: ['llama3.2'] });
      for (const [model, times] of [['qwen3:4b', 3], ['llama3.2', 2]] as const) {
        for (let i = 0; i < times; i++) await (await post(gateway.proxyUrl, '/v1/chat/completions', key, { ...CHAT, model })).text();
      }
      const text = await (await gateway.admin('/metrics')).text();
      const metric = (status: number) =>
        Number(new RegExp(`llmproxy_requests_total\\{dialect="openai",route="/v1/chat/completions",status="${status}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
      await eventually(() => {
        const lines = gateway.usageLines().filter((l) => l.route === '/v1/chat/completions');
        expect(lines.filter((l) => l.status === 403)).toHaveLength(metric(403));
        expect(lines.filter((l) => l.status === 200)).toHaveLength(metric(200));
      });
      expect(metric(403)).toBeGreaterThanOrEqual(3);
    });
  });

  describe('item 7: work Ollama did is never free', () => {
    const PROMPT = Array.from({ length: 500 }, (_, i) => `word${i}`).join(' ');
    // A token limit makes every request hold a reservation until it is settled, so "nothing reserved"
    // means "settled" (without one, a reservation holds no tokens and settledUsage could read too early).
    const METERED = { daily_token_limit: 10_000_000 };

    it('legacy /api/embeddings (its answer carries no counts) is charged the prompt estimate', async () => {
      const { key, id } = await gateway.createKey(METERED);
      for (let i = 0; i < 3; i++) {
        const response = await post(gateway.proxyUrl, '/api/embeddings', key, { model: 'nomic-embed-text', prompt: PROMPT });
        expect(response.status).toBe(200);
        expect(await response.json()).toHaveProperty('embedding');
      }
      const after = await settledUsage(gateway, key);
      expect(after.day.requests).toBe(3);
      expect(after.day.tokens).toBeGreaterThanOrEqual(3 * 500);
      await eventually(() => {
        const lines = gateway.usageLines().filter((l) => l.key_id === id);
        expect(lines).toHaveLength(3);
        for (const line of lines) expect(line).toMatchObject({ tokens_exact: false, completion_tokens: 0 });
      });
    });

    it('/api/embed without counts is charged the prompt estimate', async () => {
      const { key } = await gateway.createKey(METERED);
      upstream.enqueue({ omitCounts: true });
      await (await post(gateway.proxyUrl, '/api/embed', key, { model: 'nomic-embed-text', input: PROMPT })).text();
      expect((await settledUsage(gateway, key)).day.tokens).toBeGreaterThanOrEqual(500);
    });

    it.each(['/api/chat', '/v1/chat/completions', '/v1/messages'])('%s: a client that leaves before the first token is charged the prompt', async (path) => {
      const { key } = await gateway.createKey(METERED);
      upstream.enqueue({ delayBeforeHeadersMs: 10_000 });
      const controller = new AbortController();
      const body = { ...CHAT, messages: [{ role: 'user', content: PROMPT }], stream: true, max_tokens: 10 };
      const pending = post(gateway.proxyUrl, path, key, body, false, controller.signal).catch(() => undefined);
      const arrived = await upstream.waitForRequest((r) => r.path === '/api/chat');
      controller.abort();
      await pending;
      expect(await arrived.settled).toBe('aborted');
      const after = await settledUsage(gateway, key);
      expect(after.day.requests).toBe(1);
      expect(after.day.tokens).toBeGreaterThanOrEqual(500);
    });

    it.each([
      [400, 'invalid options'],
      [503, 'server busy, please try again.  maximum pending requests exceeded'],
    ])('a request Ollama refuses with %i before evaluating it costs no tokens', async (status, error) => {
      const { key } = await gateway.createKey(METERED);
      upstream.enqueue({ status, error });
      const response = await post(gateway.proxyUrl, '/api/chat', key, { ...CHAT, messages: [{ role: 'user', content: PROMPT }], stream: false });
      expect(response.status).toBe(status);
      expect((await settledUsage(gateway, key)).day).toMatchObject({ requests: 1, tokens: 0 });
    });

    it('an answer Ollama started and then broke off in-band is charged the prompt', async () => {
      const { key } = await gateway.createKey(METERED);
      upstream.enqueue({ midStreamError: { afterChunks: 1, error: 'runner crashed' } });
      await (await post(gateway.proxyUrl, '/api/chat', key, { ...CHAT, messages: [{ role: 'user', content: PROMPT }], stream: true })).text();
      expect((await settledUsage(gateway, key)).day.tokens).toBeGreaterThanOrEqual(500);
    });
  });

  describe('item 8: options that hurt other users of the server', () => {
    it.each([
      ['keep_alive 0 (unload a model others use)', { keep_alive: 0 }, { keep_alive: 300 }],
      ['keep_alive -1 (pin it for ever)', { keep_alive: -1 }, { keep_alive: 1800 }],
      ['keep_alive "24h"', { keep_alive: '24h' }, { keep_alive: 1800 }],
      ['num_gpu, main_gpu, use_mmap, num_thread (force a reload)', { options: { num_gpu: 0, main_gpu: 1, use_mmap: false, num_thread: 1, temperature: 0.5 } }, { options: { temperature: 0.5 } }],
      ['num_ctx beyond the maximum', { options: { num_ctx: 1_000_000 } }, { options: { num_ctx: 65_536 } }],
    ])('%s', async (_name, extra, expected) => {
      const { key } = await gateway.createKey({});
      await (await post(gateway.proxyUrl, '/api/chat', key, { ...CHAT, stream: false, ...extra })).text();
      const sent = upstream.requests.find((r) => r.path === '/api/chat')!.body as Json;
      if ('keep_alive' in expected) expect(sent.keep_alive).toBe(expected.keep_alive);
      if ('options' in expected) expect(sent.options).toEqual(expected.options);
    });

    it('the admin setting opens load options and moves the ranges', async () => {
      const { key } = await gateway.createKey({});
      const put = (body: Json) => gateway.admin('/api/settings', { method: 'PUT', body: JSON.stringify(body) });
      expect((await put({ allow_load_options: true, keep_alive_min_s: 60, keep_alive_max_s: 7200, max_num_ctx: 131_072 })).status).toBe(200);
      try {
        await (await post(gateway.proxyUrl, '/api/chat', key, { ...CHAT, stream: false, keep_alive: '1h', options: { num_gpu: 0, num_ctx: 100_000 } })).text();
        const sent = upstream.requests.find((r) => r.path === '/api/chat')!.body as Json;
        expect(sent).toMatchObject({ keep_alive: 3600, options: { num_gpu: 0, num_ctx: 100_000 } });
      } finally {
        await put({ allow_load_options: false, keep_alive_min_s: 300, keep_alive_max_s: 1800, max_num_ctx: null });
      }
      expect((await put({ keep_alive_min_s: 4000, keep_alive_max_s: 3000 })).status).toBe(400);
    });

    it("/api/generate's context counts as its length in tokens: a large one does not slip past a token limit", async () => {
      const { key } = await gateway.createKey({ daily_token_limit: 1_000 });
      const context = Array.from({ length: 50_000 }, (_, i) => i);
      const response = await post(gateway.proxyUrl, '/api/generate', key, { model: 'llama3.2', prompt: 'go on', context, stream: false, options: { num_ctx: 65_536 } });
      expect(response.status).toBe(429);
      expect(upstream.requests.filter((r) => r.path === '/api/generate')).toHaveLength(0);
    });
  });

  describe("item 9: someone else's cloud account", () => {
    it.each([
      ['native', '/api/chat', { model: CLOUD_MODEL, messages: CHAT.messages, stream: false }],
      ['OpenAI', '/v1/chat/completions', { model: CLOUD_MODEL, messages: CHAT.messages }],
      ['Anthropic', '/v1/messages', { model: CLOUD_MODEL, messages: CHAT.messages, max_tokens: 10 }],
      ['Responses', '/v1/responses', { model: CLOUD_MODEL, input: 'hello', store: false }],
    ])('%s: a cloud model is refused with 403 and costs nothing', async (_name, path, body) => {
      const { key } = await gateway.createKey({ daily_request_limit: 5 });
      const response = await post(gateway.proxyUrl, path, key, body);
      const text = await response.text();
      expect(response.status).toBe(403);
      expect(text).toMatch(/cloud/);
      expect(upstream.requests.filter((r) => r.path === '/api/chat')).toHaveLength(0);
      expect((await usage(gateway, key)).day.requests).toBe(0);
    });

    it('an alias that points to a cloud model is refused as well', async () => {
      const { key } = await gateway.createKey({});
      const put = (body: Json) => gateway.admin('/api/settings', { method: 'PUT', body: JSON.stringify(body) });
      expect((await put({ model_aliases: { 'claude-*': CLOUD_MODEL }, save_unknown_models: true })).status).toBe(200);
      try {
        const response = await post(gateway.proxyUrl, '/v1/messages', key, { model: 'claude-sonnet-4-6', messages: CHAT.messages, max_tokens: 10 });
        expect(response.status).toBe(403);
      } finally {
        await put({ model_aliases: {} });
      }
    });

    it("hosted web search (Ollama's /api/web_search, /api/web_fetch) is refused", async () => {
      const { key } = await gateway.createKey({});
      for (const path of ['/api/web_search', '/api/web_fetch']) {
        const response = await post(gateway.proxyUrl, path, key, { query: 'x' });
        expect({ path, status: response.status }).toEqual({ path, status: 403 });
      }
      expect(upstream.requests.filter((r) => r.path.startsWith('/api/web'))).toHaveLength(0);
    });

    it('with the admin setting, a cloud model is served and metered like any model', async () => {
      const { key } = await gateway.createKey({ daily_token_limit: 1_000_000 });
      const put = (body: Json) => gateway.admin('/api/settings', { method: 'PUT', body: JSON.stringify(body) });
      expect((await put({ allow_cloud_models: true })).status).toBe(200);
      try {
        const response = await post(gateway.proxyUrl, '/api/chat', key, { model: CLOUD_MODEL, messages: CHAT.messages, stream: false });
        expect(response.status).toBe(200);
        await response.text();
        const after = await settledUsage(gateway, key);
        expect(after.day.requests).toBe(1);
        expect(after.day.tokens).toBeGreaterThan(0);
      } finally {
        await put({ allow_cloud_models: false });
      }
    });
  });
});

/**
 * Honest model names (issue 14): through the real gateway with the official openai and
 * @anthropic-ai/sdk clients at their default settings, on every test database, with a default model
 * and aliases set. A name Ollama does not have is served by an alias or the default model only when
 * it is the dialect's vendor's own name (`claude-*`, `gpt-*`, …) or an alias pattern matches it; any
 * other name (a typo) is 404 in the dialect's shape. The allow-list is checked against the Ollama
 * model actually served, in every dialect. Nothing refused reaches Ollama or costs the key anything.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import type { FakeOllama, RecordedRequest } from './upstream/fake-ollama.js';
import { testDatabases } from './support/databases.js';
import { closeWithFakeOllama, startWithFakeOllama, type TestGateway } from './support/gateway.js';

const databases = await testDatabases();

/** The default model (an Ollama name without its tag, as an admin types it) and the aliases. */
const DEFAULT_MODEL = 'llama3.2';
const ALIASES = { 'claude-*haiku*': 'qwen3:4b', 'coder-*': 'qwen3:4b' };
const TYPO = 'llama3.2:3bb';
const INFERENCE_PATHS = ['/api/chat', '/api/generate', '/api/embed', '/api/embeddings'];

interface WindowUsage {
  requests: number;
  tokens: number;
  reserved_tokens: number;
}

describe.each(databases)('model names through the gateway on $name', (database) => {
  const started: { upstream?: FakeOllama; gateway?: TestGateway } = {};
  let upstream: FakeOllama;
  let gateway: TestGateway;

  const openaiFor = (apiKey: string) => new OpenAI({ baseURL: `${gateway.proxyUrl}/v1`, apiKey });
  const anthropicFor = (apiKey: string) => new Anthropic({ baseURL: gateway.proxyUrl, apiKey });
  const inferenceRequests = () => upstream.requests.filter((r) => INFERENCE_PATHS.includes(r.path));
  const served = async (path: string) => ((await upstream.waitForRequest((r: RecordedRequest) => r.path === path)).body as { model: string }).model;
  const usage = async (apiKey: string): Promise<WindowUsage> => {
    const response = await fetch(`${gateway.proxyUrl}/v1/usage`, { headers: { authorization: `Bearer ${apiKey}` } });
    expect(response.status).toBe(200);
    return ((await response.json()) as { day: WindowUsage }).day;
  };
  /** A fresh key with a token limit, so a charge would show; `allowed` is its allow-list. */
  const newKey = async (name: string, allowed?: string[]) =>
    (await gateway.createKey({ name, daily_token_limit: 100_000, ...(allowed ? { allowed_models: allowed } : {}) })).key;

  /** Each dialect's call with `model`, resolving to the error it raised (or failing if it succeeded). */
  const refusals = (apiKey: string) => {
    const openai = openaiFor(apiKey);
    const anthropic = anthropicFor(apiKey);
    return {
      chat: (model: string) => openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] }),
      embeddings: (model: string) => openai.embeddings.create({ model, input: 'hi' }),
      responses: (model: string) => openai.responses.create({ model, input: 'hi' }),
      messages: (model: string) => anthropic.messages.create({ model, max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] }),
    };
  };
  const failure = (call: Promise<unknown>) =>
    call.then(
      () => {
        throw new Error('the call succeeded');
      },
      (error: unknown) => error,
    );

  beforeAll(async () => {
    Object.assign(started, await startWithFakeOllama(await database.create()));
    upstream = started.upstream!;
    gateway = started.gateway!;
    const saved = await gateway.admin('/api/settings', { method: 'PUT', body: JSON.stringify({ default_model: DEFAULT_MODEL, model_aliases: ALIASES }) });
    expect(saved.status).toBe(200);
  });

  afterAll(async () => {
    await closeWithFakeOllama(started);
    await database.dropAll();
  });

  beforeEach(() => upstream.reset());

  describe('a name Ollama does not have, no alias matches and no vendor uses (a typo)', () => {
    it.each(['chat', 'embeddings', 'responses'] as const)('is 404 model_not_found on OpenAI %s, naming the model and GET /v1/models', async (dialect) => {
      const key = await newKey(`typo-${dialect}`);
      const error = await failure(refusals(key)[dialect](TYPO));
      expect(error).toBeInstanceOf(OpenAI.NotFoundError);
      const missing = error as InstanceType<typeof OpenAI.NotFoundError>;
      expect(missing.error).toEqual({
        message: expect.stringMatching(new RegExp(`^model '${TYPO.replace('.', '\\.')}' not found: .*see GET /v1/models for the models this key may use`)),
        type: 'invalid_request_error',
        param: 'model',
        code: 'model_not_found',
      });
      expect(inferenceRequests()).toEqual([]);
      expect(await usage(key)).toMatchObject({ requests: 0, tokens: 0, reserved_tokens: 0 });
    });

    it('is 404 not_found_error on Anthropic messages, naming the model and GET /v1/models', async () => {
      const key = await newKey('typo-messages');
      const error = await failure(refusals(key).messages(TYPO));
      expect(error).toBeInstanceOf(Anthropic.NotFoundError);
      expect((error as InstanceType<typeof Anthropic.NotFoundError>).error).toEqual({
        type: 'error',
        error: { type: 'not_found_error', message: expect.stringMatching(/^model 'llama3\.2:3bb' not found: .*see GET \/v1\/models for the models this key may use/) },
        request_id: expect.any(String),
      });
      expect(inferenceRequests()).toEqual([]);
      expect(await usage(key)).toMatchObject({ requests: 0, tokens: 0, reserved_tokens: 0 });
    });

    it("is 404 when it is the other vendor's name: no gpt-* on /v1/messages, no claude-* on /v1/chat/completions", async () => {
      const key = await newKey('cross-vendor');
      expect(await failure(refusals(key).messages('gpt-4o'))).toBeInstanceOf(Anthropic.NotFoundError);
      expect(await failure(refusals(key).chat('claude-sonnet-4-6'))).toBeInstanceOf(OpenAI.NotFoundError);
      expect(await failure(refusals(key).responses('claude-sonnet-4-6'))).toBeInstanceOf(OpenAI.NotFoundError);
      expect(inferenceRequests()).toEqual([]);
    });
  });

  describe('names that still resolve', () => {
    it('serves claude-sonnet-4-6 on /v1/messages with the default model, echoing the name asked for', async () => {
      const message = await refusals(await newKey('claude')).messages('claude-sonnet-4-6');
      expect(message.model).toBe('claude-sonnet-4-6');
      expect(await served('/api/chat')).toBe(DEFAULT_MODEL);
    });

    it('serves gpt-4o on /v1/chat/completions and /v1/responses with the default model', async () => {
      const calls = refusals(await newKey('gpt'));
      expect((await calls.chat('gpt-4o')).model).toBe('gpt-4o');
      expect(await served('/api/chat')).toBe(DEFAULT_MODEL);
      expect((await calls.responses('gpt-4o')).model).toBe('gpt-4o');
      expect(await served('/api/chat')).toBe(DEFAULT_MODEL);
    });

    it('serves the other OpenAI vendor names (o1*, o3*, o4*, chatgpt-*, codex-*) with the default model', async () => {
      const calls = refusals(await newKey('openai-names'));
      for (const name of ['o1', 'o3-mini', 'o4-mini', 'chatgpt-4o-latest', 'codex-mini-latest', 'GPT-4.1']) {
        await calls.chat(name);
        expect(await served('/api/chat')).toBe(DEFAULT_MODEL);
      }
    });

    it('serves an alias pattern in every dialect, also for a name no vendor uses', async () => {
      const calls = refusals(await newKey('aliases'));
      await calls.messages('claude-haiku-4-5');
      expect(await served('/api/chat')).toBe('qwen3:4b');
      await calls.chat('coder-large');
      expect(await served('/api/chat')).toBe('qwen3:4b');
      await calls.responses('coder-large');
      expect(await served('/api/chat')).toBe('qwen3:4b');
      await calls.embeddings('coder-large');
      expect(await served('/api/embed')).toBe('qwen3:4b');
    });

    it('serves an Ollama name as it is, untagged names as :latest', async () => {
      const calls = refusals(await newKey('ollama-names'));
      await calls.messages('qwen3:4b');
      expect(await served('/api/chat')).toBe('qwen3:4b');
      await calls.embeddings('nomic-embed-text');
      expect(await served('/api/embed')).toBe('nomic-embed-text:latest');
    });
  });

  describe('the allow-list, checked against the model actually served', () => {
    it.each(['chat', 'embeddings', 'responses'] as const)('refuses an alias pointing outside it with 403 on OpenAI %s', async (dialect) => {
      const key = await newKey(`alias-outside-${dialect}`, [DEFAULT_MODEL]);
      const error = await failure(refusals(key)[dialect]('coder-large'));
      expect(error).toBeInstanceOf(OpenAI.PermissionDeniedError);
      expect((error as InstanceType<typeof OpenAI.PermissionDeniedError>).message).toContain("'coder-large'");
      expect((error as InstanceType<typeof OpenAI.PermissionDeniedError>).message).toContain("'qwen3:4b'");
      expect(inferenceRequests()).toEqual([]);
      expect(await usage(key)).toMatchObject({ requests: 0, tokens: 0, reserved_tokens: 0 });
    });

    it('refuses an alias pointing outside it with 403 permission_error on Anthropic messages', async () => {
      const key = await newKey('alias-outside-messages', [DEFAULT_MODEL]);
      const error = await failure(refusals(key).messages('claude-haiku-4-5'));
      expect(error).toBeInstanceOf(Anthropic.PermissionDeniedError);
      expect((error as InstanceType<typeof Anthropic.PermissionDeniedError>).error).toMatchObject({ error: { type: 'permission_error', message: expect.stringContaining("'qwen3:4b'") } });
      expect(inferenceRequests()).toEqual([]);
      expect(await usage(key)).toMatchObject({ requests: 0, tokens: 0, reserved_tokens: 0 });
    });

    it('refuses a vendor name whose default model is outside it, in every dialect', async () => {
      const key = await newKey('default-outside', ['qwen3:4b']);
      const calls = refusals(key);
      expect(await failure(calls.chat('gpt-4o'))).toBeInstanceOf(OpenAI.PermissionDeniedError);
      expect(await failure(calls.responses('gpt-4o'))).toBeInstanceOf(OpenAI.PermissionDeniedError);
      expect(await failure(calls.messages('claude-sonnet-4-6'))).toBeInstanceOf(Anthropic.PermissionDeniedError);
      expect(inferenceRequests()).toEqual([]);
      expect(await usage(key)).toMatchObject({ requests: 0, tokens: 0, reserved_tokens: 0 });
    });

    it('serves an alias whose target is on it, and an untagged allow-list entry covers :latest', async () => {
      const calls = refusals(await newKey('alias-inside', ['qwen3:4b', 'llama3.2']));
      await calls.chat('coder-large');
      expect(await served('/api/chat')).toBe('qwen3:4b');
      await calls.messages('claude-haiku-4-5');
      expect(await served('/api/chat')).toBe('qwen3:4b');
      await calls.chat('llama3.2:latest');
      expect(await served('/api/chat')).toBe('llama3.2:latest');
    });

    it('is the same on the native API, which passes names to Ollama unchanged: no alias, no default, Ollama answers its own 404', async () => {
      const native = (apiKey: string, model: string) =>
        fetch(`${gateway.proxyUrl}/api/chat`, { method: 'POST', headers: { authorization: `Bearer ${apiKey}` }, body: JSON.stringify({ model, stream: false, messages: [{ role: 'user', content: 'hi' }] }) });
      const restricted = await newKey('native-restricted', [DEFAULT_MODEL]);
      expect((await native(restricted, 'llama3.2:latest')).status).toBe(200);
      expect(await served('/api/chat')).toBe('llama3.2:latest');
      const outside = await native(restricted, 'qwen3:4b');
      expect(outside.status).toBe(403);
      expect(await outside.json()).toEqual({ error: "model 'qwen3:4b' is not allowed for this API key" });
      upstream.reset();
      const open = await newKey('native-open');
      for (const name of [TYPO, 'coder-large', 'gpt-4o']) {
        const response = await native(open, name);
        expect(response.status).toBe(404);
        expect(((await upstream.waitForRequest((r) => r.path === '/api/chat')).body as { model: string }).model).toBe(name);
      }
    });

    it('answers a typo 404, not 403, for a key with an allow-list (the name exists nowhere)', async () => {
      const key = await newKey('typo-restricted', ['qwen3:4b']);
      expect(await failure(refusals(key).chat(TYPO))).toBeInstanceOf(OpenAI.NotFoundError);
      expect(await failure(refusals(key).messages(TYPO))).toBeInstanceOf(Anthropic.NotFoundError);
    });
  });
});

/**
 * Context windows the agents respect (issue 14, part 2): a translated request that does not fit the
 * model's window — the num_ctx it is sent with, capped by the model's own context length — is answered
 * in its dialect's "too long" form instead of being forwarded (Ollama would silently drop the oldest
 * messages), costs nothing, and reaches no model. The official SDKs at their default settings.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import type { FakeOllama } from './upstream/fake-ollama.js';
import { testDatabases } from './support/databases.js';
import { closeWithFakeOllama, startWithFakeOllama, type TestGateway } from './support/gateway.js';
import { post, type Json } from './support/dialects.js';

const databases = await testDatabases();

/** About `n` tokens of English (one cl100k token a word). */
function words(n: number): string {
  return Array.from({ length: n }, (_, i) => ['apple', 'river', 'stone', 'cloud', 'green'][i % 5]).join(' ');
}

describe.each(databases)('context windows ($name)', (database) => {
  let upstream: FakeOllama;
  let gateway: TestGateway;
  let key: string;
  let keyId: number;

  beforeAll(async () => {
    ({ upstream, gateway } = await startWithFakeOllama(await database.create()));
    expect((await gateway.admin('/api/settings', { method: 'PUT', body: JSON.stringify({ num_ctx: 4096 }) })).status).toBe(200);
    ({ key, id: keyId } = await gateway.createKey({ daily_request_limit: 100 }));
  });
  afterAll(async () => {
    await closeWithFakeOllama({ gateway, upstream });
    await database.dropAll();
  });
  beforeEach(() => upstream.reset());

  const chatCalls = () => upstream.requests.filter((r) => r.path === '/api/chat').length;
  const requestsCounted = async () =>
    ((await (await fetch(`${gateway.proxyUrl}/v1/usage`, { headers: { authorization: `Bearer ${key}` } })).json()) as { day: { requests: number } }).day.requests;

  it('Anthropic (streamed, as Claude Code asks): 400 invalid_request_error "prompt is too long: N tokens > 4096 maximum", the form Claude Code compacts on', async () => {
    const before = await requestsCounted();
    const client = new Anthropic({ baseURL: gateway.proxyUrl, apiKey: key });
    const error = await client.messages
      .create({ model: 'llama3.2', max_tokens: 32_000, stream: true, messages: [{ role: 'user', content: words(5_000) }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.BadRequestError);
    const body = (error as InstanceType<typeof Anthropic.BadRequestError>).error as Json;
    expect(body).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    const message = (body.error as { message: string }).message;
    const match = /^prompt is too long: (\d+) tokens > 4096 maximum$/.exec(message);
    expect(match).not.toBeNull();
    expect(Number(match![1])).toBeGreaterThan(5_000);
    expect(chatCalls()).toBe(0);
    expect(await requestsCounted()).toBe(before);
  });

  it('Anthropic: Claude Code asking 32,000 output tokens with a short prompt still fits (the output room is at most a quarter of the window)', async () => {
    const response = await post(gateway.proxyUrl, '/v1/messages', key, { model: 'llama3.2', max_tokens: 32_000, messages: [{ role: 'user', content: words(2_000) }] });
    expect(response.status).toBe(200);
    await response.text();
    expect(chatCalls()).toBe(1);
  });

  it('OpenAI chat: 400 with code context_length_exceeded and param messages', async () => {
    const client = new OpenAI({ baseURL: `${gateway.proxyUrl}/v1`, apiKey: key });
    const error = await client.chat.completions.create({ model: 'llama3.2', messages: [{ role: 'user', content: words(5_000) }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    const failure = error as InstanceType<typeof OpenAI.BadRequestError>;
    expect({ code: failure.code, param: failure.param, type: failure.type }).toEqual({ code: 'context_length_exceeded', param: 'messages', type: 'invalid_request_error' });
    expect(failure.message).toMatch(/maximum context length is 4096 tokens/);
    expect(chatCalls()).toBe(0);
  });

  it('OpenAI Responses: 400 with code context_length_exceeded and param input', async () => {
    const client = new OpenAI({ baseURL: `${gateway.proxyUrl}/v1`, apiKey: key });
    const error = await client.responses.create({ model: 'llama3.2', input: words(5_000), store: false }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    const failure = error as InstanceType<typeof OpenAI.BadRequestError>;
    expect({ code: failure.code, param: failure.param }).toEqual({ code: 'context_length_exceeded', param: 'input' });
    expect(chatCalls()).toBe(0);
  });

  it("the model's own context length caps num_ctx (qwen3:4b: 40,960 < a num_ctx of 65,536)", async () => {
    expect((await gateway.admin('/api/settings', { method: 'PUT', body: JSON.stringify({ num_ctx: 65_536 }) })).status).toBe(200);
    try {
      const prompt = words(45_000);
      const small = await post(gateway.proxyUrl, '/v1/chat/completions', key, { model: 'qwen3:4b', messages: [{ role: 'user', content: prompt }] });
      expect(small.status).toBe(400);
      expect(((await small.json()) as { error: { message: string } }).error.message).toMatch(/maximum context length is 40960 tokens/);
      const large = await post(gateway.proxyUrl, '/v1/chat/completions', key, { model: 'llama3.2', messages: [{ role: 'user', content: prompt }] });
      expect(large.status).toBe(200);
      await large.text();
    } finally {
      expect((await gateway.admin('/api/settings', { method: 'PUT', body: JSON.stringify({ num_ctx: 4096 }) })).status).toBe(200);
    }
  });

  it('native requests are left to Ollama: their clients choose num_ctx themselves', async () => {
    const response = await post(gateway.proxyUrl, '/api/chat', key, { model: 'llama3.2', stream: false, messages: [{ role: 'user', content: words(5_000) }] });
    expect(response.status).toBe(200);
    await response.text();
    expect(chatCalls()).toBe(1);
  });

  it('the refusals are logged as refused, with their 400', async () => {
    const lines = gateway.usageLines().filter((l) => l.key_id === keyId && l.status === 400);
    expect(lines.length).toBeGreaterThanOrEqual(3);
    for (const line of lines) expect(line).toMatchObject({ outcome: 'refused', prompt_tokens: 0, completion_tokens: 0 });
  });
});

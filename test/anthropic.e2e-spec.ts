/**
 * Anthropic's Messages API through the real gateway (both listeners, a real database) against the
 * scripted Ollama, driven the way users drive it: the official @anthropic-ai/sdk client, and raw
 * requests shaped like Claude Code's where the wire itself (query, headers, event timing) matters.
 */
import Anthropic, { APIError, RateLimitError } from '@anthropic-ai/sdk';
import { claudeCodeRequest } from '../libs/dialects/src/anthropic/fixtures/claude-code-request.js';
import { defaultSettings, SettingsService, type Settings } from '@llmproxy/settings';
import { countPromptTokens, DEFAULT_TOKENS, startFakeOllama, type FakeOllama, type RecordedRequest } from './upstream/fake-ollama.js';
import { testDatabases } from './support/databases.js';
import { eventually, startTestGateway, type TestGateway } from './support/gateway.js';

const databases = await testDatabases();

const DEFAULT_TEXT = DEFAULT_TOKENS.join('');
const TOOL_ID = /^[a-zA-Z0-9_-]+$/;

interface OllamaChatBody {
  model: string;
  stream: boolean;
  think?: boolean;
  messages: { role: string; content: string; tool_name?: string; tool_call_id?: string; thinking?: string; tool_calls?: unknown[] }[];
  tools?: { function: { name: string } }[];
  options?: { num_ctx?: number; num_predict?: number };
}

interface WindowUsage {
  requests: number;
  tokens: number;
  reserved_tokens: number;
}

interface SseEvent {
  event: string;
  data: Record<string, unknown>;
  /** Milliseconds since the request was sent. */
  at: number;
}

/** POSTs like Claude Code does and reads the SSE frames as they arrive, with their arrival times. */
async function rawStream(url: string, key: string, body: unknown): Promise<{ status: number; headers: Headers; events: SseEvent[] }> {
  const sent = Date.now();
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${key}`,
      'content-type': 'application/json',
      'anthropic-version': '2023-06-01',
      'anthropic-beta': 'claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27,some-future-beta-2099-01-01',
      'x-app': 'cli',
      'user-agent': 'claude-cli/2.1.332 (external, sdk-cli)',
      'x-claude-code-session-id': 'a7c3e0b2-0000-4000-8000-000000000000',
    },
    body: JSON.stringify(body),
  });
  const events: SseEvent[] = [];
  if (!response.body) return { status: response.status, headers: response.headers, events };
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const bytes of response.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(bytes, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = /^event: (.*)$/m.exec(frame)?.[1];
      const data = /^data: (.*)$/m.exec(frame)?.[1];
      // Every frame must name its event: the SDK (and so Claude Code) drops frames without one.
      expect(event).toBeDefined();
      events.push({ event: event!, data: JSON.parse(data ?? 'null') as Record<string, unknown>, at: Date.now() - sent });
    }
  }
  expect(buffer).toBe('');
  return { status: response.status, headers: response.headers, events };
}

/** The order rules Claude Code relies on: message_start first, contiguous blocks, message_delta, message_stop. */
function expectWellFormed(events: SseEvent[]): void {
  const names = events.map((e) => e.event).filter((name) => name !== 'ping');
  expect(names[0]).toBe('message_start');
  expect(names.at(-1)).toBe('message_stop');
  expect(names.at(-2)).toBe('message_delta');
  let open: number | null = null;
  let next = 0;
  for (const { event, data } of events) {
    if (event === 'content_block_start') {
      expect(open).toBeNull();
      expect(data.index).toBe(next);
      open = next;
    } else if (event === 'content_block_delta') {
      expect(data.index).toBe(open);
    } else if (event === 'content_block_stop') {
      expect(data.index).toBe(open);
      open = null;
      next++;
    }
  }
  expect(open).toBeNull();
  expect(next).toBeGreaterThan(0);
}

describe.each(databases)('Anthropic Messages API through the gateway on $name', (database) => {
  let upstream: FakeOllama;
  let gateway: TestGateway;
  let key: string;
  let client: Anthropic;

  // Writes settings as the admin UI will; the service's cache is the gateway's (shared per database
  // client), so it must start from the gateway's own defaults.
  const settings = (patch: Partial<Settings>) =>
    new SettingsService(gateway.shared.sql, defaultSettings(gateway.shared.config.ollamaUrl, gateway.shared.config.anthropicDefaultModel)).update(patch);
  const chatRequest = () => upstream.waitForRequest((r) => r.path === '/api/chat');
  const chatBody = (recorded: RecordedRequest) => recorded.body as OllamaChatBody;
  const usage = async (apiKey: string): Promise<{ day: WindowUsage }> => {
    const response = await fetch(`${gateway.proxyUrl}/v1/usage`, { headers: { 'x-api-key': apiKey } });
    expect(response.status).toBe(200);
    return (await response.json()) as { day: WindowUsage };
  };
  const settled = (apiKey: string) =>
    eventually(async () => {
      const own = await usage(apiKey);
      if (own.day.reserved_tokens !== 0) throw new Error('not settled yet');
      return own;
    });
  const sdk = (apiKey: string) => new Anthropic({ baseURL: gateway.proxyUrl, apiKey });

  beforeAll(async () => {
    upstream = await startFakeOllama();
    // The default model comes from the environment; the alias from the settings table.
    gateway = await startTestGateway(await database.create(), upstream.url, { ANTHROPIC_DEFAULT_MODEL: 'llama3.2' });
    await settings({ modelAliases: { 'claude-*haiku*': 'qwen3:4b' } });
    key = (await gateway.createKey({ name: 'claude' })).key;
    client = sdk(key);
  });

  afterAll(async () => {
    await gateway?.close();
    await upstream?.close();
    await database.dropAll();
  });

  beforeEach(() => upstream.reset());

  it('answers messages.create (non-streaming) with the fake\'s text and counts, echoing the requested model', async () => {
    const { data: message, response } = await client.messages
      .create({ model: 'claude-sonnet-4-6', max_tokens: 1024, messages: [{ role: 'user', content: 'say hello please' }] })
      .withResponse();
    const sent = chatBody(await chatRequest());
    expect(message).toMatchObject({
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-6',
      content: [{ type: 'text', text: DEFAULT_TEXT }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: countPromptTokens(sent), output_tokens: DEFAULT_TOKENS.length },
    });
    expect(message.id).toMatch(/^msg_[A-Za-z0-9]+$/);
    expect(response.headers.get('request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(response.headers.get('x-request-id')).toBe(response.headers.get('request-id'));
    // The default model (ANTHROPIC_DEFAULT_MODEL) ran it, streamed from Ollama, with the configured context.
    expect(sent).toMatchObject({ model: 'llama3.2', stream: true, options: { num_ctx: 65536, num_predict: 1024 } });
  });

  it('maps a name by alias and accepts the key as a Bearer token (authToken)', async () => {
    const bearer = new Anthropic({ baseURL: gateway.proxyUrl, authToken: key, apiKey: null });
    const message = await bearer.messages.create({ model: 'claude-haiku-4-5-20251001', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] });
    expect(message.model).toBe('claude-haiku-4-5-20251001');
    const recorded = await chatRequest();
    expect(chatBody(recorded).model).toBe('qwen3:4b');
    expect(recorded.headers.authorization).toBeUndefined();
    // No thinking asked for: a thinking-capable model is told not to think.
    expect(chatBody(recorded).think).toBe(false);
  });

  it('streams with messages.stream(): finalMessage() is what Ollama produced', async () => {
    upstream.enqueue({ tokens: ['Streams', ' arrive', ' in', ' pieces', ' — ünïcödé', '.'], splitWrites: true });
    const stream = client.messages.stream({ model: 'claude-sonnet-4-6', max_tokens: 256, messages: [{ role: 'user', content: 'stream please' }] });
    const texts: string[] = [];
    stream.on('text', (text) => texts.push(text));
    const message = await stream.finalMessage();
    expect(texts.length).toBeGreaterThan(1);
    expect(message).toMatchObject({
      model: 'claude-sonnet-4-6',
      content: [{ type: 'text', text: 'Streams arrive in pieces — ünïcödé.' }],
      stop_reason: 'end_turn',
      usage: { output_tokens: 6 },
    });
    expect(message.usage.input_tokens).toBe(countPromptTokens(chatBody(await chatRequest())));
  });

  it('thinks on a thinking-capable model: a thinking block, then the text', async () => {
    upstream.enqueue({ thinking: ['Let', ' me', ' think.'], tokens: ['The', ' answer.'] });
    const message = await client.messages
      .stream({
        model: 'qwen3:4b',
        max_tokens: 2048,
        thinking: { type: 'enabled', budget_tokens: 1024 },
        messages: [{ role: 'user', content: 'think first' }],
      })
      .finalMessage();
    expect(message.content).toHaveLength(2);
    expect(message.content[0]).toEqual({ type: 'thinking', thinking: 'Let me think.', signature: '' });
    expect(message.content[1]).toMatchObject({ type: 'text', text: 'The answer.' });
    expect(message.usage.output_tokens).toBe(5);
    expect(chatBody(await chatRequest())).toMatchObject({ model: 'qwen3:4b', think: true });
  });

  it('drops thinking for a model without the capability (Ollama would answer 400)', async () => {
    const message = await client.messages.create({
      model: 'llama3.2',
      max_tokens: 2048,
      thinking: { type: 'enabled', budget_tokens: 1024 },
      messages: [{ role: 'user', content: 'think first' }],
    });
    expect(message.content).toEqual([expect.objectContaining({ type: 'text', text: DEFAULT_TEXT })]);
    expect(chatBody(await chatRequest())).not.toHaveProperty('think');
  });

  const weatherTool = {
    name: 'get_weather',
    description: 'The current weather in a city',
    input_schema: { type: 'object' as const, properties: { city: { type: 'string' } }, required: ['city'] },
  };

  it('returns a tool call as a tool_use block with an input object and stop_reason tool_use', async () => {
    upstream.enqueue({ toolCalls: [{ name: 'get_weather', arguments: { city: 'Tokyo' } }] });
    const message = await client.messages.create({
      model: 'claude-sonnet-4-6',
      max_tokens: 512,
      tools: [weatherTool],
      messages: [{ role: 'user', content: 'weather in Tokyo?' }],
    });
    expect(message.stop_reason).toBe('tool_use');
    const toolUse = message.content.find((block) => block.type === 'tool_use');
    expect(toolUse).toMatchObject({ type: 'tool_use', name: 'get_weather', input: { city: 'Tokyo' } });
    expect((toolUse as { id: string }).id).toMatch(TOOL_ID);
    expect(chatBody(await chatRequest()).tools?.map((tool) => tool.function.name)).toEqual(['get_weather']);

    upstream.enqueue({ tokens: ['Checking.'], toolCalls: [{ name: 'get_weather', arguments: { city: 'Oslo' } }] });
    const streamed = await client.messages
      .stream({ model: 'claude-sonnet-4-6', max_tokens: 512, tools: [weatherTool], messages: [{ role: 'user', content: 'and Oslo?' }] })
      .finalMessage();
    expect(streamed.stop_reason).toBe('tool_use');
    expect(streamed.content).toEqual([
      expect.objectContaining({ type: 'text', text: 'Checking.' }),
      expect.objectContaining({ type: 'tool_use', name: 'get_weather', input: { city: 'Oslo' }, id: expect.stringMatching(TOOL_ID) }),
    ]);
  });

  it('completes a tool round trip: the tool_result reaches Ollama as a tool message naming its tool', async () => {
    upstream.enqueue({ toolCalls: [{ name: 'get_weather', arguments: { city: 'Tokyo' } }] });
    const question = { role: 'user' as const, content: 'weather in Tokyo?' };
    const first = await client.messages.create({ model: 'claude-sonnet-4-6', max_tokens: 512, tools: [weatherTool], messages: [question] });
    const toolUse = first.content.find((block) => block.type === 'tool_use')!;

    upstream.enqueue({ text: 'It is 11 degrees in Tokyo.' });
    const second = await client.messages.create({
      model: 'claude-sonnet-4-6',
      max_tokens: 512,
      tools: [weatherTool],
      messages: [
        question,
        { role: 'assistant', content: first.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: toolUse.id, content: '11 degrees' }] },
      ],
    });
    expect(second).toMatchObject({ stop_reason: 'end_turn', content: [{ type: 'text', text: 'It is 11 degrees in Tokyo.' }] });

    await chatRequest();
    const sent = chatBody(await chatRequest());
    expect(sent.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'tool']);
    expect(sent.messages[1]).toMatchObject({ tool_calls: [{ id: toolUse.id, function: { name: 'get_weather', arguments: { city: 'Tokyo' } } }] });
    expect(sent.messages[2]).toMatchObject({ role: 'tool', content: '11 degrees', tool_name: 'get_weather', tool_call_id: toolUse.id });
  });

  it('serves a Claude-Code-shaped request on ?beta=true: one leading system message without the billing block, num_ctx set', async () => {
    upstream.enqueue({ text: 'The file lists milk and Bob.' });
    const { status, headers, events } = await rawStream(`${gateway.proxyUrl}/v1/messages?beta=true`, key, claudeCodeRequest);
    expect(status).toBe(200);
    expect(headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(headers.get('request-id')).toBeTruthy();
    expectWellFormed(events);
    const text = events
      .filter((e) => e.event === 'content_block_delta')
      .map((e) => (e.data.delta as { text?: string }).text ?? '')
      .join('');
    expect(text).toBe('The file lists milk and Bob.');
    const delta = events.find((e) => e.event === 'message_delta')!.data;
    expect(delta).toMatchObject({ delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 6 } });

    const sent = chatBody(await chatRequest());
    expect(sent.model).toBe('llama3.2');
    expect(sent.messages[0]!.role).toBe('system');
    expect(sent.messages.filter((m) => m.role === 'system')).toHaveLength(1);
    expect(sent.messages[0]!.content).toContain("You are Claude Code, Anthropic's official CLI for Claude.");
    expect(sent.messages[0]!.content).toContain('The user is working in /tmp/project.');
    expect(JSON.stringify(sent)).not.toContain('x-anthropic-billing-header');
    expect(sent.options?.num_ctx).toBe(65536);
    expect(sent.tools).toHaveLength(12);
    expect(sent.messages.find((m) => m.role === 'tool')).toMatchObject({ tool_name: 'Read', tool_call_id: 'call_k3x9a0qz' });
    // llama3.2 cannot think: adaptive thinking is dropped rather than refused.
    expect(sent).not.toHaveProperty('think');
  });

  it('sends message_start at once and pings while Ollama is still reading a long prompt', async () => {
    // Ollama answers only after 7 s: message_start after ~1 s, a ping at ~6 s, the text after 7 s.
    upstream.enqueue({ delayBeforeHeadersMs: 7_000, text: 'Finally here.' });
    const { status, events } = await rawStream(`${gateway.proxyUrl}/v1/messages?beta=true`, key, {
      ...claudeCodeRequest,
      messages: [{ role: 'user', content: 'a very long prompt' }],
    });
    expect(status).toBe(200);
    expectWellFormed(events);
    const start = events.find((e) => e.event === 'message_start')!;
    const ping = events.find((e) => e.event === 'ping');
    const firstText = events.find((e) => e.event === 'content_block_delta')!;
    expect(start.at).toBeLessThan(3_000);
    expect(start.data.message).toMatchObject({ model: 'claude-sonnet-4-6', content: [], usage: { output_tokens: 0 } });
    expect((start.data.message as { usage: { input_tokens: number } }).usage.input_tokens).toBeGreaterThan(0);
    expect(ping).toBeDefined();
    expect(ping!.at).toBeLessThan(firstText.at);
    expect(firstText.at).toBeGreaterThanOrEqual(6_500);
  }, 20_000);

  it('reports an Ollama failure before the response started as an HTTP error in Anthropic\'s shape', async () => {
    upstream.enqueue({ status: 500, error: 'llama runner process has terminated' });
    // One scripted failure: at its defaults the SDK would retry the 502 and get the default reply.
    const error = await client.messages
      .stream({ model: 'claude-sonnet-4-6', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] }, { maxRetries: 0 })
      .finalMessage()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.InternalServerError);
    expect((error as APIError).error).toMatchObject({ type: 'error', error: { type: 'api_error', message: 'llama runner process has terminated' } });
  });

  it('caps the answer to the token quota (stop_reason max_tokens), then refuses with 429 rate_limit_error', async () => {
    const capped = (await gateway.createKey({ name: 'tokens', daily_token_limit: 60 })).key;
    upstream.enqueue({ tokens: Array.from({ length: 100 }, (_, i) => ` w${i}`) });
    const { data: message, response } = await sdk(capped)
      .messages.create({ model: 'claude-sonnet-4-6', max_tokens: 1000, messages: [{ role: 'user', content: 'count to a hundred' }] })
      .withResponse();
    const sent = chatBody(await chatRequest());
    expect(message.stop_reason).toBe('max_tokens');
    expect(sent.options?.num_predict).toBeLessThan(60);
    expect(message.usage.output_tokens).toBe(sent.options?.num_predict);
    expect(response.headers.get('anthropic-ratelimit-tokens-limit')).toBe('60');
    expect(Number(response.headers.get('anthropic-ratelimit-tokens-remaining'))).toBeLessThan(60);
    expect(response.headers.get('anthropic-ratelimit-tokens-reset')).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    await settled(capped);

    const error = await sdk(capped)
      .messages.create({ model: 'claude-sonnet-4-6', max_tokens: 1000, messages: [{ role: 'user', content: 'word '.repeat(100) }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.RateLimitError);
    const refusal = error as RateLimitError;
    expect(refusal.status).toBe(429);
    expect(refusal.error).toMatchObject({ type: 'error', error: { type: 'rate_limit_error', message: expect.stringContaining('daily token quota of 60') } });
    expect(Number(refusal.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(upstream.requests.filter((r) => r.path === '/api/chat')).toHaveLength(1);
  });

  it('sets anthropic-ratelimit-* request headers on admitted responses, streamed ones included', async () => {
    const limited = (await gateway.createKey({ name: 'requests', daily_request_limit: 5 })).key;
    const { status, headers, events } = await rawStream(`${gateway.proxyUrl}/v1/messages`, limited, {
      model: 'claude-sonnet-4-6',
      max_tokens: 64,
      stream: true,
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(status).toBe(200);
    expectWellFormed(events);
    expect(headers.get('anthropic-ratelimit-requests-limit')).toBe('5');
    expect(headers.get('anthropic-ratelimit-requests-remaining')).toBe('4');
  });

  it.each([
    ['an error line from Ollama', { midStreamError: { afterChunks: 2, error: 'model runner crashed' } }, /model runner crashed/],
    ['Ollama dying', { dieAfterChunks: 2 }, /closed the connection|terminated|aborted|socket/i],
  ])('raises in the SDK on %s mid-stream, and settles what was generated', async (_name, script, message) => {
    const metered = (await gateway.createKey({ daily_token_limit: 100_000 })).key;
    upstream.enqueue({ tokens: ['alpha', ' beta', ' gamma', ' delta'], ...script });
    const stream = sdk(metered).messages.stream({ model: 'claude-sonnet-4-6', max_tokens: 256, messages: [{ role: 'user', content: 'go on' }] });
    const texts: string[] = [];
    stream.on('text', (text) => texts.push(text));
    const error = await stream.finalMessage().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.APIError);
    expect((error as Error).message).toMatch(message);
    expect(texts.join('')).toBe('alpha beta');
    const own = await settled(metered);
    expect(own.day.requests).toBe(1);
    expect(own.day.tokens).toBeGreaterThanOrEqual(2);
  });

  it('answers 404 not_found_error for a vendor name with no model, alias or default', async () => {
    await settings({ defaultModel: null });
    try {
      const error = await client.messages.create({ model: 'claude-opus-4-1', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Anthropic.NotFoundError);
      expect((error as APIError).error).toMatchObject({ type: 'error', error: { type: 'not_found_error', message: expect.stringMatching(/^model 'claude-opus-4-1' not found: .*no default model is configured; see GET \/v1\/models/) } });
      expect(upstream.requests.filter((r) => r.path === '/api/chat')).toHaveLength(0);
    } finally {
      await settings({ defaultModel: 'llama3.2' });
    }
  });

  it('answers 403 permission_error when the resolved model is outside the key\'s allow-list', async () => {
    const restricted = (await gateway.createKey({ name: 'restricted', allowed_models: ['qwen3:4b'] })).key;
    const error = await sdk(restricted)
      .messages.create({ model: 'claude-sonnet-4-6', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.PermissionDeniedError);
    expect((error as APIError).error).toMatchObject({ error: { type: 'permission_error' } });
    const allowed = await sdk(restricted).messages.create({ model: 'claude-haiku-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] });
    expect(allowed.content[0]).toMatchObject({ type: 'text', text: DEFAULT_TEXT });
  });

  it('answers 401 authentication_error to a wrong key', async () => {
    const error = await sdk('sk-not-a-real-key-000000000000000000000')
      .messages.create({ model: 'claude-sonnet-4-6', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.AuthenticationError);
    expect((error as APIError).error).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
    expect(upstream.requests).toHaveLength(0);
  });

  it('counts tokens without Ollama, and 50 concurrent counts on a key with a request limit of 1 all pass uncounted', async () => {
    const counted = await client.messages.countTokens({
      model: 'claude-sonnet-4-6',
      system: 'You are terse.',
      tools: [weatherTool],
      messages: [{ role: 'user', content: 'How many tokens is this sentence?' }],
    });
    expect(counted.input_tokens).toBeGreaterThan(10);

    const one = (await gateway.createKey({ name: 'one-request', daily_request_limit: 1 })).key;
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        sdk(one).beta.messages.countTokens({ model: 'claude-sonnet-4-6', messages: [{ role: 'user', content: `part ${i} of the context` }] }),
      ),
    );
    expect(results.every((result) => result.input_tokens > 0)).toBe(true);
    expect(upstream.requests).toHaveLength(0);
    expect((await usage(one)).day).toMatchObject({ requests: 0, tokens: 0, reserved_tokens: 0 });
    // The one request the key has is still there.
    await sdk(one).messages.create({ model: 'claude-sonnet-4-6', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] });
    expect((await usage(one)).day.requests).toBe(1);

    const anonymous = await fetch(`${gateway.proxyUrl}/v1/messages/count_tokens?beta=true`, {
      method: 'POST',
      body: JSON.stringify({ model: 'x', messages: [] }),
    });
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
  });

  it('refuses an image given by URL with 400 invalid_request_error', async () => {
    const error = await client.messages
      .create({
        model: 'claude-sonnet-4-6',
        max_tokens: 64,
        messages: [
          {
            role: 'user',
            content: [
              { type: 'image', source: { type: 'url', url: 'https://example.com/cat.png' } },
              { type: 'text', text: 'what is this?' },
            ],
          },
        ],
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.BadRequestError);
    expect((error as APIError).error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining('URL image sources are not supported') } });
    expect(upstream.requests.filter((r) => r.path === '/api/chat')).toHaveLength(0);
  });

  it.each([
    ['malformed JSON', '{"model": "claude-sonnet-4-6", "messages": [', 'not valid JSON', true],
    ['an empty body', '', 'empty', true],
    ['a JSON array', '[]', 'JSON object', true],
    ['no messages', JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 10 }), 'messages', true],
    // count_tokens only needs the messages to count; the Messages endpoint judges the rest.
    ['no model', JSON.stringify({ max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }), 'model', false],
    ['a bad role', JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 10, messages: [{ role: 'robot', content: 'hi' }] }), 'role', false],
  ])('answers %s with 400 in Anthropic\'s shape, never 500', async (_name, body, message, countTokensRefuses) => {
    const paths = ['/v1/messages', '/v1/messages?beta=true', ...(countTokensRefuses ? ['/v1/messages/count_tokens?beta=true'] : [])];
    for (const path of paths) {
      const response = await fetch(`${gateway.proxyUrl}${path}`, { method: 'POST', headers: { 'x-api-key': key, 'content-type': 'application/json' }, body });
      expect(response.status).toBe(400);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await response.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining(message) } });
    }
    expect(upstream.requests.filter((r) => r.path === '/api/chat')).toHaveLength(0);
  });

  it('answers Claude Code\'s probes without credentials: HEAD / and HEAD /api/hello', async () => {
    for (const path of ['/', '/api/hello']) {
      const response = await fetch(`${gateway.proxyUrl}${path}`, { method: 'HEAD' });
      expect(response.status).toBe(200);
    }
  });

  it('accepts Claude Code\'s event logging with 200 {} and forwards nothing; only with a key', async () => {
    const logged = await fetch(`${gateway.proxyUrl}/api/event_logging/batch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ events: [{ event_type: 'ClaudeCodeInternalEvent', event_data: {} }] }),
    });
    expect(logged.status).toBe(200);
    expect(await logged.json()).toEqual({});
    const anonymous = await fetch(`${gateway.proxyUrl}/api/event_logging/batch`, { method: 'POST', body: '{}' });
    expect(anonymous.status).toBe(401);
    await anonymous.body?.cancel();
    expect(upstream.requests).toHaveLength(0);
  });
});

/**
 * Streams a key holder can leave hanging, and streams that must not be reported as finished
 * (issue 13, items 5, 12 and 13's unfinished streams), against the real gateway.
 */
import net from 'node:net';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import type { QuotaService } from '@llmproxy/quota';
import { startFakeOllama, type FakeOllama } from '../upstream/fake-ollama.js';
import { testDatabases } from '../support/databases.js';
import { closeWithFakeOllama, eventually, startTestGateway, type TestGateway } from '../support/gateway.js';
import { CHAT, post } from '../support/dialects.js';

const databases = await testDatabases();

async function reservedTokens(gateway: TestGateway, key: string): Promise<{ requests: number; tokens: number; reserved_tokens: number }> {
  const response = await fetch(`${gateway.proxyUrl}/v1/usage`, { headers: { authorization: `Bearer ${key}` } });
  return ((await response.json()) as { day: { requests: number; tokens: number; reserved_tokens: number } }).day;
}

/** Makes every admission wait `ms` first, as a slow database round trip would; `admitted` resolves once one is done. */
function delayAdmissions(quota: QuotaService, ms: number): { admitted: Promise<void>; restore(): void } {
  const original = quota.admit.bind(quota);
  let done!: () => void;
  const admitted = new Promise<void>((resolve) => (done = resolve));
  quota.admit = async (input) => {
    await new Promise((resolve) => setTimeout(resolve, ms));
    const result = await original(input);
    done();
    return result;
  };
  return {
    admitted,
    restore: () => {
      quota.admit = original;
    },
  };
}

/** Sends a request over a raw socket and never reads the answer. */
function neverReadingClient(baseUrl: string, path: string, key: string, body: object): net.Socket {
  const url = new URL(baseUrl);
  const payload = JSON.stringify(body);
  const socket = net.connect(Number(url.port), url.hostname);
  socket.on('error', () => undefined);
  socket.write(
    `POST ${path} HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(payload)}\r\n\r\n${payload}`,
  );
  socket.pause();
  return socket;
}

/** 4,000 chunks of 5 KB: far more than the kernel's socket buffers hold. */
const HUGE = { tokens: Array.from({ length: 4_000 }, (_, i) => `${i} ${'x'.repeat(5_000)}`) };

describe.each(databases)('streams a client leaves hanging ($name)', (database) => {
  let upstream: FakeOllama;
  let gateway: TestGateway;

  beforeAll(async () => {
    upstream = await startFakeOllama();
    gateway = await startTestGateway(await database.create(), upstream.url, { CLIENT_STALL_TIMEOUT_S: '1' });
  });
  afterAll(async () => {
    await closeWithFakeOllama({ gateway, upstream });
    await database.dropAll();
  });
  beforeEach(() => upstream.reset());

  it.each([
    ['/api/chat', { ...CHAT, stream: true }],
    ['/v1/chat/completions', { ...CHAT, stream: true }],
    ['/v1/messages', { ...CHAT, stream: true, max_tokens: 100 }],
  ])('%s: a client that leaves while admission waits on the database never reaches Ollama and holds nothing', async (path, body) => {
    const { key } = await gateway.createKey({ max_concurrent: 1, daily_token_limit: 100_000 });
    const slow = delayAdmissions(gateway.shared.quota, 300);
    try {
      upstream.enqueue({ chunkDelayMs: 5 });
      const controller = new AbortController();
      const pending = post(gateway.proxyUrl, path, key, body, false, controller.signal).catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 100));
      controller.abort();
      await pending;
      // The client is gone; the gateway admits its request 200 ms later.
      await slow.admitted;
      await eventually(async () => expect(await reservedTokens(gateway, key)).toMatchObject({ requests: 1, tokens: 0, reserved_tokens: 0 }), 3_000);
    } finally {
      slow.restore();
    }
    expect(upstream.requests.filter((r) => r.path === '/api/chat')).toHaveLength(0);
    // The key's one slot is free again: its next request is served.
    const next = await post(gateway.proxyUrl, '/api/chat', key, { ...CHAT, stream: false });
    await next.text();
    expect(next.status).toBe(200);
  });

  it.each([
    ['/api/chat', { ...CHAT, stream: true }],
    ['/v1/chat/completions', { ...CHAT, stream: true }],
    ['/v1/messages', { ...CHAT, stream: true, max_tokens: 10_000 }],
  ])('%s: a client that stops reading is cut after CLIENT_STALL_TIMEOUT_S, Ollama is aborted and the request settled', async (path, body) => {
    const { key } = await gateway.createKey({ max_concurrent: 1, daily_token_limit: 1_000_000 });
    upstream.enqueue(HUGE);
    const socket = neverReadingClient(gateway.proxyUrl, path, key, body);
    try {
      const arrived = await upstream.waitForRequest((r) => r.path === '/api/chat');
      expect(await Promise.race([arrived.settled, new Promise((resolve) => setTimeout(() => resolve('still streaming'), 10_000))])).toBe('aborted');
      const after = await eventually(async () => {
        const now = await reservedTokens(gateway, key);
        if (now.reserved_tokens !== 0) throw new Error(`still reserved: ${now.reserved_tokens}`);
        return now;
      }, 5_000);
      // Charged what was generated before the cut.
      expect(after.requests).toBe(1);
      expect(after.tokens).toBeGreaterThan(0);
    } finally {
      socket.destroy();
    }
    const next = await post(gateway.proxyUrl, '/api/chat', key, { ...CHAT, stream: false });
    await next.text();
    expect(next.status).toBe(200);
  }, 30_000);
});

describe('streams that must not look finished (SQLite)', () => {
  let upstream: FakeOllama;
  let gateway: TestGateway;
  let key: string;

  beforeAll(async () => {
    upstream = await startFakeOllama();
    gateway = await startTestGateway(await databases[0]!.create(), upstream.url);
    ({ key } = await gateway.createKey({}));
  });
  afterAll(() => closeWithFakeOllama({ gateway, upstream }));
  beforeEach(() => upstream.reset());

  it('Anthropic: a ping whenever nothing was written for 5 s, for the whole stream (a 20 s silence before a tool call)', async () => {
    upstream.enqueue({ tokens: ['I', ' will', ' write', ' it'], toolCalls: [{ name: 'Write', arguments: { file_path: '/tmp/a.txt', content: 'x' } }], pauseBeforeToolCallsMs: 20_000 });
    const response = await post(gateway.proxyUrl, '/v1/messages', key, {
      ...CHAT,
      stream: true,
      max_tokens: 1_000,
      tools: [{ name: 'Write', description: 'write a file', input_schema: { type: 'object', properties: { file_path: { type: 'string' }, content: { type: 'string' } } } }],
    });
    expect(response.status).toBe(200);
    const events: { at: number; name: string }[] = [];
    const decoder = new TextDecoder();
    let buffered = '';
    for await (const bytes of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffered += decoder.decode(bytes, { stream: true });
      let end: number;
      while ((end = buffered.indexOf('\n\n')) >= 0) {
        const frame = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const name = /^event: (\S+)/m.exec(frame)?.[1] ?? '?';
        events.push({ at: Date.now(), name });
      }
    }
    const gaps = events.slice(1).map((event, i) => event.at - events[i]!.at);
    expect(Math.max(...gaps)).toBeLessThan(6_500);
    expect(events.filter((e) => e.name === 'ping').length).toBeGreaterThanOrEqual(3);
    const toolStart = events.findIndex((e) => e.name === 'content_block_start' && events.indexOf(e) > 2);
    expect(toolStart).toBeGreaterThan(0);
    expect(events.at(-1)!.name).toBe('message_stop');
  }, 40_000);

  it('OpenAI (official SDK, defaults): a stream whose upstream ended without its final chunk raises an error', async () => {
    const client = new OpenAI({ baseURL: `${gateway.proxyUrl}/v1`, apiKey: key });
    upstream.enqueue({ tokens: ['a', ' b'], endWithoutDone: true });
    const stream = await client.chat.completions.create({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }], stream: true });
    const received: string[] = [];
    await expect(
      (async () => {
        for await (const chunk of stream) received.push(chunk.choices[0]?.delta?.content ?? '');
      })(),
    ).rejects.toThrow(/without finishing/);
    expect(received.join('')).toBe('a b');
  });

  it('OpenAI non-streaming: 502 instead of a normal answer', async () => {
    upstream.enqueue({ tokens: ['a', ' b'], endWithoutDone: true });
    const response = await post(gateway.proxyUrl, '/v1/chat/completions', key, { ...CHAT });
    expect(response.status).toBe(502);
    expect(((await response.json()) as { error: { message: string } }).error.message).toMatch(/without finishing/);
  });

  it('Anthropic (official SDK, defaults): an error event instead of end_turn', async () => {
    const client = new Anthropic({ baseURL: gateway.proxyUrl, apiKey: key });
    upstream.enqueue({ tokens: ['a', ' b'], endWithoutDone: true });
    const stream = client.messages.stream({ model: 'llama3.2', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] });
    await expect(stream.finalMessage()).rejects.toThrow(/without finishing/);
    await eventually(() => {
      const line = gateway.usageLines().find((l) => l.route === '/v1/messages' && l.outcome !== 'ok');
      expect(line).toMatchObject({ outcome: 'upstream_error' });
    });
  });
});

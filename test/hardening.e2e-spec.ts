/**
 * Hardening (issue 9, part 1): upstream faults, client faults, fuzzing and auth abuse.
 * The rest of the issue: kill -9 in data-safety.e2e-spec.ts, PostgreSQL outage and recovery in
 * db-outage.e2e-spec.ts, the soak in soak.e2e-spec.ts.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { anthropic, DialectError, openai } from '@llmproxy/dialects';
import { startFakeOllama, type FakeOllama, type RecordedRequest } from './upstream/fake-ollama.js';
import { testDatabases } from './support/databases.js';
import { ADMIN_PASSWORD, closeWithFakeOllama, eventually, startTestGateway, startWithFakeOllama, type TestGateway } from './support/gateway.js';
import { spawnGateway } from './support/spawned-gateway.js';
import { CHAT, DIALECTS, errorMessageOf, post, type Json } from './support/dialects.js';

const databases = await testDatabases();
const sqlite = databases.filter((d) => d.name === 'sqlite');

// ---------------------------------------------------------------------------------------------
// helpers

const STACK_TRACE = /\n\s+at [^\n]*:\d+:\d+|node_modules|\/work\/|\bat Object\.|TypeError|ReferenceError/;

interface SseEvent {
  event?: string;
  data: string;
}

function parseSse(text: string): SseEvent[] {
  return text
    .split(/\n\n/)
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const event: SseEvent = { data: '' };
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event.event = line.slice(6).trim();
        else if (line.startsWith('data:')) event.data += line.slice(5).trimStart();
      }
      return event;
    });
}

function ndjson(text: string): Json[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Json);
}

/** The text a client of each dialect assembles from a response body. */
function nativeText(text: string): string {
  return ndjson(text)
    .map((c) => ((c.message as Json | undefined)?.content as string | undefined) ?? (c.response as string | undefined) ?? '')
    .join('');
}
function openaiStreamText(text: string): string {
  return parseSse(text)
    .filter((e) => e.data !== '[DONE]')
    .map((e) => (((JSON.parse(e.data) as Json).choices as Json[])[0]?.delta as Json | undefined)?.content ?? '')
    .join('');
}
function anthropicStreamText(text: string): string {
  return parseSse(text)
    .filter((e) => e.event === 'content_block_delta')
    .map((e) => ((JSON.parse(e.data) as Json).delta as Json).text ?? '')
    .join('');
}

async function reserved(baseUrl: string, key: string): Promise<number> {
  const response = await fetch(`${baseUrl}/v1/usage`, { headers: { authorization: `Bearer ${key}` } });
  expect(response.status).toBe(200);
  return ((await response.json()) as { day: { reserved_tokens: number } }).day.reserved_tokens;
}

async function settled(baseUrl: string, key: string): Promise<void> {
  await eventually(async () => {
    const left = await reserved(baseUrl, key);
    if (left !== 0) throw new Error(`reservation not settled: ${left} tokens still reserved`);
  });
}

interface CustomUpstream {
  url: string;
  close(): Promise<void>;
}

/**
 * A node:http upstream for shapes the fake cannot produce: `handle` answers what it wants (returns
 * true); everything else (catalogue, /api/show …) is passed to the fake Ollama.
 */
async function customUpstream(
  fake: FakeOllama,
  handle: (req: IncomingMessage, res: ServerResponse, body: string) => boolean | Promise<boolean>,
): Promise<CustomUpstream> {
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const body = Buffer.concat(parts);
      void (async () => {
        if (await handle(req, res, body.toString('utf8'))) return;
        const target = new URL(req.url ?? '/', fake.url);
        const forwarded = http.request(target, { method: req.method, headers: { ...req.headers, host: target.host } }, (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        });
        forwarded.on('error', () => res.destroy());
        forwarded.end(body);
      })();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function chatLine(content: string, done = false): string {
  const base: Json = { model: 'llama3.2:latest', created_at: new Date().toISOString(), message: { role: 'assistant', content }, done };
  if (done) Object.assign(base, { done_reason: 'stop', prompt_eval_count: 3, eval_count: 2 });
  return `${JSON.stringify(base)}\n`;
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i]!, i);
      }
    }),
  );
  return results;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

// ---------------------------------------------------------------------------------------------
// 1. upstream faults

describe.each(databases)('upstream faults on $name (UPSTREAM_TIMEOUT_S=1, UPSTREAM_IDLE_TIMEOUT_S=1)', (database) => {
  let upstream: FakeOllama;
  let gateway: TestGateway;
  let key: string;

  beforeAll(async () => {
    ({ upstream, gateway } = await startWithFakeOllama(await database.create(), { UPSTREAM_TIMEOUT_S: '1', UPSTREAM_IDLE_TIMEOUT_S: '1' }));
    // A token limit: every request holds a reservation that must be settled.
    key = (await gateway.createKey({ name: 'faults', daily_token_limit: 1_000_000 })).key;
  });
  afterAll(async () => {
    await closeWithFakeOllama({ gateway, upstream });
    await database.dropAll();
  });
  beforeEach(() => {
    upstream.release();
    upstream.reset();
  });

  it.each(DIALECTS)('an upstream that accepts and never answers: 504 in the $name dialect within ~1–3 s, reservation settled', async ({ name, path, body }) => {
    upstream.enqueue({ hang: true });
    const started = Date.now();
    const response = await post(gateway.proxyUrl, path, key, body);
    const elapsed = Date.now() - started;
    expect(response.status).toBe(504);
    expect(elapsed).toBeGreaterThanOrEqual(900);
    expect(elapsed).toBeLessThan(3_500);
    const message = errorMessageOf(name, (await response.json()) as Json);
    expect(message).toMatch(/did not answer in time/);
    await settled(gateway.proxyUrl, key);
  });

  it.each([
    { name: 'native', path: '/api/chat', body: { ...CHAT, stream: true } },
    { name: 'openai', path: '/v1/chat/completions', body: { ...CHAT, stream: true } },
    { name: 'anthropic', path: '/v1/messages', body: { ...CHAT, max_tokens: 100, stream: true } },
  ])('a $name stream that goes silent mid-way is cut after the idle timeout with an in-band error and settled', async ({ name, path, body }) => {
    upstream.enqueue({ tokens: ['one', ' two', ' three', ' four'], holdAfterChunks: 2 });
    const response = await post(gateway.proxyUrl, path, key, body);
    expect(response.status).toBe(200);
    const text = await response.text();
    if (name === 'native') {
      const lines = ndjson(text);
      expect(nativeText(text)).toBe('one two');
      expect(lines.at(-1)).toEqual({ error: expect.stringMatching(/did not answer in time/) });
    } else if (name === 'openai') {
      expect(openaiStreamText(text.replace(/data: \{"error".*\n\n/, ''))).toBe('one two');
      expect(text).toMatch(/"error":\{"message":"[^"]*did not answer in time/);
      expect(text).not.toContain('[DONE]');
    } else {
      expect(anthropicStreamText(text)).toBe('one two');
      const events = parseSse(text);
      expect(events.at(-1)!.event).toBe('error');
      expect(JSON.parse(events.at(-1)!.data)).toMatchObject({ type: 'error', error: { message: expect.stringMatching(/did not answer in time/) } });
    }
    await settled(gateway.proxyUrl, key);
    const line = await eventually(() => {
      const found = gateway.usageLines().find((l) => l.route === path && l.outcome === 'upstream_error' && l.stream === true);
      if (!found) throw new Error('no usage line yet');
      return found;
    });
    expect(line.completion_tokens).toBeGreaterThan(0);
  });

  it.each([500, 503])('maps Ollama’s %i {"error"} to every dialect with the message kept, and settles', async (status) => {
    const tokens = async () => ((await (await fetch(`${gateway.proxyUrl}/v1/usage`, { headers: { authorization: `Bearer ${key}` } })).json()) as { day: { tokens: number } }).day.tokens;
    const before = await tokens();
    for (const { name, path, body } of DIALECTS) {
      for (const stream of [false, true]) {
        upstream.enqueue({ status, error: `model runner crashed (${status})` });
        const response = await post(gateway.proxyUrl, path, key, { ...body, stream });
        expect({ name, stream, status: response.status }).toEqual({ name, stream, status });
        expect(errorMessageOf(name, (await response.json()) as Json)).toBe(`model runner crashed (${status})`);
      }
    }
    await settled(gateway.proxyUrl, key);
    // Nothing was produced: the failed requests cost no tokens.
    expect(await tokens()).toBe(before);
  });

  it('the gateway still answers after all of that', async () => {
    const response = await post(gateway.proxyUrl, '/api/chat', key, { ...CHAT, stream: false });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { message: { content: string } }).message.content).toBe('Hello there! How can I help you?');
  });
});

describe.each(sqlite)('upstream wire shapes on $name', (database) => {
  let upstream: FakeOllama;
  let gateway: TestGateway;
  let key: string;

  beforeAll(async () => {
    ({ upstream, gateway } = await startWithFakeOllama(await database.create()));
    key = (await gateway.createKey({ name: 'shapes', daily_token_limit: 1_000_000 })).key;
  });
  afterAll(async () => {
    await closeWithFakeOllama({ gateway, upstream });
  });
  beforeEach(() => upstream.reset());

  it('an NDJSON line split across TCP writes and multibyte characters split across chunks: every dialect’s client gets exactly the text', async () => {
    const tokens = ['Grüße', ' 日本語', ' 🐻‍❄️', ' naïve', ' “quotes”', ' ok'];
    const expected = tokens.join('');
    const cases: [string, string, Json, (text: string) => string][] = [
      ['native stream', '/api/chat', { ...CHAT, stream: true }, nativeText],
      ['native json', '/api/chat', { ...CHAT, stream: false }, (t) => ((JSON.parse(t) as Json).message as Json).content as string],
      ['generate stream', '/api/generate', { model: 'llama3.2', prompt: 'hi' }, nativeText],
      ['openai stream', '/v1/chat/completions', { ...CHAT, stream: true }, openaiStreamText],
      ['openai json', '/v1/chat/completions', { ...CHAT }, (t) => (((JSON.parse(t) as Json).choices as Json[])[0]!.message as Json).content as string],
      ['anthropic stream', '/v1/messages', { ...CHAT, max_tokens: 100, stream: true }, anthropicStreamText],
      ['anthropic json', '/v1/messages', { ...CHAT, max_tokens: 100 }, (t) => (((JSON.parse(t) as Json).content as Json[])[0]!.text as string)],
    ];
    for (const [name, path, body, read] of cases) {
      upstream.enqueue({ tokens, splitWrites: true });
      const response = await post(gateway.proxyUrl, path, key, body);
      expect({ name, status: response.status }).toEqual({ name, status: 200 });
      expect({ name, text: read(await response.text()) }).toEqual({ name, text: expected });
    }
    await settled(gateway.proxyUrl, key);
  });

  it('invalid JSON lines in a stream do not crash anything: the client gets the valid parts', async () => {
    const custom = await customUpstream(upstream, (req, res) => {
      if (req.url !== '/api/chat') return false;
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.write(chatLine('Hel'));
      res.write('{"model": "llama3.2", "message": {"content": "broken\n');
      res.write('not json at all\n');
      res.write('\u0000\u00ff\ufffd]]]\n');
      res.write('[1,2,3]\n');
      res.write('null\n42\n"str"\n');
      res.write(chatLine('lo'));
      res.end(chatLine('', true));
      return true;
    });
    const other = await startTestGateway(await database.create(), custom.url);
    try {
      const own = (await other.createKey({ name: 'garbage', daily_token_limit: 100_000 })).key;
      const cases: [string, Json, (text: string) => string][] = [
        ['/api/chat', { ...CHAT, stream: true }, (t) => t],
        ['/v1/chat/completions', { ...CHAT, stream: true }, openaiStreamText],
        ['/v1/chat/completions', { ...CHAT }, (t) => (((JSON.parse(t) as Json).choices as Json[])[0]!.message as Json).content as string],
        ['/v1/messages', { ...CHAT, max_tokens: 50, stream: true }, anthropicStreamText],
        ['/v1/messages', { ...CHAT, max_tokens: 50 }, (t) => (((JSON.parse(t) as Json).content as Json[])[0]!.text as string)],
      ];
      for (const [path, body, read] of cases) {
        const response = await post(other.proxyUrl, path, own, body);
        expect(response.status).toBeLessThan(500);
        const text = await response.text();
        expect(text).not.toMatch(STACK_TRACE);
        // Native is a passthrough: the client sees the bytes Ollama sent. The translated dialects keep the valid parts.
        if (path === '/api/chat') expect(text).toContain('"content":"Hel"');
        else expect(read(text)).toBe('Hello');
      }
      await settled(other.proxyUrl, own);
      expect((await post(other.proxyUrl, '/api/chat', own, { ...CHAT, stream: false })).status).toBe(200);
    } finally {
      await other.close();
      await custom.close();
    }
  });

  it('does not pass Ollama’s harmful response headers on (set-cookie, server, x-powered-by, custom ones)', async () => {
    const harmful = {
      'set-cookie': 'session=stolen; Path=/; HttpOnly',
      server: 'ollama-internal/1.2.3 (gpu-box-7)',
      'x-powered-by': 'Go-upstream',
      'x-internal-host': 'gpu-box-7.corp',
      'access-control-allow-origin': '*',
      'strict-transport-security': 'max-age=0',
    };
    const custom = await customUpstream(upstream, (req, res, body) => {
      for (const [name, value] of Object.entries(harmful)) res.setHeader(name, value);
      if (req.url === '/api/chat' || req.url === '/api/generate') {
        const stream = (JSON.parse(body) as Json).stream !== false;
        if (!stream) {
          res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
          res.end(chatLine('hi', true));
        } else {
          res.writeHead(200, { 'content-type': 'application/x-ndjson' });
          res.write(chatLine('hi'));
          res.end(chatLine('', true));
        }
        return true;
      }
      if (req.url === '/api/version') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"version":"0.12.3"}');
        return true;
      }
      return false; // the fake answers; the headers set above stay on `res` beside the fake's
    });
    const other = await startTestGateway(await database.create(), custom.url);
    try {
      const own = (await other.createKey({ name: 'headers' })).key;
      const responses: [string, Response][] = [
        ['GET /api/version', await fetch(`${other.proxyUrl}/api/version`, { headers: { authorization: `Bearer ${own}` } })],
        ['native stream', await post(other.proxyUrl, '/api/chat', own, { ...CHAT, stream: true })],
        ['native json', await post(other.proxyUrl, '/api/chat', own, { ...CHAT, stream: false })],
        ['openai json', await post(other.proxyUrl, '/v1/chat/completions', own, CHAT)],
        ['openai stream', await post(other.proxyUrl, '/v1/chat/completions', own, { ...CHAT, stream: true })],
        ['anthropic json', await post(other.proxyUrl, '/v1/messages', own, { ...CHAT, max_tokens: 10 })],
        ['anthropic stream', await post(other.proxyUrl, '/v1/messages', own, { ...CHAT, max_tokens: 10, stream: true })],
      ];
      for (const [name, response] of responses) {
        expect({ name, status: response.status }).toEqual({ name, status: 200 });
        await response.text();
        for (const header of Object.keys(harmful)) expect({ name, header, value: response.headers.get(header) }).toEqual({ name, header, value: null });
      }
    } finally {
      await other.close();
      await custom.close();
    }
  });
});

describe.each(sqlite)('memory while Ollama answers very slowly (spawned gateway on $name)', (database) => {
  it('keeps the gateway’s RSS flat over long slow streams', async () => {
    const upstream = await startFakeOllama();
    const gateway = await spawnGateway({ DATABASE_URL: await database.create(), OLLAMA_URL: upstream.url });
    try {
      const admin = await fetch(`${gateway.adminUrl}/api/api-keys`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_PASSWORD}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'slow', daily_token_limit: 100_000_000 }),
      });
      const { key } = (await admin.json()) as { key: string };
      const vmRss = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${gateway.child.pid}/status`, 'utf8'))![1]) * 1024;
      const tokens = Array.from({ length: 400 }, (_, i) => ` token-${i}-${'x'.repeat(200)}`);
      const round = async () => {
        const paths: [string, Json][] = [
          ['/api/chat', { ...CHAT, stream: true }],
          ['/v1/chat/completions', { ...CHAT, stream: true }],
          ['/v1/messages', { ...CHAT, max_tokens: 100_000, stream: true }],
        ];
        await Promise.all(
          Array.from({ length: 12 }, async (_, i) => {
            upstream.enqueue({ tokens, chunkDelayMs: 1 });
            const [path, body] = paths[i % 3]!;
            const response = await post(gateway.proxyUrl, path, key, body);
            expect(response.status).toBe(200);
            // Read it as it arrives and keep nothing.
            for await (const chunk of response.body!) void chunk;
          }),
        );
      };
      await round(); // warm-up: JIT, pools, caches
      const before = vmRss();
      let peak = before;
      const sampler = setInterval(() => (peak = Math.max(peak, vmRss())), 50);
      await round();
      await round();
      clearInterval(sampler);
      const after = vmRss();
      // Each round streams ~12 × 400 × 220 B ≈ 1 MB per client; unbounded buffering of the bodies would show as tens of MB.
      expect(after - before).toBeLessThan(40 * 1024 * 1024);
      expect(peak - before).toBeLessThan(60 * 1024 * 1024);
    } finally {
      await gateway.stop();
      await upstream.close();
    }
  }, 60_000);
});

// ---------------------------------------------------------------------------------------------
// 2. client faults

describe.each(sqlite)('client faults on $name', (database) => {
  let upstream: FakeOllama;
  let gateway: TestGateway;
  let key: string;
  let limited: string;
  const LIMIT = 50_000;

  beforeAll(async () => {
    ({ upstream, gateway } = await startWithFakeOllama(await database.create()));
    key = (await gateway.createKey({ name: 'unlimited' })).key;
    limited = (await gateway.createKey({ name: 'limited', daily_token_limit: LIMIT })).key;
  });
  afterAll(async () => {
    await closeWithFakeOllama({ gateway, upstream });
  });
  beforeEach(() => upstream.reset());

  it.each([
    { name: 'native', path: '/api/chat', body: { ...CHAT, stream: true } },
    { name: 'openai', path: '/v1/chat/completions', body: { ...CHAT, stream: true } },
    { name: 'anthropic', path: '/v1/messages', body: { ...CHAT, max_tokens: 100, stream: true } },
  ])('a $name client that never reads: the gateway applies backpressure, the upstream’s writes stall', async ({ path, body }) => {
    const stats = { bytes: 0, blocked: 0, aborted: false };
    const line = chatLine(`${'y'.repeat(1000)} `);
    const custom = await customUpstream(upstream, (req, res) => {
      if (req.url !== '/api/chat') return false;
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.on('close', () => (stats.aborted = true));
      // As fast as the gateway takes it, forever: only backpressure stops this.
      const pump = () => {
        while (!res.destroyed) {
          stats.bytes += line.length;
          if (!res.write(line)) {
            stats.blocked++;
            res.once('drain', pump);
            return;
          }
        }
      };
      pump();
      return true;
    });
    const other = await startTestGateway(await database.create(), custom.url);
    let socket: net.Socket | undefined;
    try {
      const own = (await other.createKey({ name: 'slow-reader', daily_token_limit: 100_000_000 })).key;
      socket = net.connect(Number(new URL(other.proxyUrl).port), '127.0.0.1');
      await new Promise<void>((resolve, reject) => socket!.once('connect', () => resolve()).once('error', reject));
      const payload = JSON.stringify(body);
      socket.write(
        `POST ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${own}\r\nContent-Type: application/json\r\nanthropic-version: 2023-06-01\r\nContent-Length: ${Buffer.byteLength(payload)}\r\n\r\n${payload}`,
      );
      socket.pause(); // never read
      // Wait until the upstream has stopped making progress (stalled for 600 ms).
      let last = -1;
      let stalledSince = Date.now();
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        if (stats.bytes !== last) {
          last = stats.bytes;
          stalledSince = Date.now();
        } else if (Date.now() - stalledSince > 600 && stats.bytes > 0) break;
      }
      expect(stats.bytes).toBeGreaterThan(0);
      expect(stats.blocked).toBeGreaterThan(0);
      const stalledAt = stats.bytes;
      await new Promise((r) => setTimeout(r, 500));
      expect(stats.bytes).toBe(stalledAt);
      // Socket buffers (client receive, gateway send, upstream send) hold a few MB at most; unbounded buffering would be far beyond.
      expect(stats.bytes).toBeLessThan(48 * 1024 * 1024);
      expect(stats.aborted).toBe(false);

      // The client goes away: the upstream is aborted and the reservation settled.
      socket.destroy();
      await eventually(() => expect(stats.aborted).toBe(true));
      await settled(other.proxyUrl, own);
    } finally {
      socket?.destroy();
      await other.close();
      await custom.close();
    }
  });

  const HOSTILE: unknown[] = [1e308, -1e308, -1, 2 ** 63, -(2 ** 63), 1.5, -0.5, 0, 'NaN', 'Infinity', '-Infinity', '1e308', '9223372036854775808', '', ' ', null, true, false, {}, [], [null], { $gt: 1 }, 'x'.repeat(5_000)];
  const FIELDS: Record<string, { path: string; base: Json; fields: string[] }> = {
    native: { path: '/api/chat', base: { ...CHAT, stream: false }, fields: ['model', 'stream', 'options', 'options.num_predict', 'messages', 'messages.0', 'messages.0.content', 'messages.0.role', 'tools', 'think', 'format', 'keep_alive'] },
    generate: { path: '/api/generate', base: { model: 'llama3.2', prompt: 'hi', stream: false }, fields: ['model', 'prompt', 'stream', 'options.num_predict', 'system', 'images'] },
    openai: {
      path: '/v1/chat/completions',
      base: { ...CHAT },
      fields: ['model', 'stream', 'max_tokens', 'max_completion_tokens', 'messages', 'messages.0', 'messages.0.content', 'messages.0.role', 'tools', 'tool_choice', 'temperature', 'top_p', 'stop', 'seed', 'stream_options', 'response_format', 'reasoning_effort', 'n'],
    },
    embeddings: { path: '/v1/embeddings', base: { model: 'nomic-embed-text', input: 'hi' }, fields: ['model', 'input', 'dimensions', 'encoding_format'] },
    anthropic: {
      path: '/v1/messages',
      base: { ...CHAT, max_tokens: 100 },
      fields: ['model', 'stream', 'max_tokens', 'messages', 'messages.0', 'messages.0.content', 'messages.0.role', 'tools', 'tool_choice', 'system', 'temperature', 'stop_sequences', 'thinking', 'metadata'],
    },
    count_tokens: { path: '/v1/messages/count_tokens', base: { ...CHAT }, fields: ['model', 'messages', 'messages.0.content', 'system', 'tools'] },
  };

  it.each(Object.keys(FIELDS))('%s: hostile values in every field the proxy reads → 400 in the dialect’s shape or a sane capped request, never 5xx', async (name) => {
    const { path, base, fields } = FIELDS[name]!;
    const dialect = path.startsWith('/api/') ? 'native' : path.startsWith('/v1/messages') ? 'anthropic' : 'openai';
    const cases: string[] = ['{', '{"model": "llama3.2", "messages": [', '[]', '"x"', '1e999', '{"model": 1e999}', '{"max_tokens": 1e999, "model": "llama3.2", "messages": [{"role":"user","content":"hi"}]}', '\u0000', 'null'];
    for (const field of fields) {
      for (const value of HOSTILE) cases.push(JSON.stringify(setPath(structuredClone(base), field, value)));
      cases.push(JSON.stringify(setPath(structuredClone(base), field, undefined)));
    }
    await mapLimit(cases, 8, async (body) => {
      for (const apiKey of [key, limited]) {
        const response = await post(gateway.proxyUrl, path, apiKey, body, true);
        const text = await response.text();
        expect({ body: body.slice(0, 200), status: response.status < 500 }).toEqual({ body: body.slice(0, 200), status: true });
        expect(text).not.toMatch(STACK_TRACE);
        if (response.status >= 400) {
          expect(response.headers.get('content-type')).toMatch(/^application\/json/);
          const parsed = JSON.parse(text) as Json;
          // Ollama’s own 4xx (passed through on native routes) and the gateway’s share the {"error"} shape.
          if (dialect === 'native') expect(parsed).toEqual({ error: expect.any(String) });
          else if (dialect === 'openai') expect(parsed).toMatchObject({ error: { message: expect.any(String), type: expect.any(String) } });
          else expect(parsed).toMatchObject({ type: 'error', error: { type: expect.any(String), message: expect.any(String) } });
        }
      }
    });
    // Whatever reached Ollama asked for a sane completion length.
    for (const request of upstream.requests.filter((r: RecordedRequest) => r.path === '/api/chat' || r.path === '/api/generate')) {
      const numPredict = ((request.body as Json | undefined)?.options as Json | undefined)?.num_predict;
      if (numPredict === undefined) continue;
      if (request.path === '/api/chat' && name !== 'native' && name !== 'generate') {
        expect({ numPredict, ok: typeof numPredict === 'number' && Number.isSafeInteger(numPredict) && numPredict >= -2 }).toEqual({ numPredict, ok: true });
      }
    }
    await settled(gateway.proxyUrl, limited);
    expect((await post(gateway.proxyUrl, '/api/chat', key, { ...CHAT, stream: false })).status).toBe(200);
  });

  it('a huge completion length: capped to what the quota leaves (native) or refused with 400 naming the field (OpenAI, Anthropic)', async () => {
    for (const [path, body] of [
      ['/api/chat', { ...CHAT, stream: false, options: { num_predict: 1e308 } }],
      ['/api/chat', { ...CHAT, stream: false, options: { num_predict: 2 ** 63 } }],
      ['/v1/chat/completions', { ...CHAT, max_tokens: 1e308 }],
      ['/v1/chat/completions', { ...CHAT, max_completion_tokens: 2 ** 63 }],
      ['/v1/messages', { ...CHAT, max_tokens: 2 ** 63 }],
      ['/v1/messages', { ...CHAT, max_tokens: 1e308 }],
    ] as const) {
      upstream.reset();
      const response = await post(gateway.proxyUrl, path, limited, body);
      const text = await response.text();
      // Translated dialects refuse a completion length no integer type of Ollama's holds (400); native is capped to the quota.
      if (path !== '/api/chat') {
        expect({ path, status: response.status }).toEqual({ path, status: 400 });
        expect(text).toMatch(/max_(completion_)?tokens/);
        continue;
      }
      expect({ path, status: response.status, text }).toEqual({ path, status: 200, text });
      const sent = upstream.requests.find((r) => r.path === '/api/chat')!.body as { options?: { num_predict?: number } };
      const numPredict = sent.options?.num_predict;
      expect({ path, numPredict, sane: Number.isSafeInteger(numPredict) && numPredict! >= 1 && numPredict! <= LIMIT }).toEqual({ path, numPredict, sane: true });
    }
    await settled(gateway.proxyUrl, limited);
  });
});

function setPath(target: Json, path: string, value: unknown): Json {
  const parts = path.split('.');
  let node: unknown = target;
  for (const part of parts.slice(0, -1)) {
    if (typeof node !== 'object' || node === null) return target;
    const container = node as Record<string, unknown>;
    if (typeof container[part] !== 'object' || container[part] === null) container[part] = {};
    node = container[part];
  }
  if (typeof node !== 'object' || node === null) return target;
  const last = parts.at(-1)!;
  // Removing from an array splices (JSON has no sparse arrays).
  if (value === undefined && Array.isArray(node)) node.splice(Number(last), 1);
  else if (value === undefined) delete (node as Record<string, unknown>)[last];
  else (node as Record<string, unknown>)[last] = value;
  return target;
}

// ---------------------------------------------------------------------------------------------
// 3. property / fuzz tests

const SEED = 0x11_9_2026;

/** Values a hostile or buggy client puts anywhere. */
const hostileValue = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 2, arbitrary: fc.constantFrom<unknown>(1e308, -1e308, -1, 0, 2 ** 63, Number.MAX_SAFE_INTEGER + 2, 0.5, 'NaN', 'Infinity', '', null, true, [], {}, [{}], [null], '\u0000', '\ud800') },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 50 }) },
  { weight: 1, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.double() },
);

const VALID = {
  openai: {
    model: 'llama3.2',
    messages: [
      { role: 'system', content: 'be brief' },
      { role: 'user', content: [{ type: 'text', text: 'hi' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: 'result' },
    ],
    tools: [{ type: 'function', function: { name: 'f', description: 'd', parameters: { type: 'object', properties: { a: { type: 'number' } } } } }],
    tool_choice: 'auto',
    max_tokens: 100,
    max_completion_tokens: 50,
    temperature: 0.5,
    top_p: 0.9,
    stop: ['x'],
    seed: 1,
    stream: true,
    stream_options: { include_usage: true },
    response_format: { type: 'json_schema', json_schema: { name: 's', schema: { type: 'object' } } },
    reasoning_effort: 'low',
  },
  anthropic: {
    model: 'claude-sonnet-4-6',
    max_tokens: 100,
    system: [{ type: 'text', text: 'x-anthropic-billing-header: abc' }, { type: 'text', text: 'be brief' }],
    messages: [
      { role: 'user', content: [{ type: 'text', text: 'hi' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } }] },
      { role: 'assistant', content: [{ type: 'thinking', thinking: 'hm', signature: 's' }, { type: 'tool_use', id: 'toolu_1', name: 'f', input: { a: 1 } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'text', text: 'r' }] }] },
    ],
    tools: [{ name: 'f', description: 'd', input_schema: { type: 'object', properties: { a: { type: 'number' } } } }],
    tool_choice: { type: 'auto' },
    temperature: 0.5,
    top_p: 0.9,
    top_k: 5,
    stop_sequences: ['x'],
    stream: true,
    thinking: { type: 'enabled', budget_tokens: 1024 },
    metadata: { user_id: 'u' },
  },
  embeddings: { model: 'nomic-embed-text', input: ['a', 'b'], encoding_format: 'float', dimensions: 8 },
  native: { model: 'llama3.2', messages: [{ role: 'user', content: 'hi', images: ['AAAA'] }], stream: false, options: { num_predict: 10, temperature: 0.1 }, tools: [], think: false, format: 'json', keep_alive: '5m' },
} as const;

/** Every path of a JSON value, e.g. `messages.1.content.0.type`. */
function pathsOf(value: unknown, prefix = ''): string[] {
  if (typeof value !== 'object' || value === null) return [];
  const out: string[] = [];
  for (const [k, v] of Object.entries(value)) {
    const p = prefix ? `${prefix}.${k}` : k;
    out.push(p, ...pathsOf(v, p));
  }
  return out;
}

function mutate(base: unknown, mutations: { path: string; value: unknown; remove: boolean }[]): unknown {
  const copy = structuredClone(base) as Json;
  for (const { path, value, remove } of mutations) setPath(copy, path, remove ? undefined : value);
  return copy;
}

function bodyArbitrary(valid: unknown): fc.Arbitrary<unknown> {
  const paths = pathsOf(valid);
  const mutation = fc.record({ path: fc.constantFrom(...paths), value: hostileValue, remove: fc.boolean() });
  return fc.oneof(
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
    { weight: 1, arbitrary: fc.dictionary(fc.constantFrom(...Object.keys(valid as Json)), hostileValue) },
    { weight: 4, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 4 }).map((m) => mutate(valid, m)) },
  );
}

function onlyDialectErrors(fn: () => unknown): void {
  try {
    const result = fn();
    // What is sent to Ollama must serialise.
    JSON.stringify(result);
  } catch (error) {
    if (!(error instanceof DialectError)) throw error;
    expect(error.status).toBeGreaterThanOrEqual(400);
    expect(error.status).toBeLessThan(500);
  }
}

describe('property: the pure translators throw nothing but DialectError', () => {
  const runs = 3_000;
  it('openai.translateChatRequest', () => {
    fc.assert(
      fc.property(bodyArbitrary(VALID.openai), fc.boolean(), (body, thinkingCapable) =>
        onlyDialectErrors(() => openai.translateChatRequest(body, { model: 'llama3.2:latest', numCtx: 8192, thinkingCapable })),
      ),
      { seed: SEED, numRuns: runs },
    );
  });
  it('anthropic.translateMessagesRequest', () => {
    fc.assert(
      fc.property(bodyArbitrary(VALID.anthropic), fc.boolean(), (body, thinkingCapable) =>
        onlyDialectErrors(() => anthropic.translateMessagesRequest(body, { model: 'llama3.2:latest', numCtx: 8192, thinkingCapable })),
      ),
      { seed: SEED, numRuns: runs },
    );
  });
  it('openai.translateEmbeddingsRequest', () => {
    fc.assert(
      fc.property(bodyArbitrary(VALID.embeddings), (body) => onlyDialectErrors(() => openai.translateEmbeddingsRequest(body, { model: 'nomic-embed-text:latest' }))),
      { seed: SEED, numRuns: runs },
    );
  });
});

describe.each(sqlite)('fuzz through the real gateway on $name', (database) => {
  let upstream: FakeOllama;
  let gateway: TestGateway;

  beforeAll(async () => {
    ({ upstream, gateway } = await startWithFakeOllama(await database.create()));
  });
  afterAll(async () => {
    await closeWithFakeOllama({ gateway, upstream });
  });

  const raw = (arb: fc.Arbitrary<unknown>, n: number, seed: number): string[] =>
    fc.sample(
      fc.oneof({ weight: 9, arbitrary: arb.map((b) => JSON.stringify(b) ?? '') }, { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) }),
      { seed, numRuns: n },
    );

  it('proxy endpoints of all three dialects: no 5xx, no stack, and the server still answers', async () => {
    const key = (await gateway.createKey({ name: 'fuzz', daily_token_limit: 1_000_000_000 })).key;
    const targets: [string, string[]][] = [
      ['/api/chat', raw(bodyArbitrary(VALID.native), 100, SEED)],
      ['/api/generate', raw(bodyArbitrary({ model: 'llama3.2', prompt: 'hi', system: 's', stream: true, options: { num_predict: 5 } }), 40, SEED + 1)],
      ['/v1/chat/completions', raw(bodyArbitrary(VALID.openai), 120, SEED + 2)],
      ['/v1/embeddings', raw(bodyArbitrary(VALID.embeddings), 40, SEED + 3)],
      ['/v1/messages', raw(bodyArbitrary({ ...VALID.anthropic, model: 'llama3.2' }), 120, SEED + 4)],
      ['/v1/messages/count_tokens', raw(bodyArbitrary(VALID.anthropic), 40, SEED + 5)],
    ];
    const jobs = targets.flatMap(([path, bodies]) => bodies.map((body) => [path, body] as const));
    const failures: string[] = [];
    await mapLimit(jobs, 8, async ([path, body]) => {
      const response = await post(gateway.proxyUrl, path, key, body, true);
      const text = await response.text();
      if (response.status >= 500 || STACK_TRACE.test(text)) failures.push(`${path} ${response.status} ${body.slice(0, 300)} -> ${text.slice(0, 300)}`);
    });
    expect(failures).toEqual([]);
    await settled(gateway.proxyUrl, key);
    const ok = await post(gateway.proxyUrl, '/v1/chat/completions', key, CHAT);
    expect(ok.status).toBe(200);
  });

  it('admin API bodies (create key, PATCH key and quota, PUT settings): no 5xx, and the server still answers', async () => {
    const { id } = await gateway.createKey({ name: 'target' });
    const create = { name: 'k', expires_at: '2099-01-01T00:00:00Z', allowed_models: ['llama3.2'], max_concurrent: 2, daily_token_limit: 10, monthly_token_limit: 100, daily_request_limit: 1, monthly_request_limit: 5 };
    const quota = { daily_token_limit: 10, monthly_token_limit: 100, daily_request_limit: 1, monthly_request_limit: 5 };
    const update = { name: 'n', expires_at: null, allowed_models: null, max_concurrent: 3 };
    const settings = { ollama_url: upstream.url, default_model: 'llama3.2', model_aliases: { 'claude-x': 'llama3.2' }, num_ctx: 8192 };
    const targets: [string, string, string[]][] = [
      ['POST', '/api/api-keys', raw(bodyArbitrary(create), 80, SEED + 6)],
      ['PATCH', `/api/api-keys/${id}/quota`, raw(bodyArbitrary(quota), 60, SEED + 7)],
      ['PATCH', `/api/api-keys/${id}`, raw(bodyArbitrary(update), 60, SEED + 8)],
      ['PUT', '/api/settings', raw(bodyArbitrary(settings), 60, SEED + 9)],
      ['POST', '/api/auth/login', raw(bodyArbitrary({ password: 'wrong' }), 5, SEED + 10)],
    ];
    const failures: string[] = [];
    // Sequential: admin writes are few and audited; this also keeps the settings’ last word deterministic.
    for (const [method, path, bodies] of targets) {
      for (const body of bodies) {
        const response = await gateway.admin(path, { method, body });
        const text = await response.text();
        if (response.status >= 500 || STACK_TRACE.test(text)) failures.push(`${method} ${path} ${response.status} ${body.slice(0, 300)} -> ${text.slice(0, 300)}`);
      }
    }
    expect(failures).toEqual([]);
    // Still answering on both listeners; restore sane settings and proxy a request.
    expect((await gateway.admin('/api/api-keys')).status).toBe(200);
    const restored = await gateway.admin('/api/settings', { method: 'PUT', body: JSON.stringify(settings) });
    expect(restored.status).toBe(200);
    const fresh = (await gateway.createKey({ name: 'after-fuzz' })).key;
    expect((await post(gateway.proxyUrl, '/api/chat', fresh, { ...CHAT, stream: false })).status).toBe(200);
  });
});

// ---------------------------------------------------------------------------------------------
// 4. auth abuse

describe.each(sqlite)('auth abuse on $name', (database) => {
  let upstream: FakeOllama;
  let gateway: TestGateway;

  beforeAll(async () => {
    ({ upstream, gateway } = await startWithFakeOllama(await database.create()));
  });
  afterAll(async () => {
    await closeWithFakeOllama({ gateway, upstream });
  });

  it('1,000 wrong keys in a burst: all 401, unknown keys and a real prefix with a wrong secret take the same time', async () => {
    const { key } = await gateway.createKey({ name: 'victim' });
    const secretLength = key.length - 3;
    const randomSecret = () => randomBytes(secretLength).toString('base64url').slice(0, secretLength);
    const attempts = Array.from({ length: 1_000 }, (_, i) =>
      i % 2 === 0
        ? { group: 'random', key: `sk-${randomSecret()}` }
        : { group: 'prefix', key: `${key.slice(0, 12)}${randomSecret().slice(0, key.length - 12)}` },
    );
    // Warm-up so the first requests’ JIT cost does not land in one group.
    for (let i = 0; i < 20; i++) await fetch(`${gateway.proxyUrl}/api/tags`, { headers: { authorization: `Bearer sk-warmup${i}` } });
    const timings = await mapLimit(attempts, 16, async ({ group, key: attempt }) => {
      const started = process.hrtime.bigint();
      const response = await fetch(`${gateway.proxyUrl}/api/tags`, { headers: { authorization: `Bearer ${attempt}` } });
      const body = (await response.json()) as Json;
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      return { group, status: response.status, body, ms };
    });
    expect(timings.filter((t) => t.status !== 401)).toEqual([]);
    // Both groups are told the same thing.
    expect(new Set(timings.map((t) => JSON.stringify(t.body))).size).toBe(1);
    const random = median(timings.filter((t) => t.group === 'random').map((t) => t.ms));
    const prefix = median(timings.filter((t) => t.group === 'prefix').map((t) => t.ms));
    const difference = Math.abs(random - prefix);
    expect({ random, prefix, close: difference <= 2 || difference <= 0.5 * Math.max(random, prefix) }).toEqual({ random, prefix, close: true });
    // The real key is not locked out by the burst.
    const tags = await fetch(`${gateway.proxyUrl}/api/tags`, { headers: { authorization: `Bearer ${key}` } });
    expect(tags.status).toBe(200);
    expect(((await tags.json()) as { models: unknown[] }).models.length).toBeGreaterThan(0);
  });
});

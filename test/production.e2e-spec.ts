import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { countTokens, estimatePromptTokens } from '@llmproxy/metering';
import type { KeyUsage } from '@llmproxy/quota';
import { READINESS_CACHE_MS } from '../apps/gateway/src/health/readiness.js';
import { SHUTDOWN_MESSAGE } from '../apps/gateway/src/proxy/forwarding/upstream-forwarder.js';
import { countPromptTokens, startFakeOllama, type FakeOllama } from './upstream/fake-ollama.js';
import { testDatabases } from './support/databases.js';
import { ADMIN_PASSWORD, closeWithFakeOllama, eventually, startTestGateway, startWithFakeOllama, type TestGateway } from './support/gateway.js';
import { freePort, MAIN_JS, spawnGateway, type SpawnedGateway } from './support/spawned-gateway.js';

/**
 * What an operator running llmproxy in production relies on (issue 7): health and readiness probes,
 * the Prometheus exposition, graceful shutdown, CORS and `trust proxy`, the container's entrypoint,
 * and the per-key concurrency limit held across replicas.
 */

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ENTRYPOINT = join(ROOT, 'docker/docker-entrypoint.sh');
if (!existsSync(MAIN_JS)) throw new Error(`${MAIN_JS} does not exist: run \`npm run build\` first (scripts/test.sh does)`);

const databases = await testDatabases();
const sqlite = databases.find((d) => d.name === 'sqlite')!;
const postgres = databases.find((d) => d.name === 'postgres');

const dirs: string[] = [];
afterAll(async () => {
  for (const database of databases) await database.dropAll();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const chatBody = { model: 'llama3.2', messages: [{ role: 'user', content: 'tell me a story' }] };
const chat = (proxyUrl: string, key: string, body: Record<string, unknown> = { ...chatBody, stream: false }) =>
  fetch(`${proxyUrl}/api/chat`, { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: JSON.stringify(body) });

async function usageOf(proxyUrl: string, key: string): Promise<KeyUsage> {
  const response = await fetch(`${proxyUrl}/v1/usage`, { headers: { authorization: `Bearer ${key}` } });
  expect(response.status).toBe(200);
  return (await response.json()) as KeyUsage;
}

/** A TCP server that accepts connections and never answers: an Ollama that hangs. */
async function silentServer(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

// ---------------------------------------------------------------------------------------------
// Prometheus text format (0.0.4), parsed strictly enough to reject a malformed exposition.

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseExposition(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const sampleLine = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?(?:\d+(?:\.\d+)?(?:e[+-]?\d+)?|[+-]?Inf|NaN|Nan))(?: \d+)?$/; // prom-client writes NaN as "Nan": Prometheus's ParseFloat reads it
  const labelPair = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/gy;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta) {
      if (meta[1] === 'TYPE') {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(meta[3]!)) throw new Error(`bad TYPE line: ${line}`);
        types.set(meta[2]!, meta[3]!);
      }
      continue;
    }
    const match = sampleLine.exec(line);
    if (!match) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    if (match[2]) {
      labelPair.lastIndex = 0;
      let consumed = 0;
      for (let pair = labelPair.exec(match[2]); pair; pair = labelPair.exec(match[2])) {
        labels[pair[1]!] = pair[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
        consumed = labelPair.lastIndex;
      }
      if (consumed !== match[2].length) throw new Error(`bad labels: ${line}`);
    }
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return { samples, types };
}

/** The sum of the samples of `name` whose labels include `labels`. */
function total(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

// ---------------------------------------------------------------------------------------------

/** One probe answers /readyz for READINESS_CACHE_MS: a change shows in the next probe after it. */
const probeExpired = () => new Promise((resolve) => setTimeout(resolve, READINESS_CACHE_MS + 50));

describe.each(databases)('health and readiness on $name', (database) => {
  let upstream: FakeOllama;
  let gateway: TestGateway;

  beforeAll(async () => {
    ({ upstream, gateway } = await startWithFakeOllama(await database.create()));
  });
  afterAll(async () => {
    await gateway?.close().catch(() => undefined);
    await upstream?.close();
  });

  it('answers /healthz and /readyz on both listeners without credentials, revealing nothing else', async () => {
    for (const base of [gateway.proxyUrl, gateway.adminUrl]) {
      for (const path of ['/healthz', '/readyz']) {
        const response = await fetch(`${base}${path}`);
        expect([base, path, response.status]).toEqual([base, path, 200]);
        expect(response.headers.get('cache-control')).toBe('no-store');
        expect(await response.json()).toEqual({ status: 'ok' });
      }
    }
    // The readiness probe asked Ollama for its version, and nothing else.
    expect(upstream.requests.map((r) => r.path).filter((p) => p !== '/api/version')).toEqual([]);
  });

  it('is not ready while Ollama does not answer (503, which check failed), and alive all the same', async () => {
    const hanging = await silentServer();
    const refused = `http://127.0.0.1:${await freePort()}`;
    try {
      for (const ollamaUrl of [refused, hanging.url]) {
        expect((await gateway.admin('/api/settings', { method: 'PUT', body: JSON.stringify({ ollama_url: ollamaUrl, save_unreachable: true }) })).status).toBe(200);
        await probeExpired();
        const started = Date.now();
        for (const base of [gateway.proxyUrl, gateway.adminUrl]) {
          const response = await fetch(`${base}/readyz`);
          expect(response.status).toBe(503);
          expect(await response.json()).toEqual({ status: 'unavailable', checks: { database: true, ollama: false } });
        }
        // Two probes, each bounded by the 2 s timeout.
        expect(Date.now() - started).toBeLessThan(6_000);
        expect((await fetch(`${gateway.proxyUrl}/healthz`)).status).toBe(200);
      }
    } finally {
      await gateway.admin('/api/settings', { method: 'PUT', body: JSON.stringify({ ollama_url: upstream.url }) });
      await hanging.close();
    }
    await probeExpired();
    expect((await fetch(`${gateway.proxyUrl}/readyz`)).status).toBe(200);
  });

  it('is not ready once the database is gone (503, database: false); /healthz still answers', async () => {
    await gateway.shared.dataSource.destroy();
    await probeExpired();
    for (const base of [gateway.proxyUrl, gateway.adminUrl]) {
      const response = await fetch(`${base}/readyz`);
      expect(response.status).toBe(503);
      expect(await response.json()).toEqual({ status: 'unavailable', checks: { database: false, ollama: true } });
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
    }
  });
});

describe('metrics', () => {
  let upstream: FakeOllama;
  let gateway: TestGateway;
  const scrape = async (headers: Record<string, string> = { authorization: `Bearer ${ADMIN_PASSWORD}` }) => {
    const response = await fetch(`${gateway.adminUrl}/metrics`, { headers });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return parseExposition(await response.text());
  };

  beforeAll(async () => {
    upstream = await startFakeOllama();
    gateway = await startTestGateway(await sqlite.create(), upstream.url, { METRICS_TOKEN: 'scrape-token-for-prometheus-42' });
  });
  afterAll(async () => {
    await closeWithFakeOllama({ gateway, upstream });
  });
  beforeEach(() => upstream.reset());

  it('parses as Prometheus text and names every series of llmproxy with its type', async () => {
    const { types, samples } = await scrape();
    expect(Object.fromEntries([...types].filter(([name]) => name.startsWith('llmproxy_')))).toEqual({
      llmproxy_requests_total: 'counter',
      llmproxy_request_duration_seconds: 'histogram',
      llmproxy_time_to_first_token_seconds: 'histogram',
      llmproxy_tokens_total: 'counter',
      llmproxy_quota_refusals_total: 'counter',
      llmproxy_upstream_errors_total: 'counter',
      llmproxy_streams_in_flight: 'gauge',
      llmproxy_queue_wait_seconds: 'histogram',
      llmproxy_upstream_failovers_total: 'counter',
      llmproxy_queue_overloaded_total: 'counter',
      llmproxy_upstream_in_flight: 'gauge',
      llmproxy_upstream_breaker_state: 'gauge',
      llmproxy_upstream_queue_length: 'gauge',
      llmproxy_queue_length: 'gauge',
    });
    // The upstream series name each upstream: the one this gateway was seeded with, in use and closed.
    expect(samples.find((s) => s.name === 'llmproxy_upstream_breaker_state')).toMatchObject({ labels: { upstream: 'ollama' }, value: 0 });
    expect(samples.find((s) => s.name === 'llmproxy_queue_length')).toMatchObject({ value: 0 });
    // Node's own process metrics come along.
    expect(samples.some((s) => s.name === 'process_resident_memory_bytes')).toBe(true);
  });

  it('counts a proxied request: by dialect, route and status, its duration, first token and tokens by key and model', async () => {
    const { key } = await gateway.createKey({ name: 'metered' });
    const before = (await scrape()).samples;
    const response = await chat(gateway.proxyUrl, key);
    expect(response.status).toBe(200);
    await response.json();
    const after = await eventually(async () => {
      const { samples } = await scrape();
      if (total(samples, 'llmproxy_tokens_total', { key: 'metered' }) === 0) throw new Error('not settled yet');
      return samples;
    });
    const delta = (name: string, labels: Record<string, string>) => total(after, name, labels) - total(before, name, labels);
    expect(delta('llmproxy_requests_total', { dialect: 'ollama', route: '/api/chat', status: '200' })).toBe(1);
    expect(delta('llmproxy_request_duration_seconds_count', { dialect: 'ollama', route: '/api/chat' })).toBe(1);
    expect(delta('llmproxy_time_to_first_token_seconds_count', { dialect: 'ollama' })).toBe(1);
    const tokens = after.filter((s) => s.name === 'llmproxy_tokens_total' && s.labels.key === 'metered');
    expect(tokens.map((s) => [s.labels.type, s.value]).sort()).toEqual([
      ['completion', 8],
      ['prompt', countPromptTokens(chatBody)],
    ]);
    expect(tokens.every((s) => s.labels.model!.startsWith('llama3.2'))).toBe(true);
    // A request without a key is counted too, under its route; an unknown path under "unmatched".
    const anonymous = await fetch(`${gateway.proxyUrl}/api/chat`, { method: 'POST', body: '{}' });
    expect(anonymous.status).toBe(401);
    expect((await fetch(`${gateway.proxyUrl}/no/such/path`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(404);
    const { samples } = await scrape();
    expect(total(samples, 'llmproxy_requests_total', { route: '/api/chat', status: '401' })).toBe(1);
    expect(total(samples, 'llmproxy_requests_total', { route: 'unmatched', status: '404' })).toBe(1);
    // The same numbers through prom-client's own registry.
    const registry = await gateway.shared.metrics.registry.getSingleMetric('llmproxy_requests_total')!.get();
    expect(registry.values.find((v) => v.labels.route === '/api/chat' && v.labels.status === '200')?.value).toBe(
      total(samples, 'llmproxy_requests_total', { route: '/api/chat', status: '200' }),
    );
  });

  it('counts quota refusals by kind, upstream errors, and streams in flight', async () => {
    const { key } = await gateway.createKey({ name: 'limited', daily_request_limit: 1 });
    const before = (await scrape()).samples;
    upstream.enqueue({ tokens: ['a', ' b', ' c'], holdAfterChunks: 1 });
    const streaming = await chat(gateway.proxyUrl, key, { ...chatBody, stream: true });
    expect(streaming.status).toBe(200);
    await upstream.waitForHold();
    expect(total((await scrape()).samples, 'llmproxy_streams_in_flight')).toBe(1);
    expect((await chat(gateway.proxyUrl, key)).status).toBe(429);
    upstream.release();
    await streaming.text();

    const { key: other } = await gateway.createKey({ name: 'broken' });
    upstream.enqueue({ tokens: ['x', ' y', ' z'], dieAfterChunks: 1 });
    await (await chat(gateway.proxyUrl, other, { ...chatBody, stream: true })).text();

    const after = await eventually(async () => {
      const { samples } = await scrape();
      if (total(samples, 'llmproxy_streams_in_flight') !== 0) throw new Error('stream still counted');
      return samples;
    });
    const delta = (name: string, labels: Record<string, string> = {}) => total(after, name, labels) - total(before, name, labels);
    expect(delta('llmproxy_quota_refusals_total', { kind: 'requests' })).toBe(1);
    expect(delta('llmproxy_requests_total', { route: '/api/chat', status: '429' })).toBe(1);
    expect(delta('llmproxy_upstream_errors_total', { outcome: 'upstream_error' })).toBe(1);
  });

  it('needs the admin credentials or METRICS_TOKEN; the token opens nothing else, and the proxy has no /metrics', async () => {
    expect((await fetch(`${gateway.adminUrl}/metrics`)).status).toBe(401);
    expect((await fetch(`${gateway.adminUrl}/metrics`, { headers: { authorization: 'Bearer wrong-token-wrong-token' } })).status).toBe(401);
    await scrape({ authorization: 'Bearer scrape-token-for-prometheus-42' });
    await scrape();
    expect((await fetch(`${gateway.adminUrl}/api/api-keys`, { headers: { authorization: 'Bearer scrape-token-for-prometheus-42' } })).status).toBe(401);
    const { key } = await gateway.createKey({ name: 'no-metrics-here' });
    const onProxy = await fetch(`${gateway.proxyUrl}/metrics`, { headers: { authorization: `Bearer ${key}` } });
    expect(onProxy.status).toBe(404);
    expect(await onProxy.text()).not.toContain('llmproxy_');
  });

  it('without METRICS_TOKEN, a session token or the password is the only way in', async () => {
    const plain = await startTestGateway(await sqlite.create(), upstream.url);
    try {
      expect((await fetch(`${plain.adminUrl}/metrics`, { headers: { authorization: 'Bearer scrape-token-for-prometheus-42' } })).status).toBe(401);
      expect((await fetch(`${plain.adminUrl}/metrics`, { headers: { authorization: `Bearer ${ADMIN_PASSWORD}` } })).status).toBe(200);
    } finally {
      await plain.close();
    }
  });
});

describe('security defaults', () => {
  let upstream: FakeOllama;
  beforeAll(async () => {
    upstream = await startFakeOllama();
  });
  afterAll(async () => upstream?.close());

  it('the proxy sends no CORS headers; the admin allows only ALLOWED_ORIGINS', async () => {
    const gateway = await startTestGateway(await sqlite.create(), upstream.url, { ALLOWED_ORIGINS: 'https://admin.example.com' });
    try {
      const { key } = await gateway.createKey();
      const preflight = (url: string, origin: string) =>
        fetch(url, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' } });
      for (const response of [
        await preflight(`${gateway.proxyUrl}/api/chat`, 'https://admin.example.com'),
        await fetch(`${gateway.proxyUrl}/api/tags`, { headers: { origin: 'https://evil.example', authorization: `Bearer ${key}` } }),
        await fetch(`${gateway.proxyUrl}/healthz`, { headers: { origin: 'https://admin.example.com' } }),
      ]) {
        expect([...response.headers.keys()].filter((name) => name.startsWith('access-control-'))).toEqual([]);
      }
      const allowed = await preflight(`${gateway.adminUrl}/api/api-keys`, 'https://admin.example.com');
      expect(allowed.headers.get('access-control-allow-origin')).toBe('https://admin.example.com');
      const denied = await preflight(`${gateway.adminUrl}/api/api-keys`, 'https://evil.example');
      expect(denied.headers.get('access-control-allow-origin')).toBeNull();
    } finally {
      await gateway.close();
    }
  });

  const failLogins = async (gateway: TestGateway, forwardedFor: string, times: number) => {
    const statuses: number[] = [];
    for (let i = 0; i < times; i++) {
      const response = await fetch(`${gateway.adminUrl}/api/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': forwardedFor },
        body: JSON.stringify({ password: `guess-${i}` }),
      });
      statuses.push(response.status);
      await response.body?.cancel();
    }
    return statuses;
  };

  it('TRUST_PROXY=loopback: the login throttle and the audit log see the address in X-Forwarded-For', async () => {
    const gateway = await startTestGateway(await sqlite.create(), upstream.url, { TRUST_PROXY: 'loopback' });
    try {
      expect(await failLogins(gateway, '203.0.113.7', 11)).toEqual([...Array(10).fill(401), 429]);
      // Another client behind the same reverse proxy is not throttled with the first.
      expect(await failLogins(gateway, '198.51.100.9', 1)).toEqual([401]);
      const rows = (await (await gateway.admin('/api/audit?limit=1000')).json()) as { action: string; changes: { client_address?: { new: string } } }[];
      const addresses = new Set(rows.filter((r) => r.action === 'login.failure').map((r) => r.changes.client_address?.new));
      expect(addresses).toEqual(new Set(['203.0.113.7', '198.51.100.9']));
    } finally {
      await gateway.close();
    }
  });

  it('without TRUST_PROXY, X-Forwarded-For is ignored: the TCP peer is the client', async () => {
    const gateway = await startTestGateway(await sqlite.create(), upstream.url);
    try {
      expect(await failLogins(gateway, '203.0.113.7', 10)).toEqual(Array(10).fill(401));
      expect(await failLogins(gateway, '198.51.100.9', 1)).toEqual([429]);
    } finally {
      await gateway.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------

/** Reads an NDJSON response line by line; `onLine` sees each as it arrives. */
async function readLines(response: Response, onLine: (line: Record<string, unknown>, index: number) => void): Promise<Record<string, unknown>[]> {
  const lines: Record<string, unknown>[] = [];
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const bytes of response.body as unknown as AsyncIterable<Uint8Array>) {
    buffered += decoder.decode(bytes, { stream: true });
    let newline: number;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const text = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      if (text.trim() === '') continue;
      const line = JSON.parse(text) as Record<string, unknown>;
      lines.push(line);
      onLine(line, lines.length - 1);
    }
  }
  return lines;
}

const exitOf = (spawned: SpawnedGateway) =>
  new Promise<number | null>((resolve) => {
    if (spawned.child.exitCode !== null) resolve(spawned.child.exitCode);
    else spawned.child.once('exit', (code) => resolve(code));
  });

describe('graceful shutdown of the server process', () => {
  let upstream: FakeOllama;
  beforeAll(async () => {
    upstream = await startFakeOllama();
  });
  afterAll(async () => upstream?.close());

  const streamBody = { model: 'llama3.2', messages: [{ role: 'user', content: 'a long story please' }] };

  async function started(env: Record<string, string>) {
    const databaseUrl = await sqlite.create();
    const spawned = await spawnGateway({ DATABASE_URL: databaseUrl, OLLAMA_URL: upstream.url, ...env });
    const response = await fetch(`${spawned.adminUrl}/api/api-keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_PASSWORD}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'shutdown' }),
    });
    const { key } = (await response.json()) as { key: string };
    return { databaseUrl, spawned, key };
  }

  /** The settlement as the database holds it, read by a fresh gateway on the same file. */
  async function settledUsage(databaseUrl: string, key: string): Promise<KeyUsage> {
    const reader = await startTestGateway(databaseUrl, upstream.url);
    try {
      return await usageOf(reader.proxyUrl, key);
    } finally {
      await reader.close();
    }
  }

  it('SIGTERM during a stream: no new connections, the stream completes, it is settled, exit 0', async () => {
    const tokens = Array.from({ length: 12 }, (_, i) => ` word${i}`);
    upstream.enqueue({ tokens, chunkDelayMs: 150 });
    const { databaseUrl, spawned, key } = await started({ SHUTDOWN_GRACE_S: '30' });
    const exited = exitOf(spawned);
    const response = await chat(spawned.proxyUrl, key, streamBody);
    expect(response.status).toBe(200);
    let refusedNewConnections: Promise<unknown> | undefined;
    const lines = await readLines(response, (_line, index) => {
      if (index !== 0) return;
      spawned.child.kill('SIGTERM');
      // A new connection is refused while the stream goes on.
      refusedNewConnections = eventually(async () => {
        const error = await fetch(`${spawned.proxyUrl}/healthz`, { headers: { connection: 'close' } }).then(
          () => undefined,
          (e: unknown) => e,
        );
        if (!error) throw new Error('still accepting');
        return error;
      }, 1_500);
    });
    await expect(refusedNewConnections).resolves.toMatchObject({ message: 'fetch failed' });
    expect(lines.at(-1)).toMatchObject({ done: true, done_reason: 'stop', eval_count: tokens.length });
    expect(lines.map((l) => (l.message as { content?: string } | undefined)?.content ?? '').join('')).toBe(tokens.join(''));
    expect(await exited).toBe(0);
    expect(spawned.output()).not.toMatch(/grace period over/);

    const usage = await settledUsage(databaseUrl, key);
    expect(usage.day).toMatchObject({ requests: 1, reserved_tokens: 0, tokens: countPromptTokens(streamBody) + tokens.length });
  }, 30_000);

  it('a stream longer than SHUTDOWN_GRACE_S is cut with an in-band error and still settled; exit 0', async () => {
    const tokens = Array.from({ length: 60 }, (_, i) => ` t${i}`);
    upstream.enqueue({ tokens, chunkDelayMs: 100 });
    const { databaseUrl, spawned, key } = await started({ SHUTDOWN_GRACE_S: '1' });
    const exited = exitOf(spawned);
    const response = await chat(spawned.proxyUrl, key, streamBody);
    let signalledAt = 0;
    const lines = await readLines(response, (_line, index) => {
      if (index === 0) {
        signalledAt = Date.now();
        spawned.child.kill('SIGTERM');
      }
    });
    expect(lines.at(-1)).toEqual({ error: SHUTDOWN_MESSAGE });
    const content = lines.slice(0, -1).map((l) => (l.message as { content: string }).content);
    expect(content.length).toBeGreaterThan(3);
    expect(content.length).toBeLessThan(tokens.length);
    expect(await exited).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(5_000);
    expect(spawned.output()).toMatch(/grace period over: cutting 1 stream/);

    const usage = await settledUsage(databaseUrl, key);
    // No final chunk: the prompt is estimated, the completion counted over what was generated.
    expect(usage.day).toMatchObject({
      requests: 1,
      reserved_tokens: 0,
      tokens: estimatePromptTokens(streamBody) + countTokens(content.join('')),
    });
  }, 30_000);
});

describe('graceful shutdown in process: a translated stream (Anthropic SSE) cut after the grace', () => {
  it('ends with an error event, is settled, and the listeners are closed', async () => {
    const upstream = await startFakeOllama();
    const databaseUrl = await sqlite.create();
    const gateway = await startTestGateway(databaseUrl, upstream.url);
    try {
      const { key } = await gateway.createKey({ name: 'sse-cut', daily_token_limit: 100_000 });
      upstream.enqueue({ tokens: Array.from({ length: 100 }, (_, i) => ` s${i}`), chunkDelayMs: 50 });
      const response = await fetch(`${gateway.proxyUrl}/v1/messages`, {
        method: 'POST',
        headers: { 'x-api-key': key, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'llama3.2', max_tokens: 1000, stream: true, messages: [{ role: 'user', content: 'go on and on' }] }),
      });
      expect(response.status).toBe(200);
      const reader = response.body!.getReader();
      const decoder = new TextDecoder();
      let text = '';
      while (!text.includes('content_block_delta')) text += decoder.decode((await reader.read()).value, { stream: true });
      const closed = gateway.close({ graceMs: 300 });
      for (let part = await reader.read(); !part.done; part = await reader.read()) text += decoder.decode(part.value, { stream: true });
      await closed;
      const events = [...text.matchAll(/^event: (\S+)$/gm)].map((m) => m[1]);
      expect(events.at(-1)).toBe('error');
      expect(events).not.toContain('message_stop');
      expect(text).toContain(SHUTDOWN_MESSAGE);
      await expect(fetch(`${gateway.proxyUrl}/healthz`)).rejects.toMatchObject({ message: 'fetch failed' });
      const line = await eventually(() => {
        const found = gateway.usageLines().find((l) => l.key_name === 'sse-cut');
        if (!found) throw new Error('no usage line');
        return found;
      });
      expect(line).toMatchObject({ dialect: 'anthropic', outcome: 'upstream_error', tokens_exact: false });
      expect(line.completion_tokens).toBeGreaterThan(0);
      const reader2 = await startTestGateway(databaseUrl, upstream.url);
      try {
        const usage = await usageOf(reader2.proxyUrl, key);
        expect(usage.day).toMatchObject({ requests: 1, reserved_tokens: 0 });
        expect(usage.day.tokens).toBe(Number(line.prompt_tokens) + Number(line.completion_tokens));
      } finally {
        await reader2.close();
      }
    } finally {
      await gateway.close();
      await upstream.close();
    }
  });
});

describe('the container entrypoint (docker/docker-entrypoint.sh)', () => {
  it('starts the server in the working directory and hands it SIGTERM (exec): exit 0', async () => {
    const upstream = await startFakeOllama();
    const cwd = mkdtempSync(join(tmpdir(), 'llmproxy-entrypoint-'));
    dirs.push(cwd);
    const [proxyPort, adminPort] = [await freePort(), await freePort()];
    const child = spawn('sh', [ENTRYPOINT], {
      cwd,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        ADMIN_PASSWORD,
        PROXY_HOST: '127.0.0.1',
        PROXY_PORT: String(proxyPort),
        ADMIN_HOST: '127.0.0.1',
        ADMIN_PORT: String(adminPort),
        OLLAMA_URL: upstream.url,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    try {
      await eventually(async () => {
        if (child.exitCode !== null) throw new Error(`exited: ${output}`);
        for (const port of [proxyPort, adminPort]) expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
      }, 20_000);
      expect(existsSync(join(cwd, 'data', 'llmproxy.db'))).toBe(true);
      child.kill('SIGTERM');
      expect(await exited).toEqual({ code: 0, signal: null });
      expect(output).toMatch(/SIGTERM received/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await upstream.close();
    }
  }, 30_000);
});

(postgres ? describe : describe.skip)('max_concurrent across two gateway processes on PostgreSQL', () => {
  let upstream: FakeOllama;
  let gateway: TestGateway;
  let second: SpawnedGateway;

  beforeAll(async () => {
    upstream = await startFakeOllama();
    const databaseUrl = await postgres!.create();
    gateway = await startTestGateway(databaseUrl, upstream.url);
    second = await spawnGateway({ DATABASE_URL: databaseUrl, OLLAMA_URL: upstream.url });
  });
  afterAll(async () => {
    if (second) expect(await second.stop()).toBe(0);
    await closeWithFakeOllama({ gateway, upstream });
  });

  it('admits exactly max_concurrent requests of a key in flight across both, refuses the rest at once, and frees slots', async () => {
    const { key } = await gateway.createKey({ name: 'two-at-a-time', max_concurrent: 2 });
    upstream.enqueue({ holdAfterChunks: 1 }, { holdAfterChunks: 1 });
    const started = Date.now();
    const pending = Array.from({ length: 8 }, (_, i) => chat(i % 2 === 0 ? gateway.proxyUrl : second.proxyUrl, key));
    const settledEarly: Response[] = [];
    for (const promise of pending) void promise.then((r) => r.status === 429 && settledEarly.push(r));
    await eventually(() => {
      if (upstream.heldCount < 2 || settledEarly.length < 6) throw new Error(`held ${upstream.heldCount}, refused ${settledEarly.length}`);
    }, 10_000);
    // The refusals came while the two admitted requests were still held: not after them.
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(upstream.heldCount).toBe(2);
    expect(upstream.requests.filter((r) => r.path === '/api/chat')).toHaveLength(2);
    for (const refused of settledEarly) {
      expect(refused.headers.get('retry-after')).toBe('1');
      await refused.body?.cancel();
    }
    upstream.release();
    const responses = await Promise.all(pending);
    expect(responses.map((r) => r.status).sort()).toEqual([200, 200, 429, 429, 429, 429, 429, 429]);
    await Promise.all(responses.map((r) => (r.bodyUsed ? undefined : r.text())));
    // Both slots are free again, on either process.
    await eventually(async () => {
      expect((await usageOf(gateway.proxyUrl, key)).day.reserved_tokens).toBe(0);
      const [a, b] = await Promise.all([chat(gateway.proxyUrl, key), chat(second.proxyUrl, key)]);
      expect([a.status, b.status]).toEqual([200, 200]);
      await Promise.all([a.text(), b.text()]);
    });
  });
});

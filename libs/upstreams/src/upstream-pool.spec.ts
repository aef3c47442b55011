import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { jest } from '@jest/globals';
import { UpstreamError } from '@llmproxy/ollama';
import { NoUpstreamError } from './scheduler.js';
import { POLL_USER_AGENT, UpstreamPool } from './upstream-pool.js';
import type { UpstreamConfig } from './upstream.js';

const tag = (name: string) => ({
  name,
  model: name,
  modified_at: '2025-01-01T00:00:00Z',
  size: 2_019_393_189,
  digest: 'a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72',
  details: { format: 'gguf', family: 'llama', parameter_size: '3.2B', quantization_level: 'Q4_K_M' },
});

/** A scripted Ollama on 127.0.0.1 answering /api/tags and /api/ps in Ollama's shapes. */
async function ollama(tags: string[], loaded: string[] = []) {
  const seen: { path: string; userAgent: string | undefined }[] = [];
  const state = { tags, loaded, failing: false };
  const server: Server = createServer((req, res) => {
    seen.push({ path: req.url ?? '', userAgent: req.headers['user-agent'] });
    if (state.failing) {
      res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"boom"}');
      return;
    }
    if (req.url === '/api/tags') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ models: state.tags.map(tag) }));
    } else if (req.url === '/api/ps') {
      const models = state.loaded.map((name) => ({ ...tag(name), expires_at: '2025-01-01T00:05:00Z', size_vram: 1 }));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ models }));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  servers.push(server);
  return { url, seen, state, server };
}

/** A URL where nothing listens: a server bound to port 0 and closed again. */
async function deadUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

const servers: Server[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
});

const config = (id: number, url: string, extra: Partial<UpstreamConfig> = {}): UpstreamConfig => ({
  id,
  name: `ollama-${id}`,
  url,
  enabled: true,
  maxParallel: 4,
  priority: 0,
  ...extra,
});

function pool(configs: UpstreamConfig[] | (() => UpstreamConfig[])) {
  const events = { changed: jest.fn(), health: jest.fn() };
  const load = typeof configs === 'function' ? configs : () => configs;
  const p = new UpstreamPool(async () => load(), { pollMs: 60_000, pollTimeoutMs: 2_000, breaker: { failures: 3, cooldownMs: 60_000 } }, events);
  return { pool: p, events };
}

describe('UpstreamPool', () => {
  it('refresh() fills models and loaded models with canonical names', async () => {
    const server = await ollama(['llama3.2:latest', 'qwen3:8b'], ['llama3.2:latest']);
    const { pool: p, events } = pool([config(1, server.url)]);
    await p.refresh();
    const [u] = p.upstreams();
    expect(u!.lastPollOk).toBe(true);
    expect(u!.lastPollError).toBeUndefined();
    expect(typeof u!.lastPollAt).toBe('number');
    expect([...u!.models!].sort()).toEqual(['llama3.2:latest', 'qwen3:8b']);
    expect([...u!.loaded]).toEqual(['llama3.2:latest']);
    expect(u!.hasModel('qwen3:8b')).toBe(true);
    expect(u!.hasModel('mistral:latest')).toBe(false);
    expect(u!.tags.map((t) => t.name)).toEqual(['llama3.2:latest', 'qwen3:8b']);
    expect(server.seen.map((s) => s.path).sort()).toEqual(['/api/ps', '/api/tags']);
    expect(server.seen.every((s) => s.userAgent === POLL_USER_AGENT)).toBe(true);
    expect(events.changed).toHaveBeenCalled();
    expect(p.withModel('qwen3:8b')).toBe(u);
  });

  it('canonicalises names Ollama gives without a tag', async () => {
    const server = await ollama(['library/phi3'], ['library/phi3']);
    const { pool: p } = pool([config(1, server.url)]);
    await p.refresh();
    const [u] = p.upstreams();
    expect([...u!.models!]).toEqual(['library/phi3:latest']);
    expect([...u!.loaded]).toEqual(['library/phi3:latest']);
  });

  it('models() merges the answering servers, deduplicated by name, higher priority first', async () => {
    const low = await ollama(['llama3.2:latest', 'qwen3:8b']);
    const high = await ollama(['llama3.2:latest', 'gemma3:4b']);
    const { pool: p } = pool([config(1, low.url, { priority: 1 }), config(2, high.url, { priority: 5 })]);
    await p.refresh();
    const merged = await p.models();
    expect(merged.map((t) => t.name)).toEqual(['llama3.2:latest', 'gemma3:4b', 'qwen3:8b']);
    expect(merged[0]).toEqual(tag('llama3.2:latest'));
    expect(p.withModel('qwen3:8b')!.id).toBe(1);
    expect(p.withModel('gemma3:4b')!.id).toBe(2);
    expect(p.withModel('llama3.2')!.id).toBe(2);
  });

  it('models() leaves out disabled servers and servers that did not answer', async () => {
    const a = await ollama(['a:latest']);
    const b = await ollama(['b:latest']);
    const dead = await deadUrl();
    const { pool: p } = pool([config(1, a.url), config(2, b.url, { enabled: false }), config(3, dead)]);
    await p.refresh();
    expect((await p.models()).map((t) => t.name)).toEqual(['a:latest']);
    expect(b.seen).toEqual([]); // disabled: not polled
    expect(p.enabled().map((u) => u.id)).toEqual([1, 3]);
  });

  it('a dead server: lastPollOk false, an incident, and the breaker opens after 3 failed polls', async () => {
    const alive = await ollama(['llama3.2:latest']);
    const dead = await deadUrl();
    const { pool: p, events } = pool([config(1, alive.url), config(2, dead)]);
    await p.refresh();
    const down = p.find(2)!;
    expect(down.lastPollOk).toBe(false);
    expect(down.lastPollError).toBeInstanceOf(UpstreamError);
    expect((down.lastPollError as UpstreamError).failure).toBe('unreachable');
    expect(down.incidents).toHaveLength(1);
    expect(down.incidents[0]!.message).toMatch(/unreachable/);
    expect(down.models).toBeUndefined();
    expect(down.breaker.state(Date.now())).toBe('closed');
    await p.refresh();
    expect(down.breaker.state(Date.now())).toBe('closed');
    expect(events.health).not.toHaveBeenCalled();
    await p.refresh();
    expect(down.breaker.state(Date.now())).toBe('open');
    expect(down.incidents).toHaveLength(3);
    expect(events.health).toHaveBeenCalledTimes(1);
    expect(events.health).toHaveBeenCalledWith(down, false);
    // The live one is untouched.
    expect(p.find(1)!.breaker.state(Date.now())).toBe('closed');
    expect(p.find(1)!.incidents).toEqual([]);
    expect((await p.models()).map((t) => t.name)).toEqual(['llama3.2:latest']);
  });

  it('a server that answers again closes its breaker and reports it healthy', async () => {
    const server = await ollama(['llama3.2:latest']);
    const { pool: p, events } = pool([config(1, server.url)]);
    server.state.failing = true;
    for (let i = 0; i < 3; i++) await p.refresh();
    const u = p.find(1)!;
    expect(u.breaker.state(Date.now())).toBe('open');
    expect(u.lastPollOk).toBe(false);
    server.state.failing = false;
    await p.refresh();
    expect(u.lastPollOk).toBe(true);
    expect(u.breaker.state(Date.now())).toBe('closed');
    expect(events.health).toHaveBeenLastCalledWith(u, true);
  });

  it('a successful poll resets the count of failures: only consecutive ones open the breaker', async () => {
    const server = await ollama(['llama3.2:latest']);
    const { pool: p } = pool([config(1, server.url)]);
    const u = () => p.find(1)!;
    server.state.failing = true;
    await p.refresh();
    await p.refresh();
    server.state.failing = false;
    await p.refresh();
    expect(u().breaker.consecutiveFailures).toBe(0);
    server.state.failing = true;
    await p.refresh();
    expect(u().breaker.state(Date.now())).toBe('closed');
  });

  it('models() throws the single server’s own error when it is the only one and unreachable', async () => {
    const dead = await deadUrl();
    const { pool: p } = pool([config(1, dead)]);
    await p.refresh();
    const error = await p.models().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error).toBe(p.find(1)!.lastPollError);
    expect((error as UpstreamError).message).toContain(dead.replace(/\/$/, ''));
    expect((error as UpstreamError).message).toMatch(/ECONNREFUSED/);
  });

  it('models() says none is reachable when several servers are down, and NoUpstreamError when none is enabled', async () => {
    const { pool: two } = pool([config(1, await deadUrl()), config(2, await deadUrl())]);
    await two.refresh();
    await expect(two.models()).rejects.toMatchObject({ name: 'UpstreamError', failure: 'unreachable', message: expect.stringContaining('none of the 2') });
    const { pool: none } = pool([config(1, 'http://127.0.0.1:9', { enabled: false })]);
    await none.refresh();
    await expect(none.models()).rejects.toBeInstanceOf(NoUpstreamError);
  });

  it('a URL change clears the catalogue of the old server', async () => {
    const first = await ollama(['old-model:latest'], ['old-model:latest']);
    const second = await ollama(['new-model:latest']);
    let url = first.url;
    const { pool: p } = pool(() => [config(1, url)]);
    await p.refresh();
    const u = p.find(1)!;
    expect([...u.models!]).toEqual(['old-model:latest']);
    // To a dead URL: nothing of the old catalogue remains.
    url = await deadUrl();
    await p.refresh();
    expect(p.find(1)).toBe(u); // the same state, kept across refreshes
    expect(u.url).toBe(url);
    expect(u.models).toBeUndefined();
    expect(u.tags).toEqual([]);
    expect([...u.loaded]).toEqual([]);
    expect(u.lastPollOk).toBe(false);
    expect(u.hasModel('old-model:latest')).toBeUndefined();
    // To another live server: its catalogue only.
    url = second.url;
    await p.refresh();
    expect([...u.models!]).toEqual(['new-model:latest']);
    expect([...u.loaded]).toEqual([]);
    expect((await p.models()).map((t) => t.name)).toEqual(['new-model:latest']);
  });

  it('refreshes asked for while one runs share the one next refresh, which sees a change made meanwhile', async () => {
    const a = await ollama(['a:latest']);
    const b = await ollama(['b:latest']);
    let configs = [config(1, a.url)];
    const { pool: p } = pool(() => configs);
    const first = p.refresh();
    configs = [config(1, a.url), config(2, b.url)];
    const second = p.refresh();
    const third = p.refresh();
    expect(third).toBe(second);
    await Promise.all([first, second, third]);
    expect(a.seen.filter((s) => s.path === '/api/tags')).toHaveLength(2);
    expect(b.seen.filter((s) => s.path === '/api/tags')).toHaveLength(1);
    expect(p.upstreams().map((u) => u.id)).toEqual([1, 2]);
  });

  it('a removed upstream disappears from the list', async () => {
    const a = await ollama(['a:latest']);
    const b = await ollama(['b:latest']);
    let configs = [config(1, a.url), config(2, b.url)];
    const { pool: p } = pool(() => configs);
    await p.refresh();
    expect(p.upstreams().map((u) => u.id)).toEqual([1, 2]);
    configs = [config(2, b.url)];
    await p.refresh();
    expect(p.upstreams().map((u) => u.id)).toEqual([2]);
    expect(p.find(1)).toBeUndefined();
  });
});

/**
 * GPU mode of the scripted Ollama (test/upstream/gpu.ts): slots bound concurrency and queue first
 * come first served, the token rate paces each answer, a model swap costs its delay only when the
 * model changes, /api/ps shows what is loaded. Order of events and counters, no wall-clock limits
 * (the one timing check is a lower bound the timers guarantee).
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { startFakeOllama, type FakeOllama, type GpuOptions } from './fake-ollama.js';
import { parseArgs } from './main.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

const fakes: FakeOllama[] = [];
afterEach(async () => {
  await Promise.all(fakes.splice(0).map((f) => f.close()));
});

async function gpuFake(gpu: GpuOptions): Promise<FakeOllama> {
  const fake = await startFakeOllama({ gpu });
  fakes.push(fake);
  return fake;
}

interface Streamed {
  status: number;
  lines: Json[];
  /** performance.now() of each line's arrival. */
  at: number[];
  startedAt: number;
  endedAt: number;
}

/** Streams one chat, recording when each NDJSON line arrives. */
async function chat(fake: FakeOllama, model = 'llama3.2', extra: Json = {}, signal?: AbortSignal): Promise<Streamed> {
  const startedAt = performance.now();
  const res = await fetch(fake.url + '/api/chat', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], ...extra }),
    signal,
  });
  const lines: Json[] = [];
  const at: number[] = [];
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
      lines.push(JSON.parse(buffer.slice(0, nl)) as Json);
      at.push(performance.now());
      buffer = buffer.slice(nl + 1);
    }
  }
  return { status: res.status, lines, at, startedAt, endedAt: performance.now() };
}

/** Server time (ms) of the first and of the final chunk of an answer. */
const firstAt = (r: Streamed) => Date.parse(r.lines[0]!.created_at as string);
const lastAt = (r: Streamed) => Date.parse(r.lines.at(-1)!.created_at as string);

/** Polls the fake's state; fails with what it waited for rather than running into Jest's timeout. */
const until = async (cond: () => boolean, limitMs = 10_000) => {
  const deadline = performance.now() + limitMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`waited ${limitMs} ms for ${cond.toString()}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('fake ollama GPU mode', () => {
  it('answers answerTokens tokens, one chunk per token, paced at the token rate', async () => {
    const fake = await gpuFake({ slots: 1, tokensPerSecond: 100, answerTokens: 12 });
    const r = await chat(fake);
    expect(r.status).toBe(200);
    expect(r.lines).toHaveLength(13); // 12 tokens + the final chunk
    expect(r.lines.slice(0, 12).every((l) => l.done === false && typeof l.message.content === 'string' && l.message.content !== '')).toBe(true);
    const last = r.lines[12]!;
    expect(last).toMatchObject({ done: true, done_reason: 'stop', eval_count: 12 });
    // The schedule is absolute from the first token: token k (0-based) is never written before
    // first + k × 10 ms and the final chunk not before first + 12 × 10 ms, so it cannot arrive
    // sooner than 120 ms after the request was sent (a lower bound: timers never fire early).
    expect(r.at[12]! - r.startedAt).toBeGreaterThanOrEqual(12 * 10 - 2);
    expect(fake.gpu!.stats().tokens).toBe(12);

    // Non-streamed: one JSON object with the whole answer, after the same generation.
    const res = await fetch(fake.url + '/api/chat', {
      method: 'POST',
      body: JSON.stringify({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }], stream: false }),
    });
    const body = (await res.json()) as Json;
    expect(body).toMatchObject({ done: true, eval_count: 12 });
    expect(body.message.content.split(' ')).toHaveLength(12);
    expect(fake.gpu!.stats().tokens).toBe(24);

    // num_predict still caps the answer.
    const capped = await chat(fake, 'llama3.2', { options: { num_predict: 5 } });
    expect(capped.lines).toHaveLength(6);
    expect(capped.lines[5]).toMatchObject({ done_reason: 'length', eval_count: 5 });
  });

  it('serves `slots` requests at once; the third waits for a slot, first come first served', async () => {
    // Answers of 1 s: the third and fourth must reach the fake while the first two still hold the
    // slots, which a loaded CI machine missed when they took 200 ms.
    const fake = await gpuFake({ slots: 2, tokensPerSecond: 20, answerTokens: 20 });
    const first = chat(fake);
    const second = chat(fake);
    await until(() => fake.gpu!.stats().active === 2);
    const third = chat(fake);
    const fourth = chat(fake);
    await until(() => fake.gpu!.stats().queued === 2);
    expect(fake.gpu!.stats()).toMatchObject({ active: 2, queued: 2 });
    const [a, b, c, d] = await Promise.all([first, second, third, fourth]);
    for (const r of [a, b, c, d]) expect(r.lines).toHaveLength(21);
    // By the server's clock (created_at, ms): the third's first token comes after one of the first
    // two answers ended, the fourth's after the other.
    const firstEnd = Math.min(lastAt(a), lastAt(b));
    const secondEnd = Math.max(lastAt(a), lastAt(b));
    expect(firstAt(c)).toBeGreaterThanOrEqual(firstEnd);
    expect(firstAt(d)).toBeGreaterThanOrEqual(firstEnd);
    expect(Math.max(firstAt(c), firstAt(d))).toBeGreaterThanOrEqual(secondEnd);
    expect(fake.gpu!.stats()).toMatchObject({ active: 0, queued: 0, maxActive: 2, maxQueued: 2, admitted: 4 });
  });

  it('a client that leaves the queue gives up its place; one that leaves mid-answer frees its slot', async () => {
    const fake = await gpuFake({ slots: 1, tokensPerSecond: 50, answerTokens: 50 });
    const running = new AbortController();
    const first = chat(fake, 'llama3.2', {}, running.signal).catch(() => 'aborted');
    await until(() => fake.gpu!.stats().active === 1);
    const leaving = new AbortController();
    const queued = chat(fake, 'llama3.2', {}, leaving.signal).catch(() => 'aborted');
    const waiting = chat(fake);
    await until(() => fake.gpu!.stats().queued === 2);
    leaving.abort();
    await until(() => fake.gpu!.stats().queued === 1);
    expect(await queued).toBe('aborted');
    running.abort();
    expect(await first).toBe('aborted');
    const r = await waiting;
    expect(r.lines).toHaveLength(51);
    expect(fake.gpu!.stats()).toMatchObject({ admitted: 2, active: 0, queued: 0 });
  });

  it('takes the swap delay only when the requested model is not the loaded one; /api/ps shows it', async () => {
    const swapDelayMs = 150;
    const fake = await gpuFake({ slots: 2, tokensPerSecond: 200, answerTokens: 4, swapDelayMs });
    const ps = async () => ((await (await fetch(fake.url + '/api/ps')).json()) as { models: Json[] }).models;
    expect(await ps()).toEqual([]);

    const cold = await chat(fake, 'llama3.2');
    expect(cold.at[0]! - cold.startedAt).toBeGreaterThanOrEqual(swapDelayMs - 2);
    expect(fake.gpu!.stats()).toMatchObject({ loads: 1, swaps: 0 });
    const models = await ps();
    expect(models).toHaveLength(1);
    expect(Object.keys(models[0]!)).toEqual(['name', 'model', 'size', 'digest', 'details', 'expires_at', 'size_vram', 'context_length']);
    expect(models[0]).toMatchObject({ name: 'llama3.2:latest', model: 'llama3.2:latest' });
    expect(Date.parse(models[0]!.expires_at)).toBeGreaterThan(Date.now());

    await chat(fake, 'llama3.2');
    await chat(fake, 'llama3.2:latest');
    expect(fake.gpu!.stats()).toMatchObject({ loads: 1, swaps: 0 }); // same model: no delay taken

    const swapped = await chat(fake, 'qwen3:4b', { think: false });
    expect(swapped.at[0]! - swapped.startedAt).toBeGreaterThanOrEqual(swapDelayMs - 2);
    expect(fake.gpu!.stats()).toMatchObject({ loads: 2, swaps: 1 });
    expect((await ps()).map((m) => m.name)).toEqual(['qwen3:4b']); // one model at a time: llama3.2 unloaded

    await chat(fake, 'qwen3:4b', { think: false });
    expect(fake.gpu!.stats()).toMatchObject({ loads: 2, swaps: 1 });
  });

  it('a request for another model waits until the loaded one is idle (head of line), then swaps', async () => {
    const fake = await gpuFake({ slots: 4, tokensPerSecond: 100, answerTokens: 20, swapDelayMs: 20 });
    const a = chat(fake, 'llama3.2');
    await until(() => fake.gpu!.stats().active === 1);
    const b = chat(fake, 'qwen3:4b', { think: false });
    await until(() => fake.gpu!.stats().queued === 1);
    const a2 = chat(fake, 'llama3.2'); // could run on the loaded model, but waits behind b
    await until(() => fake.gpu!.stats().queued === 2);
    const [ra, rb, ra2] = await Promise.all([a, b, a2]);
    expect(firstAt(rb)).toBeGreaterThanOrEqual(lastAt(ra));
    expect(firstAt(ra2)).toBeGreaterThanOrEqual(firstAt(rb));
    expect(fake.gpu!.stats()).toMatchObject({ loads: 3, swaps: 2, maxActive: 1 });
  });

  it('keeps two models with maxLoadedModels 2, unloading the least recently used for a third', async () => {
    const fake = await gpuFake({ slots: 2, tokensPerSecond: 500, answerTokens: 2, maxLoadedModels: 2 });
    await chat(fake, 'llama3.2');
    await chat(fake, 'qwen3:4b', { think: false });
    expect(fake.gpu!.stats()).toMatchObject({ loads: 2, swaps: 0, loaded: ['qwen3:4b', 'llama3.2:latest'] });
    await chat(fake, 'llama3.2');
    expect(fake.gpu!.stats()).toMatchObject({ loads: 2, loaded: ['llama3.2:latest', 'qwen3:4b'] });
  });

  it('is off by default, and the command line of main.ts turns it on', async () => {
    expect(parseArgs([], {})).toEqual({ port: 0, host: undefined, models: undefined, gpu: undefined, defaultReply: { chunkDelayMs: 0 } });
    const options = parseArgs(
      ['--port', '0', '--slots', '2', '--tokens-per-second', '40', '--answer-tokens', '200', '--prompt-delay-ms', '100', '--swap-delay-ms', '2000', '--max-loaded-models', '1', '--models', 'bench-a,bench-b:7b'],
      {},
    );
    expect(options.gpu).toEqual({ slots: 2, tokensPerSecond: 40, answerTokens: 200, promptDelayMs: 100, swapDelayMs: 2000, maxLoadedModels: 1 });
    expect(options.models?.map((m) => m.name)).toEqual(['bench-a', 'bench-b:7b']);
    expect(() => parseArgs(['--slots'], {})).toThrow('--slots needs a value');
    const plain = await startFakeOllama();
    fakes.push(plain);
    expect(plain.gpu).toBeUndefined();
    expect((await fetch(plain.url + '/__gpu')).status).toBe(404);
  });
});

import http from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Ollama } from 'ollama';
import {
  countPromptTokens,
  DEFAULT_TOKENS,
  fakeEmbedding,
  splitIntoTokens,
  startFakeOllama,
  type FakeOllama,
} from './fake-ollama.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

let fake: FakeOllama;

beforeAll(async () => {
  fake = await startFakeOllama();
});
afterEach(() => {
  fake.release();
  fake.reset();
});
afterAll(async () => {
  await fake.close();
});

const post = (path: string, body: unknown, init: RequestInit = {}) =>
  fetch(fake.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...init,
  });

const parseLines = (text: string): Json[] =>
  text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Json);

/** Incremental NDJSON reader over a fetch body. */
function lineReader(res: Response) {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let parked: Promise<Json | undefined> | undefined; // a read left running by pendingFor()
  const read = async (): Promise<Json | undefined> => {
    for (;;) {
      const nl = buffer.indexOf('\n');
      if (nl >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        return JSON.parse(line) as Json;
      }
      const { done, value } = await reader.read();
      if (done) return undefined;
      buffer += decoder.decode(value, { stream: true });
    }
  };
  const next = (): Promise<Json | undefined> => {
    const p = parked ?? read();
    parked = undefined;
    return p;
  };
  return {
    next,
    /** Resolves 'pending' if no line arrives within ms (the read stays parked for next()). */
    async pendingFor(ms: number): Promise<'pending' | Json | undefined> {
      const p = next();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'pending'>((r) => (timer = setTimeout(() => r('pending'), ms)));
      const result = await Promise.race([p, timeout]);
      clearTimeout(timer);
      if (result === 'pending') parked = p;
      return result;
    },
  };
}

const chatBody = (extra: Json = {}) => ({
  model: 'llama3.2',
  messages: [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: 'Why is the sky blue?' },
  ],
  ...extra,
});

describe('fake ollama: catalogue routes', () => {
  it('serves /, /api/version, /api/tags, /api/show, /api/ps', async () => {
    const root = await fetch(fake.url + '/');
    expect(root.status).toBe(200);
    expect(await root.text()).toBe('Ollama is running');
    const head = await fetch(fake.url + '/', { method: 'HEAD' });
    expect(head.status).toBe(200);

    expect(await (await fetch(fake.url + '/api/version')).json()).toEqual({ version: '0.12.3' });

    const tags = (await (await fetch(fake.url + '/api/tags')).json()) as Json;
    expect(tags.models.map((m: Json) => m.name)).toEqual(['llama3.2:latest', 'qwen3:4b', 'nomic-embed-text:latest']);
    expect(Object.keys(tags.models[0])).toEqual(['name', 'model', 'modified_at', 'size', 'digest', 'details']);
    expect(Object.keys(tags.models[0].details)).toEqual([
      'parent_model',
      'format',
      'family',
      'families',
      'parameter_size',
      'quantization_level',
    ]);
    expect(tags.models[0].digest).toMatch(/^[0-9a-f]{64}$/);

    const show = (await (await post('/api/show', { model: 'qwen3:4b' })).json()) as Json;
    expect(show.capabilities).toEqual(['completion', 'tools', 'thinking']);
    expect(show.model_info['qwen3.context_length']).toBe(40960);
    for (const k of ['modelfile', 'parameters', 'template', 'details', 'model_info']) expect(show).toHaveProperty(k);
    const legacy = await post('/api/show', { name: 'llama3.2' });
    expect(((await legacy.json()) as Json).capabilities).toEqual(['completion', 'tools']);

    const missing = await post('/api/show', { model: 'nope' });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: "model 'nope:latest' not found" });

    expect(await (await fetch(fake.url + '/api/ps')).json()).toEqual({ models: [] });
    await (await post('/api/chat', chatBody({ stream: false }))).json();
    const ps = (await (await fetch(fake.url + '/api/ps')).json()) as Json;
    expect(ps.models).toHaveLength(1);
    expect(ps.models[0]).toMatchObject({ name: 'llama3.2:latest', context_length: 4096 });
    expect(ps.models[0]).toHaveProperty('expires_at');
    expect(ps.models[0]).toHaveProperty('size_vram');
  });

  it('answers unknown paths and wrong methods like gin', async () => {
    const notFound = await fetch(fake.url + '/api/versions');
    expect(notFound.status).toBe(404);
    expect(await notFound.text()).toBe('404 page not found');
    const wrong = await fetch(fake.url + '/api/chat');
    expect(wrong.status).toBe(405);
  });

  it('answers and records model-management routes', async () => {
    const pull = await post('/api/pull', { model: 'llama3.2' });
    expect(pull.headers.get('content-type')).toBe('application/x-ndjson');
    const statuses = parseLines(await pull.text());
    expect(statuses.at(-1)).toEqual({ status: 'success' });
    expect(await (await post('/api/pull', { model: 'x', stream: false })).json()).toEqual({ status: 'success' });
    expect((await post('/api/push', { model: 'me/x', stream: false })).status).toBe(200);
    expect((await post('/api/create', { model: 'mario', from: 'llama3.2', stream: false })).status).toBe(200);
    expect((await post('/api/copy', { source: 'llama3.2', destination: 'b' })).status).toBe(200);
    expect((await post('/api/delete', { model: 'llama3.2' }, { method: 'DELETE' })).status).toBe(200);
    expect((await fetch(fake.url + '/api/blobs/sha256:abc', { method: 'HEAD' })).status).toBe(200);
    expect((await post('/api/blobs/sha256:abc', 'GGUF')).status).toBe(201);
    expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /api/pull',
      'POST /api/pull',
      'POST /api/push',
      'POST /api/create',
      'POST /api/copy',
      'DELETE /api/delete',
      'HEAD /api/blobs/sha256:abc',
      'POST /api/blobs/sha256:abc',
    ]);
  });
});

describe('fake ollama: chat and generate', () => {
  it('streams chat NDJSON chunk by chunk with counts on the final chunk only', async () => {
    const res = await post('/api/chat?trace=1', chatBody(), { headers: { 'content-type': 'application/json', 'X-Probe': 'yes' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-ndjson');
    const chunks = parseLines(await res.text());
    expect(chunks).toHaveLength(DEFAULT_TOKENS.length + 1);
    for (const [i, c] of chunks.slice(0, -1).entries()) {
      expect(Object.keys(c)).toEqual(['model', 'created_at', 'message', 'done']);
      expect(c).toMatchObject({ model: 'llama3.2', message: { role: 'assistant', content: DEFAULT_TOKENS[i] }, done: false });
      expect(c.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    }
    const last = chunks.at(-1)!;
    expect(Object.keys(last)).toEqual([
      'model',
      'created_at',
      'message',
      'done',
      'done_reason',
      'total_duration',
      'load_duration',
      'prompt_eval_count',
      'prompt_eval_duration',
      'eval_count',
      'eval_duration',
    ]);
    expect(last).toMatchObject({ done: true, done_reason: 'stop', message: { role: 'assistant', content: '' } });
    expect(last.eval_count).toBe(DEFAULT_TOKENS.length);
    expect(last.prompt_eval_count).toBe(8); // "You are terse." + "Why is the sky blue?"
    expect(last.prompt_eval_count).toBe(countPromptTokens(chatBody()));

    const rec = await fake.waitForRequest((r) => r.path.startsWith('/api/chat'));
    expect(rec.path).toBe('/api/chat?trace=1');
    expect(rec.headers['x-probe']).toBe('yes');
    expect(rec.body).toEqual(chatBody());
    expect(rec.aborted).toBe(false);
    await expect(rec.settled).resolves.toBe('completed');
  });

  it('stream:false returns one JSON object', async () => {
    fake.enqueue({ text: 'The sky is blue.' });
    const res = await post('/api/chat', chatBody({ stream: false }));
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const body = (await res.json()) as Json;
    expect(body).toMatchObject({
      message: { role: 'assistant', content: 'The sky is blue.' },
      done: true,
      done_reason: 'stop',
      eval_count: 4,
      prompt_eval_count: 8,
    });
  });

  it('generate streams `response` and ends with `context`', async () => {
    fake.enqueue({ tokens: ['A', 'B'] });
    const chunks = parseLines(await (await post('/api/generate', { model: 'llama3.2', prompt: 'one two three', system: 'sys' })).text());
    expect(chunks.slice(0, 2).map((c) => c.response)).toEqual(['A', 'B']);
    expect(Object.keys(chunks[0]!)).toEqual(['model', 'created_at', 'response', 'done']);
    const last = chunks[2]!;
    expect(last).toMatchObject({ response: '', done: true, done_reason: 'stop', prompt_eval_count: 4, eval_count: 2 });
    expect(last.context).toHaveLength(6);
    const single = (await (await post('/api/generate', { model: 'llama3.2', prompt: 'hi', stream: false })).json()) as Json;
    expect(single.response).toBe(DEFAULT_TOKENS.join(''));
    const load = (await (await post('/api/generate', { model: 'llama3.2' })).json()) as Json;
    expect(load).toMatchObject({ done: true, done_reason: 'load', response: '' });
  });

  it('honours options.num_predict with done_reason "length"', async () => {
    fake.enqueue({ tokens: ['a', 'b', 'c', 'd', 'e'] });
    const chunks = parseLines(await (await post('/api/chat', chatBody({ options: { num_predict: 3 } }))).text());
    expect(chunks).toHaveLength(4);
    expect(chunks.at(-1)).toMatchObject({ done: true, done_reason: 'length', eval_count: 3 });
    fake.enqueue({ tokens: ['a', 'b'] });
    const enough = parseLines(await (await post('/api/chat', chatBody({ options: { num_predict: 2 } }))).text());
    expect(enough.at(-1)).toMatchObject({ done_reason: 'stop', eval_count: 2 });
  });

  it('emits tool calls the Ollama way', async () => {
    fake.enqueue({ tokens: [], toolCalls: [{ name: 'get_weather', arguments: { city: 'Tokyo' } }, { name: 'get_time', arguments: {} }] });
    const chunks = parseLines(await (await post('/api/chat', chatBody({ tools: [{ type: 'function', function: { name: 'get_weather' } }] }))).text());
    expect(chunks).toHaveLength(2);
    const call = chunks[0]!;
    expect(call).toMatchObject({ done: false, message: { role: 'assistant', content: '' } });
    expect(call.message.tool_calls).toHaveLength(2);
    expect(call.message.tool_calls[0].id).toMatch(/^call_[a-z0-9]{8}$/);
    expect(call.message.tool_calls[0].function).toEqual({ index: 0, name: 'get_weather', arguments: { city: 'Tokyo' } });
    expect(call.message.tool_calls[1].function).toEqual({ index: 1, name: 'get_time', arguments: {} });
    expect(chunks[1]).toMatchObject({ done: true, done_reason: 'stop', eval_count: 2 });
  });

  it('streams thinking on thinking models and refuses think on others', async () => {
    fake.enqueue({ thinking: ['Hmm', '...'], tokens: ['Yes'] });
    const chunks = parseLines(await (await post('/api/chat', chatBody({ model: 'qwen3:4b' }))).text());
    expect(chunks.map((c) => [c.message.thinking, c.message.content])).toEqual([
      ['Hmm', ''],
      ['...', ''],
      [undefined, 'Yes'],
      [undefined, ''],
    ]);
    expect(chunks.at(-1)!.eval_count).toBe(3);
    const refused = await post('/api/chat', chatBody({ think: true }));
    expect(refused.status).toBe(400);
    expect(await refused.json()).toEqual({ error: '"llama3.2" does not support thinking' });
  });

  it('returns Ollama errors for unknown / missing model and bad JSON', async () => {
    const unknown = await post('/api/chat', chatBody({ model: 'mistral:7b' }));
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ error: "model 'mistral:7b' not found" });
    const missing = await post('/api/generate', { prompt: 'x' });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toEqual({ error: 'model is required' });
    const bad = await post('/api/chat', '{"model":');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as Json).error).toEqual(expect.any(String));
    const embedOnly = await post('/api/chat', chatBody({ model: 'nomic-embed-text' }));
    expect(await embedOnly.json()).toEqual({ error: '"nomic-embed-text" does not support chat' });
  });

  it('scripted status errors and omitted counts', async () => {
    fake.enqueue({ status: 503, error: 'server busy, please try again.  maximum pending requests exceeded' });
    const busy = await post('/api/chat', chatBody());
    expect(busy.status).toBe(503);
    expect(await busy.json()).toEqual({ error: 'server busy, please try again.  maximum pending requests exceeded' });
    fake.enqueue({ omitPromptEvalCount: true });
    const cached = parseLines(await (await post('/api/chat', chatBody())).text()).at(-1)!;
    expect(cached).not.toHaveProperty('prompt_eval_count');
    expect(cached.eval_count).toBe(8);
    fake.enqueue({ omitCounts: true });
    const none = parseLines(await (await post('/api/chat', chatBody())).text()).at(-1)!;
    expect(none).not.toHaveProperty('prompt_eval_count');
    expect(none).not.toHaveProperty('eval_count');
  });

  it('respondWith answers by the request (after the queue, before the default) until reset()', async () => {
    const seen: string[] = [];
    fake.respondWith((body, path) => {
      seen.push(path);
      const last = (body.messages as { content: string }[] | undefined)?.at(-1)?.content ?? '';
      return last.includes('weather') ? { toolCalls: [{ name: 'get_weather', arguments: { city: 'Oslo' } }] } : undefined;
    });
    fake.enqueue({ text: 'queued first' });
    const queued = parseLines(await (await post('/api/chat', chatBody())).text());
    expect(queued.map((c) => c.message.content).join('')).toBe('queued first');
    const asked = parseLines(await (await post('/api/chat', chatBody({ messages: [{ role: 'user', content: 'the weather?' }] }))).text());
    expect(asked.find((c) => c.message.tool_calls)?.message.tool_calls[0].function).toEqual({ index: 0, name: 'get_weather', arguments: { city: 'Oslo' } });
    const declined = parseLines(await (await post('/api/chat', chatBody())).text());
    expect(declined.map((c) => c.message.content).join('')).toBe(DEFAULT_TOKENS.join(''));
    expect(seen).toEqual(['/api/chat', '/api/chat']);
    fake.reset();
    const after = parseLines(await (await post('/api/chat', chatBody({ messages: [{ role: 'user', content: 'the weather?' }] }))).text());
    expect(after.some((c) => c.message.tool_calls)).toBe(false);
  });

  it('promptTokens replaces the word count of prompt_eval_count', async () => {
    const other = await startFakeOllama({ promptTokens: (body) => JSON.stringify(body.tools ?? []).length + 1000 });
    try {
      const tools = [{ type: 'function', function: { name: 'f', parameters: {} } }];
      const final = parseLines(await (await fetch(other.url + '/api/chat', { method: 'POST', body: JSON.stringify(chatBody({ tools })) })).text()).at(-1)!;
      expect(final.prompt_eval_count).toBe(JSON.stringify(tools).length + 1000);
    } finally {
      await other.close();
    }
  });
});

describe('fake ollama: failure modes', () => {
  it('midStreamError sends an error line under status 200', async () => {
    fake.enqueue({ midStreamError: { afterChunks: 2, error: 'model runner has unexpectedly stopped' } });
    const res = await post('/api/chat', chatBody());
    expect(res.status).toBe(200);
    const lines = parseLines(await res.text());
    expect(lines).toHaveLength(3);
    expect(lines[2]).toEqual({ error: 'model runner has unexpectedly stopped' });
    fake.enqueue({ midStreamError: { afterChunks: 2, error: 'boom' } });
    const single = await post('/api/chat', chatBody({ stream: false }));
    expect(single.status).toBe(500);
    expect(await single.json()).toEqual({ error: 'boom' });
  });

  it('dieAfterChunks drops the connection without a final chunk', async () => {
    fake.enqueue({ dieAfterChunks: 3 });
    const res = await post('/api/chat', chatBody());
    expect(res.status).toBe(200);
    const reader = lineReader(res);
    for (let i = 0; i < 3; i++) expect((await reader.next())!.done).toBe(false);
    await expect(reader.next()).rejects.toThrow();
    const rec = await fake.waitForRequest();
    await expect(rec.settled).resolves.toBe('killed');
    expect(rec.aborted).toBe(false);
  });

  it('holdAfterChunks holds the stream until release()', async () => {
    fake.enqueue({ holdAfterChunks: 2 });
    const res = await post('/api/chat', chatBody());
    const reader = lineReader(res);
    expect((await reader.next())!.message.content).toBe('Hello');
    expect((await reader.next())!.message.content).toBe(' there');
    await fake.waitForHold();
    expect(fake.heldCount).toBe(1);
    expect(await reader.pendingFor(150)).toBe('pending');
    expect(fake.release()).toBe(1);
    const rest: Json[] = [];
    for (let c = await reader.next(); c; c = await reader.next()) rest.push(c);
    expect(rest).toHaveLength(DEFAULT_TOKENS.length - 2 + 1);
    expect(rest.at(-1)!.done).toBe(true);
  });

  it('marks the request aborted when the client disconnects mid-stream, and stops writing', async () => {
    fake.enqueue({ tokens: Array.from({ length: 50 }, (_, i) => `t${i} `), chunkDelayMs: 20 });
    const ac = new AbortController();
    const res = await post('/api/chat', chatBody(), { signal: ac.signal });
    const reader = lineReader(res);
    await reader.next();
    ac.abort();
    const rec = await fake.waitForRequest();
    await expect(rec.settled).resolves.toBe('aborted');
    expect(rec.aborted).toBe(true);
    expect(fake.inFlight).toBe(0);
  });

  it('a client leaving a held stream un-holds it and marks it aborted', async () => {
    fake.enqueue({ holdAfterChunks: 1 });
    const ac = new AbortController();
    const reader = lineReader(await post('/api/chat', chatBody(), { signal: ac.signal }));
    await reader.next();
    await fake.waitForHold();
    ac.abort();
    const rec = await fake.waitForRequest();
    await expect(rec.settled).resolves.toBe('aborted');
    expect(fake.heldCount).toBe(0);
    expect(fake.release()).toBe(0);
  });

  it('close() ends held and hanging exchanges', async () => {
    const other = await startFakeOllama({ defaultReply: { holdAfterChunks: 1 } });
    other.enqueue({ hang: true });
    const hung = fetch(other.url + '/api/generate', { method: 'POST', body: JSON.stringify({ model: 'llama3.2', prompt: 'x' }) });
    const held = await fetch(other.url + '/api/generate', { method: 'POST', body: JSON.stringify({ model: 'llama3.2', prompt: 'y' }) });
    await other.waitForHold();
    expect(other.inFlight).toBe(2);
    await other.close();
    await expect(hung).rejects.toThrow();
    await expect(held.text()).rejects.toThrow();
    expect(other.requests.every((r) => !r.aborted)).toBe(true);
    await expect(other.requests[0]!.settled).resolves.toBe('killed');
  });

  it('hang never answers; the client giving up marks it aborted', async () => {
    fake.enqueue({ hang: true });
    const ac = new AbortController();
    const pending = post('/api/chat', chatBody(), { signal: ac.signal });
    const rec = await fake.waitForRequest();
    setTimeout(() => ac.abort(), 50);
    await expect(pending).rejects.toThrow();
    await expect(rec.settled).resolves.toBe('aborted');
    expect(rec.aborted).toBe(true);
  });

  it('delayBeforeHeadersMs delays the response head', async () => {
    fake.enqueue({ delayBeforeHeadersMs: 120 });
    const t0 = Date.now();
    const res = await post('/api/chat', chatBody());
    expect(Date.now() - t0).toBeGreaterThanOrEqual(100);
    await res.text();
  });

  it('splitWrites splits lines across writes, inside multibyte characters', async () => {
    fake.enqueue({ tokens: ['héllo', ' wörld', ' 🌍'], splitWrites: true });
    const data: Buffer[] = await new Promise((resolve, reject) => {
      const req = http.request(fake.url + '/api/chat', { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (b: Buffer) => parts.push(b));
        res.on('end', () => resolve(parts));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(JSON.stringify(chatBody()));
    });
    expect(data.length).toBeGreaterThanOrEqual(8); // 4 lines, 2 writes each
    const partial = data.find((b) => b.toString('utf8').includes('\uFFFD'));
    expect(partial).toBeDefined(); // some write ended inside a multibyte character
    const chunks = parseLines(Buffer.concat(data).toString('utf8'));
    expect(chunks.map((c) => c.message.content).join('')).toBe('héllo wörld 🌍');
  });

  it('escapes HTML characters like Go', async () => {
    fake.enqueue({ tokens: ['<b>&</b>'] });
    const text = await (await post('/api/chat', chatBody())).text();
    expect(text).toContain('"\\u003cb\\u003e\\u0026\\u003c/b\\u003e"');
    expect(parseLines(text)[0]!.message.content).toBe('<b>&</b>');
  });
});

describe('fake ollama: embeddings and helpers', () => {
  it('embeds deterministically', async () => {
    const res = (await (await post('/api/embed', { model: 'nomic-embed-text', input: ['a b c', 'd'] })).json()) as Json;
    expect(res.embeddings).toHaveLength(2);
    expect(res.embeddings[0]).toHaveLength(8);
    expect(res.prompt_eval_count).toBe(4);
    expect(res).toHaveProperty('total_duration');
    expect(res).toHaveProperty('load_duration');
    const again = (await (await post('/api/embed', { model: 'nomic-embed-text', input: 'a b c' })).json()) as Json;
    expect(again.embeddings[0]).toEqual(res.embeddings[0]);
    const legacy = (await (await post('/api/embeddings', { model: 'nomic-embed-text', prompt: 'a b c' })).json()) as Json;
    expect(legacy.embedding).toEqual(fakeEmbedding('a b c'));
    const unknown = await post('/api/embeddings', { model: 'zzz', prompt: 'x' });
    expect(await unknown.json()).toEqual({ error: 'model "zzz" not found, try pulling it first' });
  });

  it('exposes its counting helpers', () => {
    expect(countPromptTokens({ messages: [{ role: 'user', content: '' }] })).toBe(1);
    expect(countPromptTokens({ prompt: 'a  b', system: 'c' })).toBe(3);
    expect(splitIntoTokens('The sky is blue.')).toEqual(['The', ' sky', ' is', ' blue.']);
  });

  it('waitForRequest hands each request out once, in order, and waits for future ones', async () => {
    await fetch(fake.url + '/api/version');
    await fetch(fake.url + '/api/tags');
    expect((await fake.waitForRequest()).path).toBe('/api/version');
    expect((await fake.waitForRequest()).path).toBe('/api/tags');
    const next = fake.waitForRequest((r) => r.path === '/api/ps');
    await fetch(fake.url + '/api/ps');
    expect((await next).method).toBe('GET');
    await expect(fake.waitForRequest(undefined, 50)).rejects.toThrow(/no matching request/);
  });
});

describe('fake ollama: official ollama client accepts its shapes', () => {
  it('chat stream, generate, list, show, embed, errors', async () => {
    const client = new Ollama({ host: fake.url });
    fake.enqueue({ thinking: ['think'], tokens: ['Hi', ' you'] });
    const parts: string[] = [];
    let final: Json | undefined;
    for await (const part of await client.chat({ model: 'qwen3:4b', messages: [{ role: 'user', content: 'hey' }], stream: true })) {
      parts.push(part.message.content);
      if (part.done) final = part as unknown as Json;
    }
    expect(parts.join('')).toBe('Hi you');
    expect(final).toMatchObject({ done_reason: 'stop', eval_count: 3, prompt_eval_count: 1 });

    fake.enqueue({ toolCalls: [{ name: 'lookup', arguments: { q: 'x' } }] });
    const tool = await client.chat({
      model: 'llama3.2',
      messages: [{ role: 'user', content: 'look it up' }],
      tools: [{ type: 'function', function: { name: 'lookup', description: 'd', parameters: { type: 'object', properties: {} } } }],
    });
    expect(tool.message.tool_calls?.[0]?.function).toEqual({ index: 0, name: 'lookup', arguments: { q: 'x' } });

    const gen = await client.generate({ model: 'llama3.2', prompt: 'hello' });
    expect(gen.response).toBe(DEFAULT_TOKENS.join(''));

    const list = await client.list();
    expect(list.models.map((m) => m.name)).toContain('nomic-embed-text:latest');
    const show = await client.show({ model: 'llama3.2' });
    expect(show.capabilities).toEqual(['completion', 'tools']);
    const embed = await client.embed({ model: 'nomic-embed-text', input: ['x', 'y'] });
    expect(embed.embeddings).toHaveLength(2);
    await expect(client.chat({ model: 'missing', messages: [{ role: 'user', content: 'x' }] })).rejects.toMatchObject({
      status_code: 404,
      error: "model 'missing' not found",
    });

    fake.enqueue({ midStreamError: { afterChunks: 1, error: 'runner died' } });
    const stream = await client.chat({ model: 'llama3.2', messages: [{ role: 'user', content: 'x' }], stream: true });
    await expect(
      (async () => {
        for await (const _ of stream) void _;
      })(),
    ).rejects.toThrow('runner died');
  });
});

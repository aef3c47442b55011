/**
 * The usage report per upstream (issue 15, item 7), on every test database: a gateway with two
 * scripted Ollamas (one per model); the report's `upstreams` counts each settled request under the
 * server that served it, with its tokens as Ollama counted them, and an admitted request that no
 * server served (answered "overloaded") under `upstream: null`; a request refused before admission
 * (quota) counts nowhere. The key and model filters and the range apply to it.
 */
import type { UsageByUpstream, UsageResponse } from '@llmproxy/api-types';
import { startFakeOllama, type FakeModel, type FakeOllama } from './upstream/fake-ollama.js';
import { testDatabases } from './support/databases.js';
import { eventually, startTestGateway, type TestGateway } from './support/gateway.js';

const LLAMA: FakeModel = { name: 'llama3.2:latest', capabilities: ['completion', 'tools'] };
const QWEN: FakeModel = { name: 'qwen3:4b', capabilities: ['completion', 'tools', 'thinking'] };

const databases = await testDatabases();

describe.each(databases)('usage report per upstream on $name', (database) => {
  let a: FakeOllama; // llama3.2 only: "ollama-1"
  let b: FakeOllama; // qwen3:4b only: "ollama-2"
  let gateway: TestGateway;

  beforeAll(async () => {
    a = await startFakeOllama({ models: [LLAMA] });
    b = await startFakeOllama({ models: [QWEN] });
    // One slot per server and a short queue: a second request while the first is held is answered "overloaded".
    gateway = await startTestGateway(await database.create(), a.url, { OLLAMA_URLS: `${a.url},${b.url}`, UPSTREAM_MAX_PARALLEL: '1', QUEUE_TIMEOUT_S: '1' });
  });

  afterAll(async () => {
    await gateway?.close();
    await Promise.all([a, b].map((fake) => fake?.close()));
    await database.dropAll();
  });

  /** A native, non-streamed chat: its answer carries Ollama's counts and the serving upstream's name. */
  async function chat(key: string, model: string, content: string) {
    const response = await fetch(`${gateway.proxyUrl}/api/chat`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}` },
      body: JSON.stringify({ model, messages: [{ role: 'user', content }], stream: false }),
    });
    const body = (await response.json()) as { prompt_eval_count?: number; eval_count?: number };
    return { status: response.status, upstream: response.headers.get('x-llmproxy-upstream'), prompt: body.prompt_eval_count ?? 0, completion: body.eval_count ?? 0 };
  }

  const report = async (query: string) => {
    const response = await gateway.admin(`/api/usage?${query}`);
    expect(response.status).toBe(200);
    return (await response.json()) as UsageResponse;
  };

  const share = (upstream: string | null, answers: { prompt: number; completion: number }[], failed = 0): UsageByUpstream => ({
    upstream,
    requests: answers.length,
    prompt_tokens: answers.reduce((sum, x) => sum + x.prompt, 0),
    completion_tokens: answers.reduce((sum, x) => sum + x.completion, 0),
    failed_requests: failed,
  });

  it('counts each request under the upstream that served it, an overloaded one under null, a refused one nowhere; the key and model filters apply', async () => {
    const heavy = await gateway.createKey({ name: 'heavy' });
    const limited = await gateway.createKey({ name: 'limited', daily_request_limit: 1 });

    // Different prompt lengths, so each request's tokens differ (the fake counts the words).
    const heavyLlama = [await chat(heavy.key, 'llama3.2', 'one'), await chat(heavy.key, 'llama3.2', 'one two three')];
    const heavyQwen = [await chat(heavy.key, 'qwen3:4b', 'four five six seven eight')];
    const limitedLlama = [await chat(limited.key, 'llama3.2', 'nine ten')];
    for (const answer of [...heavyLlama, ...limitedLlama]) expect([answer.status, answer.upstream]).toEqual([200, 'ollama-1']);
    expect([heavyQwen[0]!.status, heavyQwen[0]!.upstream]).toEqual([200, 'ollama-2']);
    for (const answer of [...heavyLlama, ...heavyQwen, ...limitedLlama]) expect(answer.prompt * answer.completion).toBeGreaterThan(0);

    // Refused by the quota before admission: no reservation, so not a request of the report.
    expect((await chat(limited.key, 'llama3.2', 'refused')).status).toBe(429);

    // ollama-1's only slot held: the next llama request waits QUEUE_TIMEOUT_S and is answered "overloaded".
    a.enqueue({ holdAfterChunks: 1 });
    const holding = chat(heavy.key, 'llama3.2', 'held a while');
    await a.waitForHold();
    const late = await chat(heavy.key, 'llama3.2', 'too late');
    expect([late.status, late.upstream]).toEqual([503, null]);
    a.release();
    const held = await holding;
    expect([held.status, held.upstream]).toEqual([200, 'ollama-1']);
    heavyLlama.push(held);

    const everyone = await eventually(async () => {
      const body = await report('');
      expect(body.totals.requests).toBe(6);
      return body;
    });
    expect(everyone.upstreams).toEqual([
      share('ollama-1', [...heavyLlama, ...limitedLlama]),
      share('ollama-2', heavyQwen),
      share(null, [{ prompt: 0, completion: 0 }], 1),
    ]);
    // The same requests and tokens as the series, split another way.
    expect(everyone.upstreams.reduce((sum, u) => sum + u.prompt_tokens, 0)).toBe(everyone.totals.prompt_tokens);
    expect(everyone.upstreams.reduce((sum, u) => sum + u.completion_tokens, 0)).toBe(everyone.totals.completion_tokens);

    expect((await report(`key_id=${heavy.id}`)).upstreams).toEqual([share('ollama-1', heavyLlama), share('ollama-2', heavyQwen), share(null, [{ prompt: 0, completion: 0 }], 1)]);
    expect((await report(`key_id=${limited.id}`)).upstreams).toEqual([share('ollama-1', limitedLlama)]);
    expect((await report('model=qwen3:4b')).upstreams).toEqual([share('ollama-2', heavyQwen)]);
    expect((await report(`key_id=${limited.id}&model=qwen3:4b`)).upstreams).toEqual([]);
    // Hourly granularity changes the series, not the range's split.
    expect((await report('granularity=hour')).upstreams).toEqual(everyone.upstreams);
    // A range without these hours has none of them.
    expect((await report('from=2024-01-01&to=2024-01-31')).upstreams).toEqual([]);
  });
});

import type { Overview } from '@llmproxy/api-types';
import { startFakeOllama, type FakeOllama } from './upstream/fake-ollama.js';
import { testDatabases } from './support/databases.js';
import { eventually, startTestGateway, type TestGateway } from './support/gateway.js';

const databases = await testDatabases();

describe.each(databases)('the admin overview on $name', (database) => {
  let upstream: FakeOllama;
  let gateway: TestGateway;

  beforeAll(async () => {
    upstream = await startFakeOllama();
    gateway = await startTestGateway(await database.create(), upstream.url, { UPSTREAM_POLL_S: '1' });
  });

  afterAll(async () => {
    upstream?.release();
    await gateway?.close();
    await upstream?.close();
    await database.dropAll();
  });

  const overview = async () => {
    const response = await gateway.admin('/api/overview');
    expect(response.status).toBe(200);
    return (await response.json()) as Overview;
  };
  const chat = (key: string, model = 'llama3.2', stream = false) =>
    fetch(`${gateway.proxyUrl}/api/chat`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}` },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], stream }),
    });

  it('answers today’s totals, the last hour by minute, refusals by kind, streams, servers and the keys nearest a limit', async () => {
    const empty = await overview();
    expect(empty.totals_today).toMatchObject({ requests: 0, prompt_tokens: 0, completion_tokens: 0 });
    expect(empty.requests_per_minute).toHaveLength(60);
    expect(empty.keys_near_limits).toEqual([]);

    const { key: near, id: nearId } = await gateway.createKey({ name: 'near', daily_request_limit: 3 });
    const { key: far, id: farId } = await gateway.createKey({ name: 'far', monthly_token_limit: 1_000_000 });
    const { key: free } = await gateway.createKey({ name: 'free' });
    for (let i = 0; i < 3; i++) expect((await chat(near)).status).toBe(200);
    expect((await chat(near)).status).toBe(429); // the day's 3 requests are used
    expect((await chat(far)).status).toBe(200);
    expect((await chat(free)).status).toBe(200);
    expect((await chat('sk-no-such-key-000000000000000000000000')).status).toBe(401);
    expect((await chat(free, 'no-such-model')).status).toBe(404);

    const seen = await eventually(async () => {
      const now = await overview();
      // Five answered, and the unknown model: admitted, then Ollama's own "not found" (a failed request).
      expect(now.totals_today.requests).toBe(6);
      return now;
    });
    // Every request this process answered, in the last minutes of the hour (the test may straddle a minute).
    expect(seen.requests_per_minute.slice(-2).reduce((sum, m) => sum + m.requests, 0)).toBe(8);
    expect(seen.refusals_last_hour).toMatchObject({ unauthorized: 1, not_found: 1, quota_requests: 1, quota_tokens: 0, overloaded: 0 });
    expect(seen.totals_today.completion_tokens).toBeGreaterThan(0);
    // 'near' used all of its day; 'far' a sliver of its month; 'free' has no limit and is not listed.
    expect(seen.keys_near_limits.map((k) => [k.id, k.name, k.window, k.kind, k.used, k.limit, k.share])).toEqual([
      [nearId, 'near', 'day', 'requests', 3, 3, 1],
      [farId, 'far', 'month', 'tokens', expect.any(Number), 1_000_000, expect.any(Number)],
    ]);
    expect(seen.keys_near_limits[1]!.share).toBeLessThan(0.01);
    await eventually(async () => expect((await overview()).upstreams).toEqual([{ id: expect.any(Number), name: 'ollama', health: 'up', loaded: ['llama3.2:latest'], in_flight: 0, max_parallel: expect.any(Number), queued: 0 }]));

    // A stream in progress is counted while it runs, and in flight on its server.
    upstream.enqueue({ holdAfterChunks: 1 });
    const held = chat(free, 'llama3.2', true);
    await upstream.waitForHold();
    const during = await overview();
    expect(during.streams_in_flight).toBe(1);
    expect(during.upstreams[0]!.in_flight).toBe(1);
    upstream.release();
    await (await held).text();
    await eventually(async () => expect((await overview()).streams_in_flight).toBe(0));
  });
});

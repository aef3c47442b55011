import { Ollama } from 'ollama';
import { estimatePromptTokens } from '@llmproxy/metering';
import type { KeyUsage, WindowUsage } from '@llmproxy/quota';
import { countPromptTokens, startFakeOllama, type FakeOllama } from './upstream/fake-ollama.js';
import { testDatabases } from './support/databases.js';
import { eventually, startTestGateway, type TestGateway } from './support/gateway.js';
import { spawnGateway } from './support/spawned-gateway.js';

const databases = await testDatabases();

type OwnUsage = KeyUsage & { key: { id: number; name: string } };

const chatBody = (content = 'hello there') => JSON.stringify({ model: 'llama3.2', messages: [{ role: 'user', content }], stream: false });

describe.each(databases)('quotas through the gateway on $name', (database) => {
  let upstream: FakeOllama;
  let gateway: TestGateway;
  let databaseUrl: string;

  beforeAll(async () => {
    upstream = await startFakeOllama();
    databaseUrl = await database.create();
    gateway = await startTestGateway(databaseUrl, upstream.url);
  });

  afterAll(async () => {
    await gateway?.close();
    await upstream?.close();
    await database.dropAll();
  });

  beforeEach(() => upstream.reset());

  const chat = (proxyUrl: string, key: string, content?: string) =>
    fetch(`${proxyUrl}/api/chat`, { method: 'POST', headers: { 'x-api-key': key }, body: chatBody(content) });

  const usage = async (key: string): Promise<OwnUsage> => {
    const response = await fetch(`${gateway.proxyUrl}/v1/usage`, { headers: { 'x-api-key': key } });
    expect(response.status).toBe(200);
    return (await response.json()) as OwnUsage;
  };

  it('admits exactly 50 of 200 concurrent requests against a daily request limit of 50', async () => {
    const { key } = await gateway.createKey({ name: 'fifty', daily_request_limit: 50 });
    const responses = await Promise.all(Array.from({ length: 200 }, () => chat(gateway.proxyUrl, key)));
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(50);
    expect(statuses.filter((s) => s === 429)).toHaveLength(150);
    const refused = responses.find((r) => r.status === 429)!;
    expect(await refused.json()).toEqual({ error: expect.stringMatching(/^daily request quota of 50 exhausted; resets \d{4}-\d\d-\d\dT00:00:00[+-]\d\d:00$/) });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    await Promise.all(responses.filter((r) => !r.bodyUsed).map((r) => r.body?.cancel()));
    expect(upstream.requests.filter((r) => r.path === '/api/chat')).toHaveLength(50);
    expect((await usage(key)).day).toMatchObject({ requests: 50, request_limit: 50 });
  });

  if (database.name === 'postgres') {
    it('holds the limit across two gateway processes sharing the database', async () => {
      const second = await spawnGateway({ DATABASE_URL: databaseUrl, OLLAMA_URL: upstream.url });
      try {
        const { key } = await gateway.createKey({ name: 'replicas', daily_request_limit: 50 });
        const responses = await Promise.all(
          Array.from({ length: 200 }, (_, i) => chat(i % 2 === 0 ? gateway.proxyUrl : second.proxyUrl, key)),
        );
        const ok = responses.filter((r) => r.status === 200).length;
        await Promise.all(responses.map((r) => r.body?.cancel()));
        expect(ok).toBe(50);
        expect(responses.filter((r) => r.status === 429)).toHaveLength(150);
        expect((await usage(key)).day.requests).toBe(50);
      } finally {
        expect(await second.stop()).toBe(0);
      }
    });
  }

  if (database.name === 'postgres') {
    it('admits and settles 150 concurrent requests of one key without a single deadlock', async () => {
      const { key } = await gateway.createKey({ name: 'no-deadlock', daily_token_limit: 100_000_000, daily_request_limit: 1_000 });
      const deadlocks = async () =>
        Number(((await gateway.shared.dataSource.query('SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()')) as { deadlocks: string }[])[0]!.deadlocks);
      const before = await deadlocks();
      const responses = await Promise.all(Array.from({ length: 150 }, () => chat(gateway.proxyUrl, key)));
      expect(responses.map((r) => r.status)).toEqual(Array(150).fill(200));
      await Promise.all(responses.map((r) => r.text()));
      const own = await eventually(async () => {
        const u = await usage(key);
        if (u.day.reserved_tokens !== 0) throw new Error('not settled yet');
        return u;
      });
      expect(own.day.requests).toBe(150);
      // pg_stat counters are reported with a delay of up to a second.
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      expect((await deadlocks()) - before).toBe(0);
    });
  }

  it('sets rate-limit headers for the window that binds first on admitted requests', async () => {
    const { key } = await gateway.createKey({ name: 'headers', daily_request_limit: 10, monthly_request_limit: 100, daily_token_limit: 5000 });
    const response = await chat(gateway.proxyUrl, key);
    expect(response.status).toBe(200);
    expect(response.headers.get('x-ratelimit-limit-requests')).toBe('10');
    expect(response.headers.get('x-ratelimit-remaining-requests')).toBe('9');
    expect(response.headers.get('x-ratelimit-reset-requests')).toMatch(/^(\d+h)?(\d+m)?\d+s$/);
    expect(response.headers.get('x-ratelimit-limit-tokens')).toBe('5000');
    expect(Number(response.headers.get('x-ratelimit-remaining-tokens'))).toBeLessThan(5000);
    await response.body?.cancel();
  });

  it('caps the completion to the remaining tokens: the answer ends with done_reason "length"', async () => {
    const { key } = await gateway.createKey({ name: 'capped', daily_token_limit: 40 });
    upstream.enqueue({ tokens: Array.from({ length: 100 }, (_, i) => ` w${i}`) });
    const ollama = new Ollama({ host: gateway.proxyUrl, headers: { 'x-api-key': key } });
    const body = { model: 'llama3.2', messages: [{ role: 'user' as const, content: 'count to a hundred' }], stream: false as const };
    const answer = await ollama.chat({ ...body, options: { num_predict: 1000 } });
    const estimate = estimatePromptTokens(body);
    expect(answer.done_reason).toBe('length');
    expect(answer.eval_count).toBe(40 - estimate);
    const sent = await upstream.waitForRequest((r) => r.path === '/api/chat');
    expect((sent.body as { options: { num_predict: number } }).options.num_predict).toBe(40 - estimate);
  });

  it('keeps concurrent streams within a daily token limit of 1000, up to the prompt estimate error', async () => {
    const { key } = await gateway.createKey({ name: 'tokens', daily_token_limit: 1000 });
    const long = Array.from({ length: 400 }, (_, i) => ` t${i}`);
    const prompts = Array.from({ length: 12 }, (_, i) => `request number ${i} please write a very long story`);
    for (let i = 0; i < prompts.length; i++) upstream.enqueue({ tokens: long, chunkDelayMs: 1 });
    const ollama = new Ollama({ host: gateway.proxyUrl, headers: { 'x-api-key': key } });
    const outcomes = await Promise.all(
      prompts.map(async (content) => {
        try {
          let evalCount = 0;
          for await (const part of await ollama.chat({ model: 'llama3.2', messages: [{ role: 'user', content }], stream: true })) {
            if (part.done) evalCount = part.eval_count;
          }
          return { content, admitted: true, evalCount };
        } catch (error) {
          expect((error as { status_code?: number }).status_code).toBe(429);
          return { content, admitted: false, evalCount: 0 };
        }
      }),
    );
    const admitted = outcomes.filter((o) => o.admitted);
    expect(admitted.length).toBeGreaterThan(0);
    expect(outcomes.some((o) => !o.admitted)).toBe(true);
    // Ollama's prompt counts may exceed the gateway's estimates: that error is the only allowed overrun.
    const estimateError = admitted.reduce((sum, o) => {
      const body = { model: 'llama3.2', messages: [{ role: 'user', content: o.content }], stream: true };
      return sum + Math.max(0, countPromptTokens(body) - estimatePromptTokens(body));
    }, 0);
    const own = await eventually(async () => {
      const u = await usage(key);
      if (u.day.reserved_tokens !== 0) throw new Error('not settled yet');
      return u;
    });
    expect(own.day.tokens).toBeLessThanOrEqual(1000 + estimateError);
    expect(own.day.tokens).toBe(admitted.reduce((sum, o) => sum + o.evalCount, 0) + admitted.reduce((sum, o) => sum + countPromptTokens({ messages: [{ content: o.content }] }), 0));
  });

  it('refuses a request whose prompt estimate alone exceeds what remains, without calling Ollama', async () => {
    const { key } = await gateway.createKey({ name: 'small', daily_token_limit: 20 });
    const response = await chat(gateway.proxyUrl, key, 'word '.repeat(100));
    expect(response.status).toBe(429);
    expect(await response.json()).toEqual({ error: expect.stringContaining('daily token quota of 20 exhausted') });
    expect(upstream.requests).toHaveLength(0);
    expect((await usage(key)).day).toMatchObject({ requests: 0, tokens: 0, reserved_tokens: 0 });
  });

  it('charges the tokens generated so far when the client aborts, releases the reservation and aborts Ollama', async () => {
    const { key } = await gateway.createKey({ name: 'abort', daily_token_limit: 10_000 });
    upstream.enqueue({ tokens: ['one', ' two', ' three', ' four', ' five'], holdAfterChunks: 3 });
    const stream = await new Ollama({ host: gateway.proxyUrl, headers: { 'x-api-key': key } }).chat({
      model: 'llama3.2',
      messages: [{ role: 'user', content: 'count' }],
      stream: true,
    });
    const seen = await upstream.waitForRequest((r) => r.path === '/api/chat');
    await upstream.waitForHold();
    let received = 0;
    await expect(
      (async () => {
        for await (const _part of stream) {
          if (++received === 3) stream.abort();
        }
      })(),
    ).rejects.toMatchObject({ name: 'AbortError' });
    expect(received).toBe(3);
    expect(await seen.settled).toBe('aborted');
    const own = await eventually(async () => {
      const u = await usage(key);
      if (u.day.reserved_tokens !== 0) throw new Error('reservation not released yet');
      return u;
    });
    // Prompt estimated (no final chunk), completion counted by tiktoken over "one two three".
    expect(own.day.requests).toBe(1);
    expect(own.day.tokens).toBe(estimatePromptTokens({ messages: [{ role: 'user', content: 'count' }] }) + 3);
    const line = await eventually(() => {
      const found = gateway.usageLines().find((l) => l.key_name === 'abort');
      if (!found) throw new Error('no usage line yet');
      return found;
    });
    expect(line).toMatchObject({ outcome: 'client_aborted', tokens_exact: false, completion_tokens: 3 });
  });

  it('charges what was generated when Ollama dies mid-stream, and tells the client in-band', async () => {
    const { key } = await gateway.createKey({ name: 'died', daily_token_limit: 10_000 });
    upstream.enqueue({ tokens: ['alpha', ' beta', ' gamma', ' delta'], dieAfterChunks: 2 });
    const response = await fetch(`${gateway.proxyUrl}/api/chat`, {
      method: 'POST',
      headers: { 'x-api-key': key },
      body: JSON.stringify({ model: 'llama3.2', messages: [{ role: 'user', content: 'go' }] }),
    });
    const lines = (await response.text()).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.slice(0, 2).map((l) => (l.message as { content: string }).content)).toEqual(['alpha', ' beta']);
    expect(lines.at(-1)).toEqual({ error: expect.stringContaining('closed the connection') });
    const own = await eventually(async () => {
      const u = await usage(key);
      if (u.day.reserved_tokens !== 0 || u.day.tokens === 0) throw new Error('not settled yet');
      return u;
    });
    expect(own.day.tokens).toBe(estimatePromptTokens({ messages: [{ role: 'user', content: 'go' }] }) + 2);
  });

  it('charges no tokens when Ollama refuses (404 model not found), but counts the admitted request', async () => {
    const { key } = await gateway.createKey({ name: 'refused', daily_token_limit: 10_000, daily_request_limit: 10 });
    const response = await fetch(`${gateway.proxyUrl}/api/chat`, {
      method: 'POST',
      headers: { 'x-api-key': key },
      body: JSON.stringify({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }),
    });
    expect(response.status).toBe(404);
    await response.body?.cancel();
    const own = await eventually(async () => {
      const u = await usage(key);
      if (u.day.reserved_tokens !== 0) throw new Error('not settled yet');
      return u;
    });
    expect(own.day).toMatchObject({ requests: 1, tokens: 0 });
  });

  it('does not count catalogue reads', async () => {
    const { key } = await gateway.createKey({ name: 'catalogue', daily_request_limit: 1 });
    for (let i = 0; i < 3; i++) {
      const tags = await fetch(`${gateway.proxyUrl}/api/tags`, { headers: { 'x-api-key': key } });
      expect(tags.status).toBe(200);
      await tags.body?.cancel();
    }
    expect((await usage(key)).day.requests).toBe(0);
    expect((await chat(gateway.proxyUrl, key)).status).toBe(200);
    expect((await chat(gateway.proxyUrl, key)).status).toBe(429);
  });

  it('shows used, limit and reset of each window to the admin, and PATCH changes the limits', async () => {
    const { key, id } = await gateway.createKey({ name: 'admin-view', daily_request_limit: 1 });
    expect((await chat(gateway.proxyUrl, key)).status).toBe(200);
    expect((await chat(gateway.proxyUrl, key)).status).toBe(429);
    const list = (await (await gateway.admin('/api/api-keys')).json()) as { id: number; usage: { day: WindowUsage; month: WindowUsage } }[];
    const entry = list.find((k) => k.id === id)!;
    expect(entry.usage.day).toMatchObject({ requests: 1, request_limit: 1, token_limit: null });
    expect(entry.usage.day.resets_at).toMatch(/T00:00:00[+-]\d\d:00$/);
    expect(entry.usage.month.resets_at).toMatch(/-01T00:00:00[+-]\d\d:00$/);

    const patched = await gateway.admin(`/api/api-keys/${id}/quota`, { method: 'PATCH', body: JSON.stringify({ daily_request_limit: 2 }) });
    expect(patched.status).toBe(200);
    expect(await patched.json()).toMatchObject({ daily_request_limit: 2, usage: { day: { requests: 1, request_limit: 2 } } });
    expect((await chat(gateway.proxyUrl, key)).status).toBe(200);
    const lifted = await gateway.admin(`/api/api-keys/${id}/quota`, { method: 'PATCH', body: JSON.stringify({ daily_request_limit: null }) });
    expect(await lifted.json()).toMatchObject({ daily_request_limit: null });
    for (const bad of [{ daily_request_limit: -1 }, { daily_token_limit: 'lots' }, { daily_token_limit: 1.5 }]) {
      const response = await gateway.admin(`/api/api-keys/${id}/quota`, { method: 'PATCH', body: JSON.stringify(bad) });
      expect(response.status).toBe(400);
      expect(JSON.stringify(await response.json())).toContain(Object.keys(bad)[0]);
    }
  });

  it('holds a key to max_concurrent requests in flight, and frees the slot when one finishes', async () => {
    const { key } = await gateway.createKey({ name: 'concurrent', max_concurrent: 2 });
    upstream.enqueue({ holdAfterChunks: 1 }, { holdAfterChunks: 1 });
    const held = [chat(gateway.proxyUrl, key), chat(gateway.proxyUrl, key)];
    await eventually(() => {
      if (upstream.heldCount < 2) throw new Error('streams not held yet');
    });
    const third = await chat(gateway.proxyUrl, key);
    expect(third.status).toBe(429);
    expect(third.headers.get('retry-after')).toBe('1');
    expect(await third.json()).toEqual({ error: 'concurrency limit of 2 requests in flight reached; retry when one finishes' });
    upstream.release();
    for (const response of await Promise.all(held)) {
      expect(response.status).toBe(200);
      await response.text();
    }
    await eventually(async () => {
      if ((await usage(key)).day.reserved_tokens !== 0) throw new Error('not settled');
      const next = await chat(gateway.proxyUrl, key);
      expect(next.status).toBe(200);
      await next.text();
    });
  });

  it('lets a key read its own usage and nothing of any other key', async () => {
    const mine = await gateway.createKey({ name: 'mine', daily_token_limit: 777 });
    await gateway.createKey({ name: 'theirs', daily_token_limit: 999 });
    const own = await usage(mine.key);
    expect(own.key).toEqual({ id: mine.id, name: 'mine' });
    expect(JSON.stringify(own)).not.toContain('theirs');
    expect(JSON.stringify(own)).not.toContain('999');
    expect(own.day.token_limit).toBe(777);
  });
});

describe('fail closed', () => {
  it.each(databases)('answers 503 when the database ($name) cannot be reached, never a free pass', async (database) => {
    const upstream = await startFakeOllama();
    const url = await database.create();
    const gateway = await startTestGateway(url, upstream.url);
    try {
      const { key } = await gateway.createKey({ daily_request_limit: 1000 });
      expect((await chat(gateway.proxyUrl, key)).status).toBe(200);
      await gateway.shared.dataSource.destroy();
      const response = await chat(gateway.proxyUrl, key);
      expect(response.status).toBe(503);
      expect(await response.json()).toEqual({ error: expect.stringContaining('database') });
      expect(upstream.requests.filter((r) => r.path === '/api/chat')).toHaveLength(1);
    } finally {
      await gateway.close().catch(() => undefined);
      await upstream.close();
      await database.dropAll();
    }
  });

  const chat = (proxyUrl: string, key: string) =>
    fetch(`${proxyUrl}/api/chat`, { method: 'POST', headers: { 'x-api-key': key }, body: chatBody() });
});

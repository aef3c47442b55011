/**
 * Several Ollama servers (issue 15) with the official clients at their default settings, on every
 * test database: three scripted Ollamas with different model sets; routing by model, the merged
 * catalogue, failover before the first byte (and none after it), the fair queue across keys, the
 * dialects' "overloaded" answers, and the admin API of the upstream list.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { startFakeOllama, type FakeOllama } from './upstream/fake-ollama.js';
import { testDatabases } from './support/databases.js';
import { eventually, startTestGateway, type TestGateway } from './support/gateway.js';

const LLAMA = { name: 'llama3.2:latest', capabilities: ['completion', 'tools'] as const };
const QWEN = { name: 'qwen3:4b', capabilities: ['completion', 'tools', 'thinking'] as const };

const databases = await testDatabases();

describe.each(databases)('several Ollama servers on $name', (database) => {
  {
    let a: FakeOllama; // llama3.2 only
    let b: FakeOllama; // qwen3:4b only
    let c: FakeOllama; // llama3.2, highest priority; dies in the failover test
    let gateway: TestGateway;
    let key: string;

    beforeAll(async () => {
      a = await startFakeOllama({ models: [{ ...LLAMA, capabilities: [...LLAMA.capabilities] }] });
      b = await startFakeOllama({ models: [{ ...QWEN, capabilities: [...QWEN.capabilities] }] });
      c = await startFakeOllama({ models: [{ ...LLAMA, capabilities: [...LLAMA.capabilities] }] });
      gateway = await startTestGateway(await database.create(), a.url, { OLLAMA_URLS: `${a.url},${b.url}`, UPSTREAM_MAX_PARALLEL: '4', QUEUE_TIMEOUT_S: '2', UPSTREAM_POLL_S: '1' });
      ({ key } = await gateway.createKey({ name: 'upstreams' }));
    });

    afterAll(async () => {
      await gateway?.close();
      await Promise.all([a, b, c].map((fake) => fake?.close()));
      await database.dropAll();
    });

    beforeEach(() => {
      for (const fake of [a, b, c]) fake.reset();
    });

    const upstreams = async () => (await (await gateway.admin('/api/upstreams')).json()) as { id: number; name: string; max_parallel: number; status: { health: string; models: string[]; loaded: string[]; failovers: number } }[];

    it('seeds the list from OLLAMA_URLS and shows each server’s health and models', async () => {
      const list = await upstreams();
      expect(list.map((u) => [u.name, u.max_parallel, u.status.health, u.status.models])).toEqual([
        ['ollama-1', 4, 'up', ['llama3.2:latest']],
        ['ollama-2', 4, 'up', ['qwen3:4b']],
      ]);
    });

    it('routes each model to a server that has it and merges the catalogue', async () => {
      const openai = new OpenAI({ apiKey: key, baseURL: `${gateway.proxyUrl}/v1` });
      const llama = await openai.chat.completions.create({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }] });
      expect(llama.choices[0]?.message.content).toBe('Hello there! How can I help you?');
      await openai.chat.completions.create({ model: 'qwen3:4b', messages: [{ role: 'user', content: 'hi' }] });
      const chats = (fake: FakeOllama) => fake.requests.filter((r) => r.path === '/api/chat').map((r) => (r.body as { model: string }).model);
      expect(chats(a)).toEqual(['llama3.2:latest']);
      expect(chats(b)).toEqual(['qwen3:4b']);
      expect((await openai.models.list()).data.map((m) => m.id).sort()).toEqual(['llama3.2:latest', 'qwen3:4b']);
      const tags = (await (await fetch(`${gateway.proxyUrl}/api/tags`, { headers: { authorization: `Bearer ${key}` } })).json()) as { models: { name: string }[] };
      expect(tags.models.map((m) => m.name).sort()).toEqual(['llama3.2:latest', 'qwen3:4b']);
      // The usage log names the server that answered.
      const lines = await eventually(() => {
        const found = gateway.usageLines().filter((line) => line.route === '/v1/chat/completions');
        if (found.length < 2) throw new Error('usage lines not written yet');
        return found;
      });
      expect(lines.slice(-2).map((line) => [line.model, line.upstream])).toEqual([
        ['llama3.2:latest', 'ollama-1'],
        ['qwen3:4b', 'ollama-2'],
      ]);
    });

    it('prefers the server with the model loaded, and sends a conversation back to its server', async () => {
      const created = await gateway.admin('/api/upstreams', { method: 'POST', body: JSON.stringify({ name: 'gpu-warm', url: c.url, priority: -5 }) });
      expect(created.status).toBe(201);
      const id = ((await created.json()) as { id: number }).id;
      try {
        // c has llama3.2 in memory, a (higher priority) has not: the loaded one wins over priority.
        await fetch(`${c.url}/api/chat`, { method: 'POST', body: JSON.stringify({ model: 'llama3.2', messages: [], stream: false }) });
        await eventually(async () => {
          const list = await upstreams();
          expect(list.find((u) => u.id === id)!.status.loaded).toEqual(['llama3.2:latest']);
          expect(list.find((u) => u.name === 'ollama-1')!.status.loaded).toEqual([]);
        });
        const anthropic = new Anthropic({ apiKey: key, baseURL: gateway.proxyUrl, defaultHeaders: { 'x-claude-code-session-id': 'session-e2e' } });
        const turn = async (n: number) => {
          const { response } = await anthropic.messages.create({ model: 'llama3.2', max_tokens: 20, messages: [{ role: 'user', content: `turn ${n}` }] }).withResponse();
          return response.headers.get('x-llmproxy-upstream');
        };
        expect(await turn(1)).toBe('gpu-warm');
        // Now both have it loaded and a has the higher priority: a request of no conversation goes to a...
        await fetch(`${a.url}/api/chat`, { method: 'POST', body: JSON.stringify({ model: 'llama3.2', messages: [], stream: false }) });
        await eventually(async () => expect((await upstreams()).find((u) => u.name === 'ollama-1')!.status.loaded).toEqual(['llama3.2:latest']));
        const openai = new OpenAI({ apiKey: key, baseURL: `${gateway.proxyUrl}/v1` });
        const lone = await openai.chat.completions.create({ model: 'llama3.2', messages: [{ role: 'user', content: 'alone' }] }).withResponse();
        expect(lone.response.headers.get('x-llmproxy-upstream')).toBe('ollama-1');
        // ...while the conversation's later turns go back to the server that holds its prompt cache.
        expect([await turn(2), await turn(3)]).toEqual(['gpu-warm', 'gpu-warm']);
      } finally {
        expect((await gateway.admin(`/api/upstreams/${id}`, { method: 'DELETE' })).status).toBe(204);
      }
    });

    it('fails over before the first byte: a dead server’s request is served by another, unseen by the client', async () => {
      const created = await gateway.admin('/api/upstreams', { method: 'POST', body: JSON.stringify({ name: 'gpu-c', url: c.url, priority: 10 }) });
      expect(created.status).toBe(201);
      const id = ((await created.json()) as { id: number }).id;
      try {
        // Loaded on both (a from the tests before, c warmed here): the highest priority server gets the request.
        await fetch(`${c.url}/api/chat`, { method: 'POST', body: JSON.stringify({ model: 'llama3.2', messages: [], stream: false }) });
        await eventually(async () => expect((await upstreams()).find((u) => u.id === id)!.status.loaded).toEqual(['llama3.2:latest']));
        const native = await fetch(`${gateway.proxyUrl}/api/chat`, { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: JSON.stringify({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }], stream: false }) });
        expect(native.status).toBe(200);
        expect(native.headers.get('x-llmproxy-upstream')).toBe('gpu-c');
        await c.close(); // connection refused from now on
        const messagesBefore = gateway.usageLines().filter((l) => l.route === '/v1/messages').length;
        const anthropic = new Anthropic({ apiKey: key, baseURL: gateway.proxyUrl });
        const message = await anthropic.messages.create({ model: 'llama3.2', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] });
        expect(message.content).toEqual([{ type: 'text', text: 'Hello there! How can I help you?' }]);
        expect(a.requests.filter((r) => r.path === '/api/chat')).toHaveLength(1);
        const line = await eventually(() => {
          const found = gateway.usageLines().filter((l) => l.route === '/v1/messages')[messagesBefore];
          if (!found) throw new Error('usage line not written yet');
          return found;
        });
        expect(line.upstream).toBe('ollama-1');
        expect([line.status, line.outcome]).toEqual([200, 'ok']);
        expect((await upstreams()).find((u) => u.id === id)!.status.failovers).toBe(1);
      } finally {
        expect((await gateway.admin(`/api/upstreams/${id}`, { method: 'DELETE' })).status).toBe(204);
      }
    });

    it('does not retry after the first byte: the stream ends with the dialect’s error and one server saw it', async () => {
      a.enqueue({ dieAfterChunks: 2 });
      const openai = new OpenAI({ apiKey: key, baseURL: `${gateway.proxyUrl}/v1` });
      const stream = await openai.chat.completions.create({ model: 'llama3.2', stream: true, messages: [{ role: 'user', content: 'hi' }] });
      const read = async () => {
        for await (const chunk of stream) void chunk;
      };
      await expect(read()).rejects.toThrow();
      expect(a.requests.filter((r) => r.path === '/api/chat')).toHaveLength(1);
      expect(b.requests.filter((r) => r.path === '/api/chat')).toHaveLength(0);
    });

    it('queues beyond max_parallel, fairly across keys, and answers "overloaded" in each dialect when a request waited too long', async () => {
      const [llamaServer] = await upstreams();
      expect((await gateway.admin(`/api/upstreams/${llamaServer!.id}`, { method: 'PATCH', body: JSON.stringify({ max_parallel: 1 }) })).status).toBe(200);
      const { key: light } = await gateway.createKey({ name: 'light' });
      try {
        const post = (k: string, tag: string, signal?: AbortSignal) =>
          fetch(`${gateway.proxyUrl}/api/chat`, { method: 'POST', headers: { authorization: `Bearer ${k}` }, signal, body: JSON.stringify({ model: 'llama3.2', messages: [{ role: 'user', content: tag }], stream: false }) });
        // The heavy key holds the only slot, then queues three more; the light key queues one after them.
        a.enqueue({ holdAfterChunks: 1 });
        const holding = post(key, 'heavy-0');
        await a.waitForHold();
        const heavy = [post(key, 'heavy-1'), post(key, 'heavy-2'), post(key, 'heavy-3')];
        await new Promise((resolve) => setTimeout(resolve, 100));
        const lightAnswer = post(light, 'light-1');
        await new Promise((resolve) => setTimeout(resolve, 100));
        a.release();
        await Promise.all([holding, ...heavy, lightAnswer]);
        const order = a.requests.filter((r) => r.path === '/api/chat').map((r) => (r.body as { messages: { content: string }[] }).messages[0]!.content);
        // The light key has had no turn: its one request takes the slot as soon as it frees, ahead of the heavy key's queue.
        expect(order[0]).toBe('heavy-0');
        expect(order[1]).toBe('light-1');
        expect(order.slice(1).sort()).toEqual(['heavy-1', 'heavy-2', 'heavy-3', 'light-1']);

        // Held slot + QUEUE_TIMEOUT_S=2: the next request in each dialect is answered "overloaded".
        a.enqueue({ holdAfterChunks: 1 });
        const held = post(key, 'hold');
        await a.waitForHold();
        const native = await post(light, 'late');
        expect(native.status).toBe(503);
        expect(native.headers.get('retry-after')).toMatch(/^\d+$/);
        expect(await native.json()).toEqual({ error: expect.stringContaining('busy') });
        const anthropic = await fetch(`${gateway.proxyUrl}/v1/messages`, {
          method: 'POST',
          headers: { 'x-api-key': light, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'llama3.2', max_tokens: 10, messages: [{ role: 'user', content: 'late' }] }),
        });
        expect(anthropic.status).toBe(529);
        expect(await anthropic.json()).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
        // A stream that waited past its first second has started (message_start, pings): the refusal comes in-band.
        const streamed = await fetch(`${gateway.proxyUrl}/v1/messages`, {
          method: 'POST',
          headers: { 'x-api-key': light, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'llama3.2', max_tokens: 10, stream: true, messages: [{ role: 'user', content: 'late' }] }),
        });
        expect(streamed.status).toBe(200);
        const events = await streamed.text();
        expect(events).toContain('event: message_start');
        expect(events).toMatch(/event: error\ndata: \{"type":"error","error":\{"type":"overloaded_error"/);
        const openai = await fetch(`${gateway.proxyUrl}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${light}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'llama3.2', messages: [{ role: 'user', content: 'late' }] }),
        });
        expect(openai.status).toBe(503);
        a.release();
        expect((await held).status).toBe(200);
        const overloaded = await eventually(() => {
          const found = gateway.usageLines().filter((line) => line.outcome === 'overloaded');
          if (found.length < 4) throw new Error('usage lines not written yet');
          return found;
        });
        expect(overloaded.map((line) => [line.route, line.status, line.prompt_tokens])).toEqual([
          ['/api/chat', 503, 0],
          ['/v1/messages', 529, 0],
          ['/v1/messages', 200, 0],
          ['/v1/chat/completions', 503, 0],
        ]);
      } finally {
        await gateway.admin(`/api/upstreams/${llamaServer!.id}`, { method: 'PATCH', body: JSON.stringify({ max_parallel: 4 }) });
      }
    });

    it('the official SDKs at their default settings retry an "overloaded" answer after Retry-After and get served', async () => {
      const [llamaServer] = await upstreams();
      expect((await gateway.admin(`/api/upstreams/${llamaServer!.id}`, { method: 'PATCH', body: JSON.stringify({ max_parallel: 1 }) })).status).toBe(200);
      const { key: patient } = await gateway.createKey({ name: 'patient' });
      try {
        const overloadedLines = () => gateway.usageLines().filter((line) => line.outcome === 'overloaded' && line.key_name === 'patient');
        for (const [dialect, call] of [
          ['anthropic', () => new Anthropic({ apiKey: patient, baseURL: gateway.proxyUrl }).messages.create({ model: 'llama3.2', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] })],
          ['openai', () => new OpenAI({ apiKey: patient, baseURL: `${gateway.proxyUrl}/v1` }).chat.completions.create({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }] })],
        ] as const) {
          const refusedBefore = overloadedLines().length;
          a.enqueue({ holdAfterChunks: 1 });
          const held = fetch(`${gateway.proxyUrl}/api/chat`, { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: JSON.stringify({ model: 'llama3.2', messages: [{ role: 'user', content: 'hold' }], stream: false }) });
          await a.waitForHold();
          const started = Date.now();
          const answer = call();
          // The first try waits QUEUE_TIMEOUT_S (2 s) and is answered overloaded with Retry-After: 1...
          await eventually(() => expect(overloadedLines().length).toBe(refusedBefore + 1), 10_000);
          a.release();
          // ...the SDK sleeps that second, tries again, and the freed slot serves it.
          const result = await answer;
          expect(JSON.stringify(result)).toContain('Hello there! How can I help you?');
          expect(Date.now() - started).toBeLessThan(30_000); // seconds, as Retry-After says, not the SDK's own long backoff
          expect((await held).status).toBe(200);
          expect([dialect, overloadedLines().length]).toEqual([dialect, refusedBefore + 1]);
        }
      } finally {
        await gateway.admin(`/api/upstreams/${llamaServer!.id}`, { method: 'PATCH', body: JSON.stringify({ max_parallel: 4 }) });
      }
    });

    it('keeps reserved slots for keys with nothing in flight: a newcomer starts while the heavy key waits', async () => {
      const [llamaServer] = await upstreams();
      const refused = await gateway.admin(`/api/upstreams/${llamaServer!.id}`, { method: 'PATCH', body: JSON.stringify({ max_parallel: 2, reserved_slots: 2 }) });
      expect(refused.status).toBe(400);
      expect(JSON.stringify(await refused.json())).toContain('reserved_slots (2) must be less than max_parallel (2)');
      const set = await gateway.admin(`/api/upstreams/${llamaServer!.id}`, { method: 'PATCH', body: JSON.stringify({ max_parallel: 2, reserved_slots: 1 }) });
      expect(set.status).toBe(200);
      expect(await set.json()).toMatchObject({ max_parallel: 2, reserved_slots: 1 });
      const { key: newcomer } = await gateway.createKey({ name: 'newcomer' });
      try {
        const post = (k: string, tag: string) =>
          fetch(`${gateway.proxyUrl}/api/chat`, { method: 'POST', headers: { authorization: `Bearer ${k}` }, body: JSON.stringify({ model: 'llama3.2', messages: [{ role: 'user', content: tag }], stream: false }) });
        const seen = () => a.requests.filter((r) => r.path === '/api/chat').map((r) => (r.body as { messages: { content: string }[] }).messages[0]!.content);
        const before = seen().length;
        a.enqueue({ holdAfterChunks: 1 });
        const holding = post(key, 'heavy-0');
        await a.waitForHold();
        // One of two slots free, but reserved: the heavy key's second request waits in the gateway...
        const second = post(key, 'heavy-1');
        await new Promise((resolve) => setTimeout(resolve, 200));
        expect(seen().slice(before)).toEqual(['heavy-0']);
        // ...while the newcomer is answered at once, the heavy key's first answer still held.
        const answer = await post(newcomer, 'newcomer');
        expect(answer.status).toBe(200);
        expect(seen().slice(before)).toEqual(['heavy-0', 'newcomer']);
        a.release();
        expect((await holding).status).toBe(200);
        expect((await second).status).toBe(200);
        expect(seen().slice(before)).toEqual(['heavy-0', 'newcomer', 'heavy-1']);
        const audit = (await (await gateway.admin('/api/audit')).json()) as { action: string; changes: Record<string, unknown> }[];
        expect(audit.find((row) => row.action === 'upstream.update')?.changes).toMatchObject({ reserved_slots: { old: 0, new: 1 } });
      } finally {
        await gateway.admin(`/api/upstreams/${llamaServer!.id}`, { method: 'PATCH', body: JSON.stringify({ max_parallel: 4, reserved_slots: 0 }) });
      }
    });

    it('edits the list through the admin API, audited, and refuses bad input', async () => {
      const bad = await gateway.admin('/api/upstreams', { method: 'POST', body: JSON.stringify({ name: 'x y', url: 'ftp://nowhere' }) });
      expect(bad.status).toBe(400);
      const duplicate = await gateway.admin('/api/upstreams', { method: 'POST', body: JSON.stringify({ name: 'ollama-1', url: a.url }) });
      expect(duplicate.status).toBe(409);
      const [first] = await upstreams();
      const disabled = await gateway.admin(`/api/upstreams/${first!.id}`, { method: 'PATCH', body: JSON.stringify({ enabled: false }) });
      expect(disabled.status).toBe(200);
      try {
        // llama3.2 is now on no enabled server: the merged catalogue lacks it and its requests get 404.
        const openai = new OpenAI({ apiKey: key, baseURL: `${gateway.proxyUrl}/v1` });
        expect((await openai.models.list()).data.map((m) => m.id)).toEqual(['qwen3:4b']);
        await expect(openai.chat.completions.create({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }] })).rejects.toBeInstanceOf(OpenAI.NotFoundError);
      } finally {
        await gateway.admin(`/api/upstreams/${first!.id}`, { method: 'PATCH', body: JSON.stringify({ enabled: true }) });
      }
      const audit = (await (await gateway.admin('/api/audit')).json()) as { action: string; target_name: string; changes: unknown }[];
      expect(audit.filter((row) => row.action.startsWith('upstream.')).slice(0, 2).map((row) => [row.action, row.target_name, row.changes])).toEqual([
        ['upstream.update', 'ollama-1', { enabled: { old: false, new: true } }],
        ['upstream.update', 'ollama-1', { enabled: { old: true, new: false } }],
      ]);
      await eventually(async () => expect((await upstreams()).every((u) => u.status.health === 'up')).toBe(true));
    });
  }
});

/**
 * Attack on the fair queue (issue 15): one key fills the gateway's bounded queue to lock every other
 * key out. The bound is per process (QUEUE_MAX), the fairness per key; a flooder must not turn the
 * first into a denial of service for the others. In every dialect, on every test database: while one
 * key holds the only slot and keeps the queue full, another key's request still waits its turn and is
 * served; the flooder's own newest request is the one answered "overloaded".
 */
import { testDatabases } from '../support/databases.js';
import { post } from '../support/dialects.js';
import { closeWithFakeOllama, eventually, startWithFakeOllama, type TestGateway } from '../support/gateway.js';
import type { FakeOllama } from '../upstream/fake-ollama.js';

const databases = await testDatabases();
const QUEUE_MAX = 4;

const ROUTES = [
  { dialect: 'native', path: '/api/chat', body: (content: string) => ({ model: 'llama3.2', messages: [{ role: 'user', content }], stream: false }), overloaded: 503 },
  { dialect: 'openai', path: '/v1/chat/completions', body: (content: string) => ({ model: 'llama3.2', messages: [{ role: 'user', content }] }), overloaded: 503 },
  { dialect: 'anthropic', path: '/v1/messages', body: (content: string) => ({ model: 'llama3.2', max_tokens: 50, messages: [{ role: 'user', content }] }), overloaded: 529 },
  { dialect: 'responses', path: '/v1/responses', body: (content: string) => ({ model: 'llama3.2', input: content }), overloaded: 503 },
] as const;

describe.each(databases)('queue flooding on $name', (database) => {
  let upstream: FakeOllama;
  let gateway: TestGateway;
  let flooder: string;
  let victim: string;

  beforeAll(async () => {
    ({ upstream, gateway } = await startWithFakeOllama(await database.create(), { UPSTREAM_MAX_PARALLEL: '1', QUEUE_MAX: String(QUEUE_MAX), QUEUE_TIMEOUT_S: '30' }));
    ({ key: flooder } = await gateway.createKey({ name: 'flooder' }));
    ({ key: victim } = await gateway.createKey({ name: 'victim' }));
  });

  const queued = async () => ((await (await gateway.admin('/api/upstreams')).json()) as { status: { queued: number } }[])[0]!.status.queued;

  afterAll(async () => {
    await closeWithFakeOllama({ gateway, upstream });
    await database.dropAll();
  });

  it.each(ROUTES)('a key that fills the queue ($dialect) cannot lock another key out', async (route) => {
    upstream.reset();
    upstream.enqueue({ holdAfterChunks: 1 });
    const holding = post(gateway.proxyUrl, route.path, flooder, route.body('hold'));
    await upstream.waitForHold();
    // One after the other, each in the queue before the next (the admin API shows what waits).
    const flood: Promise<Response>[] = [];
    for (let i = 0; i < QUEUE_MAX; i++) {
      flood.push(post(gateway.proxyUrl, route.path, flooder, route.body(`flood-${i}`)));
      await eventually(async () => expect(await queued()).toBe(i + 1));
    }
    // The queue holds QUEUE_MAX requests of one key; one more of its own is refused at once.
    const extra = await post(gateway.proxyUrl, route.path, flooder, route.body('flood-extra'));
    expect(extra.status).toBe(route.overloaded);
    expect(extra.headers.get('retry-after')).toMatch(/^\d+$/);

    // The other key is not refused: it takes the flooder's newest place and waits its turn.
    const answer = post(gateway.proxyUrl, route.path, victim, route.body('victim'));
    try {
      const first = await Promise.race([
        answer.then((r) => ({ who: 'victim', status: r.status })),
        ...flood.map((p, i) => p.then((r) => ({ who: `flood-${i}`, status: r.status }))),
      ]);
      expect(first).toEqual({ who: `flood-${QUEUE_MAX - 1}`, status: route.overloaded });
    } finally {
      upstream.release();
    }
    expect((await answer).status).toBe(200);
    expect((await holding).status).toBe(200);
    const statuses = await Promise.all(flood.map(async (p) => (await p).status));
    expect(statuses).toEqual([...Array.from({ length: QUEUE_MAX - 1 }, () => 200), route.overloaded]);
    // The victim was served right after the slot freed, before the flooder's queue.
    const order = upstream.requests.filter((r) => r.method === 'POST' && r.path === '/api/chat').map((r) => JSON.stringify(r.body));
    expect(order[1]).toContain('victim');
  });
});

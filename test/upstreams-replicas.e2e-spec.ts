import { startFakeOllama, type FakeOllama } from './upstream/fake-ollama.js';
import { testDatabases } from './support/databases.js';
import { ADMIN_PASSWORD, eventually, startTestGateway, type TestGateway } from './support/gateway.js';
import { spawnGateway, type SpawnedGateway } from './support/spawned-gateway.js';

/**
 * What the README says holds across replicas (section "Several Ollama servers"): the list of
 * upstreams is shared through the database; slots and queues are per process, so two replicas may
 * each send an upstream `max_parallel` requests. PostgreSQL only: several replicas need it.
 */
const postgres = (await testDatabases()).find((database) => database.name === 'postgres');
const describePg = postgres ? describe : describe.skip;

interface View {
  id: number;
  name: string;
  max_parallel: number;
  status: { health: string; in_flight: number; queued: number };
}

describePg('upstreams across two replicas on PostgreSQL', () => {
  let fake: FakeOllama;
  let first: TestGateway;
  let second: SpawnedGateway;
  let key: string;

  beforeAll(async () => {
    fake = await startFakeOllama();
    const databaseUrl = await postgres!.create();
    const env = { UPSTREAM_MAX_PARALLEL: '1', UPSTREAM_POLL_S: '1', QUEUE_TIMEOUT_S: '30' };
    first = await startTestGateway(databaseUrl, fake.url, env);
    second = await spawnGateway({ DATABASE_URL: databaseUrl, OLLAMA_URL: fake.url, ...env });
    ({ key } = await first.createKey({ name: 'replicas' }));
  });

  afterAll(async () => {
    fake?.release();
    await second?.stop();
    await first?.close();
    await fake?.close();
    await postgres?.dropAll();
  });

  const viewOf = async (adminUrl: string): Promise<View[]> =>
    (await (await fetch(`${adminUrl}/api/upstreams`, { headers: { authorization: `Bearer ${ADMIN_PASSWORD}` } })).json()) as View[];
  const chat = (proxyUrl: string, tag: string) =>
    fetch(`${proxyUrl}/api/chat`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}` },
      body: JSON.stringify({ model: 'llama3.2', messages: [{ role: 'user', content: tag }], stream: false }),
    });

  it('shares the list: both replicas route over the one seeded upstream, and an edit on one reaches the other', async () => {
    const [a, b] = [await viewOf(first.adminUrl), await viewOf(second.adminUrl)];
    expect(a.map((u) => [u.id, u.name, u.max_parallel])).toEqual([[a[0]!.id, 'ollama', 1]]);
    expect(b.map((u) => [u.id, u.name, u.max_parallel])).toEqual(a.map((u) => [u.id, u.name, u.max_parallel]));
    const patched = await fetch(`${second.adminUrl}/api/upstreams/${a[0]!.id}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${ADMIN_PASSWORD}`, 'content-type': 'application/json' },
      body: JSON.stringify({ priority: 7 }),
    });
    expect(patched.status).toBe(200);
    await eventually(async () => expect(((await viewOf(first.adminUrl))[0] as View & { priority: number }).priority).toBe(7), 5_000);
  });

  it('counts slots per process: with max_parallel 1 each replica sends one request, and queues its next one itself', async () => {
    const before = fake.requests.filter((r) => r.path === '/api/chat').length;
    fake.enqueue({ holdAfterChunks: 1 }, { holdAfterChunks: 1 });
    const onFirst = chat(first.proxyUrl, 'first-replica');
    await eventually(() => expect(fake.heldCount).toBe(1));
    // The first replica's only slot is taken; the second replica has its own and sends at once.
    const onSecond = chat(second.proxyUrl, 'second-replica');
    await eventually(() => expect(fake.heldCount).toBe(2));
    // The first replica's next request waits in its own queue: Ollama sees two at once, not three.
    const queued = chat(first.proxyUrl, 'first-replica-queued');
    await eventually(async () => expect((await viewOf(first.adminUrl))[0]!.status).toMatchObject({ in_flight: 1, queued: 1 }));
    expect((await viewOf(second.adminUrl))[0]!.status).toMatchObject({ in_flight: 1, queued: 0 });
    expect(fake.requests.filter((r) => r.path === '/api/chat').length - before).toBe(2);
    expect(fake.inFlight).toBe(2);
    fake.release();
    expect((await Promise.all([onFirst, onSecond, queued])).map((response) => response.status)).toEqual([200, 200, 200]);
    const seen = fake.requests.filter((r) => r.path === '/api/chat').slice(before).map((r) => (r.body as { messages: { content: string }[] }).messages[0]!.content);
    expect(seen).toEqual(['first-replica', 'second-replica', 'first-replica-queued']);
  });
});

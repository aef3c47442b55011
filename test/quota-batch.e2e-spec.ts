import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { ApiKeyLookup, ApiKeysService, type ApiKeyRecord, type QuotaLimits } from '@llmproxy/keys';
import { createSqlClient, openDatabase, PostgresClient } from '@llmproxy/persistence';
import { parseDatabaseUrl } from '@llmproxy/config';
import { PostgresQuotaStore, QuotaService, SETTLE_MANY, type AdmitResult, type Reservation, type Settlement } from '@llmproxy/quota';
import { testDatabases } from './support/databases.js';

/**
 * Natural batching on PostgreSQL (`Batcher`, `llmproxy_admit_many`, `llmproxy_settle_many`): the
 * quota invariants hold when many requests share one statement, across two "replicas" (two stores
 * on two connection pools of one database), without deadlocks, and every caller gets its own answer.
 */
const postgres = (await testDatabases()).filter((database) => database.name === 'postgres');
const describeOnPostgres = postgres.length > 0 ? describe : describe.skip;
const TZ = 'Europe/Berlin';
const noLimits: QuotaLimits = { dailyTokens: null, monthlyTokens: null, dailyRequests: null, monthlyRequests: null };
const MODEL = 'llama3.2:latest';

/** Key names must differ. */
let keysMade = 0;

describeOnPostgres('quota batching on PostgreSQL', () => {
  const dataSources: DataSource[] = [];
  const stores: PostgresQuotaStore[] = [];
  const replicas: QuotaService[] = [];
  let sql: PostgresClient;
  let keys: ApiKeysService;

  beforeAll(async () => {
    const url = await postgres[0]!.create();
    // Two replicas: each its own DataSource, pool, store and batchers, as two gateway processes have.
    for (let i = 0; i < 2; i++) {
      const dataSource = await openDatabase(parseDatabaseUrl(url));
      dataSources.push(dataSource);
      const store = new PostgresQuotaStore(createSqlClient(dataSource) as PostgresClient);
      stores.push(store);
      replicas.push(new QuotaService(store, TZ));
    }
    sql = createSqlClient(dataSources[0]!) as PostgresClient;
    keys = new ApiKeysService(dataSources[0]!);
  });

  afterAll(async () => {
    for (const dataSource of dataSources) await dataSource.destroy();
    await postgres[0]?.dropAll();
  });

  async function newKey(limits: Partial<QuotaLimits>, maxConcurrent: number | null = null): Promise<ApiKeyRecord> {
    const name = `k-${++keysMade}`;
    const { apiKey } = await keys.create({ name: name, limits });
    return { id: apiKey.id, name: name, isActive: true, expiresAt: null, allowedModels: null, maxConcurrent, limits: { ...noLimits, ...limits } };
  }

  const admit = (replica: QuotaService, key: ApiKeyRecord, now: Date, promptEstimate: number | { bound: number; exact(): number } = 0, requestedMaxTokens: number | null = null) =>
    replica.admit({ key, promptEstimate, requestedMaxTokens, generates: true, anthropicHeaders: false, now });

  const settlement = (promptTokens: number, completionTokens: number, bucketStart: Date): Settlement => ({
    promptTokens,
    completionTokens,
    exact: true,
    model: MODEL,
    failed: false,
    bucketStart,
  });

  const deadlocks = async () =>
    Number((await sql.one<{ deadlocks: number }>('SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()'))!.deadlocks);

  /** pg_stat counters are reported with a delay of up to a second. */
  const statsSettle = () => new Promise((resolve) => setTimeout(resolve, 1_100));

  async function counters(keyId: number, now: Date) {
    const usage = await replicas[0]!.usageOf(keyId, noLimits, now);
    return { day: usage.day, month: usage.month };
  }

  async function rollup(keyId: number) {
    return sql.all<{ model: string; requests: number; prompt_tokens: number; completion_tokens: number }>(
      'SELECT model, requests, prompt_tokens, completion_tokens FROM usage_rollup WHERE api_key_id = ? ORDER BY model',
      [keyId],
    );
  }

  it('two replicas admit exactly 50 of 200 concurrent admissions of one key, in batches; the counters are the sum of the settlements; no deadlock', async () => {
    const key = await newKey({ dailyRequests: 50, dailyTokens: 10_000_000 });
    const now = new Date('2026-06-10T10:00:00Z');
    const bucket = new Date('2026-06-10T10:00:00Z');
    const before = await deadlocks();
    const batchesBefore = stores.map((s) => s.batching.admissions.batches);

    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => admit(replicas[i % 2]!, key, now, 10, 100)));
    const admitted = results.flatMap((r, i) => (r.admitted ? [{ reservation: r.reservation, replica: replicas[i % 2]! }] : []));
    expect(admitted).toHaveLength(50);
    expect(results.filter((r) => !r.admitted && r.kind === 'requests')).toHaveLength(150);
    // Each replica sent far fewer statements than admissions: they were batched.
    stores.forEach((store, i) => expect(store.batching.admissions.batches - batchesBefore[i]!).toBeLessThan(50));
    // The admitted ones saw 0..49 admissions before them: a permutation, no two decided on the same counters.
    expect(admitted.map((a) => a.reservation.day.requests).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect((await counters(key.id, now)).day).toMatchObject({ requests: 50, reserved_tokens: 50 * 110 });

    // Settle all 50 at once, half through each replica (the same reservation twice for five of them).
    const charges = admitted.map((_, i) => ({ prompt: 10 + (i % 7), completion: i }));
    const settled = await Promise.all([
      ...admitted.map((a, i) => a.replica.settle(a.reservation, settlement(charges[i]!.prompt, charges[i]!.completion, bucket))),
      ...admitted.slice(0, 5).map((a, i) => replicas[(i + 1) % 2]!.settle(a.reservation, settlement(1_000, 1_000, bucket))),
    ]);
    expect(settled.filter(Boolean)).toHaveLength(50);
    const charged = (i: number) => (settled[i] ? charges[i]!.prompt + charges[i]!.completion : 2_000);
    const total = admitted.reduce((sum, _, i) => sum + charged(i), 0);
    expect((await counters(key.id, now)).day).toMatchObject({ requests: 50, tokens: total, reserved_tokens: 0 });
    expect((await counters(key.id, now)).month).toMatchObject({ requests: 50, tokens: total, reserved_tokens: 0 });
    // One rollup row (same key, model and hour) counting all 50, also those settled in the same batch.
    const rows = await rollup(key.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ requests: 50 });
    expect(rows[0]!.prompt_tokens + rows[0]!.completion_tokens).toBe(total);
    expect(Math.max(...stores.map((s) => s.batching.settlements.largest))).toBeGreaterThan(1);

    await statsSettle();
    expect((await deadlocks()) - before).toBe(0);
  });

  it('admits, settles, renews and sweeps many keys at once through two replicas without a deadlock, and every counter adds up', async () => {
    const now = new Date('2026-06-12T10:00:00Z');
    const bucket = new Date('2026-06-12T10:00:00Z');
    const limited = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => newKey({ dailyRequests: 40 * i, dailyTokens: 50_000_000 })));
    const before = await deadlocks();
    const charged = new Map<number, number>(limited.map((k) => [k.id, 0]));
    const admittedPerKey = new Map<number, number>(limited.map((k) => [k.id, 0]));
    // A process that died: its reservations are never settled, and expired a minute ago (by the
    // database's clock, which dates them: they are moved six minutes into the past).
    const dead = new QuotaService(stores[0]!, TZ);
    const orphansPerKey = new Map<number, number>(limited.map((k) => [k.id, 0]));
    let released = 0;

    for (let round = 0; round < 4; round++) {
      const orphans: string[] = [];
      for (const key of limited) {
        const orphan = await admit(dead, key, now, 20, 50);
        if (!orphan.admitted) continue;
        orphansPerKey.set(key.id, orphansPerKey.get(key.id)! + 1);
        orphans.push(orphan.reservation.id);
      }
      await sql.run("UPDATE quota_reservations SET expires_at = expires_at - interval '6 minutes' WHERE id = ANY(?::varchar[])", [orphans]);
      // Requests on random keys through random replicas; each settles as soon as it is admitted (through
      // the other replica), while other admissions, settlements, renewals of the reservations in flight
      // and sweeps of the orphans (maintain) run.
      const work = Array.from({ length: 150 }, async (_, i) => {
        const key = limited[(i * 7 + round * 3) % limited.length]!;
        const replica = replicas[(i + round) % 2]!;
        const result = await admit(replica, key, now, 20, 50);
        if (!result.admitted) return;
        admittedPerKey.set(key.id, admittedPerKey.get(key.id)! + 1);
        if (i % 25 === 0) {
          const swept = await replica.maintain(now);
          released += swept.released;
        }
        const tokens = (i % 13) + 1;
        if (await replicas[(i + 1) % 2]!.settle(result.reservation, settlement(tokens, tokens, bucket))) {
          charged.set(key.id, charged.get(key.id)! + 2 * tokens);
        }
      });
      await Promise.all(work);
    }

    const orphans = [...orphansPerKey.values()].reduce((a, b) => a + b, 0);
    expect(orphans).toBeGreaterThan(20);
    expect(released).toBe(orphans); // each released once, by one of the concurrent sweeps
    for (const key of limited) {
      const day = (await counters(key.id, now)).day;
      const requests = admittedPerKey.get(key.id)! + orphansPerKey.get(key.id)!;
      expect({ key: key.id, ...day }).toMatchObject({ key: key.id, requests, tokens: charged.get(key.id), reserved_tokens: 0 });
      expect(day.requests).toBeLessThanOrEqual(key.limits.dailyRequests!);
      const rows = await rollup(key.id);
      expect(rows.reduce((sum, r) => sum + r.requests, 0)).toBe(admittedPerKey.get(key.id));
      expect(rows.reduce((sum, r) => sum + r.prompt_tokens + r.completion_tokens, 0)).toBe(charged.get(key.id));
    }
    // The smallest limit was reached: refusals happened inside batches too.
    expect((await counters(limited[0]!.id, now)).day.requests).toBe(40);
    await statsSettle();
    expect((await deadlocks()) - before).toBe(0);
  });

  it('routes each result of a batch mixing keys, refusals and an estimate to its own caller', async () => {
    const now = new Date('2026-06-11T10:00:00Z');
    const a = await newKey({ dailyRequests: 3 });
    const b = await newKey({ dailyRequests: 0 });
    const c = await newKey({ dailyTokens: 1_000 });
    const d = await newKey({}, 1);
    const e = await newKey({});
    const f = await newKey({ dailyTokens: 20_000 });
    let exactCalls = 0;
    // Bound 4,000 + cap 100 needs 8 × 4,100 left: 20,000 is not enough, so the estimate (1,000) decides.
    const estimated = { bound: 4_000, exact: () => (exactCalls++, 1_000) };
    const store = stores[0]!;
    const batchesBefore = store.batching.admissions.batches;

    const calls: [string, () => Promise<AdmitResult>][] = [
      ['a1', () => admit(replicas[0]!, a, now)],
      ['b1', () => admit(replicas[0]!, b, now)],
      ['f1', () => admit(replicas[0]!, f, now, estimated, 100)],
      ['c1', () => admit(replicas[0]!, c, now, 600)],
      ['a2', () => admit(replicas[0]!, a, now)],
      ['e1', () => admit(replicas[0]!, e, now)],
      ['d1', () => admit(replicas[0]!, d, now)],
      ['c2', () => admit(replicas[0]!, c, now, 600)],
      ['a3', () => admit(replicas[0]!, a, now)],
      ['d2', () => admit(replicas[0]!, d, now)],
      ['a4', () => admit(replicas[0]!, a, now)],
      ['e2', () => admit(replicas[0]!, e, now)],
      ['b2', () => admit(replicas[0]!, b, now)],
    ];
    // Submitted in one turn of the event loop: one batch (and a second one for f's estimate).
    const results = new Map(await Promise.all(calls.map(async ([name, call]) => [name, await call()] as const)));
    expect(store.batching.admissions.batches - batchesBefore).toBe(2);

    const admittedOn = (name: string, key: ApiKeyRecord) => {
      const result = results.get(name)!;
      if (!result.admitted) throw new Error(`${name} refused: ${result.message}`);
      expect(result.reservation.keyId).toBe(key.id);
      return result.reservation;
    };
    // a: the first three in submission order (they saw 0, 1, 2 before them), the fourth refused.
    expect(['a1', 'a2', 'a3'].map((n) => admittedOn(n, a).day.requests)).toEqual([1, 2, 3]);
    expect(results.get('a4')).toMatchObject({ admitted: false, kind: 'requests', message: expect.stringContaining('daily request quota of 3 exhausted') });
    for (const n of ['b1', 'b2']) expect(results.get(n)).toMatchObject({ admitted: false, kind: 'requests', message: expect.stringContaining('quota of 0 exhausted') });
    // c: 600 + the 400 left as cap fills the 1,000; the second is held by the first.
    expect(admittedOn('c1', c)).toMatchObject({ tokens: 1_000, completionCap: 400 });
    expect(results.get('c2')).toMatchObject({ admitted: false, kind: 'tokens', message: expect.stringContaining('held by requests in flight') });
    expect(admittedOn('d1', d).tokens).toBe(0);
    expect(results.get('d2')).toMatchObject({ admitted: false, kind: 'concurrency' });
    expect(admittedOn('e1', e).day.requests).toBe(1);
    expect(admittedOn('e2', e).day.requests).toBe(2);
    expect(admittedOn('f1', f)).toMatchObject({ tokens: 1_100, completionCap: 100 });
    expect(exactCalls).toBe(1);

    for (const [key, requests, reserved] of [
      [a, 3, 0],
      [b, 0, 0],
      [c, 1, 1_000],
      [d, 1, 0],
      [e, 2, 0],
      [f, 1, 1_100],
    ] as const) {
      expect({ key: key.id, ...(await counters(key.id, now)).day }).toMatchObject({ key: key.id, requests, reserved_tokens: reserved });
    }
  });

  it('settles a batch: one ticket per reservation, two settlements of one key, model and hour both counted, unknown ones ignored', async () => {
    const now = new Date('2026-06-13T10:00:00Z');
    const bucket = new Date('2026-06-13T10:00:00Z');
    const key = await newKey({ dailyTokens: 100_000 });
    const other = await newKey({ dailyTokens: 100_000 });
    const take = async (k: ApiKeyRecord) => {
      const r = await admit(replicas[0]!, k, now, 100, 400);
      if (!r.admitted) throw new Error('refused');
      return r.reservation;
    };
    const [r1, r2, r3] = [await take(key), await take(key), await take(other)];
    const ghost: Reservation = { ...r1, id: randomUUID() };
    const rows = await sql.all<{ item: number; settled: boolean }>(SETTLE_MANY, [
      [other.id, key.id, key.id, key.id, key.id],
      [r3.id, r1.id, r2.id, r1.id, ghost.id],
      [30, 10, 20, 999, 999],
      [MODEL, MODEL, MODEL, MODEL, MODEL],
      Array(5).fill(bucket.toISOString()),
      [10, 4, 5, 999, 999],
      [20, 6, 15, 0, 0],
      [0, 0, 1, 0, 0],
      [0, 1, 0, 0, 0],
      ['gpu-a', 'gpu-a', '', 'gpu-b', 'gpu-b'],
    ]);
    // Items are walked in key order; `item` is the position in the arrays.
    expect(rows.map((r) => r.item)).toEqual(key.id < other.id ? [2, 3, 4, 5, 1] : [1, 2, 3, 4, 5]);
    expect(Object.fromEntries(rows.map((r) => [r.item, r.settled]))).toEqual({ 1: true, 2: true, 3: true, 4: false, 5: false });
    expect((await counters(key.id, now)).day).toMatchObject({ requests: 2, tokens: 30, reserved_tokens: 0 });
    expect((await counters(other.id, now)).day).toMatchObject({ requests: 1, tokens: 30, reserved_tokens: 0 });
    expect(
      await sql.all('SELECT requests, prompt_tokens, completion_tokens, estimated_requests, failed_requests FROM usage_rollup WHERE api_key_id = ?', [key.id]),
    ).toEqual([{ requests: 2, prompt_tokens: 9, completion_tokens: 21, estimated_requests: 1, failed_requests: 1 }]);
    // And per upstream ('' = none), in the same statement; the unsettled items (gpu-b) add nothing.
    expect(
      await sql.all('SELECT api_key_id, upstream, requests, prompt_tokens, completion_tokens, failed_requests FROM usage_upstream_rollup WHERE api_key_id IN (?, ?) ORDER BY api_key_id, upstream', [
        key.id,
        other.id,
      ]),
    ).toEqual(
      [
        { api_key_id: key.id, upstream: '', requests: 1, prompt_tokens: 5, completion_tokens: 15, failed_requests: 0 },
        { api_key_id: key.id, upstream: 'gpu-a', requests: 1, prompt_tokens: 4, completion_tokens: 6, failed_requests: 1 },
        { api_key_id: other.id, upstream: 'gpu-a', requests: 1, prompt_tokens: 10, completion_tokens: 20, failed_requests: 0 },
      ].sort((x, y) => x.api_key_id - y.api_key_id),
    );
  });

  it('a request whose values fail the statement fails alone: its batch is decided again item by item', async () => {
    const now = new Date('2026-06-14T10:00:00Z');
    const key = await newKey({ dailyRequests: 10 });
    // A key deleted since its lookup: the reservation's foreign key fails the batch's statement.
    const gone = await newKey({});
    await keys.delete(gone.id);
    const results = await Promise.allSettled([admit(replicas[0]!, key, now), admit(replicas[0]!, gone, now), admit(replicas[0]!, key, now)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ code: '23503' });
    expect((await counters(key.id, now)).day.requests).toBe(2);

    // A settlement naming a model longer than the rollup's column still settles, next to others.
    const held = results.flatMap((r) => (r.status === 'fulfilled' && r.value.admitted ? [r.value.reservation] : []));
    const long = { ...settlement(1, 2, now), model: 'x'.repeat(300) };
    expect(await Promise.all([replicas[0]!.settle(held[0]!, long), replicas[0]!.settle(held[1]!, settlement(3, 4, now))])).toEqual([true, true]);
    expect((await counters(key.id, now)).day).toMatchObject({ requests: 2, tokens: 10, reserved_tokens: 0 });
  });

  it('fails closed: a batch that cannot reach the database rejects each of its requests', async () => {
    const now = new Date('2026-06-14T10:00:00Z');
    const key = await newKey({ dailyRequests: 10 });
    const dataSource = await openDatabase(parseDatabaseUrl(String((dataSources[0]!.options as { url: string }).url)));
    const replica = new QuotaService(new PostgresQuotaStore(createSqlClient(dataSource) as PostgresClient), TZ);
    await dataSource.destroy();
    const results = await Promise.allSettled([1, 2, 3].map(() => admit(replica, key, now)));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect((await counters(key.id, now)).day.requests).toBe(0);
  });

  it('looks keys up in batches: each caller gets its own key, unknown and deactivated ones included', async () => {
    const lookup = new ApiKeyLookup(sql);
    const made = await Promise.all([1, 2, 3].map((i) => keys.create({ name: `lookup-${i}`, limits: { dailyRequests: i } })));
    await keys.setActive(made[2]!.apiKey.id, false);
    const plaintexts = [made[0]!.key, made[1]!.key, 'sk-not-a-key', made[0]!.key, made[2]!.key];
    const checks = await Promise.all(plaintexts.map((p) => lookup.check(p)));
    expect(checks.map((c) => (c.ok ? `${c.key.name}:${c.key.limits.dailyRequests}` : c.reason))).toEqual(['lookup-1:1', 'lookup-2:2', 'unknown', 'lookup-1:1', 'inactive']);
  });
});

if (postgres.length === 0) {
  it('skips quota batching: no PostgreSQL server', () => undefined);
}

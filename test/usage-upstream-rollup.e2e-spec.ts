/**
 * `usage_upstream_rollup` (issue 15, item 7) at the quota store, on every test database: a batch
 * of settlements is counted per key, model, upstream and hour beside `usage_rollup`, once per
 * reservation; a settlement naming no upstream counts under ''. Its migration goes down and up
 * again, and on PostgreSQL the previous release's `llmproxy_settle_many` (nine arrays) still
 * settles during a rolling upgrade.
 */
import type { DataSource } from 'typeorm';
import { ApiKeysService, type ApiKeyRecord, type QuotaLimits } from '@llmproxy/keys';
import { createSqlClient, openDatabase, PostgresClient, SqliteClient, type SqlClient } from '@llmproxy/persistence';
import { parseDatabaseUrl } from '@llmproxy/config';
import { PostgresQuotaStore, QuotaService, SqliteQuotaStore, type Reservation, type Settlement } from '@llmproxy/quota';
import { UsageUpstreams1765100000000 } from '../libs/persistence/src/migrations/1765100000000-usage-upstreams.js';
import { testDatabases } from './support/databases.js';

const databases = await testDatabases();
const TZ = 'Europe/Berlin';
const noLimits: QuotaLimits = { dailyTokens: null, monthlyTokens: null, dailyRequests: null, monthlyRequests: null };
/** The previous release's call (migration 1764500000000's signature). */
const PREVIOUS_SETTLE_MANY = `SELECT * FROM llmproxy_settle_many(?::integer[], ?::varchar[], ?::bigint[], ?::varchar[], ?::timestamptz[],
  ?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[])`;

/** Key names must differ. */
let keysMade = 0;

describe.each(databases)('per-upstream usage rollup on $name', (database) => {
  let dataSource: DataSource;
  let sql: SqlClient;
  let quota: QuotaService;
  let keys: ApiKeysService;

  beforeAll(async () => {
    dataSource = await openDatabase(parseDatabaseUrl(await database.create()));
    sql = createSqlClient(dataSource);
    quota = new QuotaService(sql instanceof SqliteClient ? new SqliteQuotaStore(sql) : new PostgresQuotaStore(sql as PostgresClient), TZ);
    keys = new ApiKeysService(dataSource);
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await database.dropAll();
  });

  async function newKey(): Promise<ApiKeyRecord> {
    const name = `k-${++keysMade}`;
    const { apiKey } = await keys.create({ name, limits: {} });
    return { id: apiKey.id, name, isActive: true, expiresAt: null, allowedModels: null, maxConcurrent: null, limits: noLimits };
  }

  async function reserve(key: ApiKeyRecord): Promise<Reservation> {
    const result = await quota.admit({ key, promptEstimate: 10, requestedMaxTokens: null, generates: true, anthropicHeaders: false, now: new Date() });
    if (!result.admitted) throw new Error('refused');
    return result.reservation;
  }

  const perUpstream = (keyId: number) =>
    sql.all(
      'SELECT model, upstream, requests, prompt_tokens, completion_tokens, failed_requests FROM usage_upstream_rollup WHERE api_key_id = ? ORDER BY model, upstream',
      [keyId],
    );
  const rollup = (keyId: number) => sql.all('SELECT model, requests, prompt_tokens, completion_tokens FROM usage_rollup WHERE api_key_id = ? ORDER BY model', [keyId]);

  it('counts a batch of settlements per upstream beside usage_rollup, each reservation once, none under ""', async () => {
    const key = await newKey();
    const bucketStart = new Date('2026-11-26T10:00:00Z');
    const settlement = (model: string, upstream: string | null | undefined, promptTokens: number, completionTokens: number, failed = false): Settlement => ({
      promptTokens,
      completionTokens,
      exact: true,
      model,
      failed,
      bucketStart,
      ...(upstream === undefined ? {} : { upstream }),
    });
    const items: Settlement[] = [
      settlement('llama3.2:latest', 'gpu-a', 10, 1),
      settlement('llama3.2:latest', 'gpu-a', 20, 2),
      settlement('llama3.2:latest', 'gpu-b', 30, 3, true),
      settlement('llama3.2:latest', null, 0, 0, true), // overloaded: no upstream
      settlement('llama3.2:latest', undefined, 0, 0, true), // a caller that names none
      settlement('qwen3:4b', 'gpu-a', 40, 4),
    ];
    const reservations = await Promise.all(items.map(() => reserve(key)));
    // All at once (one batch on SQLite; as the Batcher groups them on PostgreSQL), the first twice.
    const settled = await Promise.all([...items.map((s, i) => quota.settle(reservations[i]!, s)), quota.settle(reservations[0]!, settlement('llama3.2:latest', 'gpu-b', 99, 99))]);
    expect(settled).toEqual([true, true, true, true, true, true, false]);

    expect(await perUpstream(key.id)).toEqual([
      { model: 'llama3.2:latest', upstream: '', requests: 2, prompt_tokens: 0, completion_tokens: 0, failed_requests: 2 },
      { model: 'llama3.2:latest', upstream: 'gpu-a', requests: 2, prompt_tokens: 30, completion_tokens: 3, failed_requests: 0 },
      { model: 'llama3.2:latest', upstream: 'gpu-b', requests: 1, prompt_tokens: 30, completion_tokens: 3, failed_requests: 1 },
      { model: 'qwen3:4b', upstream: 'gpu-a', requests: 1, prompt_tokens: 40, completion_tokens: 4, failed_requests: 0 },
    ]);
    expect(await rollup(key.id)).toEqual([
      { model: 'llama3.2:latest', requests: 5, prompt_tokens: 60, completion_tokens: 6 },
      { model: 'qwen3:4b', requests: 1, prompt_tokens: 40, completion_tokens: 4 },
    ]);

    // A later batch adds to the same rows.
    const again = await reserve(key);
    expect(await quota.settle(again, settlement('llama3.2:latest', 'gpu-b', 5, 5))).toBe(true);
    expect((await perUpstream(key.id))[2]).toEqual({ model: 'llama3.2:latest', upstream: 'gpu-b', requests: 2, prompt_tokens: 35, completion_tokens: 8, failed_requests: 1 });
  });

  it('migration 1765100000000 goes down and up again', async () => {
    const migration = new UsageUpstreams1765100000000();
    const runner = dataSource.createQueryRunner();
    const settleManyOverloads = async () =>
      database.name === 'postgres'
        ? Number((await sql.one<{ n: number }>("SELECT count(*)::int AS n FROM pg_proc WHERE proname = 'llmproxy_settle_many'"))!.n)
        : undefined;
    try {
      expect(await runner.hasTable('usage_upstream_rollup')).toBe(true);
      expect(await settleManyOverloads()).toBe(database.name === 'postgres' ? 2 : undefined);
      await migration.down(runner);
      expect(await runner.hasTable('usage_upstream_rollup')).toBe(false);
      expect(await settleManyOverloads()).toBe(database.name === 'postgres' ? 1 : undefined);
      await migration.up(runner);
      expect(await runner.hasTable('usage_upstream_rollup')).toBe(true);
      expect(await settleManyOverloads()).toBe(database.name === 'postgres' ? 2 : undefined);
    } finally {
      await runner.release();
    }
    // Usable again after the round trip.
    const key = await newKey();
    expect(await quota.settle(await reserve(key), { promptTokens: 1, completionTokens: 2, exact: true, model: 'm', failed: false, bucketStart: new Date('2026-11-26T11:00:00Z'), upstream: 'gpu-a' })).toBe(true);
    expect(await perUpstream(key.id)).toEqual([{ model: 'm', upstream: 'gpu-a', requests: 1, prompt_tokens: 1, completion_tokens: 2, failed_requests: 0 }]);
  });

  (database.name === 'postgres' ? it : it.skip)('keeps the previous release’s llmproxy_settle_many: it settles and counts usage_rollup, not the upstreams', async () => {
    const key = await newKey();
    const reservation = await reserve(key);
    const rows = await (sql as PostgresClient).all<{ item: number; settled: boolean }>(PREVIOUS_SETTLE_MANY, [[key.id], [reservation.id], [7], ['m'], ['2026-11-26T10:00:00Z'], [3], [4], [0], [0]]);
    expect(rows).toEqual([{ item: 1, settled: true }]);
    expect(await rollup(key.id)).toEqual([{ model: 'm', requests: 1, prompt_tokens: 3, completion_tokens: 4 }]);
    expect(await perUpstream(key.id)).toEqual([]);
  });
});

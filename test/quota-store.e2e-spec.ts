import type { DataSource } from 'typeorm';
import { ApiKeysService, type ApiKeyRecord, type QuotaLimits } from '@llmproxy/keys';
import { createSqlClient, openDatabase, PostgresClient, SqliteClient } from '@llmproxy/persistence';
import { parseDatabaseUrl } from '@llmproxy/config';
import { PostgresQuotaStore, QuotaService, SqliteQuotaStore, type Reservation } from '@llmproxy/quota';
import { testDatabases } from './support/databases.js';

const databases = await testDatabases();
const TZ = 'Europe/Berlin';
const noLimits: QuotaLimits = { dailyTokens: null, monthlyTokens: null, dailyRequests: null, monthlyRequests: null };

/** Key names must differ. */
let keysMade = 0;

describe.each(databases)('quota store on $name', (database) => {
  let dataSource: DataSource;
  let quota: QuotaService;
  let keys: ApiKeysService;

  beforeAll(async () => {
    dataSource = await openDatabase(parseDatabaseUrl(await database.create()));
    const sql = createSqlClient(dataSource);
    quota = new QuotaService(sql instanceof SqliteClient ? new SqliteQuotaStore(sql) : new PostgresQuotaStore(sql as PostgresClient), TZ);
    keys = new ApiKeysService(dataSource);
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await database.dropAll();
  });

  async function newKey(limits: Partial<QuotaLimits>): Promise<ApiKeyRecord> {
    const name = `k-${++keysMade}`;
    const { apiKey } = await keys.create({ name, limits });
    return { id: apiKey.id, name, isActive: true, expiresAt: null, allowedModels: null, maxConcurrent: null, limits: { ...noLimits, ...limits } };
  }

  const admitAt = (key: ApiKeyRecord, now: Date, promptEstimate = 0) =>
    quota.admit({ key, promptEstimate, requestedMaxTokens: null, generates: true, anthropicHeaders: false, now });

  /**
   * Lets `ms` pass for the expiry of reservations. SQLite's store goes by the `now` it is given (the
   * tests pass one `ms` later); PostgreSQL's by the database's clock, so there every reservation's
   * expiry is moved `ms` earlier instead.
   */
  async function elapse(ms: number): Promise<void> {
    if (database.name === 'postgres') await dataSource.query("UPDATE quota_reservations SET expires_at = expires_at - $1 * interval '1 millisecond'", [ms]);
  }

  async function counters(key: ApiKeyRecord, now: Date) {
    const usage = await quota.usageOf(key.id, key.limits, now);
    return { day: usage.day, month: usage.month };
  }

  it('admits exactly the limit out of 200 concurrent admissions', async () => {
    const key = await newKey({ dailyRequests: 50 });
    const now = new Date('2026-06-10T10:00:00Z');
    const results = await Promise.all(Array.from({ length: 200 }, () => admitAt(key, now)));
    expect(results.filter((r) => r.admitted)).toHaveLength(50);
    expect((await counters(key, now)).day.requests).toBe(50);
  });

  it('counts 23:59:59 local to that day and 00:00:00 to the next, on both DST change days', async () => {
    for (const [lastSecond, firstSecond, day, next] of [
      ['2026-03-28T22:59:59Z', '2026-03-28T23:00:00Z', '2026-03-28', '2026-03-29'], // before the 23-hour day
      ['2026-03-29T21:59:59Z', '2026-03-29T22:00:00Z', '2026-03-29', '2026-03-30'], // the 23-hour day ends at 00:00 CEST
      ['2026-10-25T22:59:59Z', '2026-10-25T23:00:00Z', '2026-10-25', '2026-10-26'], // the 25-hour day ends at 00:00 CET
    ] as const) {
      const key = await newKey({ dailyRequests: 1 });
      expect((await admitAt(key, new Date(lastSecond))).admitted).toBe(true);
      const refused = await admitAt(key, new Date(lastSecond));
      expect(refused).toMatchObject({ admitted: false, retryAfterSeconds: 1 });
      expect(refused.admitted === false && refused.window.key).toBe(day);
      const nextDay = await admitAt(key, new Date(firstSecond));
      expect(nextDay.admitted).toBe(true);
      expect(nextDay.admitted && nextDay.reservation.dayKey).toBe(next);
    }
  });

  it('rolls the month over at local midnight on the 1st', async () => {
    const key = await newKey({ monthlyRequests: 1 });
    expect((await admitAt(key, new Date('2026-11-30T22:59:59Z'))).admitted).toBe(true); // 23:59:59 CET on the 30th
    const refused = await admitAt(key, new Date('2026-11-30T22:59:59Z'));
    expect(refused.admitted === false && refused.message).toBe('monthly request quota of 1 exhausted; resets 2026-12-01T00:00:00+01:00');
    const december = await admitAt(key, new Date('2026-11-30T23:00:00Z'));
    expect(december.admitted && december.reservation.monthKey).toBe('2026-12');
  });

  it('admits with a prompt bound when plenty is left, and computes the estimate only near the limit', async () => {
    const now = new Date('2026-06-11T10:00:00Z');
    let computed = 0;
    const prompt = (bound: number, estimate: number) => ({ bound, exact: () => (computed++, estimate) });
    const admit = (key: ApiKeyRecord, promptEstimate: { bound: number; exact(): number }) =>
      quota.admit({ key, promptEstimate, requestedMaxTokens: 100, generates: true, anthropicHeaders: false, now });

    const roomy = await newKey({ dailyTokens: 1_000_000 });
    const first = await admit(roomy, prompt(4_000, 1_000));
    expect(first.admitted && first.reservation).toMatchObject({ tokens: 4_100, completionCap: 100 });
    expect(computed).toBe(0);

    const tight = await newKey({ dailyTokens: 5_000 });
    const second = await admit(tight, prompt(4_000, 1_000));
    expect(second.admitted && second.reservation).toMatchObject({ tokens: 1_100, completionCap: 100 });
    expect(computed).toBe(1);
    const third = await admit(tight, prompt(5_000, 4_000));
    expect(third).toMatchObject({ admitted: false, kind: 'tokens' });
    expect(computed).toBe(2);
    expect((await counters(tight, now)).day).toMatchObject({ requests: 1, reserved_tokens: 1_100 });
  });

  it('caps a completion asked for as 1e308 tokens to what is left', async () => {
    const key = await newKey({ dailyTokens: 10_000 });
    const result = await quota.admit({ key, promptEstimate: 100, requestedMaxTokens: 1e308, generates: true, anthropicHeaders: false, now: new Date('2026-06-11T10:00:00Z') });
    expect(result.admitted && result.reservation).toMatchObject({ tokens: 10_000, completionCap: 9_900 });
  });

  it('settles exactly once: charges the tokens, releases the reservation and records the rollup', async () => {
    const key = await newKey({ dailyTokens: 1000 });
    const now = new Date();
    const admitted = await admitAt(key, now, 100);
    if (!admitted.admitted) throw new Error('refused');
    expect(admitted.reservation.tokens).toBe(1000); // prompt 100 + the rest as completion cap
    expect(admitted.reservation.completionCap).toBe(900);
    expect((await counters(key, now)).day).toMatchObject({ tokens: 0, reserved_tokens: 1000 });

    const settlement = { promptTokens: 90, completionTokens: 30, exact: true, model: 'llama3.2:latest', failed: false, bucketStart: new Date('2026-11-26T10:00:00Z') };
    const both = await Promise.all([quota.settle(admitted.reservation, settlement), quota.settle(admitted.reservation, settlement)]);
    expect(both.filter(Boolean)).toHaveLength(1);
    expect((await counters(key, now)).day).toMatchObject({ requests: 1, tokens: 120, reserved_tokens: 0 });
    expect((await counters(key, now)).month).toMatchObject({ requests: 1, tokens: 120, reserved_tokens: 0 });
    const rollup = (await dataSource.query('SELECT requests, prompt_tokens, completion_tokens FROM usage_rollup WHERE api_key_id = ' + key.id)) as Record<string, unknown>[];
    expect(rollup.map((r) => [Number(r.requests), Number(r.prompt_tokens), Number(r.completion_tokens)])).toEqual([[1, 90, 30]]);
  });

  it('releases reservations left by a dead process once they expire, and not before', async () => {
    const key = await newKey({ dailyTokens: 500 });
    const now = new Date();
    const orphan = await admitAt(key, now, 10);
    if (!orphan.admitted) throw new Error('refused');
    // Another process: nothing renews this reservation.
    const fresh = new QuotaService(
      (quota as unknown as { store: SqliteQuotaStore | PostgresQuotaStore }).store,
      TZ,
    );
    // (Counts of released reservations include other tests' leftovers: this key's counters tell.)
    await elapse(60_000);
    await fresh.maintain(new Date(now.getTime() + 60_000));
    expect((await counters(key, now)).day.reserved_tokens).toBe(500);
    expect((await admitAt(key, now, 10)).admitted).toBe(false); // held by the orphan
    await elapse(5 * 60_000);
    expect((await fresh.maintain(new Date(now.getTime() + 6 * 60_000))).released).toBeGreaterThanOrEqual(1);
    expect((await counters(key, now)).day).toMatchObject({ reserved_tokens: 0, tokens: 0 });
    expect(await quota.settle(orphan.reservation as Reservation, { promptTokens: 5, completionTokens: 5, exact: true, model: 'm', failed: false, bucketStart: now })).toBe(false);
    expect((await admitAt(key, now, 10)).admitted).toBe(true);
  });

  it('renews its own reservations in flight so slow streams are not released', async () => {
    const key = await newKey({ dailyTokens: 500 });
    const start = new Date();
    const admitted = await admitAt(key, start, 10);
    if (!admitted.admitted) throw new Error('refused');
    await elapse(4 * 60_000);
    await quota.maintain(new Date(start.getTime() + 4 * 60_000)); // renews: expires 5 min after this
    const other = new QuotaService((quota as unknown as { store: SqliteQuotaStore }).store, TZ);
    await elapse(2 * 60_000);
    await other.maintain(new Date(start.getTime() + 6 * 60_000));
    expect((await counters(key, start)).day.reserved_tokens).toBe(500);
    expect(await quota.settle(admitted.reservation, { promptTokens: 1, completionTokens: 1, exact: true, model: 'm', failed: false, bucketStart: start })).toBe(true);
  });
});

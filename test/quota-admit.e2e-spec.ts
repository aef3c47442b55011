import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { ApiKeysService, type QuotaLimits } from '@llmproxy/keys';
import { createSqlClient, openDatabase, PostgresClient } from '@llmproxy/persistence';
import { parseDatabaseUrl } from '@llmproxy/config';
import {
  ADMIT,
  ADMIT_MANY,
  admitRowCounters,
  admitRowToResult,
  BOUND_HEADROOM,
  decideAdmission,
  decideWithBound,
  DEFAULT_COMPLETION_CAP,
  namedCompletionLimit,
  type AdmissionInput,
  type WindowCounters,
} from '@llmproxy/quota';
import { testDatabases } from './support/databases.js';

/**
 * `llmproxy_admit` (PostgreSQL's one-round-trip admission) against `decideAdmission` /
 * `decideWithBound`, the documented rules: the same decision for a table of boundary cases and
 * for generated inputs, with the counters and the reservation written exactly when it admits.
 * Then `llmproxy_admit_many` (a batch in one statement) against the same rules applied item after
 * item: each item of a batch decided as if alone, after the items of its key before it.
 */
const postgres = (await testDatabases()).filter((database) => database.name === 'postgres');
/** `llmproxy_admit` as the release before migration 1764700000000 called it (bigint limit, its own times). */
const PREVIOUS_ADMIT = `SELECT * FROM llmproxy_admit(?::integer, ?::varchar, ?::varchar, ?::bigint, ?::bigint, ?::bigint, ?::bigint,
  ?::bigint, ?::boolean, ?::bigint, ?::bigint, ?::bigint, ?::boolean, ?::bigint, ?::varchar, ?::timestamptz, ?::timestamptz)`;
const DAY = '2026-06-10';
const TTL_MS = 60_000;
const MONTH = '2026-06';

interface Case {
  limits: QuotaLimits;
  day: WindowCounters | null; // null: no counter row yet
  month: WindowCounters | null;
  inFlight: number;
  maxConcurrent: number | null;
  promptEstimate: number;
  requestedMaxTokens: number | null;
  generates: boolean;
  bound: boolean;
}

const zero: WindowCounters = { requests: 0, tokens: 0, reservedTokens: 0 };
const noLimits: QuotaLimits = { dailyTokens: null, monthlyTokens: null, dailyRequests: null, monthlyRequests: null };
const base: Case = { limits: noLimits, day: zero, month: zero, inFlight: 0, maxConcurrent: null, promptEstimate: 10, requestedMaxTokens: null, generates: true, bound: false };

const table: [string, Partial<Case>][] = [
  ['no limits', {}],
  ['no counter rows yet', { day: null, month: null, limits: { ...noLimits, dailyRequests: 1 } }],
  ['last daily request', { limits: { ...noLimits, dailyRequests: 5 }, day: { ...zero, requests: 4 } }],
  ['daily requests exhausted', { limits: { ...noLimits, dailyRequests: 5 }, day: { ...zero, requests: 5 } }],
  ['monthly requests exhausted', { limits: { ...noLimits, monthlyRequests: 5 }, month: { ...zero, requests: 5 } }],
  ['both request windows exhausted: day named', { limits: { ...noLimits, dailyRequests: 1, monthlyRequests: 1 }, day: { ...zero, requests: 1 }, month: { ...zero, requests: 1 } }],
  ['concurrency reached', { maxConcurrent: 2, inFlight: 2 }],
  ['concurrency zero', { maxConcurrent: 0 }],
  ['concurrency below', { maxConcurrent: 2, inFlight: 1 }],
  ['tokens: default cap', { limits: { ...noLimits, dailyTokens: 100_000 } }],
  ['tokens: capped to the rest', { limits: { ...noLimits, dailyTokens: 1_000 }, day: { ...zero, tokens: 500 }, requestedMaxTokens: 4_000 }],
  ['tokens: exactly one output token left', { limits: { ...noLimits, dailyTokens: 111 }, day: { ...zero, tokens: 100 } }],
  ['tokens: prompt does not fit', { limits: { ...noLimits, dailyTokens: 110 }, day: { ...zero, tokens: 100 } }],
  ['tokens: held by in flight', { limits: { ...noLimits, monthlyTokens: 1_000 }, month: { ...zero, tokens: 100, reservedTokens: 890 } }],
  ['embed: no output token', { limits: { ...noLimits, dailyTokens: 110 }, day: { ...zero, tokens: 100 }, generates: false }],
  ['requested 0', { limits: { ...noLimits, dailyTokens: 1_000 }, requestedMaxTokens: 0 }],
  ['requested 0 with plenty left: the default cap', { limits: { ...noLimits, dailyTokens: 1_000_000 }, requestedMaxTokens: 0 }],
  ['requested -1 (Ollama: no limit)', { limits: { ...noLimits, dailyTokens: 1_000_000 }, requestedMaxTokens: -1 }],
  ['requested -2 (Ollama: fill the context)', { limits: { ...noLimits, monthlyTokens: 1_000_000 }, requestedMaxTokens: -2 }],
  ['requested 0.5 (floored to 0)', { limits: { ...noLimits, dailyTokens: 1_000_000 }, requestedMaxTokens: 0.5 }],
  ['requested 100.5', { limits: { ...noLimits, dailyTokens: 1_000_000 }, requestedMaxTokens: 100.5 }],
  ['requested 1', { limits: { ...noLimits, dailyTokens: 1_000_000 }, requestedMaxTokens: 1 }],
  ['requested 2^63, capped to the rest', { limits: { ...noLimits, dailyTokens: 1_000 }, requestedMaxTokens: 2 ** 63 }],
  ['requested 1e308, capped to the rest', { limits: { ...noLimits, dailyTokens: 1_000 }, requestedMaxTokens: 1e308 }],
  ['requested NaN', { limits: { ...noLimits, dailyTokens: 1_000_000 }, requestedMaxTokens: Number.NaN }],
  ['requested Infinity', { limits: { ...noLimits, dailyTokens: 1_000_000 }, requestedMaxTokens: Number.POSITIVE_INFINITY }],
  ['requested 0, bound', { limits: { ...noLimits, dailyTokens: 10 ** 12 }, requestedMaxTokens: 0, bound: true }],
  ['requested 1e308, bound', { limits: { ...noLimits, dailyTokens: 10 ** 12 }, requestedMaxTokens: 1e308, bound: true }],
  ['requested 0, one output token left', { limits: { ...noLimits, dailyTokens: 111 }, day: { ...zero, tokens: 100 }, requestedMaxTokens: 0 }],
  ['bound with plenty left', { limits: { ...noLimits, dailyTokens: 10 ** 12, monthlyTokens: 10 ** 15 }, bound: true, promptEstimate: 90_000 }],
  ['bound just under the headroom', { limits: { ...noLimits, dailyTokens: BOUND_HEADROOM * (10 + DEFAULT_COMPLETION_CAP) }, bound: true }],
  ['bound just over the headroom', { limits: { ...noLimits, dailyTokens: BOUND_HEADROOM * (10 + DEFAULT_COMPLETION_CAP) - 1 }, bound: true }],
  ['bound, requests refused first', { limits: { ...noLimits, dailyRequests: 0, dailyTokens: 5 }, bound: true }],
  ['bound, no token limits', { bound: true }],
];

/**
 * A completion limit as a client may send it: mostly a count, else what names none — 0, negatives
 * (Ollama: no limit), fractions (floored to 0), NaN, ±Infinity — or more than any limit.
 */
function requested(random: () => number): number {
  const r = random();
  if (r < 0.6) return Math.floor(random() * 20_001);
  if (r < 0.7) return 0;
  if (r < 0.78) return -1 - Math.floor(random() * 3);
  if (r < 0.86) return Math.floor(random() * 200) + [0.5, 0.25, 0.999][Math.floor(random() * 3)]!;
  if (r < 0.94) return [2 ** 53, 2 ** 63, 1e308][Math.floor(random() * 3)]!;
  return [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -1e308][Math.floor(random() * 4)]!;
}

function randomCase(random: () => number): Case {
  const int = (max: number) => Math.floor(random() * (max + 1));
  const maybe = <T>(p: number, value: () => T): T | null => (random() < p ? value() : null);
  const tokenLimit = () => (random() < 0.3 ? 10 ** (6 + int(9)) : int(30_000));
  const counters = (): WindowCounters | null =>
    random() < 0.1 ? null : { requests: int(60), tokens: int(random() < 0.5 ? 30_000 : 3_000), reservedTokens: int(random() < 0.5 ? 20_000 : 2_000) };
  return {
    limits: { dailyRequests: maybe(0.5, () => int(60)), monthlyRequests: maybe(0.4, () => int(60)), dailyTokens: maybe(0.6, tokenLimit), monthlyTokens: maybe(0.5, tokenLimit) },
    day: counters(),
    month: counters(),
    inFlight: int(4),
    maxConcurrent: maybe(0.3, () => int(4)),
    promptEstimate: int(random() < 0.2 ? 200_000 : 5_000),
    requestedMaxTokens: maybe(0.6, () => requested(random)),
    generates: random() < 0.8,
    bound: random() < 0.4,
  };
}

/** A small deterministic generator (mulberry32), so a failure names a reproducible case. */
function mulberry32(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const describeOnPostgres = postgres.length > 0 ? describe : describe.skip;

/** Sets a key's counter rows and reservations in flight as a case describes them. */
async function prepareKey(sql: PostgresClient, keyId: number, c: Case): Promise<void> {
  await sql.run('DELETE FROM quota_reservations WHERE api_key_id = ?', [keyId]);
  await sql.run('DELETE FROM quota_counters WHERE api_key_id = ?', [keyId]);
  for (const [period, counters] of [
    [DAY, c.day],
    [MONTH, c.month],
  ] as const) {
    if (counters) {
      await sql.run('INSERT INTO quota_counters (api_key_id, period_key, requests, tokens, reserved_tokens) VALUES (?, ?, ?, ?, ?)', [
        keyId,
        period,
        counters.requests,
        counters.tokens,
        counters.reservedTokens,
      ]);
    }
  }
  for (let i = 0; i < c.inFlight; i++) {
    await sql.run('INSERT INTO quota_reservations (id, api_key_id, day_key, month_key, tokens, created_at, expires_at) VALUES (?, ?, ?, ?, 0, now(), now())', [
      randomUUID(),
      keyId,
      DAY,
      MONTH,
    ]);
  }
}

describeOnPostgres('llmproxy_admit on PostgreSQL decides as decideAdmission does', () => {
  let dataSource: DataSource;
  let sql: PostgresClient;
  let keyId: number;

  beforeAll(async () => {
    dataSource = await openDatabase(parseDatabaseUrl(await postgres[0]!.create()));
    sql = createSqlClient(dataSource) as PostgresClient;
    const { apiKey } = await new ApiKeysService(dataSource).create({ name: 'admit', limits: {} });
    keyId = apiKey.id;
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await postgres[0]?.dropAll();
  });

  const prepare = (c: Case) => prepareKey(sql, keyId, c);

  async function check(name: string, c: Case) {
    await prepare(c);
    const input: AdmissionInput = {
      limits: c.limits,
      day: c.day ?? zero,
      month: c.month ?? zero,
      promptEstimate: c.promptEstimate,
      requestedMaxTokens: c.requestedMaxTokens,
      generates: c.generates,
      maxConcurrent: c.maxConcurrent,
      inFlight: c.inFlight,
    };
    const expected = c.bound ? decideWithBound(input) : decideAdmission(input);
    const id = randomUUID();
    const row = await sql.one(ADMIT, [
      keyId,
      DAY,
      MONTH,
      c.limits.dailyRequests,
      c.limits.monthlyRequests,
      c.limits.dailyTokens,
      c.limits.monthlyTokens,
      c.promptEstimate,
      c.bound,
      BOUND_HEADROOM,
      c.requestedMaxTokens,
      DEFAULT_COMPLETION_CAP,
      c.generates,
      c.maxConcurrent,
      id,
      TTL_MS,
    ]);
    const context = `${name}: ${JSON.stringify(c, (_, value: unknown) => (typeof value === 'number' && !Number.isFinite(value) ? String(value) : value))}`;
    expect({ context, decision: admitRowToResult(row!) }).toEqual({ context, decision: expected });
    expect({ context, day: admitRowCounters(row!, 'day'), month: admitRowCounters(row!, 'month') }).toEqual({ context, day: input.day, month: input.month });

    const stored = await sql.all<{ period_key: string; requests: string; tokens: string; reserved_tokens: string }>(
      'SELECT period_key, requests, tokens, reserved_tokens FROM quota_counters WHERE api_key_id = ? ORDER BY period_key',
      [keyId],
    );
    const reservation = await sql.one<{ tokens: string; ttl_ms: number; age_ms: number }>(
      "SELECT tokens, extract(epoch FROM expires_at - created_at) * 1000 AS ttl_ms, extract(epoch FROM now() - created_at) * 1000 AS age_ms FROM quota_reservations WHERE id = ?",
      [id],
    );
    // Dated by the database's clock: created at its now(), expiring TTL_MS after.
    if (reservation) expect({ context, ttl: Number(reservation.ttl_ms), recent: Number(reservation.age_ms) >= 0 && Number(reservation.age_ms) < 5_000 }).toEqual({ context, ttl: TTL_MS, recent: true });
    const admitted = expected !== 'estimate' && expected.admitted ? expected : null;
    const add = admitted ? { requests: 1, reservedTokens: admitted.reservedTokens } : { requests: 0, reservedTokens: 0 };
    const after = (counters: WindowCounters) => ({ requests: counters.requests + add.requests, tokens: counters.tokens, reservedTokens: counters.reservedTokens + add.reservedTokens });
    const byPeriod = Object.fromEntries(stored.map((r) => [r.period_key, { requests: Number(r.requests), tokens: Number(r.tokens), reservedTokens: Number(r.reserved_tokens) }]));
    expect({ context, day: byPeriod[DAY], month: byPeriod[MONTH] }).toEqual({ context, day: after(input.day), month: after(input.month) });
    expect({ context, reserved: reservation ? Number(reservation.tokens) : null }).toEqual({ context, reserved: admitted ? admitted.reservedTokens : null });
  }

  it.each(table)('%s', async (name, partial) => {
    await check(name, { ...base, ...partial });
  });

  it('agrees on 600 generated inputs', async () => {
    const random = mulberry32(20261126);
    const seen = new Set<string>();
    for (let i = 0; i < 600; i++) {
      const c = randomCase(random);
      await check(`case ${i}`, c);
      const input = { ...c, day: c.day ?? zero, month: c.month ?? zero };
      const d = c.bound ? decideWithBound(input) : decideAdmission(input);
      seen.add(d === 'estimate' ? 'estimate' : d.admitted ? 'admitted' : `${d.kind}/${d.window}/${d.heldByInFlight}`);
      if (d !== 'estimate' && d.admitted && d.completionCap !== null && c.requestedMaxTokens !== null) {
        seen.add(namedCompletionLimit(c.requestedMaxTokens) === null ? 'capped, none named' : c.requestedMaxTokens > d.completionCap ? 'capped below the named' : 'capped as named');
      }
    }
    // The generator reaches every kind of outcome, and caps for every kind of requested limit.
    for (const outcome of ['admitted', 'estimate', 'concurrency/day/true', 'requests/day/false', 'requests/month/false', 'tokens/day/false', 'tokens/day/true', 'tokens/month/true']) {
      expect([...seen]).toContain(outcome);
    }
    for (const cap of ['capped, none named', 'capped below the named', 'capped as named']) expect([...seen]).toContain(cap);
  });

  it('decides by the same rule, and dates by the database’s clock, through the previous release’s signature (a rolling upgrade)', async () => {
    const c: Case = { ...base, limits: { ...noLimits, dailyTokens: 1_000_000 }, requestedMaxTokens: 0 };
    await prepare(c);
    const id = randomUUID();
    // That release passed its own clock's times; only their difference, the TTL, counts now.
    const row = await sql.one(PREVIOUS_ADMIT, [
      ...[keyId, DAY, MONTH, null, null, c.limits.dailyTokens, null, c.promptEstimate, false, BOUND_HEADROOM, 0, DEFAULT_COMPLETION_CAP, true, null, id],
      '2000-01-01T00:00:00Z',
      '2000-01-01T00:01:00Z',
    ]);
    expect(admitRowToResult(row!)).toEqual(decideAdmission({ ...c, day: zero, month: zero }));
    expect(admitRowToResult(row!)).toMatchObject({ completionCap: DEFAULT_COMPLETION_CAP });
    const reservation = await sql.one<{ ttl_ms: number; age_ms: number }>(
      'SELECT extract(epoch FROM expires_at - created_at) * 1000 AS ttl_ms, extract(epoch FROM now() - created_at) * 1000 AS age_ms FROM quota_reservations WHERE id = ?',
      [id],
    );
    expect(Number(reservation!.ttl_ms)).toBe(60_000);
    expect(Number(reservation!.age_ms)).toBeLessThan(5_000);
  });
});

describeOnPostgres('llmproxy_admit_many on PostgreSQL decides each item of a batch as decideAdmission does, in order', () => {
  let dataSource: DataSource;
  let sql: PostgresClient;
  const keyIds: number[] = [];
  const KEYS = 8;

  beforeAll(async () => {
    dataSource = await openDatabase(parseDatabaseUrl(await postgres[0]!.create()));
    sql = createSqlClient(dataSource) as PostgresClient;
    const keys = new ApiKeysService(dataSource);
    for (let i = 0; i < KEYS; i++) keyIds.push((await keys.create({ name: `batch-${i}`, limits: {} })).apiKey.id);
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await postgres[0]?.dropAll();
  });

  /** One request of a batch: a generated case's parameters, on a key whose state the batch shares. */
  interface Item {
    key: number;
    c: Case;
    id: string;
  }

  it('agrees on 600 generated items in batches of 40 over 8 keys, items of a key seeing the ones before them', async () => {
    const random = mulberry32(20261127);
    const outcomes = new Set<string>();
    let admittedAfterAnotherOfTheKey = 0;
    let refusedBecauseOfEarlierItems = 0;
    for (let batch = 0; batch < 15; batch++) {
      // The state of each key before the batch, as the simulation will carry it forward.
      const state = new Map<number, { day: WindowCounters; month: WindowCounters; inFlight: number }>();
      const admittedKeys = new Set<number>();
      for (const keyId of keyIds) {
        const c = randomCase(random);
        await prepareKey(sql, keyId, c);
        state.set(keyId, { day: c.day ?? zero, month: c.month ?? zero, inFlight: c.inFlight });
      }
      const batchStart = new Map(state);
      // 40 items on random keys, in random order: the function sorts them by key, keeping their order per key.
      const items: Item[] = Array.from({ length: 40 }, () => ({ key: keyIds[Math.floor(random() * KEYS)]!, c: randomCase(random), id: randomUUID() }));

      const expected = items.map((item) => {
        const s = state.get(item.key)!;
        const input: AdmissionInput = { ...item.c, day: s.day, month: s.month, inFlight: s.inFlight };
        const decision = item.c.bound ? decideWithBound(input) : decideAdmission(input);
        const before = { day: s.day, month: s.month };
        if (decision !== 'estimate' && decision.admitted) {
          const add = (w: WindowCounters) => ({ requests: w.requests + 1, tokens: w.tokens, reservedTokens: w.reservedTokens + decision.reservedTokens });
          if (admittedKeys.has(item.key)) admittedAfterAnotherOfTheKey++;
          admittedKeys.add(item.key);
          state.set(item.key, { day: add(s.day), month: add(s.month), inFlight: s.inFlight + 1 });
        } else if (admittedKeys.has(item.key)) {
          // Would this item have been admitted on the key's state before the batch? Then only the items before it refused it.
          const first = batchStart.get(item.key)!;
          const alone = decideAdmission({ ...item.c, day: first.day, month: first.month, inFlight: first.inFlight });
          if (alone.admitted) refusedBecauseOfEarlierItems++;
        }
        return { decision, before };
      });

      const rows = await sql.all(ADMIT_MANY, [
        items.map((i) => i.key),
        items.map(() => DAY),
        items.map(() => MONTH),
        items.map((i) => i.c.limits.dailyRequests),
        items.map((i) => i.c.limits.monthlyRequests),
        items.map((i) => i.c.limits.dailyTokens),
        items.map((i) => i.c.limits.monthlyTokens),
        items.map((i) => i.c.promptEstimate),
        items.map((i) => i.c.bound),
        BOUND_HEADROOM,
        items.map((i) => i.c.requestedMaxTokens),
        DEFAULT_COMPLETION_CAP,
        items.map((i) => i.c.generates),
        items.map((i) => i.c.maxConcurrent),
        items.map((i) => i.id),
        TTL_MS,
      ]);
      expect(rows).toHaveLength(items.length);
      // Rows come in key order; `item` routes each back to its position.
      expect(rows.map((r) => items[Number(r.item) - 1]!.key)).toEqual([...rows.map((r) => items[Number(r.item) - 1]!.key)].sort((a, b) => a - b));
      const byItem = new Map(rows.map((r) => [Number(r.item) - 1, r]));
      items.forEach((item, i) => {
        const row = byItem.get(i)!;
        const context = `batch ${batch} item ${i}: ${JSON.stringify(item.c, (_, value: unknown) => (typeof value === 'number' && !Number.isFinite(value) ? String(value) : value))}`;
        expect({ context, decision: admitRowToResult(row) }).toEqual({ context, decision: expected[i]!.decision });
        expect({ context, day: admitRowCounters(row, 'day'), month: admitRowCounters(row, 'month') }).toEqual({ context, ...expected[i]!.before });
        const d = expected[i]!.decision;
        outcomes.add(d === 'estimate' ? 'estimate' : d.admitted ? 'admitted' : `${d.kind}/${d.window}`);
      });

      // What is stored: each key's counters as simulated, a reservation for each admitted item and none other.
      const stored = await sql.all<{ api_key_id: number; period_key: string; requests: number; tokens: number; reserved_tokens: number }>(
        'SELECT api_key_id, period_key, requests, tokens, reserved_tokens FROM quota_counters WHERE api_key_id = ANY(?::integer[])',
        [keyIds],
      );
      for (const keyId of keyIds) {
        const s = state.get(keyId)!;
        const row = (period: string) => stored.find((r) => r.api_key_id === keyId && r.period_key === period);
        const read = (r: (typeof stored)[number] | undefined) => (r ? { requests: r.requests, tokens: r.tokens, reservedTokens: r.reserved_tokens } : zero);
        expect({ keyId, day: read(row(DAY)), month: read(row(MONTH)) }).toEqual({ keyId, day: s.day, month: s.month });
      }
      const reservations = await sql.all<{ id: string; tokens: number }>('SELECT id, tokens FROM quota_reservations WHERE id = ANY(?::varchar[])', [items.map((i) => i.id)]);
      const reserved = new Map(reservations.map((r) => [r.id, r.tokens]));
      items.forEach((item, i) => {
        const d = expected[i]!.decision;
        expect({ i, tokens: reserved.get(item.id) ?? null }).toEqual({ i, tokens: d !== 'estimate' && d.admitted ? d.reservedTokens : null });
      });
    }
    // The generator reaches every kind of outcome, and keys admitted more than once in one batch.
    for (const outcome of ['admitted', 'estimate', 'concurrency/day', 'requests/day', 'requests/month', 'tokens/day', 'tokens/month']) {
      expect([...outcomes]).toContain(outcome);
    }
    expect(admittedAfterAnotherOfTheKey).toBeGreaterThan(20);
    expect(refusedBecauseOfEarlierItems).toBeGreaterThan(5);
  });
});

if (postgres.length === 0) {
  it('skips llmproxy_admit: no PostgreSQL server', () => undefined);
}

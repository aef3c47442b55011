import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { ApiKeysService, type QuotaLimits } from '@llmproxy/keys';
import { createSqlClient, openDatabase, PostgresClient } from '@llmproxy/persistence';
import { parseDatabaseUrl } from '@llmproxy/config';
import {
  ADMIT,
  admitRowCounters,
  admitRowToResult,
  BOUND_HEADROOM,
  decideAdmission,
  decideWithBound,
  DEFAULT_COMPLETION_CAP,
  type AdmissionInput,
  type WindowCounters,
} from '@llmproxy/quota';
import { testDatabases } from './support/databases.js';

/**
 * `llmproxy_admit` (PostgreSQL's one-round-trip admission) against `decideAdmission` /
 * `decideWithBound`, the documented rules: the same decision for a table of boundary cases and
 * for generated inputs, with the counters and the reservation written exactly when it admits.
 */
const postgres = (await testDatabases()).filter((database) => database.name === 'postgres');
const DAY = '2026-06-10';
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
  ['bound with plenty left', { limits: { ...noLimits, dailyTokens: 10 ** 12, monthlyTokens: 10 ** 15 }, bound: true, promptEstimate: 90_000 }],
  ['bound just under the headroom', { limits: { ...noLimits, dailyTokens: BOUND_HEADROOM * (10 + DEFAULT_COMPLETION_CAP) }, bound: true }],
  ['bound just over the headroom', { limits: { ...noLimits, dailyTokens: BOUND_HEADROOM * (10 + DEFAULT_COMPLETION_CAP) - 1 }, bound: true }],
  ['bound, requests refused first', { limits: { ...noLimits, dailyRequests: 0, dailyTokens: 5 }, bound: true }],
  ['bound, no token limits', { bound: true }],
];

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
    requestedMaxTokens: maybe(0.6, () => int(20_000)),
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

  async function prepare(c: Case) {
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
      new Date().toISOString(),
      new Date(Date.now() + 60_000).toISOString(),
    ]);
    const context = `${name}: ${JSON.stringify(c)}`;
    expect({ context, decision: admitRowToResult(row!) }).toEqual({ context, decision: expected });
    expect({ context, day: admitRowCounters(row!, 'day'), month: admitRowCounters(row!, 'month') }).toEqual({ context, day: input.day, month: input.month });

    const stored = await sql.all<{ period_key: string; requests: string; tokens: string; reserved_tokens: string }>(
      'SELECT period_key, requests, tokens, reserved_tokens FROM quota_counters WHERE api_key_id = ? ORDER BY period_key',
      [keyId],
    );
    const reservation = await sql.one<{ tokens: string }>('SELECT tokens FROM quota_reservations WHERE id = ?', [id]);
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
    }
    // The generator reaches every kind of outcome.
    for (const outcome of ['admitted', 'estimate', 'concurrency/day/true', 'requests/day/false', 'requests/month/false', 'tokens/day/false', 'tokens/day/true', 'tokens/month/true']) {
      expect([...seen]).toContain(outcome);
    }
  });
});

if (postgres.length === 0) {
  it('skips llmproxy_admit: no PostgreSQL server', () => undefined);
}

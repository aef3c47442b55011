import { randomUUID } from 'node:crypto';
import type { PostgresClient } from '@llmproxy/persistence';
import { BOUND_HEADROOM, DEFAULT_COMPLETION_CAP, type Admission, type QuotaKind, type WindowCounters } from './admission.js';
import { QuotaStore, type KeyCounters, type Reservation, type ReserveInput, type ReserveResult, type Settlement } from './quota-store.js';
import { SQL } from './quota-sql.js';
import { groupCounters } from './sqlite-quota-store.js';
import type { CurrentWindows, WindowKind } from './windows.js';

/**
 * First half of the advisory-lock key: llmproxy's quota admissions (the second half is the key id).
 * `llmproxy_admit` takes the same lock with the literal 4521 (= 0x11a9).
 */
const ADVISORY_NAMESPACE = 0x11a9;

/**
 * PostgreSQL resolves a deadlock (two statements locking the same two counter rows in opposite
 * orders, e.g. an admission and a settlement) by aborting one of them; that one is simply retried.
 */
async function retryOnConflict<T>(work: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (attempt >= attempts || (code !== '40P01' && code !== '40001')) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));
    }
  }
}

/** The whole admission (see the migration that creates the function); the casts fix its overload. */
export const ADMIT = `SELECT * FROM llmproxy_admit(?::integer, ?::varchar, ?::varchar, ?::bigint, ?::bigint, ?::bigint, ?::bigint,
  ?::bigint, ?::boolean, ?::bigint, ?::bigint, ?::bigint, ?::boolean, ?::bigint, ?::varchar, ?::timestamptz, ?::timestamptz)`;

/** The decision in a row of `llmproxy_admit`, in `decideAdmission`'s terms ('estimate': decide again with the estimate). */
export function admitRowToResult(row: Record<string, unknown>): Admission | 'estimate' {
  if (row.admitted === true) {
    return { admitted: true, reservedTokens: Number(row.reserved), completionCap: row.cap === null ? null : Number(row.cap) };
  }
  if (row.kind === 'estimate') return 'estimate';
  return { admitted: false, kind: row.kind as QuotaKind, window: row.win as WindowKind, limit: Number(row.lim), heldByInFlight: row.held === true };
}

/** One window's counters as `llmproxy_admit` read them (before this admission). */
export function admitRowCounters(row: Record<string, unknown>, window: WindowKind): WindowCounters {
  return { requests: Number(row[`${window}_requests`]), tokens: Number(row[`${window}_tokens`]), reservedTokens: Number(row[`${window}_reserved`]) };
}

/**
 * Settlement in one statement, so it is atomic and happens once: deleting the reservation is the
 * ticket, and the counter update and the rollup only see a row if this call deleted it. It first
 * takes the key's advisory lock (the DELETE depends on it), as admission does: the two never hold
 * one counter row each while waiting for the other (measured before: 48 deadlocks in one bench run,
 * each stalling a second).
 */
const SETTLE = `WITH lk AS (SELECT pg_advisory_xact_lock(?::integer, ?::integer)),
  r AS (DELETE FROM quota_reservations WHERE id = ? AND EXISTS (SELECT 1 FROM lk) RETURNING api_key_id, day_key, month_key, tokens),
  c AS (
    UPDATE quota_counters q SET tokens = q.tokens + ?::bigint, reserved_tokens = q.reserved_tokens - r.tokens
    FROM r WHERE q.api_key_id = r.api_key_id AND q.period_key IN (r.day_key, r.month_key)
    RETURNING 1
  ),
  u AS (
    INSERT INTO usage_rollup (api_key_id, model, bucket_start, requests, prompt_tokens, completion_tokens, estimated_requests, failed_requests)
    SELECT api_key_id, ?::varchar, ?::timestamptz, 1, ?::bigint, ?::bigint, ?::bigint, ?::bigint FROM r
    ON CONFLICT (api_key_id, model, bucket_start) DO UPDATE SET
      requests = usage_rollup.requests + 1,
      prompt_tokens = usage_rollup.prompt_tokens + excluded.prompt_tokens,
      completion_tokens = usage_rollup.completion_tokens + excluded.completion_tokens,
      estimated_requests = usage_rollup.estimated_requests + excluded.estimated_requests,
      failed_requests = usage_rollup.failed_requests + excluded.failed_requests
    RETURNING 1
  )
  SELECT (SELECT count(*) FROM r) AS settled`;

const RELEASE_EXPIRED = `WITH r AS (DELETE FROM quota_reservations WHERE expires_at < ?::timestamptz RETURNING api_key_id, day_key, month_key, tokens),
  k AS (
    SELECT api_key_id, day_key AS period_key, sum(tokens) AS tokens FROM r GROUP BY api_key_id, day_key
    UNION ALL
    SELECT api_key_id, month_key, sum(tokens) FROM r GROUP BY api_key_id, month_key
  ),
  c AS (
    UPDATE quota_counters q SET reserved_tokens = q.reserved_tokens - k.tokens
    FROM k WHERE q.api_key_id = k.api_key_id AND q.period_key = k.period_key
    RETURNING 1
  )
  SELECT (SELECT count(*) FROM r) AS released`;

/**
 * PostgreSQL: several replicas share the counters. An admission (one call of `llmproxy_admit`)
 * takes the key's advisory lock, locks its two counter rows, decides, and updates them in one
 * statement's transaction, so concurrent admissions of one key are serialized across processes
 * while different keys proceed in parallel; settlement takes the same advisory lock first.
 */
export class PostgresQuotaStore extends QuotaStore {
  constructor(private readonly sql: PostgresClient) {
    super();
  }

  reserve(input: ReserveInput): Promise<ReserveResult> {
    return retryOnConflict(() => this.reserveOnce(input));
  }

  /**
   * One round trip: `llmproxy_admit` (migration 1764400000000) takes the key's advisory lock, reads
   * and locks the counter rows, decides by `decideAdmission`'s rules, updates the counters and
   * inserts the reservation, in the autocommit transaction of one statement through the pool. With a
   * prompt bound it may answer 'estimate' (the bound could change the decision, nothing was written):
   * then the estimate is computed and the function called again with it.
   */
  private async reserveOnce(input: ReserveInput): Promise<ReserveResult> {
    const prompt = input.promptEstimate;
    if (typeof prompt === 'number') return this.admit(input, prompt, false);
    const bounded = await this.admit(input, prompt.bound, true);
    return bounded === 'estimate' ? this.admit(input, prompt.exact(), false) : bounded;
  }

  private async admit(input: ReserveInput, promptEstimate: number, bound: true): Promise<ReserveResult | 'estimate'>;
  private async admit(input: ReserveInput, promptEstimate: number, bound: false): Promise<ReserveResult>;
  private async admit(input: ReserveInput, promptEstimate: number, bound: boolean): Promise<ReserveResult | 'estimate'> {
    const { keyId, windows, limits } = input;
    const dayKey = windows.day.key;
    const monthKey = windows.month.key;
    const id = randomUUID();
    const row = await this.sql.one(ADMIT, [
      keyId,
      dayKey,
      monthKey,
      limits.dailyRequests,
      limits.monthlyRequests,
      limits.dailyTokens,
      limits.monthlyTokens,
      promptEstimate,
      bound,
      BOUND_HEADROOM,
      // A client may ask for 1e308 tokens; bigint cannot hold it, and any value above a limit caps the same.
      input.requestedMaxTokens === null ? null : Math.min(input.requestedMaxTokens, Number.MAX_SAFE_INTEGER),
      DEFAULT_COMPLETION_CAP,
      input.generates,
      input.maxConcurrent,
      id,
      input.now.toISOString(),
      input.expiresAt.toISOString(),
    ]);
    if (!row) throw new Error('llmproxy_admit returned no row');
    const result = admitRowToResult(row);
    if (result === 'estimate') return 'estimate';
    if (!result.admitted) return { admitted: false, refusal: result };
    const day = admitRowCounters(row, 'day');
    const month = admitRowCounters(row, 'month');
    const tokens = result.reservedTokens;
    const after = (counters: WindowCounters) => ({ requests: counters.requests + 1, tokens: counters.tokens, reservedTokens: counters.reservedTokens + tokens });
    return {
      admitted: true,
      reservation: { id, keyId, dayKey, monthKey, tokens, completionCap: result.completionCap, day: after(day), month: after(month) },
    };
  }

  async settle(reservation: Reservation, settlement: Settlement): Promise<boolean> {
    const row = await retryOnConflict(() => this.sql.one<{ settled: number }>(SETTLE, [
      ADVISORY_NAMESPACE,
      reservation.keyId,
      reservation.id,
      settlement.promptTokens + settlement.completionTokens,
      settlement.model,
      settlement.bucketStart.toISOString(),
      settlement.promptTokens,
      settlement.completionTokens,
      settlement.exact ? 0 : 1,
      settlement.failed ? 1 : 0,
    ]));
    return Number(row?.settled ?? 0) > 0;
  }

  async extend(ids: string[], expiresAt: Date): Promise<void> {
    if (ids.length === 0) return;
    await this.sql.pool.query('UPDATE quota_reservations SET expires_at = $1 WHERE id = ANY($2)', [expiresAt.toISOString(), ids]);
  }

  async releaseExpired(now: Date): Promise<number> {
    const row = await retryOnConflict(() => this.sql.one<{ released: number }>(RELEASE_EXPIRED, [now.toISOString()]));
    return Number(row?.released ?? 0);
  }

  async counters(windows: CurrentWindows, keyId?: number): Promise<Map<number, KeyCounters>> {
    const rows = await (keyId === undefined
      ? this.sql.all(SQL.selectAllCounters, [windows.day.key, windows.month.key])
      : this.sql.all(SQL.selectKeyCounters, [keyId, windows.day.key, windows.month.key]));
    return groupCounters(rows, windows);
  }
}

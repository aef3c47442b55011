import { randomUUID } from 'node:crypto';
import { Batcher, type PostgresClient } from '@llmproxy/persistence';
import { BOUND_HEADROOM, DEFAULT_COMPLETION_CAP, type Admission, type QuotaKind, type WindowCounters } from './admission.js';
import { QuotaStore, upstreamColumn, type KeyCounters, type Reservation, type ReserveInput, type ReserveResult, type Settlement } from './quota-store.js';
import { SQL } from './quota-sql.js';
import { groupCounters } from './sqlite-quota-store.js';
import type { CurrentWindows, WindowKind } from './windows.js';

/**
 * First half of the advisory-lock key: llmproxy's quota admissions (the second half is the key id).
 * `llmproxy_admit` and `llmproxy_settle_many` take the same lock with the literal 4521 (= 0x11a9).
 */
const ADVISORY_NAMESPACE = 0x11a9;

/**
 * PostgreSQL resolves a deadlock by aborting one of the transactions; that one is simply retried
 * (a batch as a whole: it was rolled back as a whole). Every writer takes the keys' advisory locks in
 * ascending key order before touching their rows, so none is expected; this is the safety net.
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

/**
 * Errors that depend on one item's values — PostgreSQL's data exceptions (class 22: a value out of
 * range, too long) and integrity violations (class 23: e.g. the key was deleted meanwhile, so the
 * reservation's foreign key fails) — as opposed to the connection or the server failing. A batch
 * failing with one is decided again item by item (`Batcher`'s `isolate`), so only that request fails.
 */
function dependsOnAnItem(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && /^2[23]/.test(code);
}

/** usage_rollup.model is varchar(200); a longer name (a client's, for a model Ollama does not have) is cut to fit. */
const MODEL_COLUMN_LENGTH = 200;

/**
 * The whole admission (migration 1764700000000 creates this overload); the casts fix the overload.
 * The requested completion limit goes as numeric, as the client sent it (0.5, 1e308: the function
 * judges it as `namedCompletionLimit` does); the last parameter is the reservation's time to live,
 * counted from the database's now().
 */
export const ADMIT = `SELECT * FROM llmproxy_admit(?::integer, ?::varchar, ?::varchar, ?::bigint, ?::bigint, ?::bigint, ?::bigint,
  ?::bigint, ?::boolean, ?::bigint, ?::numeric, ?::bigint, ?::boolean, ?::bigint, ?::varchar, ?::bigint)`;

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
 * A batch of admissions in one statement (migrations 1764500000000, 1764700000000): `llmproxy_admit`
 * per item, in ascending key order, in one transaction. `item` is the 1-based position of the item
 * in the arrays. The last parameter is the reservations' time to live (one for the batch).
 */
export const ADMIT_MANY = `SELECT * FROM llmproxy_admit_many(?::integer[], ?::varchar[], ?::varchar[], ?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[],
  ?::bigint[], ?::boolean[], ?::bigint, ?::numeric[], ?::bigint, ?::boolean[], ?::bigint[], ?::varchar[], ?::bigint)`;

/**
 * A batch of settlements in one statement (migrations 1764500000000, 1765100000000): per item, in
 * ascending key order, the key's advisory lock, then deleting the reservation — the ticket: the
 * counters and the rollups change only if this call deleted it — then the counters, one
 * `usage_rollup` upsert and one `usage_upstream_rollup` upsert per item (the last array: each
 * item's upstream, '' for none).
 */
export const SETTLE_MANY = `SELECT * FROM llmproxy_settle_many(?::integer[], ?::varchar[], ?::bigint[], ?::varchar[], ?::timestamptz[],
  ?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[], ?::varchar[])`;

/**
 * Renewal of reservations in flight, to the database's now() + TTL. It takes the advisory locks of their keys first, in ascending
 * order, like every other writer of a key's reservations: a settlement batch deleting two of them
 * while this updated them in the other order would otherwise deadlock.
 */
const EXTEND = `WITH lk AS MATERIALIZED (
    SELECT k.api_key_id, pg_advisory_xact_lock(${ADVISORY_NAMESPACE}, k.api_key_id)
    FROM (SELECT DISTINCT api_key_id FROM quota_reservations WHERE id = ANY(?::varchar[]) ORDER BY api_key_id) k
  )
  UPDATE quota_reservations SET expires_at = now() + ?::bigint * interval '1 millisecond'
  WHERE id = ANY(?::varchar[]) AND api_key_id IN (SELECT api_key_id FROM lk)`;

/**
 * The sweep: the same advisory locks first, in ascending key order (see EXTEND). Expired by the
 * database's clock, the one every replica's reservations were given their expiry by.
 */
const RELEASE_EXPIRED = `WITH lk AS MATERIALIZED (
    SELECT k.api_key_id, pg_advisory_xact_lock(${ADVISORY_NAMESPACE}, k.api_key_id)
    FROM (SELECT DISTINCT api_key_id FROM quota_reservations WHERE expires_at < now() ORDER BY api_key_id) k
  ),
  r AS (
    DELETE FROM quota_reservations WHERE expires_at < now() AND api_key_id IN (SELECT api_key_id FROM lk)
    RETURNING api_key_id, day_key, month_key, tokens
  ),
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

/** One admission in a batch: the request, the prompt figure to decide with, and the reservation's id. */
interface AdmitItem {
  input: ReserveInput;
  prompt: number;
  /** `prompt` is only an upper bound of the estimate: the answer may be 'estimate'. */
  bound: boolean;
  id: string;
}

interface SettleItem {
  reservation: Reservation;
  settlement: Settlement;
}

/**
 * PostgreSQL: several replicas share the counters. An admission (`llmproxy_admit`) takes the key's
 * advisory lock, locks its two counter rows, decides, and updates them inside one transaction, so
 * concurrent admissions of one key are serialized across processes while different keys proceed in
 * parallel; settlement takes the same advisory lock first.
 *
 * Natural batching (`Batcher`): admissions, and separately settlements, that arrive while the
 * previous batch of their kind is in flight go to the database together as the next batch — one
 * statement, one transaction, ONE commit for the whole batch instead of one per request, and a
 * key's admissions no longer wait for one commit each. The database still makes every decision,
 * one item after another under the key's lock, exactly as for a single request; there is no cache.
 * The batch functions walk the items in ascending key id, so batches of different replicas take
 * their keys' advisory locks in the same order and cannot deadlock (extend and the sweep take the
 * same locks in the same order). A lone request is sent at once (a batch of one). A batch that
 * cannot reach the database rejects each of its requests (admission fails closed: 503); one that
 * fails because of one item's values (`dependsOnAnItem`) is decided again item by item, so that
 * request fails alone.
 */
export class PostgresQuotaStore extends QuotaStore {
  private readonly admissions: Batcher<AdmitItem, Record<string, unknown>>;
  private readonly settlements: Batcher<SettleItem, boolean>;

  constructor(private readonly sql: PostgresClient) {
    super();
    // A batch is rolled back as a whole on a deadlock or serialization failure, so it is retried as a whole.
    this.admissions = new Batcher((items) => retryOnConflict(() => this.admitMany(items)), { isolate: dependsOnAnItem });
    this.settlements = new Batcher((items) => retryOnConflict(() => this.settleMany(items)), { isolate: dependsOnAnItem });
  }

  /** Batches sent so far and their sizes (diagnostics, tests). */
  get batching(): { admissions: Batcher<AdmitItem, unknown>['stats']; settlements: Batcher<SettleItem, unknown>['stats'] } {
    return { admissions: this.admissions.stats, settlements: this.settlements.stats };
  }

  /**
   * `llmproxy_admit` (migration 1764400000000) takes the key's advisory lock, reads and locks the
   * counter rows, decides by `decideAdmission`'s rules, updates the counters and inserts the
   * reservation; here it runs as one item of a batch (`llmproxy_admit_many`). With a prompt bound it
   * may answer 'estimate' (the bound could change the decision, nothing was written): then the
   * estimate is computed and the request decided again, in a later batch, with it.
   */
  async reserve(input: ReserveInput): Promise<ReserveResult> {
    const prompt = input.promptEstimate;
    if (typeof prompt === 'number') return this.admit(input, prompt, false);
    const bounded = await this.admit(input, prompt.bound, true);
    return bounded === 'estimate' ? this.admit(input, prompt.exact(), false) : bounded;
  }

  private async admit(input: ReserveInput, promptEstimate: number, bound: true): Promise<ReserveResult | 'estimate'>;
  private async admit(input: ReserveInput, promptEstimate: number, bound: false): Promise<ReserveResult>;
  private async admit(input: ReserveInput, promptEstimate: number, bound: boolean): Promise<ReserveResult | 'estimate'> {
    const id = randomUUID();
    const row = await this.admissions.submit({ input, prompt: promptEstimate, bound, id });
    const result = admitRowToResult(row);
    if (result === 'estimate') {
      if (!bound) throw new Error('llmproxy_admit asked for an estimate it was given');
      return 'estimate';
    }
    if (!result.admitted) return { admitted: false, refusal: result };
    const { keyId, windows } = input;
    const day = admitRowCounters(row, 'day');
    const month = admitRowCounters(row, 'month');
    const tokens = result.reservedTokens;
    const after = (counters: WindowCounters) => ({ requests: counters.requests + 1, tokens: counters.tokens, reservedTokens: counters.reservedTokens + tokens });
    return {
      admitted: true,
      reservation: { id, keyId, dayKey: windows.day.key, monthKey: windows.month.key, tokens, completionCap: result.completionCap, day: after(day), month: after(month) },
    };
  }

  /** One statement for a batch of admissions; returns each item's row of `llmproxy_admit`, in the items' order. */
  private async admitMany(items: AdmitItem[]): Promise<Record<string, unknown>[]> {
    const column = <T>(pick: (item: AdmitItem) => T) => items.map(pick);
    const rows = await this.sql.all(ADMIT_MANY, [
      column((i) => i.input.keyId),
      column((i) => i.input.windows.day.key),
      column((i) => i.input.windows.month.key),
      column((i) => i.input.limits.dailyRequests),
      column((i) => i.input.limits.monthlyRequests),
      column((i) => i.input.limits.dailyTokens),
      column((i) => i.input.limits.monthlyTokens),
      column((i) => i.prompt),
      column((i) => i.bound),
      BOUND_HEADROOM,
      // As the client sent it (the function judges it); NaN and ±Infinity name none, and numeric takes them only from PostgreSQL 14 on.
      column((i) => (i.input.requestedMaxTokens !== null && Number.isFinite(i.input.requestedMaxTokens) ? i.input.requestedMaxTokens : null)),
      DEFAULT_COMPLETION_CAP,
      column((i) => i.input.generates),
      column((i) => i.input.maxConcurrent),
      column((i) => i.id),
      // The time to live, not times: the database's clock dates the reservations (migration 1764700000000).
      Math.max(...items.map((i) => i.input.ttlMs)),
    ]);
    return inItemOrder(rows, items.length, 'llmproxy_admit_many');
  }

  settle(reservation: Reservation, settlement: Settlement): Promise<boolean> {
    return this.settlements.submit({ reservation, settlement });
  }

  /** One statement for a batch of settlements; true for each item whose reservation this call deleted. */
  private async settleMany(items: SettleItem[]): Promise<boolean[]> {
    const column = <T>(pick: (item: SettleItem) => T) => items.map(pick);
    const rows = await this.sql.all(SETTLE_MANY, [
      column((i) => i.reservation.keyId),
      column((i) => i.reservation.id),
      column((i) => i.settlement.promptTokens + i.settlement.completionTokens),
      column((i) => i.settlement.model.slice(0, MODEL_COLUMN_LENGTH)),
      column((i) => i.settlement.bucketStart.toISOString()),
      column((i) => i.settlement.promptTokens),
      column((i) => i.settlement.completionTokens),
      column((i) => (i.settlement.exact ? 0 : 1)),
      column((i) => (i.settlement.failed ? 1 : 0)),
      column((i) => upstreamColumn(i.settlement)),
    ]);
    return inItemOrder(rows, items.length, 'llmproxy_settle_many').map((row) => row.settled === true);
  }

  /** To the database's now() + `ttlMs`: this process's `expiresAt` is not used (see `QuotaStore.extend`). */
  async extend(ids: string[], _expiresAt: Date, ttlMs: number): Promise<void> {
    if (ids.length === 0) return;
    await retryOnConflict(() => this.sql.run(EXTEND, [ids, ttlMs, ids]));
  }

  /** Expired by the database's now(): this process's `now` is not used (see `QuotaStore.releaseExpired`). */
  async releaseExpired(_now: Date): Promise<number> {
    const row = await retryOnConflict(() => this.sql.one<{ released: number }>(RELEASE_EXPIRED));
    return Number(row?.released ?? 0);
  }

  async counters(windows: CurrentWindows, keyId?: number): Promise<Map<number, KeyCounters>> {
    const rows = await (keyId === undefined
      ? this.sql.all(SQL.selectAllCounters, [windows.day.key, windows.month.key])
      : this.sql.all(SQL.selectKeyCounters, [keyId, windows.day.key, windows.month.key]));
    return groupCounters(rows, windows);
  }
}

/**
 * The rows of a batch function (which walks its items in key order) back in the items' order, by
 * their `item` column (1-based position); exactly one row per item, or the batch fails.
 */
function inItemOrder(rows: Record<string, unknown>[], count: number, name: string): Record<string, unknown>[] {
  const ordered = new Array<Record<string, unknown> | undefined>(count);
  for (const row of rows) {
    const index = Number(row.item) - 1;
    if (!(index >= 0 && index < count) || ordered[index]) throw new Error(`${name} returned an unexpected item ${String(row.item)}`);
    ordered[index] = row;
  }
  if (rows.length !== count) throw new Error(`${name} returned ${rows.length} rows for ${count} items`);
  return ordered as Record<string, unknown>[];
}

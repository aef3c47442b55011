import { randomUUID } from 'node:crypto';
import type { SqliteClient } from '@llmproxy/persistence';
import type { WindowCounters } from './admission.js';
import {
  EMPTY_COUNTERS,
  QuotaStore,
  decideReservation,
  rowToCounters,
  type KeyCounters,
  type Reservation,
  type ReserveInput,
  type ReserveResult,
  type Settlement,
} from './quota-store.js';
import type { CurrentWindows } from './windows.js';
import { SQL } from './quota-sql.js';

/**
 * SQLite: one process owns the file, and better-sqlite3 is synchronous, so each admission and each
 * settlement runs as one IMMEDIATE transaction of prepared statements that nothing can interleave
 * with (TypeORM's shared-connection transactions would nest as savepoints under concurrency).
 */
export class SqliteQuotaStore extends QuotaStore {
  /**
   * The two per-request transactions, built once (better-sqlite3's `transaction()` wraps a function
   * in new closures on every call) over statements prepared once. An admission is usually three
   * statements: read both counter rows, add to them, insert the reservation (plus a count when the
   * key limits concurrency); the counter rows are created only when one is missing (a new day or
   * month). A settlement is three: delete the reservation (the ticket: nothing else happens if it
   * was settled or swept already), charge the counters, add to the hourly rollup.
   */
  private readonly reserveTx: { immediate(input: ReserveInput): ReserveResult };
  private readonly settleTx: { immediate(reservation: Reservation, settlement: Settlement): boolean };

  constructor(private readonly sql: SqliteClient) {
    super();
    const selectCounters = sql.prepare(SQL.selectKeyCounters);
    const ensureCounters = sql.prepare(SQL.ensureCounters);
    const countReservations = sql.prepare(SQL.countReservations);
    const addToCounters = sql.prepare(SQL.addToCounters);
    const insertReservation = sql.prepare(SQL.insertReservation);
    const deleteReservation = sql.prepare(SQL.deleteReservation);
    const settleCounters = sql.prepare(SQL.settleCounters);
    const upsertRollup = sql.prepare(SQL.upsertRollup);

    this.reserveTx = sql.db.transaction((input: ReserveInput): ReserveResult => {
      const { keyId, windows } = input;
      const dayKey = windows.day.key;
      const monthKey = windows.month.key;
      const rows = selectCounters.all(keyId, dayKey, monthKey) as Record<string, unknown>[];
      if (rows.length < 2) ensureCounters.run(keyId, dayKey, keyId, monthKey);
      const day = rowToCounters(rows.find((row) => row.period_key === dayKey));
      const month = rowToCounters(rows.find((row) => row.period_key === monthKey));
      const inFlight = input.maxConcurrent === null ? 0 : Number((countReservations.get(keyId) as { n: number } | undefined)?.n ?? 0);
      const admission = decideReservation(input, day, month, inFlight);
      if (!admission.admitted) return { admitted: false, refusal: admission };
      const tokens = admission.reservedTokens;
      addToCounters.run(tokens, keyId, dayKey, monthKey);
      const id = randomUUID();
      insertReservation.run(id, keyId, dayKey, monthKey, tokens, sql.timestamp(input.now), sql.timestamp(input.expiresAt));
      const after = (counters: WindowCounters) => ({ requests: counters.requests + 1, tokens: counters.tokens, reservedTokens: counters.reservedTokens + tokens });
      return {
        admitted: true,
        reservation: { id, keyId, dayKey, monthKey, tokens, completionCap: admission.completionCap, day: after(day), month: after(month) },
      };
    });

    this.settleTx = sql.db.transaction((reservation: Reservation, settlement: Settlement): boolean => {
      if (deleteReservation.run(reservation.id).changes === 0) return false;
      settleCounters.run(settlement.promptTokens + settlement.completionTokens, reservation.tokens, reservation.keyId, reservation.dayKey, reservation.monthKey);
      upsertRollup.run(
        reservation.keyId,
        settlement.model,
        sql.timestamp(settlement.bucketStart),
        settlement.promptTokens,
        settlement.completionTokens,
        settlement.exact ? 0 : 1,
        settlement.failed ? 1 : 0,
      );
      return true;
    });
  }

  async reserve(input: ReserveInput): Promise<ReserveResult> {
    return this.reserveTx.immediate(input);
  }

  async settle(reservation: Reservation, settlement: Settlement): Promise<boolean> {
    return this.settleTx.immediate(reservation, settlement);
  }

  async extend(ids: string[], expiresAt: Date): Promise<void> {
    const at = this.sql.timestamp(expiresAt);
    this.sql.transactionSync(() => {
      for (const id of ids) this.sql.runSync(SQL.extendReservation, [at, id]);
    });
  }

  async releaseExpired(now: Date): Promise<number> {
    return this.sql.transactionSync(() => {
      const expired = this.sql.db.prepare(SQL.selectExpired).all(this.sql.timestamp(now)) as Record<string, unknown>[];
      for (const row of expired) {
        if (this.sql.runSync(SQL.deleteReservation, [row.id as string]) === 0) continue;
        this.sql.runSync(SQL.settleCounters, [0, Number(row.tokens), Number(row.api_key_id), row.day_key as string, row.month_key as string]);
      }
      return expired.length;
    });
  }

  async counters(windows: CurrentWindows, keyId?: number): Promise<Map<number, KeyCounters>> {
    const rows = await (keyId === undefined
      ? this.sql.all(SQL.selectAllCounters, [windows.day.key, windows.month.key])
      : this.sql.all(SQL.selectKeyCounters, [keyId, windows.day.key, windows.month.key]));
    return groupCounters(rows, windows);
  }
}

export function groupCounters(rows: Record<string, unknown>[], windows: CurrentWindows): Map<number, KeyCounters> {
  const byKey = new Map<number, KeyCounters>();
  for (const row of rows) {
    const id = Number(row.api_key_id);
    const entry = byKey.get(id) ?? { day: EMPTY_COUNTERS, month: EMPTY_COUNTERS };
    if (row.period_key === windows.day.key) entry.day = rowToCounters(row);
    else entry.month = rowToCounters(row);
    byKey.set(id, entry);
  }
  return byKey;
}

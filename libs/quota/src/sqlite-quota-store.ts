import { randomUUID } from 'node:crypto';
import type { SqliteClient } from '@llmproxy/persistence';
import { decideAdmission, type WindowCounters } from './admission.js';
import {
  EMPTY_COUNTERS,
  QuotaStore,
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
  constructor(private readonly sql: SqliteClient) {
    super();
  }

  async reserve(input: ReserveInput): Promise<ReserveResult> {
    const { keyId, windows } = input;
    const dayKey = windows.day.key;
    const monthKey = windows.month.key;
    return this.sql.transactionSync((): ReserveResult => {
      this.sql.runSync(SQL.ensureCounters, [keyId, dayKey, keyId, monthKey]);
      const day = rowToCounters(this.sql.getSync(SQL.selectCounter, [keyId, dayKey]));
      const month = rowToCounters(this.sql.getSync(SQL.selectCounter, [keyId, monthKey]));
      const inFlight = input.maxConcurrent === null ? 0 : Number(this.sql.getSync<{ n: number }>(SQL.countReservations, [keyId])?.n ?? 0);
      const admission = decideAdmission({ ...input, day, month, inFlight });
      if (!admission.admitted) return { admitted: false, refusal: admission };
      const tokens = admission.reservedTokens;
      this.sql.runSync(SQL.addToCounters, [tokens, keyId, dayKey, monthKey]);
      const id = randomUUID();
      this.sql.runSync(SQL.insertReservation, [
        id,
        keyId,
        dayKey,
        monthKey,
        tokens,
        this.sql.timestamp(input.now),
        this.sql.timestamp(input.expiresAt),
      ]);
      const after = (counters: WindowCounters) => ({ requests: counters.requests + 1, tokens: counters.tokens, reservedTokens: counters.reservedTokens + tokens });
      return {
        admitted: true,
        reservation: { id, keyId, dayKey, monthKey, tokens, completionCap: admission.completionCap, day: after(day), month: after(month) },
      };
    });
  }

  async settle(reservation: Reservation, settlement: Settlement): Promise<boolean> {
    const charged = settlement.promptTokens + settlement.completionTokens;
    return this.sql.transactionSync(() => {
      if (this.sql.runSync(SQL.deleteReservation, [reservation.id]) === 0) return false;
      this.sql.runSync(SQL.settleCounters, [charged, reservation.tokens, reservation.keyId, reservation.dayKey, reservation.monthKey]);
      this.sql.runSync(SQL.upsertRollup, [
        reservation.keyId,
        settlement.model,
        this.sql.timestamp(settlement.bucketStart),
        settlement.promptTokens,
        settlement.completionTokens,
        settlement.exact ? 0 : 1,
        settlement.failed ? 1 : 0,
      ]);
      return true;
    });
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

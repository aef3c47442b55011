import { parseDatabaseUrl } from '@llmproxy/config';
import { createSqlClient, openDatabase, PostgresClient, readTimestamp, SqliteClient, type SqlClient } from '@llmproxy/persistence';
import { PostgresQuotaStore, SqliteQuotaStore, type QuotaStore } from '@llmproxy/quota';

/** One row of quota_counters, values as the driver returned them (a corrupt value stays visible). */
export interface CounterRow {
  keyId: number;
  periodKey: string;
  requests: unknown;
  tokens: unknown;
  reservedTokens: unknown;
}

export interface ReservationRow {
  id: string;
  keyId: number;
  tokens: number;
  expiresAt: Date;
}

export interface QuotaState {
  counters: CounterRow[];
  reservations: ReservationRow[];
  /** Settled requests and their tokens per key (usage_rollup gets one row update per settlement). */
  rollup: Map<number, { requests: number; tokens: number }>;
}

export interface InspectedDatabase {
  sql: SqlClient;
  /** The product's quota store on this connection (for `releaseExpired` at a chosen time). */
  store: QuotaStore;
  /** A PRAGMA of the SQLite connection the product's `openDatabase` configured; undefined on PostgreSQL. */
  pragma(name: string): unknown;
  state(): Promise<QuotaState>;
  close(): Promise<void>;
}

/** Opens `databaseUrl` the way the gateway does (its `openDatabase`: pragmas, migrations) to look inside. */
export async function inspectDatabase(databaseUrl: string): Promise<InspectedDatabase> {
  const dataSource = await openDatabase(parseDatabaseUrl(databaseUrl));
  const sql = createSqlClient(dataSource);
  const store = sql instanceof SqliteClient ? new SqliteQuotaStore(sql) : new PostgresQuotaStore(sql as PostgresClient);
  return {
    sql,
    store,
    pragma: (name) => (sql instanceof SqliteClient ? sql.db.pragma(name, { simple: true }) : undefined),
    async state() {
      const counters = await sql.all('SELECT api_key_id, period_key, requests, tokens, reserved_tokens FROM quota_counters');
      const reservations = await sql.all('SELECT id, api_key_id, tokens, expires_at FROM quota_reservations');
      const rollup = await sql.all(
        'SELECT api_key_id, sum(requests) AS requests, sum(prompt_tokens + completion_tokens) AS tokens FROM usage_rollup GROUP BY api_key_id',
      );
      return {
        counters: counters.map((r) => ({
          keyId: Number(r.api_key_id),
          periodKey: String(r.period_key),
          requests: r.requests,
          tokens: r.tokens,
          reservedTokens: r.reserved_tokens,
        })),
        reservations: reservations.map((r) => ({ id: String(r.id), keyId: Number(r.api_key_id), tokens: Number(r.tokens), expiresAt: readTimestamp(r.expires_at)! })),
        rollup: new Map(rollup.map((r) => [Number(r.api_key_id), { requests: Number(r.requests), tokens: Number(r.tokens) }])),
      };
    },
    close: () => dataSource.destroy(),
  };
}

/** '2026-11-26' is a day's period key, '2026-11' a month's (libs/quota windows). */
export type WindowKind = 'day' | 'month';
const kindOf = (periodKey: string): WindowKind => (periodKey.length === 10 ? 'day' : 'month');

/** A key's counters summed over every window of one kind (a run across midnight has two day rows). */
export function windowTotals(state: QuotaState, keyId: number, kind: WindowKind): { requests: number; tokens: number; reservedTokens: number } {
  const rows = state.counters.filter((row) => row.keyId === keyId && kindOf(row.periodKey) === kind);
  const sum = (field: 'requests' | 'tokens' | 'reservedTokens') => rows.reduce((total, row) => total + Number(row[field]), 0);
  return { requests: sum('requests'), tokens: sum('tokens'), reservedTokens: sum('reservedTokens') };
}

/**
 * The counters hold together: every value a non-negative integer; per key and window kind, the
 * reserved tokens are those of the reservations left, the tokens those settled into the rollup,
 * and every admitted request is settled, still reserved, or was released by expiry
 * (`releasedByExpiry`: how many per key id).
 */
export function expectConsistent(state: QuotaState, releasedByExpiry: Map<number, number> = new Map()): void {
  for (const row of state.counters) {
    for (const value of [row.requests, row.tokens, row.reservedTokens]) {
      if (!(Number.isSafeInteger(value) && (value as number) >= 0)) throw new Error(`corrupt counter row ${JSON.stringify(row)}`);
    }
  }
  const keys = new Set(state.counters.map((row) => row.keyId));
  for (const keyId of keys) {
    const reservations = state.reservations.filter((r) => r.keyId === keyId);
    const settled = state.rollup.get(keyId) ?? { requests: 0, tokens: 0 };
    const expected = {
      requests: settled.requests + reservations.length + (releasedByExpiry.get(keyId) ?? 0),
      tokens: settled.tokens,
      reservedTokens: reservations.reduce((sum, r) => sum + r.tokens, 0),
    };
    for (const kind of ['day', 'month'] as const) {
      expect({ keyId, kind, ...windowTotals(state, keyId, kind) }).toEqual({ keyId, kind, ...expected });
    }
  }
}

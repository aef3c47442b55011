import { randomUUID } from 'node:crypto';
import type BetterSqlite3 from 'better-sqlite3';
import { OWNER_HEARTBEAT_MS, type SqliteClient, type SqliteOwnerLease } from '@llmproxy/persistence';
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
  upstreamColumn,
} from './quota-store.js';
import type { CurrentWindows } from './windows.js';
import { SQL } from './quota-sql.js';

/** What this process knows of a key in the current windows: the database's counters plus its own changes. */
interface KeyState {
  dayKey: string;
  monthKey: string;
  day: WindowCounters;
  month: WindowCounters;
  /** The key's unsettled reservations (rows in the table, including a dead process's until they expire). */
  inFlight: number;
}

/** Changes not yet written, merged per row so a batch writes each row once. */
interface CounterDelta {
  keyId: number;
  periodKey: string;
  requests: number;
  tokens: number;
  reservedTokens: number;
}

interface RollupDelta {
  keyId: number;
  model: string;
  bucketStart: Date;
  requests: number;
  promptTokens: number;
  completionTokens: number;
  estimated: number;
  failed: number;
}

interface UpstreamRollupDelta {
  keyId: number;
  model: string;
  upstream: string;
  bucketStart: Date;
  requests: number;
  promptTokens: number;
  completionTokens: number;
  failed: number;
}

/** A reservation to write; its times become SQL text only if it is written (most are settled in the same batch). */
type ReservationRow = [id: string, keyId: number, dayKey: string, monthKey: string, tokens: number, createdAt: Date, expiresAt: Date];

/** How long a failed write waits before it is tried again (admissions are refused meanwhile). */
const RETRY_MS = 1_000;
/**
 * How long changes gather before they are written. Most requests are admitted and settled within it,
 * so their reservation never touches the file: one batch writes the counter and rollup rows they
 * changed. Measured at c=32 (bench s1): written every event-loop turn, the writes cost 10.6 µs per
 * request, half of it reservation rows inserted and deleted a few milliseconds apart.
 */
const BATCH_MS = 10;

/** Every reservation in the table, for `releaseAbandoned` (on SQLite they are all this process's or a previous owner's). */
const SELECT_ALL_RESERVATIONS = 'SELECT id, api_key_id, day_key, month_key, tokens FROM quota_reservations';

/**
 * SQLite serves one llmproxy process (DESIGN.md §8), so that process can keep the quota ledger of
 * the keys it serves in memory and decide admissions there, synchronously and exactly, while the
 * database gets every change *behind*: the admissions and settlements of the last 10 ms are written
 * in one IMMEDIATE transaction (a group commit). Per request that is no transaction of its own; a
 * request still running when its batch is written (a stream) has its reservation row written and,
 * at the end, deleted; counter and rollup rows are written once per batch.
 *
 * What the database holds is always a state the ledger went through: each batch is atomic, and a
 * key's counters are read from it (after writing what is pending) when this process first serves the
 * key in a window. `settle` resolves once its batch is committed. A process killed with `kill -9`
 * loses the changes of its last 10 ms, together with the requests of that instant (the usage log
 * loses its last 20 ms the same way); reservations it had written are released by the usual expiry.
 * While the database cannot be written, pending changes are kept and retried every second and
 * admissions are refused (quotas fail closed).
 *
 * The settle-before-write ordering is what makes the ledger exact: nothing else writes these
 * counters while the process runs (the key CLI and the admin API only touch keys and settings).
 * The gateway makes sure of it with an owner lease (SqliteOwnerLease): every batch renews it in its
 * own transaction, and a batch that finds it taken by another process fails, so the ledger of a
 * process that lost the file refuses admissions from then on; when idle, the ledger writes a batch
 * of just the renewal every OWNER_HEARTBEAT_MS.
 */
export class SqliteQuotaStore extends QuotaStore {
  private readonly keys = new Map<number, KeyState>();
  /** Reservations of this process not yet settled: id → what settling it must undo. */
  private readonly open = new Map<string, { keyId: number; dayKey: string; monthKey: string; tokens: number }>();

  private readonly counterDeltas = new Map<string, CounterDelta>();
  private readonly rollupDeltas = new Map<string, RollupDelta>();
  private readonly upstreamDeltas = new Map<string, UpstreamRollupDelta>();
  private readonly inserts = new Map<string, ReservationRow>();
  private readonly deletes = new Set<string>();
  private readonly extensions = new Map<string, string>();
  private committed: { promise: Promise<void>; resolve: () => void } | undefined;
  /** The next batch's write, or the retry after a failed write. */
  private scheduled: { cancel(): void } | undefined;
  /** The last write's failure while it is not resolved: admissions are refused. */
  private failure: unknown;
  /** Set by the heartbeat timer when no batch has renewed the lease for OWNER_HEARTBEAT_MS. */
  private heartbeatDue = false;
  private lastWriteAt = Date.now();
  private readonly heartbeat: NodeJS.Timeout | undefined;

  private readonly statements: Record<
    'selectCounters' | 'ensureCounters' | 'countReservations' | 'insertReservation' | 'deleteReservation' | 'extendReservation' | 'addCounters' | 'addRollup' | 'addUpstreamRollup',
    BetterSqlite3.Statement
  >;
  private readonly writeBatch: { immediate(): void };

  constructor(
    private readonly sql: SqliteClient,
    /** The gateway's lease on the file; absent for tools that read or repair a file no gateway serves. */
    private readonly lease?: SqliteOwnerLease,
  ) {
    super();
    this.statements = {
      selectCounters: sql.prepare(SQL.selectKeyCounters),
      ensureCounters: sql.prepare(SQL.ensureCounters),
      countReservations: sql.prepare(SQL.countReservations),
      insertReservation: sql.prepare(SQL.insertReservation),
      deleteReservation: sql.prepare(SQL.deleteReservation),
      extendReservation: sql.prepare(SQL.extendReservation),
      addCounters: sql.prepare(SQL.addCounterDeltas),
      addRollup: sql.prepare(SQL.addRollupDeltas),
      addUpstreamRollup: sql.prepare(SQL.addUpstreamRollupDeltas),
    };
    this.writeBatch = sql.db.transaction(() => this.writePending());
    if (lease) {
      this.heartbeat = setInterval(() => {
        if (Date.now() - this.lastWriteAt < OWNER_HEARTBEAT_MS) return;
        this.heartbeatDue = true;
        this.schedule();
      }, OWNER_HEARTBEAT_MS / 2);
      this.heartbeat.unref();
    }
  }

  async reserve(input: ReserveInput): Promise<ReserveResult> {
    if (this.failure !== undefined) throw this.failure;
    const { keyId, windows } = input;
    if (!this.knows(keyId, windows)) await this.outsideTransactions();
    const state = this.stateOf(keyId, windows);
    const admission = decideReservation(input, state.day, state.month, input.maxConcurrent === null ? 0 : state.inFlight);
    if (!admission.admitted) return { admitted: false, refusal: admission };

    const tokens = admission.reservedTokens;
    const id = randomUUID();
    for (const [counters, periodKey] of [
      [state.day, state.dayKey],
      [state.month, state.monthKey],
    ] as const) {
      counters.requests += 1;
      counters.reservedTokens += tokens;
      this.addCounterDelta(keyId, periodKey, 1, 0, tokens);
    }
    state.inFlight += 1;
    this.open.set(id, { keyId, dayKey: state.dayKey, monthKey: state.monthKey, tokens });
    this.inserts.set(id, [id, keyId, state.dayKey, state.monthKey, tokens, input.now, input.expiresAt]);
    this.schedule();
    return {
      admitted: true,
      reservation: { id, keyId, dayKey: state.dayKey, monthKey: state.monthKey, tokens, completionCap: admission.completionCap, day: { ...state.day }, month: { ...state.month } },
    };
  }

  async settle(reservation: Reservation, settlement: Settlement): Promise<boolean> {
    const held = this.open.get(reservation.id);
    // The ticket: a reservation is settled once, or not at all once the sweep released it.
    if (!held) return false;
    this.open.delete(reservation.id);
    const charged = settlement.promptTokens + settlement.completionTokens;
    const state = this.keys.get(held.keyId);
    if (state) {
      state.inFlight -= 1;
      if (state.dayKey === held.dayKey) applySettlement(state.day, charged, held.tokens);
      if (state.monthKey === held.monthKey) applySettlement(state.month, charged, held.tokens);
    }
    this.addCounterDelta(held.keyId, held.dayKey, 0, charged, -held.tokens);
    this.addCounterDelta(held.keyId, held.monthKey, 0, charged, -held.tokens);
    this.extensions.delete(reservation.id);
    if (!this.inserts.delete(reservation.id)) this.deletes.add(reservation.id);
    this.addRollup(held.keyId, settlement);
    await this.nextCommit();
    return true;
  }

  async extend(ids: string[], expiresAt: Date): Promise<void> {
    const at = this.sql.timestamp(expiresAt) as string;
    for (const id of ids) {
      const pending = this.inserts.get(id);
      if (pending) pending[6] = expiresAt;
      else if (this.open.has(id)) this.extensions.set(id, at);
    }
    if (this.extensions.size > 0) await this.nextCommit();
  }

  /**
   * Releases expired reservations in the table: a dead process's (this process renews its own, see
   * QuotaService.maintain). Written state first, so the table and the counters agree; the ledger then
   * forgets the keys concerned and reads them again when next used.
   */
  async releaseExpired(now: Date): Promise<number> {
    await this.outsideTransactions();
    this.flushNow();
    const released = this.sql.transactionSync(() => {
      this.lease?.renew();
      const expired = this.sql.db.prepare(SQL.selectExpired).all(this.sql.timestamp(now)) as Record<string, unknown>[];
      for (const row of expired) {
        if (this.sql.runSync(SQL.deleteReservation, [row.id as string]) === 0) continue;
        this.sql.runSync(SQL.settleCounters, [0, Number(row.tokens), Number(row.api_key_id), row.day_key as string, row.month_key as string]);
      }
      return expired;
    });
    for (const row of released) {
      this.open.delete(row.id as string);
      this.keys.delete(Number(row.api_key_id));
    }
    return released.length;
  }

  /**
   * Releases, uncharged, every reservation in the table that this ledger did not make: a new owner
   * of the file calls it once at start, before it serves. They are a previous owner's (it died, or
   * stopped before they were settled) and will never be settled; left in place they would hold
   * their keys' tokens and `max_concurrent` slots until they expired.
   */
  releaseAbandoned(): number {
    this.flushNow();
    const released = this.sql.transactionSync(() => {
      this.lease?.renew();
      const rows = (this.sql.db.prepare(SELECT_ALL_RESERVATIONS).all() as Record<string, unknown>[]).filter((row) => !this.open.has(row.id as string));
      for (const row of rows) {
        if (this.sql.runSync(SQL.deleteReservation, [row.id as string]) === 0) continue;
        this.sql.runSync(SQL.settleCounters, [0, Number(row.tokens), Number(row.api_key_id), row.day_key as string, row.month_key as string]);
      }
      return rows;
    });
    for (const row of released) this.keys.delete(Number(row.api_key_id));
    return released.length;
  }

  /**
   * Counters as the ledger holds them, without writing anything (GET /v1/usage and the admin's
   * lists read them as often as they like): a key the ledger serves in these windows from memory;
   * otherwise the file's rows plus the changes not yet written.
   */
  async counters(windows: CurrentWindows, keyId?: number): Promise<Map<number, KeyCounters>> {
    if (keyId !== undefined && this.knows(keyId, windows)) {
      const state = this.keys.get(keyId)!;
      return new Map([[keyId, { day: { ...state.day }, month: { ...state.month } }]]);
    }
    const rows = await (keyId === undefined
      ? this.sql.all(SQL.selectAllCounters, [windows.day.key, windows.month.key])
      : this.sql.all(SQL.selectKeyCounters, [keyId, windows.day.key, windows.month.key]));
    const counters = groupCounters(rows, windows);
    for (const delta of this.counterDeltas.values()) {
      if (keyId !== undefined && delta.keyId !== keyId) continue;
      const kind = delta.periodKey === windows.day.key ? 'day' : delta.periodKey === windows.month.key ? 'month' : undefined;
      if (!kind) continue;
      const entry = counters.get(delta.keyId) ?? { day: EMPTY_COUNTERS, month: EMPTY_COUNTERS };
      entry[kind] = {
        requests: entry[kind].requests + delta.requests,
        tokens: entry[kind].tokens + delta.tokens,
        reservedTokens: entry[kind].reservedTokens + delta.reservedTokens,
      };
      counters.set(delta.keyId, entry);
    }
    return counters;
  }

  override async close(): Promise<void> {
    clearInterval(this.heartbeat);
    await this.outsideTransactions();
    this.flushNow();
  }

  /** Why the last write of the ledger failed, while it has not succeeded since (admissions are refused meanwhile). */
  override get writeFailure(): unknown {
    return this.failure;
  }

  /** Writes everything pending now (the shutdown and the readers above); throws if it cannot. */
  flushNow(): void {
    this.scheduled?.cancel();
    this.scheduled = undefined;
    this.flush(true);
  }

  private knows(keyId: number, windows: CurrentWindows): boolean {
    const known = this.keys.get(keyId);
    return known !== undefined && known.dayKey === windows.day.key && known.monthKey === windows.month.key;
  }

  /**
   * TypeORM shares this connection, and an admin write's transaction stays open across event-loop
   * turns: a statement issued meanwhile would join it (and go if it rolled back). The ledger's own
   * reads and writes wait for it to end; it never takes more than a few milliseconds.
   */
  private async outsideTransactions(): Promise<void> {
    while (this.sql.db.inTransaction) await new Promise((resolve) => setImmediate(resolve));
  }

  /** The key's state in these windows: the ledger's, or read from the database (pending changes written first). */
  private stateOf(keyId: number, windows: CurrentWindows): KeyState {
    const dayKey = windows.day.key;
    const monthKey = windows.month.key;
    if (this.knows(keyId, windows)) return this.keys.get(keyId)!;
    this.flushNow();
    const { selectCounters, ensureCounters, countReservations } = this.statements;
    const rows = selectCounters.all(keyId, dayKey, monthKey) as Record<string, unknown>[];
    if (rows.length < 2) ensureCounters.run(keyId, dayKey, keyId, monthKey);
    const state: KeyState = {
      dayKey,
      monthKey,
      day: { ...rowToCounters(rows.find((row) => row.period_key === dayKey)) },
      month: { ...rowToCounters(rows.find((row) => row.period_key === monthKey)) },
      inFlight: Number((countReservations.get(keyId) as { n: number } | undefined)?.n ?? 0),
    };
    this.keys.set(keyId, state);
    return state;
  }

  private addCounterDelta(keyId: number, periodKey: string, requests: number, tokens: number, reservedTokens: number): void {
    const id = `${keyId}\u0000${periodKey}`;
    const delta = this.counterDeltas.get(id);
    if (delta) {
      delta.requests += requests;
      delta.tokens += tokens;
      delta.reservedTokens += reservedTokens;
    } else {
      this.counterDeltas.set(id, { keyId, periodKey, requests, tokens, reservedTokens });
    }
  }

  private addRollup(keyId: number, s: Settlement): void {
    const bucketStart = s.bucketStart;
    const id = `${keyId}\u0000${s.model}\u0000${bucketStart.getTime()}`;
    const delta = this.rollupDeltas.get(id) ?? { keyId, model: s.model, bucketStart, requests: 0, promptTokens: 0, completionTokens: 0, estimated: 0, failed: 0 };
    delta.requests += 1;
    delta.promptTokens += s.promptTokens;
    delta.completionTokens += s.completionTokens;
    delta.estimated += s.exact ? 0 : 1;
    delta.failed += s.failed ? 1 : 0;
    this.rollupDeltas.set(id, delta);

    const upstream = upstreamColumn(s);
    const upstreamId = `${id}\u0000${upstream}`;
    const perUpstream =
      this.upstreamDeltas.get(upstreamId) ?? { keyId, model: s.model, upstream, bucketStart, requests: 0, promptTokens: 0, completionTokens: 0, failed: 0 };
    perUpstream.requests += 1;
    perUpstream.promptTokens += s.promptTokens;
    perUpstream.completionTokens += s.completionTokens;
    perUpstream.failed += s.failed ? 1 : 0;
    this.upstreamDeltas.set(upstreamId, perUpstream);
  }

  private nextCommit(): Promise<void> {
    if (!this.committed) {
      let resolve!: () => void;
      const promise = new Promise<void>((done) => (resolve = done));
      this.committed = { promise, resolve };
    }
    this.schedule();
    return this.committed.promise;
  }

  private schedule(): void {
    if (this.scheduled || this.failure !== undefined) return;
    this.flushLater(BATCH_MS);
  }

  /** The next turn of the event loop (0), or after `ms` (a retry does not keep the process alive). */
  private flushLater(ms: number): void {
    const run = () => {
      this.scheduled = undefined;
      this.flush(false);
    };
    if (ms === 0) {
      const immediate = setImmediate(run);
      this.scheduled = { cancel: () => clearImmediate(immediate) };
    } else {
      const timer = setTimeout(run, ms);
      if (ms >= RETRY_MS) timer.unref();
      this.scheduled = { cancel: () => clearTimeout(timer) };
    }
  }

  private get pending(): boolean {
    return this.heartbeatDue || this.counterDeltas.size + this.rollupDeltas.size + this.upstreamDeltas.size + this.inserts.size + this.deletes.size + this.extensions.size > 0;
  }

  /** One transaction for everything pending; on failure nothing is lost: it stays pending and is retried. */
  private flush(rethrow: boolean): void {
    if (this.pending && this.sql.db.inTransaction && !rethrow) {
      // An admin transaction is open on the shared connection (see outsideTransactions): next turn.
      this.flushLater(0);
      return;
    }
    if (this.pending) {
      try {
        this.writeBatch.immediate();
      } catch (error) {
        this.failure = error;
        this.scheduled?.cancel();
        this.flushLater(RETRY_MS);
        if (rethrow) throw error;
        return;
      }
      this.counterDeltas.clear();
      this.rollupDeltas.clear();
      this.upstreamDeltas.clear();
      this.inserts.clear();
      this.deletes.clear();
      this.extensions.clear();
      this.heartbeatDue = false;
      this.lastWriteAt = Date.now();
    }
    this.failure = undefined;
    const committed = this.committed;
    this.committed = undefined;
    committed?.resolve();
  }

  private writePending(): void {
    const { insertReservation, deleteReservation, extendReservation, addCounters, addRollup, addUpstreamRollup } = this.statements;
    // First: a process that lost the file writes nothing more (the transaction rolls back, admissions are refused).
    this.lease?.renew();
    for (const [id, keyId, dayKey, monthKey, tokens, createdAt, expiresAt] of this.inserts.values()) {
      skipDeletedKey(() => insertReservation.run(id, keyId, dayKey, monthKey, tokens, this.sql.timestamp(createdAt), this.sql.timestamp(expiresAt)));
    }
    for (const id of this.deletes) deleteReservation.run(id);
    for (const [id, at] of this.extensions) extendReservation.run(at, id);
    for (const d of this.counterDeltas.values()) addCounters.run(d.requests, d.tokens, d.reservedTokens, d.keyId, d.periodKey);
    for (const d of this.rollupDeltas.values()) {
      skipDeletedKey(() => addRollup.run(d.keyId, d.model, this.sql.timestamp(d.bucketStart), d.requests, d.promptTokens, d.completionTokens, d.estimated, d.failed));
    }
    for (const d of this.upstreamDeltas.values()) {
      addUpstreamRollup.run(d.keyId, d.model, d.upstream, this.sql.timestamp(d.bucketStart), d.requests, d.promptTokens, d.completionTokens, d.failed);
    }
  }
}

function applySettlement(counters: WindowCounters, charged: number, reserved: number): void {
  counters.tokens += charged;
  counters.reservedTokens -= reserved;
}

/** A key deleted while its request was in flight: its rows are gone with it, nothing to write. */
function skipDeletedKey(write: () => unknown): void {
  try {
    write();
  } catch (error) {
    if ((error as { code?: string }).code !== 'SQLITE_CONSTRAINT_FOREIGNKEY') throw error;
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

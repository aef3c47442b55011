import type { PoolClient, QueryConfig } from 'pg';
import { type PostgresClient, QUERY_TIMEOUT_MS, type SqlClient, SqliteClient } from '@llmproxy/persistence';
import { MAX_FAILURES, retryAfterSeconds, WINDOW_MS } from './auth-throttle.js';

/** Rows the table keeps at most, whatever the number of clients failing at once. */
export const MAX_ROWS = 10_000;

export type Verdict = { outcome: 'ok' } | { outcome: 'invalid' } | { outcome: 'throttled'; retryAfterSeconds: number };

export interface AuthFailureLimits {
  maxFailures: number;
  windowMs: number;
  maxRows: number;
}

const RECENT = 'SELECT at_ms FROM admin_auth_failures WHERE client = ? AND at_ms > ? ORDER BY at_ms DESC LIMIT ?';
const INSERT = 'INSERT INTO admin_auth_failures (client, at_ms) VALUES (?, ?)';
// Old rows go, and so does everything beyond the newest `maxRows`: a flood from many addresses
// cannot grow the table. Evicting a flood's oldest rows gives nobody more tries than the flood's
// own addresses already have (each gets its ten a minute anyway).
const PRUNE = 'DELETE FROM admin_auth_failures WHERE at_ms <= ? OR id <= ?';

/**
 * The admin throttle's memory: recent failed credentials per client key, in the database, so that
 * every replica on one PostgreSQL counts the same failures. `attempt` runs the credential check
 * inside a critical section per client key — the count, the comparison and the failure's row happen
 * as one step — so parallel guesses, on one replica or several, get no more comparisons than the
 * limit, while a right credential writes nothing and parallel scripts never wait on each other's rows.
 */
export abstract class AuthFailures {
  constructor(protected readonly limits: AuthFailureLimits) {}

  /**
   * `throttled` without calling `check` when the client has used up its failures; else `check`'s
   * answer, a false one recorded as a failure.
   */
  abstract attempt(client: string, now: number, check: () => boolean): Promise<Verdict>;

  /**
   * Seconds the client must wait, or 0: a look without a lock, for a check too slow to run inside
   * `attempt`'s critical section (scrypt). The caller still goes through `attempt` with the result,
   * which counts again under the lock, so parallel guesses get no more answers than the limit; the
   * look only spares a throttled client's guesses the hashing.
   */
  abstract retryAfter(client: string, now: number): Promise<number>;

  protected wait(recent: readonly { at_ms: number | string }[], now: number): number {
    return retryAfterSeconds(
      recent.map((row) => Number(row.at_ms)),
      now,
      this.limits.maxFailures,
      this.limits.windowMs,
    );
  }
}

export function authFailures(sql: SqlClient, limits: Partial<AuthFailureLimits> = {}): AuthFailures {
  const all = { maxFailures: MAX_FAILURES, windowMs: WINDOW_MS, maxRows: MAX_ROWS, ...limits };
  return sql instanceof SqliteClient ? new SqliteAuthFailures(sql, all) : new PostgresAuthFailures(sql as PostgresClient, all);
}

/**
 * One process per SQLite database, and better-sqlite3 is synchronous: nothing else of the process
 * runs between the count, the check and the insert, so they are one step without a lock.
 */
class SqliteAuthFailures extends AuthFailures {
  constructor(
    private readonly sql: SqliteClient,
    limits: AuthFailureLimits,
  ) {
    super(limits);
  }

  async attempt(client: string, now: number, check: () => boolean): Promise<Verdict> {
    const recent = this.sql.prepare(RECENT).all(client, now - this.limits.windowMs, this.limits.maxFailures) as { at_ms: number }[];
    const wait = this.wait(recent, now);
    if (wait > 0) return { outcome: 'throttled', retryAfterSeconds: wait };
    if (check()) return { outcome: 'ok' };
    this.sql.transactionSync(() => {
      const id = Number(this.sql.prepare(INSERT).run(client, now).lastInsertRowid);
      this.sql.runSync(PRUNE, [now - this.limits.windowMs, id - this.limits.maxRows]);
    });
    return { outcome: 'invalid' };
  }

  async retryAfter(client: string, now: number): Promise<number> {
    return this.wait(this.sql.prepare(RECENT).all(client, now - this.limits.windowMs, this.limits.maxFailures) as { at_ms: number }[], now);
  }
}

/** Two-key advisory locks of this class are the throttle's, one per client key (hashtext). */
const LOCK_CLASS = 734_110_202;

/**
 * Replicas serialise the attempts of one client key on a transaction-scoped advisory lock, so two
 * replicas cannot both see nine failures and both compare a tenth and an eleventh guess. A hash
 * collision of two keys only makes their attempts wait for each other.
 */
class PostgresAuthFailures extends AuthFailures {
  constructor(
    private readonly sql: PostgresClient,
    limits: AuthFailureLimits,
  ) {
    super(limits);
  }

  async attempt(client: string, now: number, check: () => boolean): Promise<Verdict> {
    const connection = await this.sql.pool.connect();
    let broken: Error | undefined;
    const query = (text: string, values: unknown[] = []) =>
      connection.query({ text: numbered(text), values, query_timeout: QUERY_TIMEOUT_MS } as QueryConfig);
    try {
      await query('BEGIN');
      await query('SELECT pg_advisory_xact_lock(?, hashtext(?))', [LOCK_CLASS, client]);
      const { rows } = await query(RECENT, [client, now - this.limits.windowMs, this.limits.maxFailures]);
      const wait = this.wait(rows as { at_ms: number }[], now);
      let verdict: Verdict;
      if (wait > 0) verdict = { outcome: 'throttled', retryAfterSeconds: wait };
      else if (check()) verdict = { outcome: 'ok' };
      else {
        const inserted = await query(`${INSERT} RETURNING id`, [client, now]);
        const id = Number((inserted.rows[0] as { id: number | string }).id);
        await query(PRUNE, [now - this.limits.windowMs, id - this.limits.maxRows]);
        verdict = { outcome: 'invalid' };
      }
      await query('COMMIT');
      return verdict;
    } catch (error) {
      broken = await rollback(connection);
      throw error;
    } finally {
      connection.release(broken); // a broken connection leaves the pool
    }
  }

  async retryAfter(client: string, now: number): Promise<number> {
    const rows = await this.sql.all<{ at_ms: number }>(RECENT, [client, now - this.limits.windowMs, this.limits.maxFailures]);
    return this.wait(rows, now);
  }
}

/** Rolls back; the error when even that failed (the connection is broken). */
async function rollback(connection: PoolClient): Promise<Error | undefined> {
  try {
    await connection.query('ROLLBACK');
    return undefined;
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

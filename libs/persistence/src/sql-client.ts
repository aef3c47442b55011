import type BetterSqlite3 from 'better-sqlite3';
import type { Pool, QueryConfig } from 'pg';
import type { DataSource } from 'typeorm';

export type SqlDialect = 'sqlite' | 'postgres';
export type SqlParam = string | number | boolean | null;
/** PostgreSQL also takes arrays (`= ANY(?::varchar[])`, `unnest(?::integer[])`): one statement for a batch of items. */
export type PostgresParam = SqlParam | readonly SqlParam[];
export type Row = Record<string, unknown>;

/**
 * The data plane's way to the database: prepared statements straight on the driver, without the
 * ORM's per-call overhead (DESIGN.md "Hot path"). SQL is written once with `?` placeholders.
 * On SQLite every call is synchronous underneath, so a sequence inside `sqliteTransaction` is atomic.
 */
export abstract class SqlClient {
  abstract readonly dialect: SqlDialect;
  abstract one<T extends Row>(sql: string, params?: readonly SqlParam[]): Promise<T | undefined>;
  abstract all<T extends Row>(sql: string, params?: readonly SqlParam[]): Promise<T[]>;
  /** Returns the number of rows changed. */
  abstract run(sql: string, params?: readonly SqlParam[]): Promise<number>;
  /** A Date as a timestamp parameter, in the form TypeORM writes too (so both can read it back). */
  abstract timestamp(date: Date): SqlParam;
}

export function createSqlClient(dataSource: DataSource): SqlClient {
  return dataSource.options.type === 'postgres'
    ? new PostgresClient((dataSource.driver as unknown as { master: Pool }).master)
    : new SqliteClient(sqliteConnectionOf(dataSource));
}

/** The one better-sqlite3 connection TypeORM's SQLite driver keeps for the process. */
export function sqliteConnectionOf(dataSource: DataSource): BetterSqlite3.Database {
  return (dataSource.driver as unknown as { databaseConnection: BetterSqlite3.Database }).databaseConnection;
}

export class SqliteClient extends SqlClient {
  readonly dialect = 'sqlite' as const;
  private readonly statements = new Map<string, BetterSqlite3.Statement>();

  constructor(readonly db: BetterSqlite3.Database) {
    super();
  }

  prepare(sql: string): BetterSqlite3.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  getSync<T extends Row>(sql: string, params: readonly SqlParam[] = []): T | undefined {
    return this.prepare(sql).get(...params.map(sqliteValue)) as T | undefined;
  }

  runSync(sql: string, params: readonly SqlParam[] = []): number {
    return this.prepare(sql).run(...params.map(sqliteValue)).changes;
  }

  /** Runs `fn` inside one IMMEDIATE transaction; nothing else can interleave (better-sqlite3 is synchronous). */
  transactionSync<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  timestamp(date: Date): SqlParam {
    return date.toISOString().replace('T', ' ').replace('Z', '');
  }

  async one<T extends Row>(sql: string, params: readonly SqlParam[] = []): Promise<T | undefined> {
    return this.getSync<T>(sql, params);
  }

  async all<T extends Row>(sql: string, params: readonly SqlParam[] = []): Promise<T[]> {
    return this.prepare(sql).all(...params.map(sqliteValue)) as T[];
  }

  async run(sql: string, params: readonly SqlParam[] = []): Promise<number> {
    return this.runSync(sql, params);
  }
}

const sqliteValue = (value: SqlParam) => (typeof value === 'boolean' ? (value ? 1 : 0) : value);

/**
 * Prepared statement names, shared by every PostgresClient of the process: a connection knows a
 * statement by its name, and two clients on one pool (a test's, a store's) must not give one name to
 * two different texts.
 */
const preparedStatements = new Map<string, { name: string; text: string }>();

/** How long a statement of the PostgresClient may wait for its answer (see `query`). */
export const QUERY_TIMEOUT_MS = 10_000;

/**
 * PostgreSQL's statement_timeout on every gateway session (data-source.ts): the server cancels a
 * statement that runs longer, rolling its transaction back. It is shorter than QUERY_TIMEOUT_MS by
 * more than a round trip, so a statement the client gives up on has been cancelled on the server
 * first: an admission batch stuck behind a lock cannot commit after its requests were answered
 * 503 and leave reservations nobody settles (they would hold tokens and slots until they expired).
 */
export const STATEMENT_TIMEOUT_MS = 8_000;

export class PostgresClient extends SqlClient {
  readonly dialect = 'postgres' as const;

  constructor(readonly pool: Pool) {
    super();
  }

  /** `?` → `$n`, and a stable name so PostgreSQL parses and plans each statement once per connection. */
  statement(sql: string): { name: string; text: string } {
    let prepared = preparedStatements.get(sql);
    if (!prepared) {
      let n = 0;
      prepared = { name: `llmproxy_${preparedStatements.size}`, text: sql.replace(/\?/g, () => `$${++n}`) };
      preparedStatements.set(sql, prepared);
    }
    return prepared;
  }

  timestamp(date: Date): SqlParam {
    return date.toISOString();
  }

  async one<T extends Row>(sql: string, params: readonly PostgresParam[] = []): Promise<T | undefined> {
    return (await this.query(sql, params)).rows[0] as T | undefined;
  }

  async all<T extends Row>(sql: string, params: readonly PostgresParam[] = []): Promise<T[]> {
    return (await this.query(sql, params)).rows as T[];
  }

  async run(sql: string, params: readonly PostgresParam[] = []): Promise<number> {
    return (await this.query(sql, params)).rowCount ?? 0;
  }

  /**
   * Every statement of this client (the data plane, settings, readiness) gives up after
   * `QUERY_TIMEOUT_MS`: a database that stops answering without closing its connections (a host
   * gone from the network) then fails requests closed with 503 instead of holding them, and the pool
   * drops the connection the statement was stuck on. The server has cancelled the statement by then
   * (STATEMENT_TIMEOUT_MS), unless it cannot be reached at all. The admin's TypeORM queries share
   * the pool and the server's limit, not this one; migrations run without either.
   */
  private query(sql: string, params: readonly PostgresParam[]) {
    return this.pool.query({ ...this.statement(sql), values: params as unknown[], query_timeout: QUERY_TIMEOUT_MS } as QueryConfig);
  }
}

/** A timestamp column as either driver returns it: a Date (pg) or UTC text `YYYY-MM-DD HH:MM:SS.mmm` (SQLite). */
export function readTimestamp(value: unknown): Date | null {
  if (value == null) return null;
  if (value instanceof Date) return value;
  const text = String(value);
  return new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(text) ? text : `${text.replace(' ', 'T')}Z`);
}

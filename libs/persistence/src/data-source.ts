import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { DataSource, MigrationExecutor, type DataSourceOptions } from 'typeorm';
import type { DatabaseConfig } from '@llmproxy/config';
import { entities } from './entities/index.js';
import { migrations } from './migrations/index.js';
import { ScopedStorage } from './scoped-storage.js';
import { SqliteCheckpointer } from './sqlite-checkpointer.js';
import { sqliteConnectionOf, STATEMENT_TIMEOUT_MS } from './sql-client.js';

let pgNumbers = false;
/**
 * int8 (counts, sums) as JS numbers rather than strings: every value the gateway stores is far below 2^53.
 * Set when PostgreSQL options are first made, so a SQLite server never loads the pg driver (13 MB imported alone);
 * `require` gives the module TypeORM's driver loads (the package's ESM entry re-exports it).
 */
function parseInt8AsNumber(): void {
  if (pgNumbers) return;
  const pg = createRequire(import.meta.url)('pg') as typeof import('pg');
  pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));
  pgNumbers = true;
}

/** Options for the one DataSource of the process; also used by the TypeORM CLI via `data-source.cli.ts`. */
export function dataSourceOptions(database: DatabaseConfig): DataSourceOptions {
  const common = { entities, migrations, synchronize: false, migrationsRun: false, logging: false } as const;
  if (database.type === 'postgres') {
    parseInt8AsNumber();
    // A connection attempt that gets no answer (a host gone from the network) fails after 5 s
    // instead of never: requests waiting for a pooled connection then fail closed with 503.
    // statement_timeout goes in each session's startup packet: every statement of the pool (the
    // data plane's and TypeORM's, which share it) is cancelled by the server after it.
    return {
      ...common,
      type: 'postgres',
      url: database.url,
      extra: { max: 20, connectionTimeoutMillis: 5_000, statement_timeout: STATEMENT_TIMEOUT_MS },
    };
  }
  return {
    ...common,
    type: 'better-sqlite3',
    database: database.path,
    prepareDatabase: (db: { pragma(source: string): unknown }) => {
      // WAL lets the admin read while the proxy writes; busy_timeout covers a CLI writing at the same time.
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('busy_timeout = 5000');
      db.pragma('foreign_keys = ON');
    },
  };
}

export interface OpenDatabaseOptions {
  /** Runs on the open connection before the migrations (a SQLite server claims the file first: see SqliteOwnerLease). */
  beforeMigrations?: (dataSource: DataSource) => Promise<void>;
  /**
   * SQLite file: WAL checkpoints on a thread of their own instead of in the commit that fills the WAL
   * (see SqliteCheckpointer), for a server; `onFailure` hears when that thread is gone. A short-lived
   * process (the key CLI) leaves them where SQLite puts them.
   */
  checkpointInBackground?: { onFailure(error: Error): void };
}

/** Opens the database and brings its schema up to date. Several replicas may start at once. */
export async function openDatabase(database: DatabaseConfig, options: OpenDatabaseOptions = {}): Promise<DataSource> {
  const sqliteFile = database.type === 'sqlite' && database.path !== ':memory:' ? database.path : undefined;
  if (sqliteFile) mkdirSync(dirname(sqliteFile), { recursive: true });
  const dataSource = new DataSource(dataSourceOptions(database));
  await dataSource.initialize();
  if (database.type === 'sqlite') sqliteTransactionsInTurn(dataSource);
  try {
    await options.beforeMigrations?.(dataSource);
    await runMigrations(dataSource);
    if (options.checkpointInBackground && sqliteFile) {
      const checkpointer = await SqliteCheckpointer.start(sqliteConnectionOf(dataSource), sqliteFile, { onFailure: options.checkpointInBackground.onFailure });
      const destroy = dataSource.destroy.bind(dataSource);
      dataSource.destroy = async () => {
        await checkpointer.stop();
        return destroy();
      };
    }
  } catch (error) {
    await dataSource.destroy();
    throw error;
  }
  return dataSource;
}

const MIGRATION_LOCK = 734_110_201; // any constant; only llmproxy takes this advisory lock

async function runMigrations(dataSource: DataSource): Promise<void> {
  if (dataSource.options.type !== 'postgres') {
    await dataSource.runMigrations({ transaction: 'all' });
    return;
  }
  // Replicas starting together: one migrates, the others wait and then find nothing to do. Waiting
  // for the lock, and a migration, may take longer than the pool's statement_timeout allows: this
  // session has none while it migrates.
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SET statement_timeout = 0');
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    const executor = new MigrationExecutor(dataSource, runner);
    executor.transaction = 'all';
    await executor.executePendingMigrations();
  } finally {
    await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    await runner.query('RESET statement_timeout').catch(() => undefined);
    await runner.release();
  }
}

/**
 * TypeORM begins SQLite transactions DEFERRED. One that reads and then writes cannot take the write
 * lock when another process (the key CLI beside a running gateway, or the gateway beside the CLI)
 * committed after its read: SQLite refuses at once with "database is locked", since a WAL snapshot
 * that is no longer the newest cannot be upgraded, and busy_timeout does not apply. IMMEDIATE takes
 * the write lock at BEGIN, waiting up to busy_timeout like any other write. TypeORM has no option for
 * it, so its one SQLite query runner (better-sqlite3's driver keeps a single one) says so itself.
 *
 * That single runner is also shared by every caller of the process, and TypeORM turns a transaction
 * begun while another is open into a SAVEPOINT of it: one's rollback undid the other's rows, one's
 * commit committed the other's half-done work, and a plain write beside a transaction joined it. So
 * transactions take turns: `dataSource.transaction` waits for the one in flight (or for one TypeORM
 * began itself, as `save` does), and a statement from outside the transaction in flight waits for its
 * end. The caller inside one is recognised by its async context, so its own statements and nested
 * transactions (savepoints, as before) go straight through.
 */
function sqliteTransactionsInTurn(dataSource: DataSource): void {
  const runner = dataSource.driver.createQueryRunner('master');
  // Open only while a transaction runs (no async hook on the data plane between them).
  const inside = new ScopedStorage<object>();
  let current: object | undefined;
  const waiters: (() => void)[] = [];
  const turn = () => new Promise<void>((resolve) => waiters.push(resolve));
  const wake = () => {
    for (const waiter of waiters.splice(0)) waiter();
  };

  const query = runner.query.bind(runner) as (sql: string, ...rest: unknown[]) => Promise<unknown>;
  const send = (sql: string, rest: unknown[]) => query(sql === 'BEGIN TRANSACTION' ? 'BEGIN IMMEDIATE TRANSACTION' : sql, ...rest);
  const outside = () => current !== undefined && inside.getStore() !== current;
  const sendInTurn = async (sql: string, rest: unknown[]) => {
    while (outside()) await turn();
    return send(sql, rest);
  };
  runner.query = ((sql: string, ...rest: unknown[]) => (outside() ? sendInTurn(sql, rest) : send(sql, rest))) as typeof runner.query;
  const connection = sqliteConnectionOf(dataSource);
  const flags = runner as unknown as { isTransactionActive: boolean; transactionDepth: number };
  for (const end of ['commitTransaction', 'rollbackTransaction'] as const) {
    const original = runner[end].bind(runner);
    runner[end] = async () => {
      try {
        await original();
      } finally {
        if (!connection.inTransaction) {
          // A BEGIN that failed (the write lock not had within busy_timeout) leaves TypeORM's flag set
          // with no transaction open, and its rollback then fails: nothing may wait on it for ever.
          flags.isTransactionActive = false;
          flags.transactionDepth = 0;
          wake();
        }
      }
    };
  }

  const manager = dataSource.manager;
  const transaction = manager.transaction.bind(manager) as (...args: unknown[]) => Promise<unknown>;
  manager.transaction = (async (...args: unknown[]) => {
    if (current !== undefined && inside.getStore() === current) return transaction(...args);
    while (current !== undefined || runner.isTransactionActive) await turn();
    const token = {};
    current = token;
    try {
      return await inside.run(token, () => transaction(...args));
    } finally {
      current = undefined;
      wake();
    }
  }) as typeof manager.transaction;
}

import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { DataSource, MigrationExecutor, type DataSourceOptions } from 'typeorm';
import type { DatabaseConfig } from '@llmproxy/config';
import { entities } from './entities/index.js';
import { migrations } from './migrations/index.js';
import { STATEMENT_TIMEOUT_MS } from './sql-client.js';

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
}

/** Opens the database and brings its schema up to date. Several replicas may start at once. */
export async function openDatabase(database: DatabaseConfig, options: OpenDatabaseOptions = {}): Promise<DataSource> {
  if (database.type === 'sqlite' && database.path !== ':memory:') mkdirSync(dirname(database.path), { recursive: true });
  const dataSource = new DataSource(dataSourceOptions(database));
  await dataSource.initialize();
  if (database.type === 'sqlite') beginImmediate(dataSource);
  try {
    await options.beforeMigrations?.(dataSource);
    await runMigrations(dataSource);
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
 */
function beginImmediate(dataSource: DataSource): void {
  const runner = dataSource.driver.createQueryRunner('master');
  const query = runner.query.bind(runner) as (sql: string, ...rest: unknown[]) => Promise<unknown>;
  runner.query = ((sql: string, ...rest: unknown[]) => query(sql === 'BEGIN TRANSACTION' ? 'BEGIN IMMEDIATE TRANSACTION' : sql, ...rest)) as typeof runner.query;
}

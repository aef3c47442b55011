import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/** The server the PostgreSQL tests use; each test file gets a database of its own on it. */
const PG_ADMIN_URL = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  name: 'sqlite' | 'postgres';
  /** Creates a fresh, empty database and returns its DATABASE_URL. */
  create(): Promise<string>;
  /** Drops what `create` made. */
  dropAll(): Promise<void>;
}

/** SQLite always; PostgreSQL when reachable. With REQUIRE_PG=1 an unreachable server fails the run. */
export async function testDatabases(): Promise<TestDatabase[]> {
  const databases: TestDatabase[] = [sqliteDatabase()];
  const reachable = await postgresReachable();
  if (reachable === true) databases.push(postgresDatabase());
  else if (process.env.REQUIRE_PG === '1') throw new Error(`REQUIRE_PG=1 but PostgreSQL is not reachable at ${PG_ADMIN_URL}: ${reachable}`);
  else console.warn(`SKIPPING PostgreSQL tests: no server at ${PG_ADMIN_URL} (${reachable}); set REQUIRE_PG=1 to fail instead`);
  return databases;
}

function sqliteDatabase(): TestDatabase {
  return {
    name: 'sqlite',
    create: async () => `sqlite:///${join(mkdtempSync(join(tmpdir(), 'llmproxy-test-')), 'llmproxy.db')}`,
    dropAll: async () => undefined,
  };
}

function postgresDatabase(): TestDatabase {
  const created: string[] = [];
  return {
    name: 'postgres',
    async create() {
      const name = `llmproxy_test_${randomBytes(6).toString('hex')}`;
      await withAdmin((client) => client.query(`CREATE DATABASE ${name}`));
      created.push(name);
      const url = new URL(PG_ADMIN_URL);
      url.pathname = `/${name}`;
      return url.toString();
    },
    async dropAll() {
      for (const name of created.splice(0)) {
        await withAdmin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
      }
    },
  };
}

async function postgresReachable(): Promise<true | string> {
  try {
    await withAdmin((client) => client.query('SELECT 1'));
    return true;
  } catch (error) {
    return error instanceof Error ? error.message || error.name : String(error);
  }
}

async function withAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 3_000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

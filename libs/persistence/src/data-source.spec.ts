import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { DataSource } from 'typeorm';
import { openDatabase } from './data-source.js';

/**
 * The key CLI writes to the file a running gateway writes to. A TypeORM transaction that read first and
 * wrote second failed at once with "database is locked" when the other process had committed in between:
 * SQLite cannot upgrade a WAL read snapshot that is no longer the newest, and busy_timeout does not help.
 */
describe('SQLite transactions beside another process', () => {
  let directory: string;
  let dataSource: DataSource;
  let other: Database.Database;

  beforeEach(async () => {
    directory = mkdtempSync(join(tmpdir(), 'llmproxy-tx-'));
    const path = join(directory, 'llmproxy.db');
    dataSource = await openDatabase({ type: 'sqlite', path } as never);
    other = new Database(path);
    other.pragma('busy_timeout = 0');
  });

  afterEach(async () => {
    other.close();
    await dataSource.destroy();
    rmSync(directory, { recursive: true, force: true });
  });

  it('a transaction that reads, then writes, commits although another connection wrote after its read', async () => {
    const otherWrote: string[] = [];
    await dataSource.transaction(async (manager) => {
      await manager.query('SELECT count(*) FROM api_keys');
      // Another process commits now: it must wait for this transaction (here it gives up at once,
      // busy_timeout 0, since it runs on this very thread), instead of this transaction failing.
      try {
        other.prepare("INSERT INTO settings (key, value) VALUES ('from-the-other-process', '1')").run();
        otherWrote.push('committed');
      } catch (error) {
        otherWrote.push((error as { code?: string }).code ?? String(error));
      }
      await manager.query("INSERT INTO settings (key, value) VALUES ('from-this-transaction', '1')");
    });
    expect(otherWrote).toEqual(['SQLITE_BUSY']);
    const rows = other.prepare("SELECT key FROM settings WHERE key LIKE 'from-%'").all();
    expect(rows).toEqual([{ key: 'from-this-transaction' }]);
  });
});

/**
 * better-sqlite3's TypeORM driver has one connection and one query runner for the whole process. Two
 * transactions in flight at once (two admins saving, a login beside a key edit) shared it: the second
 * became a SAVEPOINT inside the first, so one's rollback undid the other's rows and one's commit
 * committed the other's half-done work; a plain write beside a transaction joined it.
 */
describe('SQLite transactions of one process in flight together', () => {
  let directory: string;
  let dataSource: DataSource;

  beforeEach(async () => {
    directory = mkdtempSync(join(tmpdir(), 'llmproxy-tx-'));
    dataSource = await openDatabase({ type: 'sqlite', path: join(directory, 'llmproxy.db') } as never);
  });

  afterEach(async () => {
    await dataSource.destroy();
    rmSync(directory, { recursive: true, force: true });
  });

  const keys = async () => ((await dataSource.query("SELECT key FROM settings WHERE key LIKE 'tx-%' ORDER BY key")) as { key: string }[]).map((row) => row.key);
  const tick = () => new Promise((resolve) => setTimeout(resolve, 5));
  /** Writes a row, waits two ticks (others run meanwhile), then fails. */
  const failingTransaction = () =>
    dataSource.transaction(async (manager) => {
      await manager.query("INSERT INTO settings (key, value) VALUES ('tx-failing', '1')");
      await tick();
      await tick();
      throw new Error('refused halfway');
    });

  it('one that fails rolls back only its own writes, and one that succeeds keeps all of its own', async () => {
    const failing = failingTransaction();
    const succeeding = (async () => {
      await tick();
      await dataSource.transaction(async (manager) => {
        await manager.query("INSERT INTO settings (key, value) VALUES ('tx-succeeding-1', '1')");
        await tick();
        await tick();
        await manager.query("INSERT INTO settings (key, value) VALUES ('tx-succeeding-2', '1')");
      });
    })();
    await expect(failing).rejects.toThrow('refused halfway');
    await succeeding;
    expect(await keys()).toEqual(['tx-succeeding-1', 'tx-succeeding-2']);
  });

  it('a write outside any transaction is not undone by a transaction that rolls back beside it', async () => {
    const failing = failingTransaction();
    await tick();
    await dataSource.query("INSERT INTO settings (key, value) VALUES ('tx-plain', '1')");
    await expect(failing).rejects.toThrow('refused halfway');
    expect(await keys()).toEqual(['tx-plain']);
  });

  it('a transaction inside a transaction (the same caller) is still a savepoint of it', async () => {
    await dataSource.transaction(async (manager) => {
      await manager.query("INSERT INTO settings (key, value) VALUES ('tx-outer', '1')");
      await manager
        .transaction(async (inner) => {
          await inner.query("INSERT INTO settings (key, value) VALUES ('tx-inner', '1')");
          throw new Error('inner refused');
        })
        .catch(() => undefined);
      // The same caller asking the data source again, not its manager, must not wait for itself.
      await dataSource.query("INSERT INTO settings (key, value) VALUES ('tx-outer-2', '1')");
    });
    expect(await keys()).toEqual(['tx-outer', 'tx-outer-2']);
  });
});

describe('SQLite transactions after one could not begin', () => {
  it('a transaction that could not take the write lock leaves the next one free to run', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'llmproxy-tx-'));
    const path = join(directory, 'llmproxy.db');
    const dataSource = await openDatabase({ type: 'sqlite', path } as never);
    const other = new Database(path);
    try {
      await dataSource.query('PRAGMA busy_timeout = 50');
      other.prepare('BEGIN IMMEDIATE').run();
      await expect(dataSource.transaction((manager) => manager.query("INSERT INTO settings (key, value) VALUES ('tx-locked-out', '1')"))).rejects.toThrow(/locked|busy/i);
      other.prepare('COMMIT').run();
      const next = dataSource.transaction((manager) => manager.query("INSERT INTO settings (key, value) VALUES ('tx-next', '1')"));
      await expect(Promise.race([next.then(() => 'committed'), new Promise((resolve) => setTimeout(() => resolve('still waiting'), 2_000))])).resolves.toBe('committed');
      expect(other.prepare("SELECT key FROM settings WHERE key LIKE 'tx-%'").all()).toEqual([{ key: 'tx-next' }]);
    } finally {
      other.close();
      await dataSource.destroy();
      rmSync(directory, { recursive: true, force: true });
    }
  });
});

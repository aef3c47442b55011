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

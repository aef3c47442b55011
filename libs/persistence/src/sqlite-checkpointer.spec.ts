import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteCheckpointer } from './sqlite-checkpointer.js';

/**
 * better-sqlite3 is synchronous: with SQLite's automatic checkpoint, the commit that takes the WAL past
 * 1,000 pages copies them into the database file and fsyncs both, on the event loop: a stall of every
 * request in flight (the slowest commit 13.4 ms instead of 2.7 ms, see bench/README.md). The
 * checkpointer moves that work to a thread of its own.
 */
describe('SqliteCheckpointer', () => {
  let directory: string;
  let file: string;
  let db: Database.Database;
  let checkpointer: SqliteCheckpointer | undefined;

  const fill = (rows: number) => {
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    const payload = 'x'.repeat(1_000);
    for (let i = 0; i < rows; i++) insert.run(payload); // one commit per row, as the ledger's batches are
  };
  const dbBytes = () => statSync(file).size;
  const walBytes = () => statSync(`${file}-wal`).size;

  beforeEach(() => {
    directory = mkdtempSync(join(tmpdir(), 'llmproxy-checkpoint-'));
    file = join(directory, 'test.db');
    db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
    db.pragma('wal_checkpoint(TRUNCATE)');
  });

  afterEach(async () => {
    await checkpointer?.stop();
    checkpointer = undefined;
    db.close();
    rmSync(directory, { recursive: true, force: true });
  });

  it('without it, a commit on this thread copies the WAL into the file (what it takes away)', () => {
    const before = dbBytes();
    fill(3_000); // ~3 MB: past the 1,000 pages of the automatic checkpoint
    expect(dbBytes()).toBeGreaterThan(before + 1_000_000);
  });

  it('commits on this thread never checkpoint; its thread copies the WAL into the file', async () => {
    checkpointer = await SqliteCheckpointer.start(db, file, { everyMs: 60_000 });
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    const before = dbBytes();
    fill(3_000);
    expect(dbBytes()).toBe(before); // nothing copied by the commits
    expect(walBytes()).toBeGreaterThan(3_000_000);

    const result = await checkpointer.checkpointNow();
    expect(result.framesInWal).toBeGreaterThan(700);
    expect(result.framesCopied).toBe(result.framesInWal);
    expect(dbBytes()).toBeGreaterThan(before + 3_000_000);
    expect(db.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 3_000 });
  });

  it('checkpoints on its own once the WAL holds `pages` frames, and not before', async () => {
    checkpointer = await SqliteCheckpointer.start(db, file, { everyMs: 20, pages: 400 });
    const before = dbBytes();
    fill(50); // ~100 frames: under the threshold
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(dbBytes()).toBe(before);
    fill(500);
    // The file grows while the thread copies the pages: wait for all of them, not the first.
    const deadline = Date.now() + 5_000;
    while (dbBytes() <= before + 400_000 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(dbBytes()).toBeGreaterThan(before + 400_000);
  });

  it('the WAL starts over once checkpointed, instead of growing without end', async () => {
    checkpointer = await SqliteCheckpointer.start(db, file, { everyMs: 60_000 });
    const frames: number[] = [];
    for (let round = 0; round < 4; round++) {
      fill(1_000); // after a complete checkpoint, the next commit writes from the WAL's start again
      frames.push((await checkpointer.checkpointNow()).framesInWal);
    }
    // Each round's frames only, not the sum of all rounds so far.
    expect(Math.max(...frames)).toBeLessThan(frames[0]! * 1.5);
  });

  it('when its thread is gone, commits checkpoint on this thread again (the WAL never grows without end)', async () => {
    const failures: string[] = [];
    checkpointer = await SqliteCheckpointer.start(db, file, { everyMs: 60_000, onFailure: (error) => failures.push(error.message) });
    await checkpointer.simulateCrash();
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(1_000);
    expect(failures).toEqual([expect.stringContaining('commits checkpoint on the event loop again')]);
    const before = dbBytes();
    fill(3_000);
    expect(dbBytes()).toBeGreaterThan(before + 1_000_000);
  });

  it('stop() hands the checkpoints back to the connection', async () => {
    checkpointer = await SqliteCheckpointer.start(db, file, { everyMs: 60_000 });
    await checkpointer.stop();
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(1_000);
  });
});

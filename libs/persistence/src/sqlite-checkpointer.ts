import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type BetterSqlite3 from 'better-sqlite3';

/** SQLite's own default for `wal_autocheckpoint` (pages), given back when the checkpointer stops. */
const SQLITE_AUTOCHECKPOINT_PAGES = 1_000;

/** How often a checkpoint that keeps failing is reported. */
const FAILURE_REPORT_EVERY_MS = 60_000;

/** One checkpoint's outcome, as `PRAGMA wal_checkpoint` reports it. */
export interface CheckpointResult {
  /** The checkpoint could not copy everything: a reader still needed older frames (it goes on next time). */
  busy: boolean;
  framesInWal: number;
  framesCopied: number;
}

export interface CheckpointerOptions {
  /** How often its thread looks at the WAL's length (default 250 ms). */
  everyMs?: number;
  /** It checkpoints once the WAL holds this many frames (pages): SQLite's own default, 1,000. */
  pages?: number;
  /** A checkpoint failed (the next one tries again), or the thread is gone (commits checkpoint on the event loop again): what happened. */
  onFailure?: (error: Error) => void;
}

/**
 * The worker: its own connection to the file; every `everyMs` it reads how many frames the WAL holds
 * (\`mxFrame\`, bytes 16–19 of the wal-index header at the start of the \`-shm\` file, in the machine's
 * byte order: https://www.sqlite.org/walformat.html) and, from `pages` on, checkpoints PASSIVE (never
 * waiting for the main thread's readers or writer); one more on request. CommonJS source, run with `eval`.
 */
const WORKER_SOURCE = `
const fs = require('node:fs');
const os = require('node:os');
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
const header = Buffer.alloc(4);
let shm;
const framesInWal = () => {
  try {
    shm ??= fs.openSync(workerData.file + '-shm', 'r');
    fs.readSync(shm, header, 0, 4, 16);
    return os.endianness() === 'LE' ? header.readUInt32LE(0) : header.readUInt32BE(0);
  } catch {
    return Infinity; // cannot tell: checkpoint
  }
};
const checkpoint = () => {
  const [row] = db.pragma('wal_checkpoint(PASSIVE)');
  return { busy: row.busy === 1, framesInWal: row.log, framesCopied: row.checkpointed };
};
const timer = setInterval(() => {
  try { if (framesInWal() >= workerData.pages) checkpoint(); } catch (error) { parentPort.postMessage({ failed: String(error && error.message || error) }); }
}, workerData.everyMs);
parentPort.on('message', (message) => {
  if (message === 'stop') { clearInterval(timer); if (shm !== undefined) fs.closeSync(shm); db.close(); parentPort.close(); return; }
  try { parentPort.postMessage({ result: checkpoint() }); } catch (error) { parentPort.postMessage({ refused: String(error && error.message || error) }); }
});
parentPort.postMessage({ ready: true });
`;

/**
 * WAL checkpoints on a thread of their own. better-sqlite3 is synchronous, and with SQLite's automatic
 * checkpoint the commit that takes the WAL past 1,000 pages copies them into the database file and
 * fsyncs both, on the event loop: a stall of every request and stream in flight at that moment. Measured
 * (`bench/README.md`, "(e): … what stalls the event loop"): with commits of 20 rows every 10 ms, the
 * slowest commit 13.4 ms with the automatic checkpoint, 2.7 ms with this thread; under the bench the
 * WAL's fsync alone took 4–8 ms (strace). Here the connection never checkpoints
 * (`wal_autocheckpoint = 0`) and a worker thread with its own connection does, PASSIVE, once the WAL
 * holds 1,000 pages as SQLite would: it copies what no reader still needs and never blocks the writer.
 * (Checkpointing every second instead cost 170–400 µs more CPU per stream in the bench: the same hot
 * pages copied over and over.) Commits in WAL mode with `synchronous = NORMAL` do not fsync; what the
 * event loop still waits for is the WAL header's fsync when the first commit after a complete
 * checkpoint starts the WAL over (0.3–0.6 ms, once per checkpoint).
 *
 * The thread costs ~10 MB of RSS (a V8 isolate; measured 51.0 → 60.8 MB in an empty process).
 *
 * If the thread dies, the connection is given its automatic checkpoint back, so the WAL cannot grow
 * without end; `stop()` does the same (the last connection's close checkpoints what is left).
 */
export class SqliteCheckpointer {
  private readonly waiting: { resolve(result: CheckpointResult): void; reject(error: Error): void }[] = [];
  private stopping = false;
  private ended = false;

  private constructor(
    private readonly db: BetterSqlite3.Database,
    private readonly worker: Worker,
    private readonly onFailure: (error: Error) => void,
  ) {}

  static async start(db: BetterSqlite3.Database, file: string, options: CheckpointerOptions = {}): Promise<SqliteCheckpointer> {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    const workerData = { driver, file, everyMs: options.everyMs ?? 250, pages: options.pages ?? SQLITE_AUTOCHECKPOINT_PAGES };
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData });
    await new Promise<void>((resolve, reject) => {
      const fail = (error: unknown) => reject(error instanceof Error ? error : new Error(`the checkpoint thread exited (${String(error)})`));
      worker.once('error', fail);
      worker.once('exit', fail);
      worker.once('message', () => {
        worker.off('error', fail);
        worker.off('exit', fail);
        resolve();
      });
    });
    worker.unref(); // never what keeps the process alive
    const checkpointer = new SqliteCheckpointer(db, worker, options.onFailure ?? (() => undefined));
    checkpointer.listen();
    db.pragma('wal_autocheckpoint = 0');
    return checkpointer;
  }

  /** A checkpoint now, on the thread (tests, and anyone who wants the file current). */
  checkpointNow(): Promise<CheckpointResult> {
    if (this.ended) return Promise.reject(new Error('the checkpoint thread has stopped'));
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.worker.postMessage('now');
    });
  }

  /** Ends the thread and gives the connection its automatic checkpoint back. */
  async stop(): Promise<void> {
    if (this.ended) return;
    this.stopping = true;
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.postMessage('stop');
    await exited;
  }

  /** For tests: the thread dies as a crash would end it. */
  async simulateCrash(): Promise<void> {
    await this.worker.terminate();
  }

  private listen(): void {
    // A failing checkpoint fails again every `everyMs` (a full disk): told once a minute, not each time.
    let toldAt = -Infinity;
    let untold = 0;
    this.worker.on('message', (message: { result?: CheckpointResult; refused?: string; failed?: string }) => {
      if (message.result) this.waiting.shift()?.resolve(message.result);
      else if (message.refused !== undefined) this.waiting.shift()?.reject(new Error(`a SQLite WAL checkpoint failed: ${message.refused}`));
      else if (message.failed !== undefined) {
        if (Date.now() - toldAt < FAILURE_REPORT_EVERY_MS) {
          untold++;
          return;
        }
        const more = untold > 0 ? ` (and ${untold} more since the last report)` : '';
        toldAt = Date.now();
        untold = 0;
        this.onFailure(new Error(`a SQLite WAL checkpoint failed; the next one tries again${more}: ${message.failed}`));
      }
    });
    const gone = (why: string) => new Error(`the SQLite checkpoint thread ${why}; commits checkpoint on the event loop again`);
    this.worker.on('error', (error) => this.end(gone(`failed (${error.message})`)));
    this.worker.on('exit', (code) => this.end(this.stopping ? undefined : gone(`exited (code ${code})`)));
  }

  private end(error: Error | undefined): void {
    if (this.ended) return;
    this.ended = true;
    if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${SQLITE_AUTOCHECKPOINT_PAGES}`);
    for (const waiter of this.waiting.splice(0)) waiter.reject(error ?? new Error('the checkpoint thread has stopped'));
    if (error) this.onFailure(error);
  }
}

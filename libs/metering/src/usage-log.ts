import { basename, dirname, extname, join } from 'node:path';
import winston from 'winston';
import DailyRotateFile from 'winston-daily-rotate-file';
import type { UsageRecord } from './usage-record.js';

export interface UsageLogOptions {
  /** `logs/usage.log`: files are `logs/usage-2026-11-26.log`, with `usage.log` linking to today's. */
  file: string;
  retentionDays: number;
}

/** How long lines wait to be written together. */
const BATCH_MS = 20;

/**
 * The rotating JSON-lines usage log (winston + winston-daily-rotate-file; writes are asynchronous).
 * Lines are handed to winston together, every 20 ms, as one write: per line, winston's pipeline,
 * the rotator's date check (moment) and the file write through libuv's thread pool cost ~11 µs of
 * the data plane's CPU per request (the bench profile; the server is pinned to one core, which the
 * pool's threads share). A process killed with `kill -9` loses the lines of its last 20 ms, as it
 * would lose those the OS had not been handed yet.
 */
export class UsageLog {
  private readonly logger: winston.Logger;
  private readonly transport: DailyRotateFile;
  private lines: string[] = [];
  private scheduled: NodeJS.Timeout | undefined;

  constructor(options: UsageLogOptions) {
    const extension = extname(options.file) || '.log';
    const stem = basename(options.file, extension);
    this.transport = new DailyRotateFile({
      dirname: dirname(options.file),
      filename: `${stem}-%DATE%${extension}`,
      datePattern: 'YYYY-MM-DD',
      maxFiles: `${options.retentionDays}d`,
      createSymlink: true,
      symlinkName: basename(options.file),
      auditFile: join(dirname(options.file), `.${stem}-audit.json`),
    });
    this.logger = winston.createLogger({
      level: 'info',
      format: winston.format.printf((info) => info.lines as string),
      transports: [this.transport],
    });
  }

  record(record: UsageRecord): void {
    this.lines.push(JSON.stringify(record));
    this.scheduled ??= setTimeout(() => this.flush(), BATCH_MS);
  }

  private flush(): void {
    if (this.scheduled) clearTimeout(this.scheduled);
    this.scheduled = undefined;
    if (this.lines.length === 0) return;
    const lines = this.lines.join('\n');
    this.lines = [];
    this.logger.info('usage', { lines });
  }

  /** Resolves once everything recorded so far is on disk. */
  async close(): Promise<void> {
    this.flush();
    await new Promise<void>((resolve) => {
      this.transport.on('finish', () => resolve());
      this.logger.end();
      setTimeout(resolve, 2_000).unref();
    });
  }
}

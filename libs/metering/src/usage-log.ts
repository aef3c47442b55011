import { basename, dirname, extname, join } from 'node:path';
import winston from 'winston';
import DailyRotateFile from 'winston-daily-rotate-file';
import type { UsageRecord } from './usage-record.js';

export interface UsageLogOptions {
  /** `logs/usage.log`: files are `logs/usage-2026-11-26.log`, with `usage.log` linking to today's. */
  file: string;
  retentionDays: number;
}

/** The rotating JSON-lines usage log (winston + winston-daily-rotate-file; writes are asynchronous). */
export class UsageLog {
  private readonly logger: winston.Logger;
  private readonly transport: DailyRotateFile;

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
      format: winston.format.printf((info) => JSON.stringify(info.record)),
      transports: [this.transport],
    });
  }

  record(record: UsageRecord): void {
    this.logger.info('usage', { record });
  }

  /** Resolves once everything recorded so far is on disk. */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.transport.on('finish', () => resolve());
      this.logger.end();
      setTimeout(resolve, 2_000).unref();
    });
  }
}
